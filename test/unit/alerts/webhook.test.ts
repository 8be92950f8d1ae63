import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deliveryError, event, harness, settledAlerts, tempDir, webhookServer } from './helpers.js';

test('webhook: POSTs the alert as JSON, signed with HMAC-SHA256 of the body, with the configured headers', async (t) => {
  const keyFile = join(tempDir(t), 'hook.key');
  writeFileSync(keyFile, 'correct horse battery staple\n');
  const server = await webhookServer(t, (_req, res) => { res.statusCode = 204; return undefined; });
  const { dispatcher } = harness(t, {
    channels: [{ name: 'hook', kind: 'webhook', url: server.url, secretFile: keyFile, headers: { Authorization: 'Bearer t0k' } }],
    rules: [{ channels: ['hook'] }],
  });
  const settled = settledAlerts(dispatcher);
  dispatcher.notify(event());
  const [record] = await settled;

  assert.deepEqual(record!.channels.map((c) => [c.channel, c.status, c.attempts]), [['hook', 'ok', 1]]);
  const [post] = server.posted;
  assert.equal(server.posted.length, 1);
  assert.equal(post!.headers['content-type'], 'application/json');
  assert.equal(post!.headers['authorization'], 'Bearer t0k');
  // The receiver's check, as docs/alerts.md shows it: the key without its trailing newline, the raw body.
  const expected = Buffer.from(`sha256=${createHmac('sha256', 'correct horse battery staple').update(post!.body).digest('hex')}`);
  const got = Buffer.from(String(post!.headers['x-vigil-signature']));
  assert.ok(got.length === expected.length && timingSafeEqual(got, expected), `signature ${got.toString()}`);
  const body = JSON.parse(post!.body) as Record<string, unknown>;
  assert.deepEqual(body, { cluster: 'c1', node: 'alpha', alert: record!.id, test: false, suppressed: 0, event: event() });
});

test('webhook: a 500 is retried with backoff, a 400 is not, and without a secret there is no signature', async (t) => {
  const server = await webhookServer(t, (req, res, index) => {
    const { event: e } = JSON.parse(req.body) as { event: { kind: string } };
    res.statusCode = e.kind === 'peer-lost' ? 400 : index === 0 ? 500 : 200;
    res.write(res.statusCode === 400 ? 'unknown route' : 'ok');
    return undefined;
  });
  const { dispatcher } = harness(t, { channels: [{ name: 'hook', kind: 'webhook', url: server.url, retryDelay: '10ms' }], rules: [{ channels: ['hook'] }] });
  let settled = settledAlerts(dispatcher);
  dispatcher.notify(event());
  const [retried] = await settled;
  assert.deepEqual(retried!.channels.map((c) => [c.status, c.attempts]), [['ok', 2]]);
  assert.equal(server.posted.length, 2);
  assert.equal(server.posted[0]!.body, server.posted[1]!.body, 'the retry sends the same alert');
  assert.equal(server.posted[0]!.headers['x-vigil-signature'], undefined);

  settled = settledAlerts(dispatcher);
  dispatcher.notify(event({ kind: 'peer-lost' }));
  const [refused] = await settled;
  const delivery = refused!.channels[0]!;
  assert.equal(delivery.status, 'failed');
  assert.equal(delivery.attempts, 1, 'a client error is final');
  assert.equal(deliveryError(delivery).code, 'VIGIL_ALERT_REJECTED');
  assert.match(deliveryError(delivery).message, /HTTP 400: unknown route/);
});

test('webhook: a server that never answers times out, each attempt, and the record says so', async (t) => {
  const server = await webhookServer(t, () => false);
  const { dispatcher, logs } = harness(t, { channels: [{ name: 'hook', kind: 'webhook', url: server.url, timeout: '50ms', attempts: 2, retryDelay: '1ms' }], rules: [{ channels: ['hook'] }] });
  const settled = settledAlerts(dispatcher);
  dispatcher.notify(event());
  const [record] = await settled;
  const delivery = record!.channels[0]!;
  assert.equal(deliveryError(delivery).code, 'VIGIL_ALERT_TIMEOUT');
  assert.equal(delivery.attempts, 2);
  assert.equal(server.posted.length, 2);
  assert.ok(logs.some((l) => l.includes('VIGIL_ALERT_TIMEOUT') && l.includes('"hook"')), logs.join('\n'));
});

test('webhook: a missing secret file is a delivery error naming the file, not a retry', async (t) => {
  const server = await webhookServer(t, () => undefined);
  const { dispatcher } = harness(t, { channels: [{ name: 'hook', kind: 'webhook', url: server.url, secretFile: '/nonexistent/hook.key' }], rules: [{ channels: ['hook'] }] });
  const [delivery] = await dispatcher.test('hook');
  assert.equal(deliveryError(delivery).code, 'VIGIL_ALERT_SECRET');
  assert.match(deliveryError(delivery).message, /\/nonexistent\/hook\.key/);
  assert.equal(delivery!.attempts, 1);
  assert.equal(server.posted.length, 0);
});
