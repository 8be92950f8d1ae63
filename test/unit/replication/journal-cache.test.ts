import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, openSync, readFileSync, readSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { joinParts } from '../../../agent/util/buffer-parts.js';
import {
  crc32c, Journal, JournalCorruptError, JournalError, JournalFullError, MAX_PAYLOAD_BYTES, RECORD_OVERHEAD_BYTES,
  type JournalPayload, type JournalRecord,
} from '../../../agent/replication/journal.js';
import { cachedCost, TailCache, type CachedBatch } from '../../../agent/replication/journal-cache.js';
import { openJournal, segments, tempDir } from './journal-helpers.js';



const segmentFor = (firstSeq: number): string => `${String(firstSeq).padStart(20, '0')}.seg`;
const recordBytes = (payloadLength: number): number => RECORD_OVERHEAD_BYTES + payloadLength;
const HEADER_BYTES = 20;

/** mulberry32: the same runs on every machine, so a failure names a seed that reproduces it. */
function seeded(seed: number): (below: number) => number {
  let a = seed >>> 0;
  return (below) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return (((x ^ (x >>> 14)) >>> 0) % below);
  };
}

/** Flip one byte of a file behind the journal's back; returns a function that puts it back. */
function flipByte(path: string, offset: number): () => void {
  const fd = openSync(path, 'r+');
  try {
    const byte = Buffer.alloc(1);
    readSync(fd, byte, 0, 1, offset);
    writeSync(fd, Buffer.from([byte[0]! ^ 0xff]), 0, 1, offset);
    return () => {
      const again = openSync(path, 'r+');
      try { writeSync(again, byte, 0, 1, offset); } finally { closeSync(again); }
    };
  } finally {
    closeSync(fd);
  }
}

const view = (records: readonly JournalRecord[]): [number, string][] => records.map((r) => [r.seq, joinParts(r.payload).toString('hex')]);

/** What read(fromSeq, maxBytes) must return, from a list of every payload appended (index = seq - 1). */
function expectedRead(payloads: readonly Buffer[], ackedSeq: number, fromSeq: number, maxBytes: number): [number, string][] {
  const out: [number, string][] = [];
  let total = 0;
  for (let seq = Math.max(fromSeq, ackedSeq + 1); seq <= payloads.length; seq++) {
    const payload = payloads[seq - 1]!;
    if (out.length > 0 && total + payload.length > maxBytes) break;
    out.push([seq, payload.toString('hex')]);
    total += payload.length;
  }
  return out;
}

/** Cut a payload into 0..4 parts at random places, empty parts included. */
function inParts(payload: Buffer, random: (below: number) => number): Buffer[] {
  const cuts = Array.from({ length: random(4) }, () => random(payload.length + 1)).sort((a, b) => a - b);
  const parts: Buffer[] = [];
  let at = 0;
  for (const cut of cuts) {
    parts.push(payload.subarray(at, cut));
    at = cut;
  }
  if (at < payload.length || parts.length === 0 || random(2) === 0) parts.push(payload.subarray(at));
  return parts;
}

// ---- payloads given in parts ----

test('a payload given in parts is stored, checksummed and read exactly as the same bytes given whole', async (t) => {
  const random = seeded(11);
  const options = { maxBytes: 1 << 22, segmentBytes: 3000, fsync: 'batch' } as const;
  const wholeDir = tempDir(t);
  const partsDir = tempDir(t);
  const whole = await Journal.open(wholeDir, options);
  const parted = await Journal.open(partsDir, options);
  const payloads: Buffer[] = [];
  for (let batch = 0; batch < 30; batch++) {
    const records = Array.from({ length: 1 + random(6) }, () => Buffer.from(Array.from({ length: random(700) }, () => random(256))));
    payloads.push(...records);
    const asParts: JournalPayload[] = records.map((p) => (random(3) === 0 ? p : inParts(p, random)));
    assert.equal(await whole.appendMany(records), payloads.length);
    assert.equal(await parted.appendMany(asParts), payloads.length);
  }
  assert.deepEqual(await parted.append([Buffer.from('he'), Buffer.alloc(0), Buffer.from('llo')]), payloads.length + 1);
  assert.deepEqual(await whole.append(Buffer.from('hello')), payloads.length + 1);
  assert.equal(await parted.append([]), payloads.length + 2, 'no parts: an empty payload');
  assert.equal(await whole.append(Buffer.alloc(0)), payloads.length + 2);
  assert.deepEqual(view(await parted.read(1, 1 << 30)), view(await whole.read(1, 1 << 30)));
  await whole.close();
  await parted.close();

  assert.ok(segments(wholeDir).length > 3, 'the batches spanned several segments');
  assert.deepEqual(segments(partsDir), segments(wholeDir));
  for (const name of segments(wholeDir)) assert.deepEqual(readFileSync(join(partsDir, name)), readFileSync(join(wholeDir, name)), `${name} byte for byte`);

  // The stored checksum of a parted record is the CRC32C of its header and concatenated payload.
  const first = readFileSync(join(partsDir, segmentFor(1)));
  const length = first.readUInt32BE(16);
  assert.equal(first.readUInt32BE(HEADER_BYTES + length), crc32c(first.subarray(0, HEADER_BYTES + length)));

  const reopened = await openJournal(t, partsDir, options);
  assert.deepEqual(reopened.recovery, { truncatedBytes: 0 }, 'recovery accepts every record written from parts');
  const read = await reopened.read(1, 1 << 30);
  assert.deepEqual(view(read), [...payloads, Buffer.from('hello'), Buffer.alloc(0)].map((p, i) => [i + 1, p.toString('hex')]));
});

test('size limits and argument errors apply to a parted payload by its concatenated length', async (t) => {
  const size = recordBytes(100);
  const journal = await openJournal(t, tempDir(t), { maxBytes: size * 3, fsync: 'never' });
  const part = (n: number): Buffer => Buffer.alloc(n, 1);

  // Three records of 100 bytes, one of them parted, fill maxBytes exactly: allowed.
  assert.equal(await journal.appendMany([part(100), [part(40), part(60)], [part(100)]]), 3);
  await assert.rejects(journal.append([part(1)]), (e: unknown) => {
    assert.ok(e instanceof JournalFullError);
    assert.deepEqual([e.neededBytes, e.unackedBytes], [recordBytes(1), size * 3]);
    return true;
  });
  await journal.ack(3);
  // One byte beyond what maxBytes could ever hold, counted over the parts.
  await assert.rejects(journal.appendMany([[part(100), part(100)], [part(50), part(75)]]), (e: unknown) =>
    e instanceof JournalError && e.code === 'VIGIL_JOURNAL_TOO_LARGE' && /payloads: 373 bytes on disk, more than maxBytes 372/.test(e.message));
  assert.equal(await journal.appendMany([[part(100), part(100)], [part(50), part(74)]]), 5, 'one byte less fits');

  // Above MAX_PAYLOAD_BYTES only together: each part alone is allowed.
  const half = Buffer.alloc(MAX_PAYLOAD_BYTES / 2);
  await assert.rejects(journal.appendMany([part(1), [half, half, part(1)]]), (e: unknown) =>
    e instanceof JournalError && e.code === 'VIGIL_JOURNAL_TOO_LARGE' && e.message.includes(`payloads[1]: ${MAX_PAYLOAD_BYTES + 1} bytes, above the maximum`));

  await assert.rejects(journal.appendMany([part(1), [part(1), 'text' as unknown as Buffer]]), /payloads\[1\]\[1\]: not a Buffer/);
  await assert.rejects(journal.appendMany([42 as unknown as Buffer]), /payloads\[0\]: not a Buffer or an array of Buffers/);
  await assert.rejects(journal.appendMany('nope' as unknown as Buffer[]), /payloads: not an array/);
  assert.equal(journal.stats().lastSeq, 5, 'nothing was appended by a rejected call');
});

test('parts are copied when appended: changing them afterwards changes nothing', async (t) => {
  const journal = await openJournal(t, tempDir(t), { maxBytes: 1 << 20, fsync: 'never' });
  const header = Buffer.from('head:');
  const data = Buffer.from('original');
  const appended = journal.append([header, data]);
  header.write('HEAD!');
  data.write('mutated!');
  await appended;
  assert.equal((await journal.read(1, 100))[0]?.payload.toString(), 'head:original');
});

// ---- the tail cache, through the journal ----

test('reads of records just appended come from memory: damage on disk behind them goes unseen until they leave the cache', async (t) => {
  const dir = tempDir(t);
  // Cache bound: maxBytes / 2 = 8 KiB, so two batches of 3 x 1000 bytes fit and a third pushes the first out.
  const journal = await openJournal(t, dir, { maxBytes: 16 * 1024, fsync: 'never' });
  const segment = join(dir, segmentFor(1));
  const payload = (seq: number): Buffer => Buffer.alloc(1000, seq);
  const payloadAt = (seq: number): number => (seq - 1) * recordBytes(1000) + HEADER_BYTES + 10;

  assert.equal(await journal.appendMany([1, 2, 3].map(payload)), 3);
  const restore = flipByte(segment, payloadAt(2));
  assert.deepEqual(view(await journal.read(1, 1 << 20)), [1, 2, 3].map((s) => [s, payload(s).toString('hex')]), 'served from the cache');

  assert.equal(await journal.appendMany([4, 5, 6].map(payload)), 6);
  assert.deepEqual(view(await journal.read(2, 1)), [[2, payload(2).toString('hex')]], 'two batches are within the bound');
  assert.equal(await journal.appendMany([7, 8, 9].map(payload)), 9);
  await assert.rejects(journal.read(2, 1), (e: unknown) => e instanceof JournalCorruptError && /found while reading/.test(e.message),
    'the first batch was evicted by the bound, so the disk (and its damage) is read');
  restore();
  // A read that starts on disk and goes on in the cache.
  assert.deepEqual(view(await journal.read(2, 1 << 20)), [2, 3, 4, 5, 6, 7, 8, 9].map((s) => [s, payload(s).toString('hex')]));
  const restoreLater = flipByte(segment, payloadAt(8));
  assert.deepEqual(view(await journal.read(8, 1)), [[8, payload(8).toString('hex')]], 'the newest batches are still cached');
  restoreLater();
});

test('an ack drops the batches it covers, keeping one only partly acknowledged', async (t) => {
  const dir = tempDir(t);
  const journal = await openJournal(t, dir, { maxBytes: 1 << 20, fsync: 'never' });
  const segment = join(dir, segmentFor(1));
  for (let b = 0; b < 3; b++) await journal.appendMany([0, 1, 2, 3].map((i) => Buffer.alloc(50, b * 4 + i + 1)));
  await journal.ack(6);
  // Record 7 is in the second batch (5..8), which still holds unacknowledged records: it stays cached.
  const restore = flipByte(segment, 6 * recordBytes(50) + HEADER_BYTES);
  assert.deepEqual((await journal.read(1, 1 << 20)).map((r) => [r.seq, r.payload[0]]), [7, 8, 9, 10, 11, 12].map((s) => [s, s]));
  restore();
  await journal.ack(12);
  assert.deepEqual(await journal.read(1, 1 << 20), []);
  assert.equal(await journal.append(Buffer.from('after')), 13);
  assert.deepEqual(view(await journal.read(13, 10)), [[13, Buffer.from('after').toString('hex')]]);
});

test('a failed append (undone) leaves no trace in what reads return, from the cache or the disk', async (t) => {
  const dir = tempDir(t);
  const options = { maxBytes: 1 << 20, segmentBytes: recordBytes(100) * 4, fsync: 'never' } as const;
  const journal = await openJournal(t, dir, options);
  const payload = (seq: number, v = 0): Buffer => Buffer.alloc(100, seq + v);
  assert.equal(await journal.appendMany([1, 2, 3].map((s) => payload(s))), 3);
  // Record 4 fits in the first segment, record 5 needs a new one: a file already holding its name makes that fail
  // after record 4 was written, so the undo has to cut it back off.
  const blocker = join(dir, segmentFor(5));
  writeFileSync(blocker, 'in the way');
  await assert.rejects(journal.appendMany([4, 5, 6].map((s) => payload(s))), (e: unknown) => (e as NodeJS.ErrnoException).code === 'EEXIST');
  assert.equal(journal.stats().lastSeq, 3);
  assert.deepEqual((await journal.read(1, 1 << 20)).map((r) => r.payload[0]), [1, 2, 3]);
  assert.deepEqual(await journal.read(4, 1 << 20), [], 'nothing of the failed batch is served');
  unlinkSync(blocker);

  assert.equal(await journal.appendMany([4, 5, 6].map((s) => payload(s, 100))), 6);
  const live = await journal.read(1, 1 << 20);
  assert.deepEqual(live.map((r) => r.payload[0]), [1, 2, 3, 104, 105, 106]);
  await journal.close();
  const reopened = await openJournal(t, dir, options);
  assert.deepEqual(view(await reopened.read(1, 1 << 20)), view(live), 'the disk holds what the cache served');
});

test('after a rotation and after a reopen, reads are the same from the cache and from the disk', async (t) => {
  const dir = tempDir(t);
  const options = { maxBytes: 1 << 20, segmentBytes: recordBytes(100) * 3, fsync: 'batch' } as const;
  const journal = await Journal.open(dir, options);
  assert.equal(await journal.appendMany([1, 2, 3, 4, 5, 6, 7].map((s) => Buffer.alloc(100, s))), 7);
  assert.deepEqual(segments(dir), [1, 4, 7].map(segmentFor), 'one batch across three segments');
  const restore = flipByte(join(dir, segmentFor(4)), HEADER_BYTES + 3);
  const cached = await journal.read(2, 400);
  assert.deepEqual(cached.map((r) => r.payload[0]), [2, 3, 4, 5], 'from the cache, across the rotation, up to maxBytes exactly');
  restore();
  await journal.close();

  const reopened = await openJournal(t, dir, options);
  assert.deepEqual(view(await reopened.read(2, 400)), view(cached));
  const restoreAgain = flipByte(join(dir, segmentFor(4)), HEADER_BYTES + 3);
  await assert.rejects(reopened.read(4, 1), JournalCorruptError, 'a reopened journal has nothing cached: it reads the disk');
  restoreAgain();
  assert.equal(await reopened.append(Buffer.alloc(100, 8)), 8);
  const restoreNew = flipByte(join(dir, segmentFor(7)), recordBytes(100) + HEADER_BYTES);
  assert.deepEqual((await reopened.read(8, 1)).map((r) => r.payload[0]), [8], 'what it appends after reopening is cached');
  restoreNew();
});

test('seeded random appends, reads and acks: the cache returns what a model and the disk path return', async (t) => {
  for (const seed of [1, 2, 3, 4, 5, 6]) {
    const random = seeded(seed);
    const dir = tempDir(t);
    // A cache bound of maxBytes / 2 = 48 KiB against batches of up to ~30 KiB: reads start on disk, in the cache,
    // or on disk and go on in the cache.
    const options = { maxBytes: 96 * 1024, segmentBytes: 8 * 1024 + random(16 * 1024), fsync: 'never' } as const;
    const journal = await openJournal(t, dir, options);
    const payloads: Buffer[] = [];
    let acked = 0;
    for (let step = 0; step < 120; step++) {
      const batch = Array.from({ length: 1 + random(12) }, () => Buffer.alloc(random(2500), random(256)));
      const onDisk = (from: number): number => [...payloads.slice(from), ...batch].reduce((sum, p) => sum + recordBytes(p.length), 0);
      if (onDisk(acked) > options.maxBytes) {
        acked = Math.min(payloads.length, acked + 1 + random(payloads.length - acked));
        while (onDisk(acked) > options.maxBytes) acked = Math.min(payloads.length, acked + 5);
        await journal.ack(acked);
        assert.equal(journal.stats().bytes, onDisk(acked) - onDisk(payloads.length));
      }
      await journal.appendMany(batch.map((p) => (random(2) === 0 ? p : inParts(p, random))));
      payloads.push(...batch);
      for (let r = 0; r < 3; r++) {
        const fromSeq = Math.max(1, acked - 2 + random(payloads.length - acked + 4));
        // A third of the reads ask for exactly the bytes of some records, to catch an off-by-one at the budget.
        const exactly = payloads.slice(fromSeq - 1, fromSeq - 1 + random(8)).reduce((sum, p) => sum + p.length, 0);
        const maxBytes = random(3) === 0 && exactly > 0 ? exactly : 1 + random(20_000);
        assert.deepEqual(view(await journal.read(fromSeq, maxBytes)), expectedRead(payloads, acked, fromSeq, maxBytes), `seed ${seed} step ${step}: read(${fromSeq}, ${maxBytes})`);
      }
    }
    const asks = Array.from({ length: 40 }, () => [acked + 1 + random(payloads.length - acked), 1 + random(60_000)] as const);
    const fromCache: [number, string][][] = [];
    for (const [fromSeq, maxBytes] of asks) fromCache.push(view(await journal.read(fromSeq, maxBytes)));
    await journal.close();
    const reopened = await openJournal(t, dir, options);
    for (const [i, [fromSeq, maxBytes]] of asks.entries()) {
      assert.deepEqual(view(await reopened.read(fromSeq, maxBytes)), fromCache[i], `seed ${seed}: read(${fromSeq}, ${maxBytes}) after reopening`);
    }
    await reopened.close();
  }
});

// ---- TailCache on its own ----

/** A batch of records with the given payload lengths, laid out as the journal writes them. */
function batchOf(firstSeq: number, lengths: readonly number[]): CachedBatch {
  const offsets: number[] = [];
  let total = 0;
  for (const length of lengths) {
    offsets.push(total);
    total += recordBytes(length);
  }
  const buffer = Buffer.alloc(total);
  lengths.forEach((length, i) => {
    buffer.writeUInt32BE(length, offsets[i]! + 16);
    buffer.fill(firstSeq + i, offsets[i]! + HEADER_BYTES, offsets[i]! + HEADER_BYTES + length);
  });
  return { firstSeq, buffer, offsets };
}

function readAll(cache: TailCache, fromSeq: number): [number, number][] | undefined {
  const out: [number, number][] = [];
  return cache.read(fromSeq, (seq, payload) => { out.push([seq, payload.length]); return true; }) ? out : undefined;
}

test('TailCache: bounded by its limit, oldest out first; an ack drops whole batches; a gap restarts it', () => {
  const a = batchOf(1, [100, 100]);
  const b = batchOf(3, [200]);
  const c = batchOf(4, [50, 50, 50]);
  const cache = new TailCache(cachedCost(a) + cachedCost(b));
  cache.add(a);
  cache.add(b);
  assert.equal(cache.bytes, cachedCost(a) + cachedCost(b));
  assert.deepEqual(readAll(cache, 2), [[2, 100], [3, 200]]);
  cache.add(c);
  assert.equal(cache.firstSeq, 3, 'a went to make room for c');
  assert.equal(cache.bytes, cachedCost(b) + cachedCost(c));
  assert.equal(readAll(cache, 2), undefined, 'seq 2 is no longer held');
  assert.deepEqual(readAll(cache, 5), [[5, 50], [6, 50]]);

  cache.dropThrough(4);
  assert.equal(cache.firstSeq, 4, 'c is only partly acknowledged: it stays');
  cache.dropThrough(6);
  assert.equal(cache.firstSeq, undefined);
  assert.equal(cache.bytes, 0);

  cache.add(batchOf(7, [10]));
  cache.add(batchOf(9, [10]));
  assert.equal(cache.firstSeq, 9, 'a batch that does not follow the newest one restarts the cache');
  cache.add(batchOf(10, [cache.limitBytes]));
  assert.deepEqual([cache.firstSeq, cache.bytes], [undefined, 0], 'a batch bigger than the limit is not kept');
});

test('TailCache: replaceNewest says whether the batch is held (its memory is the caller\'s again when not)', () => {
  const cache = new TailCache(10_000);
  assert.equal(cache.replaceNewest(batchOf(1, [10])), false, 'nothing to replace');
  cache.add(batchOf(1, [10, 10]));
  assert.equal(cache.replaceNewest(batchOf(1, [100])), false, 'other seqs');
  assert.equal(cache.replaceNewest(batchOf(1, [100, 200])), true);
  assert.deepEqual(readAll(cache, 1), [[1, 100], [2, 200]]);
  assert.equal(cache.replaceNewest(batchOf(1, [20_000, 10])), false, 'too large to keep: dropped at once');
  assert.equal(cache.firstSeq, undefined);
});

test('TailCache: a read stops where take says, and finds a seq among thousands of batches', () => {
  const cache = new TailCache(1 << 30);
  for (let seq = 1; seq <= 5000; seq += 2) cache.add(batchOf(seq, [seq % 7, (seq + 1) % 7]));
  const taken: number[] = [];
  assert.equal(cache.read(3333, (seq) => { taken.push(seq); return taken.length < 4; }), true);
  assert.deepEqual(taken, [3333, 3334, 3335, 3336]);
  const [first] = readAll(cache, 4999) ?? [];
  assert.deepEqual(first, [4999, 4999 % 7]);
  assert.equal(readAll(cache, 5001), undefined);
  for (let seq = 1; seq <= 4000; seq += 2) cache.dropThrough(seq + 1);
  assert.equal(cache.firstSeq, 4001);
  assert.deepEqual(readAll(cache, 4001)?.length, 1000);
});
