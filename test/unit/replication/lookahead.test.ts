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

test('with a budget, the items started ahead hold at most its bytes, but the first one always starts', async () => {
  // Sizes in KiB: the budget of 100 holds five of 20 ahead, but the 150 only alone.
  const sizes = [20, 20, 20, 20, 20, 20, 150, 20, ...Array<number>(12).fill(0), 20];
  async function* entries(): AsyncGenerator<number> {
    for (let i = 0; i < sizes.length; i++) yield i;
  }
  const inFlight = new Set<number>();
  let heaviest = 0;
  let widest = 0;
  const seen: number[] = [];
  for await (const { item, result } of lookahead(entries(), 8, async (i) => {
    inFlight.add(i);
    const held = [...inFlight].reduce((sum, k) => sum + sizes[k]!, 0);
    if (inFlight.size > 1) heaviest = Math.max(heaviest, held);
    widest = Math.max(widest, inFlight.size);
    return i;
  }, { weigh: (i) => sizes[i]!, max: 100 })) {
    assert.ok(result.ok);
    inFlight.delete(item);
    seen.push(item);
  }
  assert.deepEqual(seen, [...sizes.keys()]);
  assert.equal(heaviest, 100, 'never more than the budget with more than one item ahead');
  // Items of no weight are bound by the depth alone (8, plus the one started before the consumer takes one).
  assert.equal(widest, 9);
});
