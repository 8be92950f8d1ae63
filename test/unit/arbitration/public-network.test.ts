// Arbitration inputs: the public-network monitor with real ping inside a network namespace (no traffic leaves
// this machine), and the heartbeat telling "heard only over the public network" apart.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { parseConfig } from '../../../common/config/load.js';
import { PublicNetworkMonitor, type PublicNetworkState } from '../../../agent/arbitration/public-network.js';
import { createProcessRunner } from '../../../agent/platform/process-runner.js';
import type { ProcessRunner } from '../../../agent/platform/types.js';
import { Heartbeat } from '../../../agent/heartbeat/heartbeat.js';
import { systemClock } from '../../../agent/util/clock.js';
import { freePort, status, until } from '../heartbeat/helpers.js';

const settings = (pingTargets: string[]) => ({ pingTargets, interval: 100, timeout: 500, rounds: 2 });

test('the state changes only after consecutive rounds agree; the first verdict counts at once', () => {
  const seen: PublicNetworkState[] = [];
  const monitor = new PublicNetworkMonitor(settings(['192.0.2.1']), createProcessRunner(systemClock), systemClock, (s) => seen.push(s));
  monitor.observe('ok');
  assert.equal(monitor.current(), 'ok');
  monitor.observe('lost');
  assert.equal(monitor.current(), 'ok', 'one silent round is not enough');
  monitor.observe('ok');
  monitor.observe('lost');
  monitor.observe('lost');
  assert.equal(monitor.current(), 'lost');
  monitor.observe('ok');
  monitor.observe('ok');
  assert.deepEqual(seen, ['ok', 'lost', 'ok']);
});

test('no ping target configured: no verdict, nothing pinged', () => {
  const monitor = new PublicNetworkMonitor(settings([]), createProcessRunner(systemClock), systemClock, () => assert.fail('no verdict expected'));
  monitor.start();
  assert.equal(monitor.current(), undefined);
  monitor.stop();
});

/** A namespace whose only "gateway" is an address on its own interface, so ping stays inside it. */
function namespace(t: TestContext): { name: string; runner: ProcessRunner } {
  const name = `vgpub${process.pid}`;
  execFileSync('ip', ['netns', 'add', name]);
  t.after(() => { try { execFileSync('ip', ['netns', 'del', name]); } catch { /* gone */ } });
  execFileSync('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
  // A veth pair whose both ends stay inside the namespace: an interface to hold the gateway's address.
  execFileSync('ip', ['-n', name, 'link', 'add', 'pub0', 'type', 'veth', 'peer', 'name', 'pub1']);
  execFileSync('ip', ['-n', name, 'link', 'set', 'pub0', 'up']);
  execFileSync('ip', ['-n', name, 'link', 'set', 'pub1', 'up']);
  execFileSync('ip', ['-n', name, 'addr', 'add', '198.51.100.254/24', 'dev', 'pub0']);
  const real = createProcessRunner(systemClock);
  // The real runner, with every program started inside the namespace.
  const runner: ProcessRunner = { run: (r) => real.run({ ...r, file: 'ip', args: ['netns', 'exec', name, r.file, ...r.args] }) };
  return { name, runner };
}

test('real ping in a namespace: ok while the gateway answers, lost once it is gone, ok again when it returns', async (t) => {
  const { name, runner } = namespace(t);
  const seen: PublicNetworkState[] = [];
  const monitor = new PublicNetworkMonitor(settings(['198.51.100.254']), runner, systemClock, (s) => seen.push(s));
  t.after(() => monitor.stop());
  monitor.start();
  await until('ok', () => monitor.current() === 'ok', 10_000);
  execFileSync('ip', ['-n', name, 'addr', 'del', '198.51.100.254/24', 'dev', 'pub0']);
  await until('lost', () => monitor.current() === 'lost', 10_000);
  execFileSync('ip', ['-n', name, 'addr', 'add', '198.51.100.254/24', 'dev', 'pub0']);
  await until('ok again', () => monitor.current() === 'ok', 10_000);
  assert.deepEqual(seen, ['ok', 'lost', 'ok']);
});

test('a peer heard only over its public link is alive but marked publicOnly', async (t) => {
  const key = randomBytes(32);
  const [p1, p2, q1, q2] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const config = parseConfig(`
cluster: { id: pub, key: "${key.toString('hex')}" }
nodes: [{ id: alpha }, { id: beta }]
heartbeat:
  links:
    - { name: priv, kind: udp, interval: 50ms, deadTime: 300ms, endpoints: { alpha: "127.0.0.1:${p1}", beta: "127.0.0.1:${p2}" } }
    - { name: pub, kind: udp, role: public, interval: 50ms, deadTime: 300ms, endpoints: { alpha: "127.0.0.1:${q1}", beta: "127.0.0.1:${q2}" } }
`, 'pub.yaml');
  const alpha = new Heartbeat({ config, localNode: 'alpha', key, incarnation: 1, onChange: () => undefined });
  const beta = new Heartbeat({ config, localNode: 'beta', key, incarnation: 2, onChange: () => undefined });
  t.after(async () => { await alpha.close(); await beta.close(); });
  await alpha.start(); await beta.start();
  alpha.setStatus(status('alpha')); beta.setStatus(status('beta'));
  await until('alive over both', () => alpha.linkStatuses().every((l) => l.up));
  assert.equal(alpha.peers()['beta']!.publicOnly, undefined);
  await beta.closeLink('priv');
  await until('private link down', () => alpha.linkStatuses().find((l) => l.link === 'priv')!.up === false);
  assert.equal(alpha.peers()['beta']!.alive, true);
  assert.equal(alpha.peers()['beta']!.publicOnly, true);
});
