import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TimeSlicer } from '../../../agent/util/time-slice.js';

test('a slicer past its time gives way every 256 steps, on a later turn of the event loop; within its time it never does', async () => {
  const spent = new TimeSlicer(0);
  for (let i = 1; i < 256; i++) assert.equal(spent.step(), undefined, `step ${i}`);
  const order: string[] = [];
  setImmediate(() => order.push('queued before'));
  const pause = spent.step();
  assert.ok(pause instanceof Promise);
  await pause;
  order.push('resumed');
  assert.deepEqual(order, ['queued before', 'resumed']);
  assert.equal(spent.yields, 1);

  const fresh = new TimeSlicer(60_000);
  for (let i = 0; i < 10_000; i++) assert.equal(fresh.step(), undefined);
  assert.equal(fresh.yields, 0);
});
