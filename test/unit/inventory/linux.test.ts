/** The Linux collector on this machine for real: its loopback and root volume, a veth pair in a network
 * namespace, and an ext4 image on a loop device that is filled and remounted read-only. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NicInfo } from '../../../common/model/index.js';
import { createLinuxInventorySource, parseMounts, selectVolumeMounts } from '../../../agent/inventory/linux.js';
import { InventoryMonitor } from '../../../agent/inventory/monitor.js';

const isRoot = process.platform === 'linux' && process.getuid?.() === 0;
const canUseNetns = isRoot && spawnSync('ip', ['netns', 'list']).status === 0;
const canMountLoop = isRoot && spawnSync('mkfs.ext4', ['-V']).status === 0;
const skipNetns = canUseNetns || process.env['CI'] ? false : 'needs root and `ip netns`';
const skipLoop = canMountLoop || process.env['CI'] ? false : 'needs root, mkfs.ext4 and loop devices';

function run(file: string, args: readonly string[]): string {
  const r = spawnSync(file, args, { encoding: 'utf8', timeout: 20_000 });
  if (r.status !== 0) throw new Error(`${file} ${args.join(' ')} failed (${r.status ?? r.signal}): ${r.stderr.trim()}`);
  return r.stdout;
}

test('this machine: loopback with 127.0.0.1/8, up with a carrier; the root volume has a size', async () => {
  const reading = await createLinuxInventorySource().collect();
  assert.deepEqual(reading.faults, []);
  const lo = reading.nics.find((n) => n.name === 'lo');
  assert.ok(lo, 'lo is listed');
  assert.ok(lo.up && lo.carrier);
  assert.ok(lo.addresses.some((a) => a.address === '127.0.0.1' && a.prefix === 8 && a.family === 'ipv4'));
  assert.equal(lo.mac, undefined, 'the all-zero MAC of lo is not a MAC');
  assert.ok((lo.rxBytes ?? -1) >= 0);
  const root = reading.volumes.find((v) => v.mount === '/');
  assert.ok(root, `/ is a volume: ${JSON.stringify(reading.volumes.map((v) => v.mount))}`);
  assert.ok(root.totalBytes > 0 && root.availableBytes <= root.freeBytes && root.freeBytes <= root.totalBytes);
  assert.ok(root.usedPercent > 0 && root.usedPercent < 100);
  assert.ok(!reading.volumes.some((v) => ['proc', 'sysfs', 'cgroup', 'cgroup2', 'tmpfs', 'devtmpfs'].includes(v.fsType)));
});

test('which mounts are volumes: block devices and network file systems, once per device, escapes decoded', () => {
  const mounts = parseMounts([
    'proc /proc proc rw,relatime 0 0',
    'sysfs /sys sysfs rw 0 0',
    'cgroup2 /sys/fs/cgroup cgroup2 rw 0 0',
    'tmpfs /run tmpfs rw,size=1024k 0 0',
    'overlay /var/lib/docker/overlay2/x/merged overlay rw,lowerdir=/a 0 0',
    '/dev/vda1 / ext4 rw,relatime 0 0',
    '/dev/vda1 /run/netns ext4 rw,relatime 0 0',
    '/dev/loop3 /snap/core/1 squashfs ro 0 0',
    '/dev/sdb1 /srv/my\\040data xfs ro,noatime 0 0',
    '/dev/sdc1 /mnt/x ext4 rw 0 0',
    '/dev/sdd1 /mnt/x ext4 rw 0 0',
    'fs1:/export /mnt/nfs nfs4 rw,vers=4.2 0 0',
    '',
  ].join('\n'));
  assert.equal(mounts[8]?.mount, '/srv/my data');
  assert.deepEqual(mounts[8]?.options, ['ro', 'noatime']);
  assert.deepEqual(selectVolumeMounts(mounts).map((m) => `${m.device} ${m.mount}`), ['/dev/vda1 /', 'fs1:/export /mnt/nfs', '/dev/sdd1 /mnt/x', '/dev/sdb1 /srv/my data']);
  assert.deepEqual(selectVolumeMounts(mounts, ['tmpfs', 'overlay']).map((m) => m.mount).filter((m) => m === '/run' || m.includes('overlay2')).length, 2);
});

// ---------------------------------------------------------------------------------------------------------------
// A veth pair in a namespace: the collector runs inside it (its own /sys and os.networkInterfaces()).

const ns = `vginv${process.pid}`;
const collectorUrl = new URL('../../../agent/inventory/linux.js', import.meta.url).href;

function collectInNamespace(): NicInfo[] {
  const script = `import { createLinuxInventorySource } from ${JSON.stringify(collectorUrl)};
const r = await createLinuxInventorySource().collect(); process.stdout.write(JSON.stringify(r.nics));`;
  return JSON.parse(run('ip', ['netns', 'exec', ns, process.execPath, '--input-type=module', '-e', script])) as NicInfo[];
}

test('inside a namespace: a veth loses its carrier when its peer end is set down, and its address is seen', { skip: skipNetns }, (t) => {
  run('ip', ['netns', 'add', ns]);
  t.after(() => { spawnSync('ip', ['netns', 'del', ns]); });
  run('ip', ['-n', ns, 'link', 'add', 'va', 'type', 'veth', 'peer', 'name', 'vb']);
  run('ip', ['-n', ns, 'address', 'add', '198.51.100.7/24', 'dev', 'va']);
  for (const dev of ['lo', 'va', 'vb']) run('ip', ['-n', ns, 'link', 'set', 'dev', dev, 'up']);

  const before = collectInNamespace();
  assert.deepEqual(before.map((n) => n.name).sort(), ['lo', 'va', 'vb']);
  const va = before.find((n) => n.name === 'va')!;
  assert.equal(va.up, true);
  assert.equal(va.carrier, true);
  assert.match(va.mac ?? '', /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
  assert.equal(va.mtu, 1500);
  assert.ok(va.addresses.some((a) => a.address === '198.51.100.7' && a.prefix === 24));

  run('ip', ['-n', ns, 'link', 'set', 'dev', 'vb', 'down']);
  const afterDown = collectInNamespace();
  assert.deepEqual(afterDown.find((n) => n.name === 'va')?.carrier, false, 'va has no carrier with its peer down');
  assert.deepEqual(afterDown.find((n) => n.name === 'va')?.up, true, 'va itself is still administratively up');
  assert.deepEqual(afterDown.find((n) => n.name === 'vb')?.up, false);
});

// ---------------------------------------------------------------------------------------------------------------
// An ext4 image on a loop device.

let dir = '';
let mountPoint = '';
let mounted = false;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-inventory-'));
  mountPoint = join(dir, 'mnt');
});

after(() => {
  if (mounted) spawnSync('umount', [mountPoint]);
  rmSync(dir, { recursive: true, force: true });
});

test('a loop-mounted ext4: filling it and remounting it read-only are changes the monitor reports', { skip: skipLoop }, async (t) => {
  const image = join(dir, 'disk.img');
  run('truncate', ['-s', '16M', image]);
  run('mkfs.ext4', ['-q', '-F', '-m', '0', image]);
  mkdirSync(mountPoint);
  run('mount', ['-o', 'loop', image, mountPoint]);
  mounted = true;

  const monitor = new InventoryMonitor({ node: 'alpha', source: createLinuxInventorySource() });
  t.after(() => monitor.dispose());
  // Only this volume's lines: the machine's other volumes change meanwhile (tests running beside this one write to
  // the root file system, whose usage may tick over a percent between two refreshes).
  const changes: string[][] = [];
  monitor.onChange((_inventory, c) => {
    const ours = c.filter((line) => line.startsWith(`volume ${mountPoint} `));
    if (ours.length > 0) changes.push(ours);
  });

  const first = (await monitor.refresh()).volumes.find((v) => v.mount === mountPoint);
  assert.ok(first, 'the loop volume is listed');
  assert.equal(first.readOnly, false);
  assert.equal(first.fsType, 'ext4');
  assert.match(first.device, /^\/dev\/loop\d+$/);
  assert.equal(first.health, 'ok');

  await monitor.refresh();
  assert.equal(changes.length, 0, 'nothing changed, nothing reported');

  writeFileSync(join(mountPoint, 'fill'), Buffer.alloc(4 * 1024 * 1024));
  spawnSync('sync', [mountPoint]);
  const filled = (await monitor.refresh()).volumes.find((v) => v.mount === mountPoint)!;
  assert.ok(filled.usedPercent >= first.usedPercent + 20, `${first.usedPercent}% -> ${filled.usedPercent}%`);
  assert.equal(changes.length, 1);
  assert.match(changes[0]!.join('\n'), new RegExp(`volume ${mountPoint} usage \\d+% -> \\d+%`));

  run('mount', ['-o', 'remount,ro', mountPoint]);
  const readOnly = (await monitor.refresh()).volumes.find((v) => v.mount === mountPoint)!;
  assert.equal(readOnly.readOnly, true);
  assert.deepEqual(changes[1], [`volume ${mountPoint} is now read-only`]);

  run('umount', [mountPoint]);
  mounted = false;
  await monitor.refresh();
  assert.deepEqual(changes[2], [`volume ${mountPoint} was unmounted`]);
});
