import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DataRecords, MIN_ZERO_RUN, ZERO_UNIT, zeroRuns } from '../../../agent/replication/zero-runs.js';
import { BufferPool } from '../../../agent/util/buffer-pool.js';
import type { ChangeRecord } from '../../../agent/replication/records.js';
import { prng } from '../../support/dataset.js';

const KiB = 1024;

/** Random bytes with no zero byte, so that only the zeros a test puts in are found. */
function data(bytes: number, seed: number): Buffer {
  const next = prng(`zero-runs ${seed}`);
  const out = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i++) out[i] = 1 + Math.floor(next() * 255);
  return out;
}

test('runs of zeros of at least 64 KiB, in whole units, are cut out of the data; shorter ones stay in it', () => {
  assert.deepEqual(zeroRuns(data(100 * KiB, 1)), [{ zero: false, start: 0, end: 100 * KiB }]);
  assert.deepEqual(zeroRuns(Buffer.alloc(MIN_ZERO_RUN)), [{ zero: true, start: 0, end: MIN_ZERO_RUN }]);
  assert.deepEqual(zeroRuns(Buffer.alloc(MIN_ZERO_RUN - 1)), [{ zero: false, start: 0, end: MIN_ZERO_RUN - 1 }]);
  // Zeros from unit 2 to unit 20 (72 KiB), then data: the run is cut at the units' edges.
  const mixed = Buffer.concat([data(2 * ZERO_UNIT + 10, 2), Buffer.alloc(80 * KiB), data(5 * KiB, 3)]);
  assert.deepEqual(zeroRuns(mixed), [
    { zero: false, start: 0, end: 3 * ZERO_UNIT },
    { zero: true, start: 3 * ZERO_UNIT, end: 22 * ZERO_UNIT },
    { zero: false, start: 22 * ZERO_UNIT, end: mixed.length },
  ]);
  // A unit whose last byte alone is not zero, and one whose middle byte alone is not: neither is zero. The six
  // zero units at the end are too few for a run.
  const units = Buffer.alloc(40 * ZERO_UNIT);
  units[17 * ZERO_UNIT - 1] = 1;
  units[33 * ZERO_UNIT + ZERO_UNIT / 2] = 1;
  assert.deepEqual(zeroRuns(units), [
    { zero: true, start: 0, end: 16 * ZERO_UNIT },
    { zero: false, start: 16 * ZERO_UNIT, end: 17 * ZERO_UNIT },
    { zero: true, start: 17 * ZERO_UNIT, end: 33 * ZERO_UNIT },
    { zero: false, start: 33 * ZERO_UNIT, end: 40 * ZERO_UNIT },
  ]);
  // A run at the end may end with a shorter unit.
  const tail = Buffer.concat([data(10, 4), Buffer.alloc(ZERO_UNIT - 10 + MIN_ZERO_RUN + 100)]);
  assert.deepEqual(zeroRuns(tail), [{ zero: false, start: 0, end: ZERO_UNIT }, { zero: true, start: ZERO_UNIT, end: tail.length }]);
});

test('pieces cover random data exactly, zero pieces are all zeros and long enough, data pieces hold no such run (200 buffers)', () => {
  const next = prng('zero-runs random');
  for (let round = 0; round < 200; round++) {
    const parts: Buffer[] = [];
    for (let k = Math.floor(next() * 8); k >= 0; k--) {
      const length = Math.floor(next() * 3 * MIN_ZERO_RUN);
      parts.push(next() < 0.5 ? Buffer.alloc(length) : data(length, round * 10 + k));
    }
    const bytes = Buffer.concat(parts);
    const pieces = zeroRuns(bytes);
    let at = 0;
    for (const piece of pieces) {
      assert.equal(piece.start, at, `round ${round}: pieces follow each other`);
      assert.ok(piece.end > piece.start, `round ${round}: no empty piece`);
      const slice = bytes.subarray(piece.start, piece.end);
      if (piece.zero) {
        assert.ok(slice.every((b) => b === 0), `round ${round}: a zero piece is zeros`);
        assert.ok(slice.length >= MIN_ZERO_RUN, `round ${round}: a zero piece is long enough`);
        assert.equal(piece.start % ZERO_UNIT, 0, `round ${round}: on a unit's edge`);
      } else {
        // No aligned run of MIN_ZERO_RUN zero bytes was left in the data.
        for (let u = Math.ceil(piece.start / ZERO_UNIT) * ZERO_UNIT; u + MIN_ZERO_RUN <= piece.end; u += ZERO_UNIT) {
          assert.ok(!bytes.subarray(u, u + MIN_ZERO_RUN).every((b) => b === 0), `round ${round}: a run at ${u} was left in the data`);
        }
      }
      at = piece.end;
    }
    assert.equal(at, bytes.length, `round ${round}: the pieces cover the data`);
  }
});

test('DataRecords: a run of zeros across reads is one record, writes hold their buffer, and without holes every byte is written', () => {
  const pool = new BufferPool(256 * KiB, { shared: false });
  const first = pool.take();
  first.set(data(100 * KiB, 5), 0);
  first.fill(0, 100 * KiB);
  const second = pool.take();
  second.fill(0, 0, 200 * KiB);
  second.set(data(56 * KiB, 6), 200 * KiB);
  const records = new DataRecords('disk.img', pool, true);
  const out: ChangeRecord[] = [...records.add(0, first), ...records.add(256 * KiB, second), ...records.end()];
  assert.deepEqual(out.map((r) => r.op === 'write' ? ['write', r.offset, r.data.length] : r.op === 'zeros' ? ['zeros', r.offset, r.length] : [r.op]), [
    ['write', 0, 100 * KiB],
    ['zeros', 100 * KiB, 156 * KiB + 200 * KiB],
    ['write', 456 * KiB, 56 * KiB],
  ]);
  // Each write holds its buffer past the reader's hold: the pool takes a buffer back only when both let go.
  pool.give(first);
  pool.give(second);
  assert.notEqual(pool.take().buffer, first.buffer, 'the first buffer is still held by its write');
  for (const r of out) if (r.op === 'write') pool.give(r.data);
  const again = [pool.take().buffer, pool.take().buffer];
  assert.ok(again.includes(first.buffer) && again.includes(second.buffer), 'both buffers come back once their writes let go');

  const plain = new DataRecords('disk.img', pool, false);
  const bytes = Buffer.alloc(3 * MIN_ZERO_RUN);
  assert.deepEqual([...plain.add(7, bytes), ...plain.end()], [{ op: 'write', path: 'disk.img', offset: 7, data: bytes }]);
});
