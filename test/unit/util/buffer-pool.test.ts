import { test } from 'node:test';
import assert from 'node:assert/strict';
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
