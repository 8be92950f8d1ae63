// The bandwidth limit's pacer (send-pacer.ts) on a clock of the test's: what it lets go and when, without I/O.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PACER_ALLOWANCE_MS, SendPacer } from '../../../agent/replication/send-pacer.js';

/** Sends `sizes` as soon as the pacer allows, starting at `start`; the time each went. */
function sendAll(pacer: SendPacer, sizes: readonly number[], start = 1000): number[] {
  const at: number[] = [];
  let now = start;
  for (const size of sizes) {
    for (let wait = pacer.delay(size, now); wait > 0; wait = pacer.delay(size, now)) now += wait;
    at.push(now);
  }
  return at;
}

test('records go at once up to the allowance, then one after another as the rate pays for them', () => {
  // 1,000 bytes per second: a 100-byte record costs 100 ms.
  const at = sendAll(new SendPacer(1000), Array.from({ length: 6 }, () => 100));
  assert.deepEqual(at, [1000, 1050, 1150, 1250, 1350, 1450]);
});

test('a record larger than a second of the rate still goes, and the next waits for it', () => {
  const at = sendAll(new SendPacer(1000), [5000, 10, 10]);
  assert.deepEqual(at, [1000, 5950, 5960]);
});

test('over any span, what went is at most the rate over the span and the allowance, and one record more', () => {
  const rate = 64 * 1024;
  const sizes = Array.from({ length: 500 }, (_, i) => 1 + ((i * 7919) % 40_000));
  const at = sendAll(new SendPacer(rate), sizes);
  const largest = Math.max(...sizes);
  for (let i = 0; i < at.length; i++) {
    let bytes = 0;
    for (let j = i; j < at.length; j++) {
      bytes += sizes[j]!;
      const spanMs = at[j]! - at[i]!;
      assert.ok(bytes <= (rate * (spanMs + PACER_ALLOWANCE_MS)) / 1000 + largest, `records ${i}..${j}: ${bytes} bytes in ${spanMs} ms`);
    }
  }
  // And it is a pace, not a cap that stalls: all but the last record were paid for at the rate, by the time the last
  // went, less the allowance.
  const paid = sizes.slice(0, -1).reduce((a, b) => a + b, 0);
  const seconds = (at.at(-1)! - at[0]! + PACER_ALLOWANCE_MS) / 1000;
  assert.ok(Math.abs(paid - rate * seconds) < 1, `${paid} bytes in ${seconds} s`);
});

test('an idle spell earns no burst beyond the allowance', () => {
  const pacer = new SendPacer(1000);
  assert.deepEqual(sendAll(pacer, [100, 100], 0), [0, 50]);
  // A minute later: the first goes at once, the next only after the allowance.
  assert.deepEqual(sendAll(pacer, [100, 100, 100], 60_000), [60_000, 60_050, 60_150]);
});

test('a rate that is not a positive number is refused, naming it', () => {
  for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) assert.throws(() => new SendPacer(bad), /bytesPerSecond: .* is not a positive number/);
});
