// An operator's group stop (`group.stop` / `group.start`) through real engines: a replicated intent that keeps the
// group stopped on every node across crashes, restarts and failovers, until it is started again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProtocolError } from '../../../common/protocol/api.js';
import { InMemoryCluster, type TestNode } from '../../support/in-memory-cluster.js';

const CONFIG = `
cluster: { id: t, key: "${'0'.repeat(64)}", startupGrace: 300ms }
nodes: [{ id: alpha }, { id: beta }]
heartbeat:
  links: [{ name: l1, kind: udp, endpoints: { alpha: "127.0.0.1:1", beta: "127.0.0.1:2" } }]
groups:
  - id: web
    nodes: [alpha, beta]
    switchback: auto
    migrationThreshold: 2
    resources:
      - { id: ip, kind: ocf, agent: /x/ip, monitorInterval: 40ms }
      - { id: app, kind: ocf, agent: /x/app, monitorInterval: 40ms }
`;

function nowhere(cluster: InMemoryCluster): () => boolean {
  return () => cluster.running('ip').length === 0 && cluster.running('app').length === 0;
}

function only(cluster: InMemoryCluster, node: string): () => boolean {
  return () => cluster.running('ip').join() === node && cluster.running('app').join() === node;
}

type GroupEventKind = 'group-stopped' | 'group-started' | 'group-unplaceable' | 'group-placed' | 'failover';

/** The node's events of those kinds, oldest first (the store outlives restarts, so `since` cuts off the past). */
function kinds(node: TestNode, which: GroupEventKind[], since = 0): string[] {
  return node.store.queryEvents({ kinds: which, since }).map((e) => e.kind).reverse();
}

function code(work: () => unknown): string {
  try {
    work();
    return 'ok';
  } catch (e) {
    assert.ok(e instanceof ProtocolError, `a ProtocolError, not ${String(e)}`);
    return `${e.code}: ${e.message}`;
  }
}

async function settled(): Promise<InMemoryCluster & { alpha: TestNode; beta: TestNode }> {
  const cluster = new InMemoryCluster(CONFIG);
  const alpha = cluster.start('alpha');
  const beta = cluster.start('beta');
  await cluster.until('web on alpha', only(cluster, 'alpha'));
  return Object.assign(cluster, { alpha, beta });
}

test('stop asked on the standby: the active node stops the group last resource first; every node reports it stopped', async (t) => {
  const cluster = await settled();
  t.after(() => cluster.dispose());
  const { alpha, beta } = cluster;
  assert.deepEqual(beta.engine.stopGroup('web'), { group: 'web', stopped: true });
  await cluster.until('web stopped everywhere', nowhere(cluster));
  const stops = alpha.store.queryEvents({ kinds: ['resource-stopped'] }).map((e) => e.resource).reverse();
  assert.deepEqual(stops, ['app', 'ip'], 'stopped in reverse order');
  for (const node of [alpha, beta]) {
    await cluster.until(`${node.id} reports web stopped`, () => node.engine.status().groups[0]!.stopped === true);
    const summary = node.engine.status().groups[0]!;
    assert.equal(summary.target, null);
    assert.deepEqual(summary.runningOn, []);
    assert.match(summary.reasons.join(), /stopped by an operator \(set on beta\)/);
    assert.deepEqual(kinds(node, ['group-stopped', 'group-unplaceable']), ['group-stopped'], `${node.id}: stopped on purpose is not "unplaceable"`);
  }
  // Monitors stop with the resources: nothing counts as a failure, and nothing is started again.
  await new Promise((r) => setTimeout(r, 200));
  assert.ok(nowhere(cluster)());
  assert.equal(alpha.store.failures('web').failures, 0);
  assert.deepEqual(alpha.resources.get('ip')!.calls.filter((c) => c === 'start'), ['start'], 'never started again');
});

test('a stopped group is not failed over, stays stopped across a crash and restart of both agents, and starts on the preferred node', async (t) => {
  const cluster = await settled();
  t.after(() => cluster.dispose());
  cluster.alpha.engine.stopGroup('web');
  await cluster.until('web stopped everywhere', nowhere(cluster));
  await cluster.until('beta learnt the stop', () => cluster.beta.engine.status().groups[0]!.stopped === true);
  await cluster.crash('alpha');
  await new Promise((r) => setTimeout(r, 200));
  assert.ok(nowhere(cluster)(), 'beta did not take a stopped group over');
  assert.deepEqual(kinds(cluster.beta, ['failover', 'group-placed']), ['group-placed'], 'no failover, only the first placement');

  await cluster.crash('beta');
  // Both come back; the stop is on each node's disk. alpha alone is past its startup grace before beta returns.
  const alpha = cluster.start('alpha');
  await new Promise((r) => setTimeout(r, 500));
  const beta = cluster.start('beta');
  await cluster.until('both placed web', () => [alpha, beta].every((n) => n.engine.currentPlan()?.groups['web']?.stopped === true));
  await new Promise((r) => setTimeout(r, 200));
  assert.ok(nowhere(cluster)(), 'still stopped after restarts');
  assert.equal(alpha.engine.status().groups[0]!.stopped, true);

  const startedAt = Date.now();
  assert.deepEqual(beta.engine.startGroup('web'), { group: 'web', stopped: false });
  await cluster.until('web on alpha again', only(cluster, 'alpha'));
  const starts = alpha.store.queryEvents({ kinds: ['resource-started'], since: startedAt }).map((e) => e.resource).reverse();
  assert.deepEqual(starts, ['ip', 'app'], 'started in order');
  assert.equal(alpha.engine.status().groups[0]!.stopped, false);
  assert.deepEqual(kinds(alpha, ['group-started', 'group-placed', 'group-unplaceable'], startedAt), ['group-started', 'group-placed'], 'the start is logged, then the placement');
});

test('stop and start are idempotent; an unknown group is named; moving a stopped group is refused', async (t) => {
  const cluster = await settled();
  t.after(() => cluster.dispose());
  const { alpha, beta } = cluster;
  assert.equal(code(() => alpha.engine.stopGroup('nosuch')), 'NOT_FOUND: no group "nosuch" (groups: web)');
  assert.equal(code(() => alpha.engine.startGroup('nosuch')), 'NOT_FOUND: no group "nosuch" (groups: web)');
  assert.deepEqual(alpha.engine.startGroup('web'), { group: 'web', stopped: false }, 'starting a running group changes nothing');
  alpha.engine.stopGroup('web');
  alpha.engine.stopGroup('web');
  await cluster.until('web stopped everywhere', nowhere(cluster));
  assert.deepEqual(kinds(alpha, ['group-stopped', 'group-started']), ['group-stopped'], 'one stop, one event');
  await cluster.until('beta learnt the stop', () => beta.engine.status().groups[0]!.stopped === true);
  assert.match(code(() => beta.engine.switchover('web', 'beta')), /^CONFLICT: web is stopped by an operator: switchover does not apply; start it first with "vigil group start web"/);
  assert.match(code(() => beta.engine.switchback('web')), /^CONFLICT: .*switchback does not apply/);
  beta.engine.startGroup('web');
  await cluster.until('web on alpha again', only(cluster, 'alpha'));
  assert.equal(code(() => beta.engine.switchover('web', 'beta')), 'ok', 'a started group moves again');
  await cluster.until('web on beta', only(cluster, 'beta'));
});
