// Rotating the cluster key on a running cluster, in the three configuration commits docs/security.md describes:
// no heartbeat is refused, no peer is lost, nothing moves; and a node that was down meanwhile catches up over the
// API, although it can no longer hear its peers' heartbeats with the key it still holds.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CommitOutcome } from '../../common/model/index.js';
import { LocalCluster } from '../support/agent-cluster.js';

const GROUP = `groups:
  - id: web
    nodes: [alpha, beta]
    resources:
      - { id: web-app, kind: ocf, agent: "@OCF@", monitorInterval: 300ms }
`;

async function cluster(t: TestContext): Promise<{ c: LocalCluster; steps: string[] }> {
  const c = await LocalCluster.createWithApi(GROUP, { separateConfigs: true });
  t.after(() => c.dispose());
  const oldKey = JSON.stringify(join(c.dir, 'cluster.key'));
  const newKey = JSON.stringify(join(c.dir, 'next.key'));
  writeFileSync(join(c.dir, 'next.key'), randomBytes(32).toString('hex') + '\n', { mode: 0o600 });
  await c.startSettled();
  return { c, steps: [`keyFile: ${oldKey}, acceptKeyFiles: [${newKey}]`, `keyFile: ${newKey}, acceptKeyFiles: [${oldKey}]`, `keyFile: ${newKey}`] };
}

async function propose(c: LocalCluster, step: string): Promise<CommitOutcome> {
  const current = await c.call('alpha', 'config.get', {});
  const text = current.text.replace(/keyFile: "[^"]+"(, acceptKeyFiles: \[[^\]]*\])?/, step);
  assert.notEqual(text, current.text, step);
  return c.call('alpha', 'config.propose', { text, baseGeneration: current.generation, comment: step });
}

const incarnation = async (c: LocalCluster, node: string): Promise<number | undefined> => (await c.status(node)).nodes.find((n) => n.local)?.incarnation;

/** Every link of the node up, and not one heartbeat refused since it last started. */
async function linksClean(c: LocalCluster, node: string): Promise<void> {
  // A rebuilt TCP link takes a moment to reconnect; a refused packet would never heal.
  const links = await c.waitFor(`${node}: every link up`, async () => {
    const all = (await c.status(node)).nodes.flatMap((n) => n.links);
    return all.length > 0 && all.every((l) => l.up) ? all : undefined;
  });
  assert.deepEqual(links.map((l) => l.rejected), links.map(() => ({ badMac: 0, replay: 0, foreign: 0, malformed: 0 })), `${node}: no heartbeat refused`);
}

test('the cluster key is rotated by three commits without a refused heartbeat, a lost peer or a moved group', async (t) => {
  const { c, steps } = await cluster(t);
  const servicePid = c.resourcePid('alpha', 'web-app');
  const since = Date.now();
  for (const step of steps) {
    const before = { alpha: await incarnation(c, 'alpha'), beta: await incarnation(c, 'beta') };
    const outcome = await propose(c, step);
    assert.deepEqual([...outcome.committed].sort(), ['alpha', 'beta'], `${step}: ${JSON.stringify(outcome)}`);
    // Both agents are rebuilt (a new incarnation) and see each other again before the next step.
    await c.waitFor(`both nodes rebuilt and up after "${step}"`, async () => {
      const [a, b] = await Promise.all([c.status('alpha'), c.status('beta')]);
      return (await incarnation(c, 'alpha')) !== before.alpha && (await incarnation(c, 'beta')) !== before.beta
        && a.nodes.every((n) => n.alive) && b.nodes.every((n) => n.alive);
    });
  }
  for (const node of ['alpha', 'beta']) {
    const lost = await c.call(node, 'events', { since, kinds: ['peer-lost', 'heartbeat-rejected', 'failover'] });
    assert.deepEqual(lost.map((e) => `${e.kind}: ${e.message}`), [], `${node}: no peer lost, no heartbeat refused`);
    await linksClean(c, node);
  }
  assert.equal(c.resourcePid('alpha', 'web-app'), servicePid, 'the service was never restarted');
  assert.equal((await c.call('beta', 'config.get', {})).text.includes('acceptKeyFiles'), false, 'beta runs the last step too');
});

test('a node down during the rotation comes back with the old key and catches up over the API', async (t) => {
  const { c, steps } = await cluster(t);
  await c.kill('beta', 'SIGTERM');
  await c.waitFor('alpha sees beta gone', async () => (await c.status('alpha')).nodes.find((n) => n.id === 'beta')?.alive === false);
  for (const step of steps) {
    const before = await incarnation(c, 'alpha');
    const outcome = await propose(c, step);
    assert.deepEqual(outcome.pending, ['beta'], step);
    await c.waitFor(`alpha rebuilt after "${step}"`, async () => (await incarnation(c, 'alpha')) !== before);
  }
  const latest = await c.call('alpha', 'config.get', {});
  // beta starts from its own file: the old key, which alpha no longer accepts.
  c.start('beta');
  await c.waitFor('beta caught up with the newest configuration', async () => (await c.call('beta', 'config.get', {})).generation === latest.generation);
  await c.waitFor('alpha and beta hear each other', async () => {
    const [a, b] = await Promise.all([c.status('alpha'), c.status('beta')]);
    return a.nodes.every((n) => n.alive) && b.nodes.every((n) => n.alive);
  });
  await linksClean(c, 'beta');
  assert.equal((await c.status('alpha')).groups[0]?.runningOn.join(), 'alpha', 'nothing moved');
  // beta caught up before its engine started: it never took web over while it could not hear alpha.
  assert.equal(c.resourcePid('beta', 'web-app'), undefined, 'web never started on beta');
  // Its guard, started from the old file before the catch-up, was replaced by one that guards with what beta runs.
  const started = (await c.call('beta', 'events', { since: 0, kinds: ['agent-started'], limit: 1 }))[0]?.message ?? '';
  const runs = /agent started \(config (\w+)\)/.exec(started)?.[1];
  const guarded = [...readFileSync(join(c.stateDir('beta'), 'guard.log'), 'utf8').matchAll(/guard: ready for beta, configuration (\w+)/g)].map((m) => m[1]);
  assert.ok(runs !== undefined, started);
  assert.equal(guarded.at(-1), runs, `the last guard's configuration (guard.log: ${guarded.join(', ')}) is the one beta runs`);
});
