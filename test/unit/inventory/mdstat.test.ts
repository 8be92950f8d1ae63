import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { mdHealth, parseMdstat } from '../../../agent/inventory/mdstat.js';
import { blockDeviceHealth, createLinuxInventorySource, majorMinor } from '../../../agent/inventory/linux.js';

// /proc/mdstat as the kernel writes it (drivers/md/md.c: md_seq_show): a degraded mirror with a failed member,
// a raid5 rebuilding onto a new disk, a healthy raid10, a raid0 (no [n/m]) and an inactive array.
const MDSTAT = `Personalities : [raid1] [raid6] [raid5] [raid4] [raid10] [raid0]
md1 : active raid1 sdb2[1] sda2[0](F)
      976630336 blocks super 1.2 [2/1] [_U]
      bitmap: 3/8 pages [12KB], 65536KB chunk

md0 : active raid5 sde1[4] sdd1[2] sdc1[1]
      1953260544 blocks super 1.2 level 5, 512k chunk, algorithm 2 [3/2] [UU_]
      [===>.................]  recovery = 15.3% (149582464/976630272) finish=85.9min speed=160480K/sec

md2 : active raid10 sdh1[3] sdg1[2] sdf1[1] sdi1[0] sdj1[4](S)
      1953260544 blocks super 1.2 512K chunks 2 near-copies [4/4] [UUUU]

md3 : active raid0 sdk1[1] sdl1[0]
      1953260544 blocks super 1.2 512k chunks

md4 : inactive sdm1[0](S)
      976630272 blocks super 1.2

unused devices: <none>
`;

test('/proc/mdstat parses: level, members with (F) and (S), [n/m], the map and a rebuild', () => {
  const arrays = parseMdstat(MDSTAT);
  assert.deepEqual(arrays.map((a) => a.name), ['md1', 'md0', 'md2', 'md3', 'md4']);
  const [md1, md0, md2, md3, md4] = arrays;
  assert.deepEqual(md1, {
    name: 'md1', active: true, level: 'raid1', expected: 2, working: 1, map: '_U',
    members: [{ device: 'sdb2', failed: false, spare: false }, { device: 'sda2', failed: true, spare: false }],
  });
  assert.deepEqual(md0?.sync, { action: 'recovery', percent: 15.3 });
  assert.equal(md2?.members.filter((m) => m.spare).length, 1);
  assert.equal(md3?.expected, undefined);
  assert.equal(md4?.active, false);
  assert.deepEqual(parseMdstat(''), []);
  assert.deepEqual(parseMdstat('Personalities : \nunused devices: <none>\n'), []);
});

test('array health: degraded when a member is gone or a rebuild runs, failed when inactive, ok otherwise', () => {
  const byName = new Map(parseMdstat(MDSTAT).map((a) => [a.name, mdHealth(a)]));
  assert.deepEqual(byName.get('md1'), {
    health: 'degraded',
    reasons: ['RAID array md1 runs on 1 of 2 devices [_U]', 'device sda2 of RAID array md1 has failed: replace it'],
  });
  assert.equal(byName.get('md0')?.health, 'degraded');
  assert.match(byName.get('md0')!.reasons.join(' '), /recovery at 15\.3%/);
  assert.deepEqual(byName.get('md2'), { health: 'ok', reasons: [] });
  assert.deepEqual(byName.get('md3'), { health: 'ok', reasons: [] });
  assert.deepEqual(byName.get('md4'), { health: 'failed', reasons: ['RAID array md4 is inactive'] });
  const dead = parseMdstat('md9 : active raid1 sda1[0](F) sdb1[1](F)\n      100 blocks [2/0] [__]\n')[0]!;
  assert.equal(mdHealth(dead).health, 'failed');
});

/** A sysfs tree of our own, laid out like the kernel's: class/block links into devices/, dev/block by number. */
function fakeSysfs(t: { after(fn: () => void): void }): string {
  const root = mkdtempSync(join(tmpdir(), 'vigil-sysfs-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const device = (path: string, files: Record<string, string> = {}) => {
    mkdirSync(join(root, 'devices', path), { recursive: true });
    for (const [name, text] of Object.entries(files)) {
      mkdirSync(dirname(join(root, 'devices', path, name)), { recursive: true });
      writeFileSync(join(root, 'devices', path, name), `${text}\n`);
    }
  };
  device('virtual/block/md1');
  device('virtual/block/md1/md1p1', { partition: '1' });
  device('virtual/block/dm-0/slaves/sdc');
  device('pci0000:00/block/sdc', { 'device/state': 'offline' });
  device('pci0000:00/block/sdd', { 'device/state': 'running' });
  mkdirSync(join(root, 'class/block'), { recursive: true });
  for (const [name, path] of [['md1', 'virtual/block/md1'], ['md1p1', 'virtual/block/md1/md1p1'], ['dm-0', 'virtual/block/dm-0'], ['sdc', 'pci0000:00/block/sdc'], ['sdd', 'pci0000:00/block/sdd']]) {
    symlinkSync(join(root, 'devices', path!), join(root, 'class/block', name!));
  }
  return root;
}

test('block device health: a partition by its array, a device-mapper volume by the disks under it', async (t) => {
  const sys = fakeSysfs(t);
  const arrays = parseMdstat(MDSTAT);
  assert.equal((await blockDeviceHealth('md1p1', sys, arrays)).health, 'degraded');
  assert.deepEqual(await blockDeviceHealth('dm-0', sys, arrays), { health: 'failed', reasons: ["disk sdc is offline (its device state is not 'running')"] });
  assert.deepEqual(await blockDeviceHealth('sdd', sys, arrays), { health: 'ok', reasons: [] });
  assert.match((await blockDeviceHealth('sdz', sys, arrays)).reasons[0]!, /block device sdz is not in/);
});

test('the Linux source finds a volume\'s device by st_dev and reports the RAID under it', async (t) => {
  const sys = fakeSysfs(t);
  const mount = mkdtempSync(join(tmpdir(), 'vigil-mount-'));
  t.after(() => rmSync(mount, { recursive: true, force: true }));
  // The temp dir's file system stands for /dev/md1p1: its st_dev leads to md1p1 in the fake tree.
  mkdirSync(join(sys, 'dev/block'), { recursive: true });
  symlinkSync(join(sys, 'devices/virtual/block/md1/md1p1'), join(sys, 'dev/block', majorMinor(statSync(mount, { bigint: true }).dev)));
  writeFileSync(join(sys, 'mounts'), `proc /proc proc rw 0 0\n/dev/md1p1 ${mount.replace(/ /g, '\\040')} ext4 rw,relatime 0 0\n`);
  writeFileSync(join(sys, 'mdstat'), MDSTAT);
  const reading = await createLinuxInventorySource({ sysRoot: sys, mountsPath: join(sys, 'mounts'), mdstatPath: join(sys, 'mdstat') }).collect();
  assert.equal(reading.volumes.length, 1);
  const [volume] = reading.volumes;
  assert.equal(volume?.mount, mount);
  assert.equal(volume?.health, 'degraded');
  assert.match(volume!.healthReasons.join(' '), /md1 runs on 1 of 2 devices/);
  assert.ok(volume!.totalBytes > 0);
  assert.match(reading.faults.join(' '), /cannot list network interfaces in .*class\/net/, 'the fake tree has no NICs: a fault, not a throw');
});
