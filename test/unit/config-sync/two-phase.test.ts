import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { decideCatchUp } from '../../../agent/core/config-catchup.js';
import { ConfigSyncError, type ConfigSyncErrorCode } from '../../../common/model/config-version.js';
import { digestOf } from '../../../agent/config-sync/history.js';
import { COMMIT_GRACE_MS } from '../../../agent/config-sync/participant.js';
import { NODES, TestCluster, clusterText, installAgent } from './helpers.js';

async function rejectsWith(promise: Promise<unknown>, code: ConfigSyncErrorCode, message: RegExp): Promise<ConfigSyncError> {
  let caught: unknown;
  await assert.rejects(promise, (e: unknown) => { caught = e; return e instanceof ConfigSyncError && e.code === code && message.test(e.message); }, `${code} ${message}`);
  return caught as ConfigSyncError;
}

test('a proposal is validated and staged everywhere, then committed on every node: history, file and onApplied', async (t) => {
  const cluster = new TestCluster(t);
  const original = clusterText();
  const next = clusterText({ monitorInterval: '5s' });
  const outcome = await cluster.node('alpha').coordinator.propose({ text: next, baseGeneration: 1, author: 'admin', comment: 'slower monitor' });
  assert.deepEqual(outcome, { generation: 2, digest: digestOf(next), committed: ['alpha', 'beta', 'gamma'], pending: [], partial: [] });
  for (const id of NODES) {
    const node = cluster.node(id);
    assert.deepEqual(node.history.current(), { generation: 2, text: next, digest: digestOf(next), author: 'admin', at: cluster.now, comment: 'slower monitor', parent: 1 });
    assert.equal(node.history.staged(cluster.now), undefined, `${id}: nothing left staged`);
    assert.equal(cluster.fileOf(id), next, `${id}: the file is the committed text`);
    assert.equal(readFileSync(`${node.configPath}.prev`, 'utf8'), original, `${id}: the previous file is kept`);
    assert.deepEqual(node.applied.map((a) => [a.generation, a.change]), [[2, { live: [], reload: ['groups[web].resources[app].monitorInterval'] }]]);
    assert.equal(node.applied[0]!.config.groups[0]!.resources[0]!.monitorInterval, 5_000);
  }
});

test('one node rejects the text: applied on none, nothing staged, and the problem names the node and the field', async (t) => {
  const cluster = new TestCluster(t);
  installAgent(cluster.node('alpha').ocfRoot, 'special');
  installAgent(cluster.node('gamma').ocfRoot, 'special');
  const error = await rejectsWith(cluster.node('alpha').coordinator.propose({ text: clusterText({ extraResource: 'special' }), baseGeneration: 1, author: 'admin' }),
    'VALIDATION_FAILED', /^generation 2 is applied on none: beta: groups\[0\]\.resources\[1\]\.agent: .*special is not installed on this host$/);
  assert.deepEqual(error.problems.map((p) => [p.node, p.path]), [['beta', 'groups[0].resources[1].agent']]);
  assert.deepEqual(cluster.generations(), { alpha: 1, beta: 1, gamma: 1 });
  for (const id of NODES) {
    assert.equal(cluster.node(id).history.staged(cluster.now), undefined, `${id}: the prepared version was aborted`);
    assert.equal(cluster.fileOf(id), clusterText());
    assert.deepEqual(cluster.node(id).applied, []);
  }
  // validateEverywhere says the same without staging anything.
  assert.deepEqual((await cluster.node('gamma').coordinator.validateEverywhere(clusterText({ extraResource: 'special' }))).map((r) => [r.node, r.outcome]),
    [['gamma', 'ok'], ['alpha', 'ok'], ['beta', 'failed']]);
});

test('a node that is down is skipped (pending) and catches up the generations it missed when it is back', async (t) => {
  const cluster = new TestCluster(t);
  cluster.down.add('gamma');
  const second = clusterText({ monitorInterval: '3s' });
  const third = clusterText({ monitorInterval: '4s' });
  const outcome = await cluster.node('alpha').coordinator.propose({ text: second, baseGeneration: 1, author: 'admin' });
  assert.deepEqual([outcome.committed, outcome.pending], [['alpha', 'beta'], ['gamma']]);
  await cluster.node('beta').coordinator.propose({ text: third, baseGeneration: 2, author: 'admin' });
  assert.deepEqual(cluster.generations(), { alpha: 3, beta: 3, gamma: 1 });

  cluster.down.delete('gamma');
  const gamma = cluster.node('gamma');
  const decision = decideCatchUp({
    local: gamma.history.current(),
    peers: ['alpha', 'beta'].map((id) => ({ node: id, alive: true, ...cluster.node(id).history.current() })),
  });
  assert.deepEqual(decision, { fetchFrom: 'alpha', generation: 3 });
  const caughtUp = await gamma.participant.catchUp('alpha', 3);
  assert.equal(caughtUp.status, 'applied');
  assert.deepEqual(gamma.history.list().map((v) => [v.generation, v.digest]), [[3, digestOf(third)], [2, digestOf(second)], [1, digestOf(clusterText())]]);
  assert.equal(cluster.fileOf('gamma'), third);
  assert.deepEqual(gamma.applied.map((a) => [a.generation, a.change.reload]), [[3, ['groups[web].resources[app].monitorInterval']]]);
  assert.deepEqual(await gamma.participant.catchUp('alpha', 3), { status: 'current' });
});

test('a node that missed a generation is pending for the next proposal (BEHIND), then catches up to it', async (t) => {
  const cluster = new TestCluster(t);
  cluster.down.add('gamma');
  await cluster.node('alpha').coordinator.propose({ text: clusterText({ monitorInterval: '3s' }), baseGeneration: 1, author: 'admin' });
  cluster.down.delete('gamma');
  const outcome = await cluster.node('alpha').coordinator.propose({ text: clusterText({ monitorInterval: '4s' }), baseGeneration: 2, author: 'admin' });
  assert.deepEqual([outcome.generation, outcome.committed, outcome.pending], [3, ['alpha', 'beta'], ['gamma']]);
  assert.equal((await cluster.node('gamma').participant.catchUp('beta', 3)).status, 'applied');
  assert.deepEqual(cluster.generations(), { alpha: 3, beta: 3, gamma: 3 });
});

test('a proposal written against an older generation is refused: two admins never overwrite each other', async (t) => {
  const cluster = new TestCluster(t);
  await cluster.node('alpha').coordinator.propose({ text: clusterText({ monitorInterval: '3s' }), baseGeneration: 1, author: 'ann' });
  await rejectsWith(cluster.node('beta').coordinator.propose({ text: clusterText({ monitorInterval: '9s' }), baseGeneration: 1, author: 'bob' }),
    'STALE_GENERATION', /written against generation 1, the current one is 2/);
  await rejectsWith(cluster.node('beta').coordinator.propose({ text: clusterText({ monitorInterval: '3s' }), baseGeneration: 2, author: 'bob' }),
    'UNCHANGED', /the text of generation 2/);
  assert.deepEqual(cluster.generations(), { alpha: 2, beta: 2, gamma: 2 });
});

test('concurrent proposals: one per coordinator, and a node with another coordinator\'s staged version says BUSY', async (t) => {
  const cluster = new TestCluster(t);
  const alpha = cluster.node('alpha').coordinator;
  const first = alpha.propose({ text: clusterText({ monitorInterval: '3s' }), baseGeneration: 1, author: 'ann' });
  await rejectsWith(alpha.propose({ text: clusterText({ monitorInterval: '4s' }), baseGeneration: 1, author: 'bob' }), 'BUSY', /in progress on this node/);
  await first;

  // Two coordinators at once: whatever the interleaving, at most one wins, the other is told BUSY, nodes agree.
  const results = await Promise.allSettled([
    cluster.node('beta').coordinator.propose({ text: clusterText({ monitorInterval: '5s' }), baseGeneration: 2, author: 'ann' }),
    cluster.node('gamma').coordinator.propose({ text: clusterText({ monitorInterval: '6s' }), baseGeneration: 2, author: 'bob' }),
  ]);
  assert.ok(results.filter((r) => r.status === 'fulfilled').length <= 1);
  for (const r of results) if (r.status === 'rejected') assert.ok(r.reason instanceof ConfigSyncError && r.reason.code === 'BUSY', String(r.reason));
  const digests = new Set(NODES.map((id) => cluster.node(id).history.current().digest));
  assert.equal(digests.size, 1, 'every node holds the same version');
  for (const id of NODES) assert.equal(cluster.node(id).history.staged(cluster.now), undefined);
  // Nothing is left blocked: the next proposal goes through.
  const base = cluster.node('alpha').history.current().generation;
  assert.equal((await alpha.propose({ text: clusterText({ monitorInterval: '7s' }), baseGeneration: base, author: 'ann' })).generation, base + 1);
});

test('a coordinator that crashes after prepare blocks the next proposal until its staged version expires', async (t) => {
  const cluster = new TestCluster(t);
  const text = clusterText({ monitorInterval: '3s' });
  const orphan = { generation: 2, text, digest: digestOf(text), author: 'ann', at: cluster.now, comment: '', parent: 1 };
  for (const id of NODES) assert.deepEqual(await cluster.node(id).participant.onPrepare(orphan, 'alpha'), { ok: true });
  // alpha is gone before its commit.
  cluster.down.add('alpha');
  const beta = cluster.node('beta').coordinator;
  const busy = await rejectsWith(beta.propose({ text: clusterText({ monitorInterval: '4s' }), baseGeneration: 1, author: 'bob' }),
    'BUSY', /beta: generation 2 from alpha is staged here until it is committed or aborted \(or in 30 s\)/);
  assert.deepEqual(busy.problems, []);
  cluster.now += 30_000;
  const outcome = await beta.propose({ text: clusterText({ monitorInterval: '4s' }), baseGeneration: 1, author: 'bob' });
  assert.deepEqual([outcome.committed, outcome.pending], [['beta', 'gamma'], ['alpha']]);
  // A commit arriving late from the crashed coordinator cannot commit its text over the decided one.
  await rejectsWith(cluster.node('gamma').participant.onCommit({ generation: 3, digest: orphan.digest }), 'NOT_STAGED', /nothing is staged/);
  assert.equal(cluster.node('gamma').history.current().digest, outcome.digest);
  // alpha restarts with its orphan staged: expired, it is dropped and alpha catches up.
  cluster.down.delete('alpha');
  assert.equal(cluster.node('alpha').history.staged(cluster.now), undefined);
  assert.equal((await cluster.node('alpha').participant.catchUp('beta', 2)).status, 'applied');
  assert.equal(cluster.node('alpha').history.current().digest, outcome.digest);
});

test('a commit lost on its way to a peer is reported as partial; after a grace the peer catches up and drops its staged copy', async (t) => {
  const cluster = new TestCluster(t);
  cluster.failCommit.add('gamma');
  const outcome = await cluster.node('alpha').coordinator.propose({ text: clusterText({ monitorInterval: '3s' }), baseGeneration: 1, author: 'admin' });
  assert.deepEqual(outcome.committed, ['alpha', 'beta']);
  assert.deepEqual(outcome.partial, [{ node: 'gamma', message: 'connection to gamma lost' }]);
  const gamma = cluster.node('gamma');
  assert.equal(gamma.history.staged(cluster.now)?.version.generation, 2);
  // Just after the prepare the commit may still be on its way (alpha reports generation 2 already): catch-up leaves
  // it to the commit rather than reload gamma under it; once the grace has passed, the commit counts as lost.
  assert.deepEqual(await gamma.participant.catchUp('alpha', 2), { status: 'staged' });
  assert.equal(cluster.generations()['gamma'], 1);
  cluster.now += COMMIT_GRACE_MS;
  assert.equal((await gamma.participant.catchUp('alpha', 2)).status, 'applied');
  assert.equal(gamma.history.staged(cluster.now), undefined);
  assert.deepEqual(cluster.generations(), { alpha: 2, beta: 2, gamma: 2 });
});

test('rollback commits an earlier text as a new generation', async (t) => {
  const cluster = new TestCluster(t);
  const alpha = cluster.node('alpha').coordinator;
  await alpha.propose({ text: clusterText({ monitorInterval: '3s' }), baseGeneration: 1, author: 'ann' });
  const outcome = await alpha.rollback({ toGeneration: 1, baseGeneration: 2, author: 'bob' });
  assert.equal(outcome.generation, 3);
  for (const id of NODES) {
    const current = cluster.node(id).history.current();
    assert.deepEqual([current.generation, current.text, current.author, current.comment, current.parent], [3, clusterText(), 'bob', 'rollback to generation 1', 2]);
  }
  await rejectsWith(alpha.rollback({ toGeneration: 3, baseGeneration: 3, author: 'bob' }), 'UNCHANGED', /generation 3/);
  await rejectsWith(alpha.rollback({ toGeneration: 9, baseGeneration: 3, author: 'bob' }), 'NOT_FOUND', /generation 9: not in this node's history/);
});

test('catch-up: a version this node cannot run is not applied; diverged histories are a conflict, never merged', async (t) => {
  const cluster = new TestCluster(t);
  installAgent(cluster.node('alpha').ocfRoot, 'special');
  installAgent(cluster.node('beta').ocfRoot, 'special');
  // Partition: gamma sees nobody, alpha and beta do not see gamma. Each side commits its own generation 2.
  cluster.sees.set('gamma', []).set('alpha', ['beta']).set('beta', ['alpha']);
  await cluster.node('gamma').coordinator.propose({ text: clusterText({ monitorInterval: '9s' }), baseGeneration: 1, author: 'gil' });
  await cluster.node('alpha').coordinator.propose({ text: clusterText({ extraResource: 'special' }), baseGeneration: 1, author: 'ann' });
  cluster.sees.clear();
  const gamma = cluster.node('gamma');
  const peers = ['alpha', 'beta'].map((id) => ({ node: id, alive: true, ...cluster.node(id).history.current() }));
  assert.deepEqual(decideCatchUp({ local: gamma.history.current(), peers }), { conflict: `generation 2 differs between this node (${gamma.history.current().digest.slice(0, 12)}) and alpha (${peers[0]!.digest.slice(0, 12)})` });
  // Even asked to fetch a newer generation, gamma checks the peer holds its own version first. (A proposal
  // reaching gamma would resolve the conflict: that is the admin deciding, after the conflict was reported.)
  cluster.down.add('gamma');
  await cluster.node('alpha').coordinator.propose({ text: clusterText({ extraResource: 'special', monitorInterval: '3s' }), baseGeneration: 2, author: 'ann' });
  cluster.down.delete('gamma');
  const conflict = await gamma.participant.catchUp('alpha', 3);
  assert.equal(conflict.status, 'fault');
  assert.ok(conflict.status === 'fault' && conflict.code === 'CONFLICT' && /generation 2 differs between this node/.test(conflict.message), JSON.stringify(conflict));
  assert.equal(gamma.history.current().generation, 2);

  // A node still at its installation generation takes the cluster's history, but only a version it can run.
  const fresh = new TestCluster(t);
  installAgent(fresh.node('alpha').ocfRoot, 'special');
  installAgent(fresh.node('beta').ocfRoot, 'special');
  fresh.down.add('gamma');
  await fresh.node('alpha').coordinator.propose({ text: clusterText({ extraResource: 'special' }), baseGeneration: 1, author: 'ann' });
  fresh.down.delete('gamma');
  const refused = await fresh.node('gamma').participant.catchUp('alpha', 2);
  assert.ok(refused.status === 'fault' && refused.code === 'VALIDATION_FAILED', JSON.stringify(refused));
  assert.match(refused.message, /^generation 2 from alpha is not applied here, this node keeps generation 1: groups\[0\]\.resources\[1\]\.agent: /);
  assert.deepEqual(refused.problems.map((p) => [p.node, p.path]), [['gamma', 'groups[0].resources[1].agent']]);
  assert.equal(fresh.node('gamma').history.current().generation, 1);
  assert.equal(fresh.fileOf('gamma'), clusterText());
  installAgent(fresh.node('gamma').ocfRoot, 'special');
  assert.equal((await fresh.node('gamma').participant.catchUp('alpha', 2)).status, 'applied');
});
