import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ALERTS_FILE } from '../../../agent/alerts/dispatcher.js';
import { AlertError } from '../../../agent/alerts/channel.js';
import type { AlertRecord } from '../../../common/model/index.js';
import { alertsConfig, deliveryError, event, harness, settledAlerts, tempDir, webhookServer } from './helpers.js';

test('recent alerts and acknowledgements survive a new dispatcher; damaged lines are skipped by line number', async (t) => {
  const server = await webhookServer(t, () => undefined);
  const stateDir = tempDir(t);
  const config = { channels: [{ name: 'hook', kind: 'webhook' as const, url: server.url }], rules: [{ channels: ['hook'] }], throttle: 0 };
  const first = harness(t, config, { stateDir });
  const settled = settledAlerts(first.dispatcher, 2);
  first.dispatcher.notify(event({ message: 'one' }));
  first.dispatcher.notify(event({ message: 'two' }));
  await settled;
  const [two, one] = first.dispatcher.recent();
  assert.deepEqual([two!.event.message, one!.event.message], ['two', 'one'], 'newest first');
  const acked = first.dispatcher.acknowledge(one!.id, 'alice');
  assert.equal(acked.acknowledged?.by, 'alice');
  assert.equal(first.dispatcher.acknowledge(one!.id, 'bob').acknowledged?.by, 'alice', 'the first acknowledgement stands');
  await first.dispatcher.close();

  const path = join(stateDir, ALERTS_FILE);
  appendFileSync(path, '{"id": "torn\n["not", "a record"]\n');
  const lines = readFileSync(path, 'utf8').split('\n').filter((l) => l !== '').length;
  const second = harness(t, config, { stateDir });
  assert.deepEqual(second.dispatcher.recent(), first.dispatcher.recent());
  assert.deepEqual(second.dispatcher.recent()[1]!.acknowledged, acked.acknowledged);
  assert.deepEqual(second.logs.map((l) => l.replace(/ \(.*/, '')), [`alerts: ${path}:${lines - 1}: damaged line skipped`, `alerts: ${path}:${lines}: damaged line skipped`]);
  assert.match(second.logs[1]!, /record: .*expected object/i);
  assert.throws(() => second.dispatcher.acknowledge('nope', 'alice'), (e: unknown) => e instanceof AlertError && e.code === 'VIGIL_ALERT_UNKNOWN_ALERT');
});

test('the history is bounded and the file compacted; a delivery cut short by a stop is failed at the next start', async (t) => {
  const stateDir = tempDir(t);
  const pending: AlertRecord = {
    id: 'cut', at: 1, event: event(), suppressed: 0, test: false, channels: [{ channel: 'hook', kind: 'webhook', status: 'pending', attempts: 0 }],
  };
  appendFileSync(join(stateDir, ALERTS_FILE), `${JSON.stringify(pending)}\n`);
  const server = await webhookServer(t, () => undefined);
  const { dispatcher } = harness(t, { channels: [{ name: 'hook', kind: 'webhook', url: server.url }], rules: [{ channels: ['hook'] }], throttle: 0, history: 3 }, { stateDir, now: () => 500 });
  const [restored] = dispatcher.recent();
  assert.deepEqual(restored!.channels, [{ channel: 'hook', kind: 'webhook', status: 'failed', attempts: 0, at: 500, error: { code: 'VIGIL_ALERT_INTERRUPTED', message: 'the agent stopped before the delivery finished' } }]);
  const settled = settledAlerts(dispatcher, 5);
  for (let i = 0; i < 5; i++) dispatcher.notify(event({ message: `m${i}` }));
  await settled;
  assert.deepEqual(dispatcher.recent().map((r) => r.event.message), ['m4', 'm3', 'm2']);
  await dispatcher.close();
  const lines = readFileSync(join(stateDir, ALERTS_FILE), 'utf8').trim().split('\n');
  assert.ok(lines.length <= 2 * 3, `compacted to at most twice the history, has ${lines.length}`);
});

test('throttled repeats are counted into the next alert; unmatched events make no alert', async (t) => {
  const server = await webhookServer(t, () => undefined);
  let now = 0;
  const { dispatcher } = harness(t, {
    channels: [{ name: 'hook', kind: 'webhook', url: server.url }], rules: [{ channels: ['hook'], minSeverity: 'warning' }], throttle: '1m',
  }, { now: () => now });
  const settled = settledAlerts(dispatcher, 2);
  dispatcher.notify(event());
  dispatcher.notify(event({ severity: 'info', kind: 'link-up' }));
  now = 1000;
  dispatcher.notify(event());
  dispatcher.notify(event());
  now = 60_000;
  dispatcher.notify(event());
  const records = await settled;
  assert.deepEqual(records.map((r) => r.suppressed), [0, 2]);
  assert.equal(dispatcher.recent().length, 2);
  assert.equal(dispatcher.stats().suppressed, 2);
  assert.equal(JSON.parse(server.posted[1]!.body).suppressed, 2);
});

test('reconfigure: the next alert uses the new channels and rules; test() names unknown channels', async (t) => {
  const a = await webhookServer(t, () => undefined);
  const b = await webhookServer(t, () => undefined);
  const { dispatcher } = harness(t, { channels: [{ name: 'a', kind: 'webhook', url: a.url }], rules: [{ channels: ['a'] }], throttle: 0 });
  let settled = settledAlerts(dispatcher);
  dispatcher.notify(event());
  await settled;
  dispatcher.reconfigure(alertsConfig({ channels: [{ name: 'b', kind: 'webhook', url: b.url }], rules: [{ channels: ['b'], kinds: ['peer-lost'] }], throttle: 0 }));
  dispatcher.notify(event({ kind: 'failover' }));
  settled = settledAlerts(dispatcher);
  dispatcher.notify(event({ kind: 'peer-lost' }));
  const [record] = await settled;
  assert.deepEqual(record!.channels.map((c) => c.channel), ['b']);
  assert.deepEqual([a.posted.length, b.posted.length], [1, 1]);
  await assert.rejects(dispatcher.test('a'), (e: unknown) => e instanceof AlertError && e.code === 'VIGIL_ALERT_UNKNOWN_CHANNEL' && /"a".*configured: b/.test(e.message));
  const [delivery] = await dispatcher.test('b');
  assert.equal(delivery!.status, 'ok');
  assert.equal(JSON.parse(b.posted[1]!.body).test, true);
  assert.equal(dispatcher.recent(1)[0]!.test, true);
});

test('notify never throws: a failing listener is logged, and after close events are ignored', async (t) => {
  const server = await webhookServer(t, () => undefined);
  const { dispatcher, logs } = harness(t, { channels: [{ name: 'hook', kind: 'webhook', url: server.url }], rules: [{ channels: ['hook'] }] });
  const subscription = dispatcher.onAlert(() => { throw new Error('listener broke'); });
  const settled = settledAlerts(dispatcher);
  assert.doesNotThrow(() => dispatcher.notify(event()));
  await settled;
  subscription.dispose();
  assert.ok(logs.some((l) => l.includes('listener broke')), logs.join('\n'));
  await dispatcher.close();
  dispatcher.notify(event({ kind: 'peer-lost' }));
  assert.equal(dispatcher.recent().length, 1);
  await assert.rejects(dispatcher.test(), (e: unknown) => e instanceof AlertError && e.code === 'VIGIL_ALERT_CLOSED');
});

test('close ends retry waits at once and records the deliveries as failed', async (t) => {
  const server = await webhookServer(t, (_req, res) => { res.statusCode = 503; return undefined; });
  const stateDir = tempDir(t);
  const config = { channels: [{ name: 'hook', kind: 'webhook' as const, url: server.url, retryDelay: '1h' }], rules: [{ channels: ['hook'] }] };
  const { dispatcher } = harness(t, config, { stateDir });
  const firstAttemptDone = new Promise<void>((resolve) => {
    const poll = (): void => { if (server.posted.length > 0) resolve(); else setImmediate(poll); };
    poll();
  });
  dispatcher.notify(event());
  await firstAttemptDone;
  await dispatcher.close();
  const [record] = dispatcher.recent();
  assert.equal(record!.channels[0]!.status, 'failed');
  // Closed during the first answer or in the hour-long wait after it (the runner's test pins the latter).
  assert.match(deliveryError(record!.channels[0]).message, /dispatcher closed/);
  const reopened = harness(t, config, { stateDir });
  assert.deepEqual(reopened.dispatcher.recent(), [record]);
});
