// The reconnect policy: exponential, capped, jittered over the upper half of each step.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backoffDelay } from '../../../main/core/agent-connection.js';

test('backoff: doubles from the initial delay, stops at the cap, jitter between half and all of the step', () => {
  const policy = { initialMs: 500, maxMs: 30_000, factor: 2 };
  assert.deepEqual([1, 2, 3, 4, 7, 20].map((n) => backoffDelay(n, policy, () => 1)), [500, 1000, 2000, 4000, 30_000, 30_000]);
  assert.deepEqual([1, 2, 20].map((n) => backoffDelay(n, policy, () => 0)), [250, 500, 15_000]);
  assert.equal(backoffDelay(3, policy, () => 0.5), 1500);
});
