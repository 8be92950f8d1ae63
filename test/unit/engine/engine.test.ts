import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { InMemoryCluster, type TestNode } from '../../support/in-memory-cluster.js';

const config = (switchback: 'auto' | 'manual') => `
cluster: { id: t, key: "${'0'.repeat(64)}", startupGrace: 300ms }
nodes: [{ id: alpha }, { id: beta }]
heartbeat:
  links: [{ name: l1, kind: udp, endpoints: { alpha: "127.0.0.1:1", beta: "127.0.0.1:2" } }]
groups:
  - id: web
    nodes: [alpha, beta]
    switchback: ${switchback}
    migrationThreshold: 2
    resources:
      - { id: ip, kind: ocf, agent: /x/ip, monitorInterval: 40ms }
      - { id: app, kind: ocf, agent: /x/app, monitorInterval: 40ms }
`;

function only(cluster: InMemoryCluster, node: string): () => boolean {
  return () => cluster.running('ip').join() === node && cluster.running('app').join() === node;
}

test('both nodes start: the group runs on the preferred node only, started in order', async (t) => {
  const cluster = new InMemoryCluster(config('auto'));
  t.after(() => cluster.dispose());
  const alpha = cluster.start('alpha');
  cluster.start('beta');
  await cluster.until('web on alpha', only(cluster, 'alpha'));
  assert.deepEqual(alpha.resources.get('ip')!.calls.slice(0, 2), ['probe', 'start']);
  const kinds = alpha.store.queryEvents({ kinds: ['resource-started'] }).map((e) => e.resource).reverse();
  assert.deepEqual(kinds, ['ip', 'app']);
});

test('an engine plans nothing before start(): what the daemon hears while its guard loads starts no resource', async (t) => {
  const cluster = new InMemoryCluster(config('auto'));
  t.after(() => cluster.dispose());
  const alpha = cluster.start('alpha', { engineStarted: false });
  alpha.engine.onMembershipChange({ kind: 'peer-lost', peer: 'beta' });
  alpha.engine.setPublicNetwork('ok');
  await new Promise((r) => setTimeout(r, 400)); // past the startup grace, when alpha alone would start web
  for (const [id, r] of alpha.resources) assert.deepEqual(r.calls, [], `${id} was left alone`);
  alpha.engine.start();
  await cluster.until('web on alpha', only(cluster, 'alpha'));
});

test('after its guard went away, an engine plans nothing until the new guard is ready, then probes and starts again', async (t) => {
  const cluster = new InMemoryCluster(config('auto'));
  t.after(() => cluster.dispose());
  const alpha = cluster.start('alpha');
  await cluster.until('web on alpha', only(cluster, 'alpha'));
  // The guard released everything (as after a freeze) and exited; its replacement is still loading.
  for (const r of alpha.resources.values()) r.running = false;
  let ready!: () => void;
  alpha.engine.reprobe('the guard went away', new Promise<void>((r) => { ready = r; }));
  const calls = [...alpha.resources.values()].map((r) => r.calls.length);
  await new Promise((r) => setTimeout(r, 300)); // monitors are due every 40 ms
  assert.deepEqual([...alpha.resources.values()].map((r) => r.calls.length), calls, 'no probe, monitor or start meanwhile');
  ready();
  await cluster.until('probed and started again', only(cluster, 'alpha'));
  assert.deepEqual(alpha.resources.get('ip')!.calls.slice(calls[0]!, calls[0]! + 2), ['probe', 'start']);
});

test('kill -9 of the active agent fails over; with auto switchback the group returns when it is back', async (t) => {
  const cluster = new InMemoryCluster(config('auto'));
  t.after(() => cluster.dispose());
  cluster.start('alpha');
  const beta = cluster.start('beta');
  await cluster.until('web on alpha', only(cluster, 'alpha'));
  await cluster.crash('alpha');
  await cluster.until('web also on beta', () => cluster.running('app').includes('beta'));
  assert.ok(beta.store.queryEvents({ kinds: ['failover'] }).length >= 1, 'a failover event is logged');
  // alpha's agent returns: it probes, finds its old copy running, and the cluster converges on alpha alone.
  cluster.start('alpha');
  await cluster.until('web back on alpha only', only(cluster, 'alpha'));
});

test('manual switchback: the group stays on the standby until switchback is asked for', async (t) => {
  const cluster = new InMemoryCluster(config('manual'));
  t.after(() => cluster.dispose());
  cluster.start('alpha');
  const beta = cluster.start('beta');
  await cluster.until('web on alpha', only(cluster, 'alpha'));
  await cluster.crash('alpha');
  await cluster.until('web on beta', () => cluster.running('app').includes('beta'));
  const alpha = cluster.start('alpha');
  // alpha's stale copy is stopped; the group is held on beta.
  await cluster.until('web on beta only', only(cluster, 'beta'));
  await new Promise((r) => setTimeout(r, 200));
  assert.deepEqual(cluster.running('app'), ['beta']);
  assert.equal(alpha.engine.status().groups[0]!.target, 'beta');
  assert.equal(beta.engine.switchback('web').target, 'alpha');
  await cluster.until('web back on alpha', only(cluster, 'alpha'));
});

test('a failing monitor restarts in place, then moves the group at the threshold', async (t) => {
  const cluster = new InMemoryCluster(config('auto'));
  t.after(() => cluster.dispose());
  const alpha = cluster.start('alpha');
  cluster.start('beta');
  await cluster.until('web on alpha', only(cluster, 'alpha'));
  const app = alpha.resources.get('app')!;
  app.running = false; // the service dies behind Vigil's back
  await cluster.until('restarted in place', () => app.running && alpha.store.failures('web').failures === 1);
  assert.deepEqual(cluster.running('app'), ['alpha']);
  app.running = false;
  await cluster.until('moved to beta', only(cluster, 'beta'));
  assert.equal(alpha.store.failures('web').failures, 2);
  assert.equal(alpha.store.queryEvents({ kinds: ['monitor-failed'] }).length, 2);
});

test('maintenance mode: nothing is restarted until it ends, then resources are probed again', async (t) => {
  const cluster = new InMemoryCluster(config('auto'));
  t.after(() => cluster.dispose());
  const alpha = cluster.start('alpha');
  const beta = cluster.start('beta');
  await cluster.until('web on alpha', only(cluster, 'alpha'));
  beta.engine.setMaintenance(true); // set on one node, replicated to the other
  await cluster.until('alpha sees maintenance', () => alpha.engine.status().maintenance);
  const app = alpha.resources.get('app')!;
  app.running = false;
  await new Promise((r) => setTimeout(r, 250));
  assert.equal(app.running, false, 'nothing restarted in maintenance mode');
  assert.equal(alpha.store.failures('web').failures, 0, 'nothing monitored in maintenance mode');
  alpha.engine.setMaintenance(false);
  await cluster.until('app restarted after maintenance', () => app.running);
  assert.equal(alpha.store.failures('web').failures, 0, 'a probe after maintenance is not a failure');
});

test('a failed stop blocks the group everywhere until cleanup', async (t) => {
  const cluster = new InMemoryCluster(config('auto'));
  t.after(() => cluster.dispose());
  const alpha = cluster.start('alpha');
  const beta = cluster.start('beta');
  await cluster.until('web on alpha', only(cluster, 'alpha'));
  alpha.resources.get('app')!.failNext.set('stop', 1);
  beta.engine.switchover('web', 'beta');
  await cluster.until('stop failed', () => alpha.engine.status().groups[0]!.resources[1]!.states['alpha'] === 'stop_failed');
  await new Promise((r) => setTimeout(r, 200));
  assert.deepEqual(cluster.running('app'), ['alpha'], 'beta must not start what alpha may still run');
  assert.match(beta.engine.status().groups[0]!.reasons.join(), /cleanup/);
  alpha.engine.cleanup('web');
  await cluster.until('web on beta after cleanup', only(cluster, 'beta'));
});

test('a clean shutdown hands the group over before the agent exits', async (t) => {
  const cluster = new InMemoryCluster(config('auto'));
  t.after(() => cluster.dispose());
  cluster.start('alpha');
  cluster.start('beta');
  await cluster.until('web on alpha', only(cluster, 'alpha'));
  await cluster.stop('alpha');
  assert.deepEqual(cluster.running('app'), [], 'alpha stopped its resources before exiting');
  await cluster.until('web on beta', only(cluster, 'beta'));
});

test('failure counts and holds survive an agent restart', async (t) => {
  const cluster = new InMemoryCluster(config('manual'));
  t.after(() => cluster.dispose());
  cluster.start('alpha');
  const beta = cluster.start('beta');
  await cluster.until('web on alpha', only(cluster, 'alpha'));
  beta.engine.switchover('web', 'beta');
  await cluster.until('web on beta', only(cluster, 'beta'));
  await cluster.crash('beta');
  await cluster.crash('alpha');
  // Both come back; the held target (beta) is remembered on disk.
  const alpha = cluster.start('alpha');
  cluster.start('beta');
  await cluster.until('alpha has probed and placed web', () => { const d = alpha.engine.currentPlan()?.groups['web']; return d !== undefined && !d.waiting; });
  assert.equal(alpha.engine.status().groups[0]!.target, 'beta');
  await new Promise((r) => setTimeout(r, 200));
  assert.ok(only(cluster, 'beta')(), 'web stays on beta, where it was held');
});

/** Both nodes up and their ping targets answering, web on alpha. */
async function withPublicNetwork(t: TestContext, switchback: 'auto' | 'manual'): Promise<{ cluster: InMemoryCluster; alpha: TestNode; beta: TestNode }> {
  const cluster = new InMemoryCluster(config(switchback));
  t.after(() => cluster.dispose());
  const alpha = cluster.start('alpha');
  const beta = cluster.start('beta');
  await cluster.until('web on alpha', only(cluster, 'alpha'));
  alpha.engine.setPublicNetwork('ok');
  beta.engine.setPublicNetwork('ok');
  return { cluster, alpha, beta };
}

test('back from being cut off, a node waits out the startup grace (at least a dead time) to hear its peers before it acts on their silence', async (t) => {
  // The grace here: the link's dead time (800 ms), longer than startupGrace.
  const { cluster, alpha } = await withPublicNetwork(t, 'manual');
  cluster.partition('alpha', 'beta');
  alpha.engine.setPublicNetwork('lost');
  await cluster.until('alpha gave web up and beta took it over', only(cluster, 'beta'));
  // alpha's gateway answers before beta's first heartbeat arrives: beta's silence must not count yet.
  alpha.engine.setPublicNetwork('ok');
  await new Promise((r) => setTimeout(r, 300));
  assert.ok(only(cluster, 'beta')(), `web runs on beta only, not on alpha too (running: ${cluster.running('app').join()})`);
  assert.match(alpha.engine.status().groups[0]!.reasons.join(), /the public network is back: waiting to hear beta/);
  cluster.heal('alpha', 'beta');
  await cluster.until('alpha has placed web again', () => alpha.engine.currentPlan()?.groups['web']?.waiting !== true);
  assert.equal(alpha.engine.status().groups[0]!.target, 'beta');
  await new Promise((r) => setTimeout(r, 100));
  assert.ok(only(cluster, 'beta')(), 'web stays on beta, which took it over');
});

test('a node that loses the public network hands its groups to a peer that still has it', async (t) => {
  const { cluster, alpha } = await withPublicNetwork(t, 'auto');
  alpha.engine.setPublicNetwork('lost');
  await cluster.until('web on beta', only(cluster, 'beta'));
  assert.ok(alpha.store.queryEvents({ kinds: ['fault'] }).some((e) => /lost the public network/.test(e.message)));
  alpha.engine.setPublicNetwork('ok');
  await cluster.until('auto switchback once alpha has it again', only(cluster, 'alpha'));
});
