// Rotating the cluster key on a running cluster, in the three configuration commits docs/security.md describes:
// no heartbeat is refused, no peer is lost, nothing moves.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LocalCluster } from '../support/agent-cluster.js';

const GROUP = `groups:
  - id: web
    nodes: [alpha, beta]
    resources:
      - { id: web-app, kind: ocf, agent: "@OCF@", monitorInterval: 300ms }
`;

test('the cluster key is rotated by three commits without a refused heartbeat, a lost peer or a moved group', async (t) => {
  const c = await LocalCluster.createWithApi(GROUP);
  t.after(() => c.dispose());
  c.start('alpha');
  c.start('beta');
  await c.waitFor('web running on alpha, both nodes up', async () => {
    const s = await c.status('alpha');
    return s.groups[0]?.runningOn.join() === 'alpha' && s.nodes.every((n) => n.alive) && c.runningOn('web-app').join() === 'alpha';
  });
  const servicePid = c.resourcePid('alpha', 'web-app');
  const since = Date.now();
  writeFileSync(join(c.dir, 'next.key'), randomBytes(32).toString('hex') + '\n', { mode: 0o600 });

  const admin = await c.connect('alpha');
  t.after(() => admin.close());
  const steps = ['keyFile: cluster.key, acceptKeyFiles: [next.key]', 'keyFile: next.key, acceptKeyFiles: [cluster.key]', 'keyFile: next.key'];
  for (const step of steps) {
    const current = await admin.call('config.get', {});
    const text = current.text.replace(/keyFile: [^,}]+(, acceptKeyFiles: \[[^\]]*\])?/, step);
    assert.notEqual(text, current.text, step);
    const outcome = await admin.call('config.propose', { text, baseGeneration: current.generation, comment: step });
    assert.deepEqual([...outcome.committed].sort(), ['alpha', 'beta'], step);
    assert.ok(outcome.reload.length > 0, `${step}: a key change rebuilds the agents' links`);
    // Both agents are rebuilt and see each other again before the next step.
    await c.waitFor(`both nodes up after "${step}"`, async () => {
      const [a, b] = await Promise.all([c.status('alpha'), c.status('beta')]);
      return a.nodes.every((n) => n.alive) && b.nodes.every((n) => n.alive);
    });
  }

  for (const node of ['alpha', 'beta']) {
    const lost = await c.connect(node).then(async (client) => {
      try {
        return await client.call('events', { since, kinds: ['peer-lost', 'heartbeat-rejected', 'failover'] });
      } finally {
        await client.close();
      }
    });
    assert.deepEqual(lost.map((e) => `${e.kind}: ${e.message}`), [], `${node}: no peer lost, no heartbeat refused`);
    const links = (await c.status(node)).nodes.flatMap((n) => n.links);
    assert.ok(links.length > 0 && links.every((l) => l.up && l.rejected.badMac === 0), `${node}: every link up, no bad MAC`);
  }
  assert.equal(c.resourcePid('alpha', 'web-app'), servicePid, 'the service was never restarted');
  assert.equal((await c.connect('beta').then(async (b) => { try { return await b.call('config.get', {}); } finally { await b.close(); } })).text.includes('acceptKeyFiles'), false);
});
