import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLinuxIpAddressManager, parseIpAddrJson } from '../../../agent/platform/linux/ip-address.js';
import { systemClock } from '../../../agent/util/clock.js';
import { RecordingRunner } from './recording-runner.js';

const call = { timeoutMs: 3_000 };

test('in a network namespace every command runs inside it: ip -n NS, ip netns exec NS arping', async () => {
  const runner = new RecordingRunner((r) => (r.args.includes('show') ? { stdout: '[]' } : {}));
  const ip = createLinuxIpAddressManager({ runner, clock: systemClock, netns: 'vgns1' });
  await ip.list(call);
  await ip.add({ interface: 'eth0', address: '198.51.100.50', prefixLength: 24, label: 'eth0:web' }, call);
  await ip.remove({ interface: 'eth0', address: '198.51.100.50', prefixLength: 24 }, call);
  await ip.interfaceExists('eth1', call);
  await ip.announce('eth0', '198.51.100.50', call);
  assert.deepEqual(runner.argvs(), [
    ['ip', '-n', 'vgns1', '-j', '-4', 'addr', 'show'],
    ['ip', '-n', 'vgns1', 'addr', 'add', '198.51.100.50/24', 'dev', 'eth0', 'label', 'eth0:web'],
    ['ip', '-n', 'vgns1', 'addr', 'del', '198.51.100.50/24', 'dev', 'eth0'],
    ['ip', '-n', 'vgns1', '-j', 'link', 'show', 'dev', 'eth1'],
    ['ip', 'netns', 'exec', 'vgns1', 'arping', '-q', '-U', '-c', '1', '-I', 'eth0', '198.51.100.50'],
  ]);
  assert.ok(runner.requests.every((r) => r.timeoutMs === 3_000 && r.env.LANG === 'C'));
});

test('without a namespace: plain ip and arping; no label when none is given', async () => {
  const runner = new RecordingRunner();
  const ip = createLinuxIpAddressManager({ runner, clock: systemClock });
  await ip.add({ interface: 'eth0', address: '203.0.113.5', prefixLength: 32 }, call);
  await ip.announce('eth0', '203.0.113.5', call);
  assert.deepEqual(runner.argvs(), [
    ['ip', 'addr', 'add', '203.0.113.5/32', 'dev', 'eth0'],
    ['arping', '-q', '-U', '-c', '1', '-I', 'eth0', '203.0.113.5'],
  ]);
});

test('ip\'s answers: already there, not there, no such device, missing program, timeout; errors name address and interface', async () => {
  const reply = (stderr: string, rc = 2) => () => ({ rc, stderr, stderrTail: stderr.trim() });
  const a = { interface: 'eth0', address: '198.51.100.50', prefixLength: 24 };
  const mk = (r: () => Record<string, unknown>) => createLinuxIpAddressManager({ runner: new RecordingRunner(r), clock: systemClock });
  assert.deepEqual(await mk(reply('Error: ipv4: Address already assigned.\n')).add(a, call), { ok: true, value: 'present' });
  assert.deepEqual(await mk(reply('RTNETLINK answers: File exists\n')).add(a, call), { ok: true, value: 'present' });
  assert.deepEqual(await mk(reply('Error: ipv4: Address not found.\n')).remove(a, call), { ok: true, value: 'absent' });
  assert.deepEqual(await mk(reply('Device "eth9" does not exist.\n', 1)).interfaceExists('eth9', call), { ok: true, value: false });
  const noDevice = await mk(reply('Cannot find device "eth0"\n', 1)).add(a, call);
  assert.equal(noDevice.ok, false);
  if (!noDevice.ok) {
    assert.equal(noDevice.error.code, 'NO_SUCH_INTERFACE');
    assert.match(noDevice.error.message, /198\.51\.100\.50\/24.*eth0/);
  }
  const missing = await mk(() => ({ rc: -1, spawnError: { code: 'ENOENT', message: 'spawn arping ENOENT' } })).announce('eth0', '198.51.100.50', call);
  assert.deepEqual(missing.ok ? undefined : missing.error.code, 'NOT_INSTALLED');
  const slow = await mk(() => ({ rc: -1, timedOut: true, durationMs: 3000 })).remove(a, call);
  assert.equal(slow.ok ? undefined : slow.error.code, 'TIMEOUT');
});

test('ip -j -4 addr show is parsed into interface, address, prefix and label', () => {
  const json = JSON.stringify([
    { ifname: 'lo', addr_info: [{ family: 'inet', local: '127.0.0.1', prefixlen: 8, label: 'lo' }] },
    { ifname: 'eth0', addr_info: [
      { family: 'inet', local: '198.51.100.1', prefixlen: 24, label: 'eth0' },
      { family: 'inet', local: '198.51.100.50', prefixlen: 24, secondary: true, label: 'eth0:web' },
      { family: 'inet6', local: 'fe80::1', prefixlen: 64 },
    ] },
    { ifname: 'eth1' },
  ]);
  assert.deepEqual(parseIpAddrJson(json), [
    { interface: 'lo', address: '127.0.0.1', prefixLength: 8, label: 'lo' },
    { interface: 'eth0', address: '198.51.100.1', prefixLength: 24, label: 'eth0' },
    { interface: 'eth0', address: '198.51.100.50', prefixLength: 24, label: 'eth0:web' },
  ]);
  assert.deepEqual(parseIpAddrJson(''), []);
  assert.throws(() => parseIpAddrJson('{}'));
});
