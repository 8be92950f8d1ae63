import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AlertChannel, AttemptResult } from '../../../agent/alerts/channel.js';
import { failure } from '../../../agent/alerts/channel.js';
import { ChannelRunner, type RunnerOptions } from '../../../agent/alerts/runner.js';
import { message } from './helpers.js';

/** A channel whose attempts the test answers one by one. */
class ScriptedChannel implements AlertChannel {
  readonly name = 'scripted';
  readonly kind = 'webhook';
  readonly calls: Array<{ alertId: string; answer: (r: AttemptResult) => void }> = [];
  private readonly waiters: Array<() => void> = [];

  attempt(m: { alertId: string }, signal: AbortSignal): Promise<AttemptResult> {
    return new Promise((resolve) => {
      signal.addEventListener('abort', () => resolve(failure('VIGIL_ALERT_CLOSED', 'closed', false)), { once: true });
      this.calls.push({ alertId: m.alertId, answer: resolve });
      this.waiters.splice(0).forEach((w) => w());
    });
  }

  async called(count: number): Promise<void> {
    while (this.calls.length < count) await new Promise<void>((resolve) => this.waiters.push(resolve));
  }
}

function runner(options: Partial<RunnerOptions> = {}, logs: string[] = []): { channel: ScriptedChannel; runner: ChannelRunner; abort: AbortController } {
  const channel = new ScriptedChannel();
  const abort = new AbortController();
  return { channel, abort, runner: new ChannelRunner(channel, { attempts: 3, retryDelay: 1, concurrency: 1, queueLimit: 1, ...options }, (l) => logs.push(l), abort.signal) };
}

test('at most `concurrency` attempts run at once; the queue is bounded and its overflow dropped, counted and logged', async () => {
  const logs: string[] = [];
  const { channel, runner: r } = runner({ concurrency: 1, queueLimit: 1 }, logs);
  const one = r.deliver(message({ alertId: 'one' }));
  const two = r.deliver(message({ alertId: 'two' }));
  const three = await r.deliver(message({ alertId: 'three' }));
  assert.deepEqual(three, { ok: false, attempts: 0, code: 'VIGIL_ALERT_QUEUE_FULL', message: 'channel "scripted" has 1 deliveries running and 1 waiting' });
  assert.equal(r.dropped, 1);
  assert.match(logs[0]!, /alert three dropped \(1 dropped so far\)/);
  assert.deepEqual(channel.calls.map((c) => c.alertId), ['one'], 'the second waits for the first');
  channel.calls[0]!.answer({ ok: true });
  assert.deepEqual(await one, { ok: true, attempts: 1 });
  await channel.called(2);
  assert.equal(channel.calls[1]!.alertId, 'two');
  channel.calls[1]!.answer({ ok: true });
  assert.deepEqual(await two, { ok: true, attempts: 1 });
  await r.idle();
});

test('retryable failures are retried up to `attempts`; a final failure is not', async () => {
  const { channel, runner: r } = runner({ attempts: 3 });
  const retried = r.deliver(message());
  await channel.called(1);
  channel.calls[0]!.answer(failure('VIGIL_ALERT_CONNECT', 'refused', true));
  await channel.called(2);
  channel.calls[1]!.answer(failure('VIGIL_ALERT_CONNECT', 'refused', true));
  await channel.called(3);
  channel.calls[2]!.answer(failure('VIGIL_ALERT_TIMEOUT', 'slow', true));
  assert.deepEqual(await retried, { ok: false, attempts: 3, code: 'VIGIL_ALERT_TIMEOUT', message: 'slow' });

  const final = r.deliver(message());
  await channel.called(4);
  channel.calls[3]!.answer(failure('VIGIL_ALERT_AUTH', 'bad password', false));
  assert.deepEqual(await final, { ok: false, attempts: 1, code: 'VIGIL_ALERT_AUTH', message: 'bad password' });
});

test('an abort ends a retry wait at once, and later deliveries do not start', async () => {
  const { channel, runner: r, abort } = runner({ attempts: 3, retryDelay: 3_600_000 });
  const waiting = r.deliver(message());
  await channel.called(1);
  channel.calls[0]!.answer(failure('VIGIL_ALERT_CONNECT', 'refused', true));
  await new Promise((resolve) => setImmediate(resolve)); // now in the hour-long backoff
  abort.abort();
  const outcome = await waiting;
  assert.equal(outcome.ok === false && outcome.code, 'VIGIL_ALERT_CONNECT');
  assert.match(outcome.ok === false ? outcome.message : '', /no retry: alert dispatcher closed/);
  assert.deepEqual(await r.deliver(message()), { ok: false, attempts: 0, code: 'VIGIL_ALERT_CLOSED', message: 'alert dispatcher closed before the delivery' });
  assert.equal(channel.calls.length, 1);
});
