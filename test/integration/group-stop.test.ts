// An operator stops a group on two real agents, through the API and the real CLI: the service process is gone on
// every node, stays gone when the agent that ran it is killed -9 and restarted, and runs again on start.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProtocolError } from '../../common/protocol/api.js';
import type { ClusterEvent } from '../../common/model/index.js';
import { LocalCluster, WEB_GROUP_YAML } from '../support/agent-cluster.js';

async function refusal(work: Promise<unknown>): Promise<string> {
  try {
    await work;
    return 'ok';
  } catch (e) {
    assert.ok(e instanceof ProtocolError, `a ProtocolError, not ${String(e)}`);
    return `${e.code}: ${e.message}`;
  }
}

/** Long enough for a lost peer to be declared dead (deadTime 500 ms) and for a wrong plan to have started. */
const SETTLE_MS = 1500;
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('group stop/start: stopped everywhere, kept stopped through kill -9 and restart, started on the preferred node; roles and names checked', async (t) => {
  const c = await LocalCluster.createWithApi(WEB_GROUP_YAML);
  t.after(() => c.dispose());
  await c.startSettled('alpha');
  const viewer = { token: c.token('vera', 'viewer') };
  const operator = { token: c.token('otto', 'operator') };

  assert.equal(await refusal(c.call('alpha', 'group.stop', { group: 'web' }, viewer)), 'FORBIDDEN: group.stop needs the operator role; vera is viewer');
  assert.match(await refusal(c.call('alpha', 'group.stop', { group: 'nosuch' }, operator)), /^NOT_FOUND: no group "nosuch" \(groups: web\)$/);
  const unknown = c.vigil('alpha', 'group', 'start', 'nosuch');
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /NOT_FOUND: no group "nosuch"/);
  const missing = c.vigil('alpha', 'group', 'stop');
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /group stop: missing GROUP/);
  assert.deepEqual(c.runningOn('web-app'), ['alpha'], 'refused commands changed nothing');

  // Asked of the standby: the intent spreads, and alpha stops the service.
  assert.deepEqual(await c.call('beta', 'group.stop', { group: 'web' }, operator), { group: 'web', stopped: true });
  await c.waitFor('web stopped on every node, by every node\'s report', async () => {
    const reports = await Promise.all(['alpha', 'beta'].map((n) => c.status(n)));
    return c.runningOn('web-app').length === 0 && reports.every((s) => s.groups[0]!.stopped === true && s.groups[0]!.runningOn.length === 0);
  });
  const table = c.vigil('beta', 'status');
  assert.match(table.stdout, /web\s+stopped \[stopped by operator\]/);
  assert.match(table.stdout, /stopped by an operator \(set on beta\)/);

  // The agent that ran it dies: the peer does not take a stopped group over.
  await c.kill('alpha');
  await c.waitFor('beta sees alpha lost', async () => (await c.status('beta')).nodes.some((n) => n.id === 'alpha' && !n.alive));
  await pause(SETTLE_MS);
  assert.deepEqual(c.runningOn('web-app'), [], 'beta did not fail a stopped group over');
  assert.equal((await c.status('beta')).groups[0]!.stopped, true);

  // alpha restarts: the stop is on its disk (and beta's), so it probes and leaves the group stopped.
  c.start('alpha');
  await c.waitFor('alpha back, probed, and keeping web stopped', async () => {
    const s = await c.status('alpha');
    return s.nodes.every((n) => n.alive) && s.groups[0]!.stopped === true && s.groups[0]!.reasons.some((r) => r.includes('stopped by an operator'));
  });
  await pause(SETTLE_MS);
  assert.deepEqual(c.runningOn('web-app'), [], 'still stopped after the restart');

  const started = c.vigil('beta', 'group', 'start', 'web');
  assert.equal(started.code, 0, started.stderr);
  assert.match(started.stdout, /web may run again/);
  await c.waitFor('web running on alpha, the preferred node, again', async () => {
    const s = await c.status('beta');
    return c.runningOn('web-app').join() === 'alpha' && s.groups[0]!.stopped === false && s.groups[0]!.runningOn.join() === 'alpha';
  });

  const events = (kind: string) => JSON.parse(c.vigil('beta', 'events', '--kind', kind, '--json').stdout) as ClusterEvent[];
  assert.match(events('group-stopped')[0]?.message ?? '', /web stopped by an operator \(set on beta\)/);
  assert.equal(events('group-started').length, 1);
  assert.deepEqual(events('failover'), [], 'no failover while stopped');
  // The audit log names who stopped and started it, and the viewer's refused attempt.
  const audit = await c.call('beta', 'audit.list', { limit: 100 });
  assert.ok(audit.some((a) => a.method === 'group.stop' && a.principal === 'otto' && a.result === 'ok' && a.params.includes('"group":"web"')), JSON.stringify(audit));
  assert.ok(audit.some((a) => a.method === 'group.start' && a.principal === 'root@local' && a.result === 'ok'), JSON.stringify(audit));
  const alphaAudit = await c.call('alpha', 'audit.list', { limit: 100 });
  assert.ok(alphaAudit.some((a) => a.method === 'group.stop' && a.principal === 'vera' && a.result === 'FORBIDDEN'));
});
