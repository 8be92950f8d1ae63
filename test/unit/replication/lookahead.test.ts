import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lookahead } from '../../../agent/replication/lookahead.js';

async function* numbers(n: number): AsyncGenerator<number> {
  for (let i = 0; i < n; i++) yield i;
}

test('results come in the order of the source, however the work finishes', async () => {
  const out: number[] = [];
  // Later items finish first: the order must still be the source's.
  for await (const { item, result } of lookahead(numbers(20), 4, async (i) => {
    await new Promise((r) => setTimeout(r, (20 - i) % 7));
    return i * 10;
  })) {
    assert.ok(result.ok);
    assert.equal(result.value, item * 10);
    out.push(item);
  }
  assert.deepEqual(out, [...Array(20).keys()]);
});

test('never more than depth + 1 items are started ahead of the consumer', async () => {
  let started = 0;
  let consumed = 0;
  let widest = 0;
  for await (const { result } of lookahead(numbers(50), 3, async (i) => {
    started++;
    widest = Math.max(widest, started - consumed);
    return i;
  })) {
    assert.ok(result.ok);
    consumed++;
  }
  assert.equal(consumed, 50);
  assert.equal(widest, 4);
});

test('a failed start is yielded as a failure at its place, and the rest go on', async () => {
  const seen: string[] = [];
  for await (const { item, result } of lookahead(numbers(5), 2, async (i) => {
    if (i === 2) throw new Error('two');
    return i;
  })) seen.push(result.ok ? `${item}:ok` : `${item}:${(result.error as Error).message}`);
  assert.deepEqual(seen, ['0:ok', '1:ok', '2:two', '3:ok', '4:ok']);
});
