// The agent's API over TLS, against two real agents: who gets in, what each role may do, the audit log, and the
// live event stream.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { ApiClient } from '../../agent/api/api-client.js';
import { ProtocolError, type EventMessage } from '../../common/protocol/api.js';
import { LocalCluster, WEB_GROUP_YAML as GROUP } from '../support/agent-cluster.js';
import { issueExpiredCertificate, issueForeignCertificate } from '../support/pki.js';
import { issueUserCertificate } from '../../agent/security/pki.js';
import { readFileSync } from 'node:fs';

async function started(t: TestContext): Promise<LocalCluster> {
  const c = await LocalCluster.createWithApi(GROUP);
  t.after(() => c.dispose());
  await c.startSettled();
  return c;
}

async function refusal(connecting: Promise<ApiClient>): Promise<string> {
  try {
    const client = await connecting;
    await client.close();
  } catch (e) {
    assert.ok(e instanceof ProtocolError, `a ProtocolError, not ${String(e)}`);
    return e.code;
  }
  return 'ADMITTED';
}

async function callCode(work: Promise<unknown>): Promise<string> {
  try {
    await work;
    return 'ok';
  } catch (e) {
    assert.ok(e instanceof ProtocolError, `a ProtocolError, not ${String(e)}`);
    return e.code;
  }
}

test('API: refused without credentials, with a wrong token, an expired or a foreign certificate; roles limit what a caller may do; all of it audited', async (t) => {
  const c = await started(t);

  assert.equal(await refusal(c.connect('alpha', {})), 'UNAUTHENTICATED');
  assert.equal(await refusal(c.connect('alpha', { token: 'vgl_0123456789abcdef_nottherightsecretatall' })), 'BAD_CREDENTIALS');
  assert.equal(await refusal(c.connect('alpha', { token: 'garbage' })), 'BAD_CREDENTIALS');
  assert.equal(await refusal(c.connect('alpha', { token: c.token('old', 'admin', 1000, Date.now() - 60_000) })), 'TOKEN_EXPIRED');
  const expired = await issueExpiredCertificate(c.pkiDir, 'it', 'eve', 'admin');
  assert.equal(await refusal(c.connect('alpha', { cert: expired.cert, key: expired.key })), 'CERTIFICATE_REJECTED');
  const foreign = await issueForeignCertificate('it', 'mallory', 'admin');
  assert.equal(await refusal(c.connect('alpha', { cert: foreign.cert, key: foreign.key })), 'CERTIFICATE_REJECTED');

  // A viewer reads but may not act; an operator may switch over; a token in hello works as in the header.
  const viewer = await c.connect('alpha', { token: c.token('vera', 'viewer'), tokenIn: 'hello' });
  t.after(() => viewer.close());
  assert.equal(viewer.welcome.principal.role, 'viewer');
  assert.ok(!viewer.welcome.methods.includes('switchover'));
  assert.equal((await viewer.call('status', {})).groups[0]?.runningOn.join(), 'alpha');
  assert.equal(await callCode(viewer.call('switchover', { group: 'web' })), 'FORBIDDEN');
  assert.equal(await callCode(viewer.call('config.propose', { text: 'x', baseGeneration: 1 })), 'FORBIDDEN');
  assert.equal(await callCode(viewer.call('config.prepare', { version: { generation: 2, text: 'x', digest: '0'.repeat(64), author: 'x', at: 0, comment: '', parent: 1 } })), 'FORBIDDEN');

  const paths = await issueUserCertificate({ dir: c.pkiDir, user: 'olga', role: 'operator', days: 1 });
  const operator = await c.connect('alpha', { cert: readFileSync(paths.cert, 'utf8'), key: readFileSync(paths.key, 'utf8') });
  t.after(() => operator.close());
  assert.deepEqual(operator.welcome.principal, { name: 'olga', role: 'operator', via: 'certificate' });

  // The operator's switchover is pushed to a subscriber as it happens.
  const events: EventMessage[] = [];
  viewer.onEvent((e) => events.push(e));
  const subscribed = await viewer.call('subscribe', { topics: ['status', 'events'] });
  assert.equal(subscribed.snapshot.node, 'alpha');
  assert.ok(subscribed.snapshot.inventory?.nics.some((n) => n.addresses.some((a) => a.address === '127.0.0.1')), 'the snapshot lists the NICs');
  assert.deepEqual(await operator.call('switchover', { group: 'web', node: 'beta' }), { group: 'web', target: 'beta' });
  await c.waitFor('the switchover event pushed', () => events.some((e) => e.topic === 'events' && (e.data as { kind: string }).kind === 'switchover'));
  await c.waitFor('a status pushed with web on beta', () => events.some((e) => e.topic === 'status'
    && (e.data as unknown as { groups: { runningOn: string[] }[] }).groups[0]?.runningOn.join() === 'beta'));
  assert.ok(events.every((e, i) => e.seq === i + 1), 'events are numbered without gaps');

  // The audit log names who did what and how it ended, refusals included; only an admin may read it.
  assert.equal(await callCode(operator.call('audit.list', {})), 'FORBIDDEN');
  const admin = await c.connect('alpha');
  t.after(() => admin.close());
  const audit = await admin.call('audit.list', { limit: 100 });
  const line = (method: string, principal: string, result: string) => audit.find((a) => a.method === method && a.principal === principal && a.result === result);
  assert.ok(line('switchover', 'vera', 'FORBIDDEN'), 'the viewer\'s attempt is audited');
  assert.ok(line('switchover', 'olga', 'ok'), 'the operator\'s switchover is audited');
  assert.ok(line('audit.list', 'olga', 'FORBIDDEN'));
  assert.ok(audit.some((a) => a.method === 'hello' && a.result === 'CERTIFICATE_REJECTED'), 'refused logins are audited');
  assert.ok(audit.some((a) => a.method === 'hello' && a.result === 'BAD_CREDENTIALS'));
  assert.match(line('switchover', 'olga', 'ok')!.params, /"node":"beta"/);
});
