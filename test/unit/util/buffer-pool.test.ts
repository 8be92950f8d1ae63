import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { BufferPool } from '../../../agent/util/buffer-pool.js';

test('BufferPool hands its buffers out again once given back, and takes back only its own, once', () => {
  const pool = new BufferPool(4096);
  const a = pool.take();
  assert.equal(a.length, 4096);
  pool.give(a.subarray(0, 100)); // a view of it counts
  pool.give(a); // given twice: kept once
  pool.give(Buffer.alloc(4096)); // not the pool's
  const b = pool.take();
  assert.equal(b.buffer, a.buffer, 'the same memory again');
  assert.equal(b.length, 4096);
  assert.notEqual(pool.take().buffer, a.buffer, 'nothing else was kept');
});

test('BufferPool: a buffer with several holders is free again only once each has given it back', () => {
  const pool = new BufferPool(4096);
  const a = pool.take();
  pool.retain(a.subarray(0, 10)); // two records made of it, besides its reader
  pool.retain(a.subarray(10, 20));
  pool.give(a);
  pool.give(a.subarray(0, 10));
  const other = pool.take();
  assert.notEqual(other.buffer, a.buffer, 'one holder is left');
  pool.give(a.subarray(10, 20));
  pool.give(a); // once more than it was held: ignored
  pool.retain(Buffer.alloc(4096)); // not the pool's: ignored
  assert.equal(pool.take().buffer, a.buffer, 'free once the last holder gave it back');
  assert.notEqual(pool.take().buffer, a.buffer, 'and lent once');
});

test('BufferPool lends its memory only for sizes from minLentBytes to its buffers\' size; the rest is fresh, and ignored when given', () => {
  const made: number[] = [];
  const pool = new BufferPool(4096, { minLentBytes: 1024, fresh: (bytes) => { made.push(bytes); return Buffer.alloc(bytes); } });
  const small = pool.lend(1023);
  const large = pool.lend(4097);
  assert.deepEqual([small.length, large.length, made], [1023, 4097, [1023, 4097]], 'fresh memory, from the given allocator');
  const lent = pool.lend(3000);
  assert.deepEqual([lent.length, lent.buffer.byteLength, made.length], [3000, 4096, 2], 'a view of a pool buffer');
  pool.give(small);
  pool.give(large);
  pool.give(lent);
  assert.equal(pool.lend(1024).buffer, lent.buffer, 'the lent buffer came back, and is lent again at the minimum size');
  assert.notEqual(pool.take().buffer, small.buffer, 'fresh memory never joins the pool');
});

test('a shared BufferPool\'s buffers are SharedArrayBuffers (a worker thread fills them in place), used again like the others', () => {
  const pool = new BufferPool(4096, { shared: true });
  const a = pool.take();
  assert.ok(a.buffer instanceof SharedArrayBuffer);
  assert.equal(a.length, 4096);
  pool.give(a);
  assert.equal(pool.take().buffer, a.buffer);
  assert.ok(!(new BufferPool(4096).take().buffer instanceof SharedArrayBuffer));
});

test('a BufferPool drops its free buffers once it has lent nothing for idleMs, and keeps them while it is used', async () => {
  // Real timers, in an order that does not depend on the machine's speed: a sleep set after the pool's check, and
  // longer, ends after it.
  const pool = new BufferPool(4096, { idleMs: 100 });
  const a = pool.take();
  pool.give(a); // the check is set
  pool.give(pool.take()); // used before it runs
  await sleep(150);
  assert.equal(pool.freeBuffers, 1, 'taken since the check was set: kept, and checked again later');
  await sleep(150);
  assert.equal(pool.freeBuffers, 0, 'nothing taken since: dropped');
  const fresh = pool.take();
  assert.notEqual(fresh.buffer, a.buffer, 'fresh memory after the idle time');
  pool.give(fresh);
  assert.equal(pool.freeBuffers, 1, 'and kept again');
  const keeper = new BufferPool(4096, { idleMs: 0 });
  keeper.give(keeper.take());
  await sleep(150);
  assert.equal(keeper.freeBuffers, 1, 'idleMs 0 keeps them for good');
});

test('a BufferPool holding free buffers does not keep its process up', () => {
  // The default idle time is 30 s; the child must end at once, its idle check unreferenced.
  const script = `import { BufferPool } from ${JSON.stringify(new URL('../../../agent/util/buffer-pool.js', import.meta.url).href)};
    const pool = new BufferPool(4096); pool.give(pool.take()); if (pool.freeBuffers !== 1) process.exit(3);`;
  const started = Date.now();
  execFileSync(process.execPath, ['--input-type=module', '-e', script], { timeout: 20_000 });
  assert.ok(Date.now() - started < 20_000);
});
