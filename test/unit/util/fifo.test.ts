import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Fifo } from '../../../agent/util/fifo.js';

test('Fifo hands items back in order through pushes and shifts interleaved, across its compactions', () => {
  const fifo = new Fifo<number>();
  assert.equal(fifo.shift(), undefined);
  assert.equal(fifo.peek(), undefined);
  let next = 0;
  let expected = 0;
  // Waves of pushes and shifts, long enough to compact several times (at 1024 consumed and half the array).
  for (const [pushes, shifts] of [[5000, 3000], [10, 1500], [3000, 3000], [1, 510], [2000, 1000]] as const) {
    for (let i = 0; i < pushes; i++) fifo.push(next++);
    for (let i = 0; i < shifts; i++) {
      assert.equal(fifo.peek(), expected);
      assert.equal(fifo.shift(), expected++);
    }
    assert.equal(fifo.length, next - expected);
  }
  fifo.clear();
  assert.deepEqual([fifo.length, fifo.shift()], [0, undefined]);
  fifo.push(7);
  assert.deepEqual([fifo.length, fifo.shift(), fifo.length], [1, 7, 0]);
});

test('Fifo drains 200,000 items, each once and in order (Array.shift would move them all at each step)', () => {
  const fifo = new Fifo<{ n: number }>();
  for (let i = 0; i < 200_000; i++) fifo.push({ n: i });
  let sum = 0;
  for (let item = fifo.shift(); item !== undefined; item = fifo.shift()) sum += item.n;
  assert.equal(sum, (200_000 * 199_999) / 2);
});
