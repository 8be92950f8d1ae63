import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync, readdirSync, readFileSync, statSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { joinParts, partsLength } from '../../../agent/util/buffer-parts.js';
import {
  crc32c, Journal, JournalCorruptError, JournalError, JournalFullError, RECORD_OVERHEAD_BYTES,
} from '../../../agent/replication/journal.js';
import { payloadFor } from './journal-writer-child.js';
import { openJournal, segments, tempDir } from './journal-helpers.js';




function segmentFor(firstSeq: number): string {
  return `${String(firstSeq).padStart(20, '0')}.seg`;
}

const recordBytes = (payloadLength: number): number => RECORD_OVERHEAD_BYTES + payloadLength;
const BIG = { maxBytes: 64 * 1024 * 1024, fsync: 'never' } as const;

test('crc32c matches the standard check values', () => {
  assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
  assert.equal(crc32c(Buffer.alloc(0)), 0);
  // RFC 3720 (iSCSI) appendix B.4 vectors.
  assert.equal(crc32c(Buffer.alloc(32)), 0x8a9136aa);
  assert.equal(crc32c(Buffer.alloc(32, 0xff)), 0x62a8ab43);
  assert.equal(crc32c(Buffer.from(Array.from({ length: 32 }, (_, i) => i))), 0x46dd794e);
  assert.equal(crc32c(Buffer.from(Array.from({ length: 32 }, (_, i) => 31 - i))), 0x113fdb5c);
  const bytes = Buffer.from('the quick brown fox jumps over the lazy dog');
  assert.equal(crc32c(bytes, 10), crc32c(bytes.subarray(10)));
  assert.equal(crc32c(bytes, 10, bytes.length, crc32c(bytes, 0, 10)), crc32c(bytes), 'continues a running crc');
});

/** The definition, one bit at a time: what every faster path must agree with. */
function crc32cBitwise(bytes: Uint8Array): number {
  let c = ~0;
  for (const byte of bytes) {
    c ^= byte;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  }
  return ~c >>> 0;
}

test('crc32c agrees with the bitwise definition at every length, alignment and split (the word path included)', () => {
  let state = 7;
  const random = (): number => (state = (Math.imul(state, 1103515245) + 12345) >>> 0) >>> 8;
  const data = Buffer.from(Array.from({ length: 5000 }, () => random() & 0xff));
  for (const length of [0, 1, 3, 15, 16, 17, 63, 255, 256, 257, 259, 1023, 4096, 4999]) {
    for (const start of [0, 1, 2, 3, 5]) {
      const end = Math.min(data.length, start + length);
      const expected = crc32cBitwise(data.subarray(start, end));
      assert.equal(crc32c(data, start, end), expected, `bytes [${start}, ${end})`);
      // The same bytes seen through a view that starts at an odd address, as a payload inside a batch buffer does.
      assert.equal(crc32c(data.subarray(start, end)), expected, `view of [${start}, ${end})`);
      const middle = start + (random() % (end - start + 1));
      assert.equal(crc32c(data, middle, end, crc32c(data, start, middle)), expected, `[${start}, ${end}) split at ${middle}`);
    }
  }
});

test('records round-trip: appended, read back in order, acknowledged, and all of it survives reopening', async (t) => {
  const dir = tempDir(t);
  const journal = await Journal.open(dir, { maxBytes: 1 << 20, fsync: 'batch' });
  assert.deepEqual(journal.recovery, { truncatedBytes: 0 });
  assert.deepEqual(journal.stats(), { firstSeq: 1, lastSeq: 0, records: 0, bytes: 0, ackedSeq: 0 });
  assert.equal(await journal.append(Buffer.from('one')), 1);
  assert.equal(await journal.append(Buffer.alloc(0)), 2, 'an empty payload is a record too');
  assert.equal(await journal.appendMany([Buffer.from('three'), Buffer.from('four')]), 4);
  await journal.flush();
  assert.deepEqual((await journal.read(1, 1 << 20)).map((r) => [r.seq, r.payload.toString()]), [[1, 'one'], [2, ''], [3, 'three'], [4, 'four']]);
  assert.deepEqual((await journal.read(3, 1 << 20)).map((r) => r.seq), [3, 4]);
  assert.deepEqual(await journal.read(5, 1 << 20), [], 'nothing beyond the last record');
  await journal.ack(2);
  assert.deepEqual(journal.stats(), { firstSeq: 3, lastSeq: 4, records: 2, bytes: recordBytes(5) + recordBytes(4), ackedSeq: 2 });
  await journal.close();

  const reopened = await openJournal(t, dir, { maxBytes: 1 << 20 });
  assert.deepEqual(reopened.stats(), { firstSeq: 3, lastSeq: 4, records: 2, bytes: recordBytes(5) + recordBytes(4), ackedSeq: 2 });
  assert.deepEqual((await reopened.read(1, 1 << 20)).map((r) => r.seq), [3, 4], 'acknowledged records are not read again');
  assert.equal(await reopened.append(Buffer.from('five')), 5);
  await reopened.ack(5);
  assert.deepEqual(reopened.stats(), { firstSeq: 6, lastSeq: 5, records: 0, bytes: 0, ackedSeq: 5 });
});

test('read returns at least one record, then stops near maxBytes of payload', async (t) => {
  const journal = await openJournal(t, tempDir(t), BIG);
  for (let i = 0; i < 10; i++) await journal.append(Buffer.alloc(100, i));
  assert.deepEqual((await journal.read(1, 1)).map((r) => r.seq), [1], 'one record even above the budget');
  assert.deepEqual((await journal.read(4, 350)).map((r) => r.seq), [4, 5, 6]);
  assert.deepEqual((await journal.read(9, 10_000)).map((r) => r.seq), [9, 10]);
  assert.deepEqual((await journal.read(4, 100))[0]?.payload, Buffer.alloc(100, 3));
});

test('a payload is copied when appended: changing the buffer afterwards changes nothing', async (t) => {
  const journal = await openJournal(t, tempDir(t), BIG);
  const payload = Buffer.from('original');
  const appended = journal.append(payload);
  payload.write('mutated!');
  await appended;
  assert.equal((await journal.read(1, 100))[0]?.payload.toString(), 'original');
});

test('seqs are never reused, even after everything was acknowledged and trimmed and the journal reopened', async (t) => {
  const dir = tempDir(t);
  const options = { maxBytes: 1 << 20, segmentBytes: recordBytes(10) * 3, fsync: 'batch' } as const;
  const journal = await Journal.open(dir, options);
  for (let i = 1; i <= 10; i++) assert.equal(await journal.append(Buffer.alloc(10, i)), i);
  await journal.ack(10);
  assert.deepEqual(segments(dir), [segmentFor(10)], 'every segment but the one being appended to is gone');
  await journal.close();
  assert.deepEqual(segments(dir), [], 'closed with everything acknowledged, no segment is left for the next open to check');

  const again = await Journal.open(dir, options);
  assert.deepEqual(again.stats(), { firstSeq: 11, lastSeq: 10, records: 0, bytes: 0, ackedSeq: 10 });
  assert.equal(await again.append(Buffer.from('x')), 11);
  assert.equal(await again.append(Buffer.from('z')), 12);
  await again.ack(11);
  await again.close();
  assert.deepEqual(segments(dir), [segmentFor(11)], 'a record not acknowledged keeps its segment');
  const third = await openJournal(t, dir, options);
  assert.deepEqual((await third.read(12, 1 << 20)).map((r) => r.payload.toString()), ['z']);
  assert.equal(await third.append(Buffer.from('y')), 13);
});

test('segments roll over at segmentBytes, and acknowledged whole segments are deleted', async (t) => {
  const dir = tempDir(t);
  const journal = await openJournal(t, dir, { maxBytes: 1 << 20, segmentBytes: recordBytes(10) * 3, fsync: 'batch' });
  for (let i = 1; i <= 8; i++) await journal.append(Buffer.alloc(10, i));
  assert.equal(await journal.appendMany([Buffer.alloc(10, 9), Buffer.alloc(10, 10)]), 10, 'a batch may span segments');
  assert.deepEqual(segments(dir), [1, 4, 7, 10].map(segmentFor));
  assert.equal(statSync(join(dir, segmentFor(1))).size, recordBytes(10) * 3);
  assert.deepEqual((await journal.read(2, 1 << 20)).map((r) => r.payload[0]), [2, 3, 4, 5, 6, 7, 8, 9, 10], 'reads cross segments');

  await journal.ack(5);
  assert.deepEqual(segments(dir), [4, 7, 10].map(segmentFor), 'segment 1..3 is gone; 4..6 still holds 6');
  assert.equal(journal.stats().bytes, recordBytes(10) * 5);
  await journal.ack(9);
  assert.deepEqual(segments(dir), [segmentFor(10)]);
  assert.deepEqual((await journal.read(1, 1 << 20)).map((r) => r.seq), [10]);

  const big = Buffer.alloc(recordBytes(10) * 5, 7);
  assert.equal(await journal.append(big), 11, 'a record bigger than a segment gets a segment of its own');
  assert.equal(await journal.append(Buffer.from('after')), 12);
  assert.deepEqual(segments(dir), [10, 11, 12].map(segmentFor));
  assert.deepEqual((await journal.read(11, 1))[0]?.payload, big);
});

test('finding a seq deep inside a large segment (through the sparse index) reads the right record', async (t) => {
  const dir = tempDir(t);
  const journal = await Journal.open(dir, { maxBytes: 1 << 30, fsync: 'never' });
  const payloads = Array.from({ length: 1000 }, (_, i) => Buffer.concat([payloadFor(i), Buffer.alloc(400, i)]));
  for (let i = 0; i < payloads.length; i += 50) await journal.appendMany(payloads.slice(i, i + 50));
  await journal.ack(250);
  await journal.close();
  const reopened = await openJournal(t, dir, { maxBytes: 1 << 30, fsync: 'never' });
  assert.equal(reopened.stats().bytes, payloads.slice(250).reduce((sum, p) => sum + recordBytes(p.length), 0), 'unacked bytes recounted from the middle of a segment');
  for (const seq of [251, 317, 499, 870, 1000]) {
    const [record] = await reopened.read(seq, 1);
    assert.equal(record?.seq, seq);
    assert.deepEqual(record?.payload, payloads[seq - 1]);
  }
});

/** A journal of `count` records of `length` bytes each in one segment, closed; returns the segment's path. */
async function writeRecords(dir: string, count: number, length: number): Promise<string> {
  const journal = await Journal.open(dir, BIG);
  for (let i = 1; i <= count; i++) await journal.append(Buffer.alloc(length, i));
  await journal.close();
  return join(dir, segmentFor(1));
}

test('a torn tail (the last record cut short) is truncated and reported, and appends go on from there', async (t) => {
  const dir = tempDir(t);
  const segment = await writeRecords(dir, 5, 100);
  const intact = recordBytes(100) * 4;
  truncateSync(segment, intact + 60);

  const journal = await openJournal(t, dir, BIG);
  assert.equal(journal.recovery.truncatedBytes, 60);
  assert.equal(journal.recovery.segment, segment);
  assert.match(journal.recovery.reason ?? '', /record 5 takes 124 bytes, only 60 are left at byte 496/);
  assert.equal(statSync(segment).size, intact);
  assert.deepEqual((await journal.read(1, 1 << 20)).map((r) => r.payload[0]), [1, 2, 3, 4]);
  assert.equal(await journal.append(Buffer.from('new five')), 5, 'the torn record never returned from append: its seq is free');
  await journal.close();

  const again = await openJournal(t, dir, BIG);
  assert.deepEqual(again.recovery, { truncatedBytes: 0 });
  assert.equal((await again.read(5, 100))[0]?.payload.toString(), 'new five');
});

test('garbage after the last record, and a last record of the right length with a bad checksum, are torn tails', async (t) => {
  const dir = tempDir(t);
  const segment = await writeRecords(dir, 3, 50);
  const intact = statSync(segment).size;
  appendFileSync(segment, Buffer.from('garbage left by a crash, no magic here'));
  let journal = await Journal.open(dir, BIG);
  assert.equal(journal.recovery.truncatedBytes, 38);
  assert.match(journal.recovery.reason ?? '', /bad magic/);
  assert.equal(statSync(segment).size, intact);
  assert.equal(journal.stats().lastSeq, 3);
  await journal.close();

  // The last record's bytes all there, one of them wrong: a power loss can leave exactly that.
  const bytes = readFileSync(segment);
  bytes[intact - 10] = bytes[intact - 10]! ^ 0x01;
  writeFileSync(segment, bytes);
  journal = await openJournal(t, dir, BIG);
  assert.equal(journal.recovery.truncatedBytes, recordBytes(50));
  assert.match(journal.recovery.reason ?? '', /checksum mismatch in record 3/);
  assert.deepEqual((await journal.read(1, 1 << 20)).map((r) => r.seq), [1, 2]);
});

async function assertCorrupt(dir: string, segment: string, offset: number, reason: RegExp): Promise<void> {
  await assert.rejects(Journal.open(dir, BIG), (e: unknown) => {
    assert.ok(e instanceof JournalCorruptError, String(e));
    assert.equal(e.code, 'VIGIL_JOURNAL_CORRUPT');
    assert.equal(e.segment, segment);
    assert.equal(e.offset, offset);
    assert.match(e.message, new RegExp(`${segment}.*byte ${offset}`));
    assert.match(e.message, reason);
    return true;
  });
}

test('a flipped byte in an earlier record is corruption: open() names the segment and the byte offset', async (t) => {
  const dir = tempDir(t);
  const segment = await writeRecords(dir, 5, 100);
  const pristine = readFileSync(segment);
  const second = recordBytes(100);

  const payloadFlip = Buffer.from(pristine);
  payloadFlip[second + 40] = payloadFlip[second + 40]! ^ 0x10;
  writeFileSync(segment, payloadFlip);
  await assertCorrupt(dir, segment, second, /checksum mismatch in record 2.*intact record follows at byte 248/);

  // A flipped length that points past the end of the file must not pass for a torn tail either.
  const lengthFlip = Buffer.from(pristine);
  lengthFlip[second + 17] = 0x7f;
  writeFileSync(segment, lengthFlip);
  await assertCorrupt(dir, segment, second, /record 2 takes .* only 496 are left.*intact record follows/);

  const magicFlip = Buffer.from(pristine);
  magicFlip[second * 3] = 0;
  writeFileSync(segment, magicFlip);
  await assertCorrupt(dir, segment, second * 3, /bad magic/);
  assert.deepEqual(readFileSync(segment), magicFlip, 'a corrupt journal is left as it was for inspection');
});

test('damage anywhere in a segment that is not the last one is corruption, even at its end', async (t) => {
  const dir = tempDir(t);
  const journal = await Journal.open(dir, { ...BIG, segmentBytes: recordBytes(10) * 2 });
  for (let i = 1; i <= 5; i++) await journal.append(Buffer.alloc(10, i));
  await journal.close();
  const first = join(dir, segmentFor(1));
  truncateSync(first, recordBytes(10) * 2 - 1);
  await assertCorrupt(dir, first, recordBytes(10), /record 2 takes 34 bytes, only 33 are left.*not the last segment/);
});

test('a missing segment, or a damaged state file, is corruption', async (t) => {
  const dir = tempDir(t);
  const journal = await Journal.open(dir, { ...BIG, segmentBytes: recordBytes(10) * 2 });
  for (let i = 1; i <= 6; i++) await journal.append(Buffer.alloc(10, i));
  await journal.ack(1);
  await journal.close();
  const state = join(dir, 'journal.state');
  const savedState = readFileSync(state);

  unlinkSync(join(dir, segmentFor(3)));
  await assertCorrupt(dir, join(dir, segmentFor(5)), 0, /records 3\.\.4 are missing/);
  unlinkSync(join(dir, segmentFor(1)));
  await assertCorrupt(dir, join(dir, segmentFor(5)), 0, /records 2\.\.4 are missing/);

  writeFileSync(state, '{"version":1,"ackedSeq":"x"');
  await assertCorrupt(dir, state, 0, /not JSON/);
  writeFileSync(state, JSON.stringify({ version: 1, ackedSeq: 9, nextSeq: 3 }));
  await assertCorrupt(dir, state, 0, /nextSeq/);
  writeFileSync(state, savedState);
});

test('kill -9 while appending with fsync always: every seq reported appended is there, intact and in order', async (t) => {
  const dir = tempDir(t);
  const child = fileURLToPath(new URL('./journal-writer-child.js', import.meta.url));
  const appended: number[] = [];
  let acked = 0;
  for (let round = 0; round < 3; round++) {
    const proc = spawn(process.execPath, [child, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => proc.once('exit', (_code, signal) => resolve(signal)));
    t.after(() => { if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL'); });
    const killAfter = (appended[appended.length - 1] ?? 0) + 60 + round * 7;
    for await (const line of createInterface({ input: proc.stdout })) {
      const [what, value] = line.split(' ');
      if (what === 'appended') appended.push(Number(value));
      if (what === 'acked') acked = Number(value);
      // Kill between appends and, as it happens, mid-append: the child does not stop to wait.
      if (appended[appended.length - 1]! >= killAfter && proc.signalCode === null) proc.kill('SIGKILL');
    }
    assert.equal(await exited, 'SIGKILL', 'the child ran until it was killed');
  }
  assert.ok(appended.every((seq, i) => i === 0 || seq > appended[i - 1]!), 'each run went on after what the last one reported');

  const journal = await openJournal(t, dir, { maxBytes: 1 << 30, segmentBytes: 4096, fsync: 'always' });
  const stats = journal.stats();
  assert.ok(stats.ackedSeq >= acked, `ack ${acked} reported, ${stats.ackedSeq} on disk`);
  assert.ok(stats.lastSeq >= appended[appended.length - 1]!, 'every reported append is on disk');
  const records = await journal.read(1, 1 << 30);
  assert.equal(records[0]?.seq, stats.ackedSeq + 1);
  records.forEach((record, i) => {
    assert.equal(record.seq, stats.ackedSeq + 1 + i, 'in order, without a hole');
    assert.deepEqual(record.payload, payloadFor(record.seq), `record ${record.seq} intact`);
  });
  assert.equal(records[records.length - 1]?.seq, stats.lastSeq);
});

test('JournalFullError writes nothing, leaves the journal usable, and appends succeed again after an ack', async (t) => {
  const dir = tempDir(t);
  const size = recordBytes(100);
  const journal = await openJournal(t, dir, { maxBytes: size * 4, segmentBytes: size * 3, fsync: 'batch' });
  for (let i = 1; i <= 4; i++) await journal.append(Buffer.alloc(100, i));
  const before = journal.stats();
  const files = segments(dir).map((n) => [n, statSync(join(dir, n)).size]);

  await assert.rejects(journal.append(Buffer.alloc(100, 5)), (e: unknown) => {
    assert.ok(e instanceof JournalFullError);
    assert.equal(e.code, 'VIGIL_JOURNAL_FULL');
    assert.deepEqual([e.neededBytes, e.unackedBytes, e.maxBytes], [size, size * 4, size * 4]);
    assert.match(e.message, new RegExp(`journal ${dir} is full`));
    return true;
  });
  assert.deepEqual(journal.stats(), before);
  assert.deepEqual(segments(dir).map((n) => [n, statSync(join(dir, n)).size]), files, 'no byte written, no segment created');
  assert.deepEqual((await journal.read(1, 1 << 20)).map((r) => r.seq), [1, 2, 3, 4]);

  await journal.ack(1);
  assert.equal(await journal.append(Buffer.alloc(100, 5)), 5, 'the seq the failed append did not take');
  await assert.rejects(journal.append(Buffer.alloc(0)), JournalFullError);
  await journal.close();
  const reopened = await openJournal(t, dir, { maxBytes: size * 4 });
  assert.deepEqual((await reopened.read(1, 1 << 20)).map((r) => r.payload[0]), [2, 3, 4, 5]);
});

test('appendMany is all or nothing when the batch would exceed the cap', async (t) => {
  const dir = tempDir(t);
  const size = recordBytes(10);
  const journal = await openJournal(t, dir, { maxBytes: size * 5, segmentBytes: size * 2, fsync: 'batch' });
  assert.equal(await journal.appendMany([Buffer.alloc(10, 1), Buffer.alloc(10, 2), Buffer.alloc(10, 3)]), 3);
  const files = segments(dir).map((n) => [n, statSync(join(dir, n)).size]);
  await assert.rejects(journal.appendMany([Buffer.alloc(10, 4), Buffer.alloc(10, 5), Buffer.alloc(10, 6)]), JournalFullError);
  assert.equal(journal.stats().lastSeq, 3);
  assert.deepEqual(segments(dir).map((n) => [n, statSync(join(dir, n)).size]), files);
  assert.equal(await journal.appendMany([Buffer.alloc(10, 4), Buffer.alloc(10, 5)]), 5, 'a batch that fits goes in whole');
  assert.deepEqual((await journal.read(1, 1 << 20)).map((r) => r.payload[0]), [1, 2, 3, 4, 5]);
  await assert.rejects(journal.appendMany(Array.from({ length: 6 }, () => Buffer.alloc(10))), (e: unknown) =>
    e instanceof JournalError && e.code === 'VIGIL_JOURNAL_TOO_LARGE' && /could ever hold/.test(e.message));
});

test('bad arguments and use after close fail with a code naming what is wrong', async (t) => {
  const dir = tempDir(t);
  await assert.rejects(Journal.open(dir, { maxBytes: 0 }), /options\.maxBytes: 0/);
  await assert.rejects(Journal.open(dir, { maxBytes: 1000, segmentBytes: 1.5 }), /options\.segmentBytes/);
  const journal = await Journal.open(dir, BIG);
  await journal.append(Buffer.from('a'));
  const code = (c: string) => (e: unknown): boolean => e instanceof JournalError && e.code === c;
  await assert.rejects(journal.ack(2), code('VIGIL_JOURNAL_BAD_ARGUMENT'));
  await assert.rejects(journal.ack(2), /uptoSeq: 2 is beyond the last record appended \(1\)/);
  await assert.rejects(journal.read(0, 10), /fromSeq: 0/);
  await assert.rejects(journal.appendMany([]), code('VIGIL_JOURNAL_BAD_ARGUMENT'));
  await assert.rejects(journal.append('text' as unknown as Buffer), /payloads\[0\]: not a Buffer/);
  await journal.ack(1);
  await journal.ack(1);
  await journal.ack(0);
  assert.equal(journal.stats().ackedSeq, 1, 'an old or repeated ack changes nothing');
  const closing = journal.close();
  await assert.rejects(journal.append(Buffer.from('late')), code('VIGIL_JOURNAL_CLOSED'));
  await closing;
  await journal.close();
  await assert.rejects(journal.read(1, 10), code('VIGIL_JOURNAL_CLOSED'));
});

function openDescriptors(): number {
  return readdirSync('/proc/self/fd').length;
}

test('close() releases every file handle', async (t) => {
  const dir = tempDir(t);
  const options = { maxBytes: 1 << 20, segmentBytes: recordBytes(10) * 2, fsync: 'batch' } as const;
  // Whatever Node opens once for file I/O (io_uring, the thread pool) is opened here, before counting.
  await (await Journal.open(join(dir, 'warm-up'), options)).close();
  const before = openDescriptors();

  const journal = await Journal.open(join(dir, 'j'), options);
  assert.equal(openDescriptors(), before, 'nothing held until the first append');
  await journal.append(Buffer.alloc(10));
  assert.equal(openDescriptors(), before + 1, 'one handle: the segment being appended to');
  for (let i = 1; i < 7; i++) await journal.append(Buffer.alloc(10, i));
  await journal.read(1, 1 << 20);
  await journal.ack(3);
  await journal.flush();
  assert.equal(openDescriptors(), before + 1, 'segments left behind by rollover and reads are closed');
  await assert.rejects(journal.append(Buffer.alloc(1 << 21)), JournalError);
  await journal.close();
  assert.equal(openDescriptors(), before);

  const reopened = await Journal.open(join(dir, 'j'), options);
  await reopened.close();
  assert.equal(openDescriptors(), before, 'recovery closes what it scanned');
  await assert.rejects(Journal.open(dir, { maxBytes: -1 }), JournalError);
  writeFileSync(join(dir, 'j', 'journal.state'), 'not json');
  await assert.rejects(Journal.open(join(dir, 'j'), options), JournalCorruptError);
  assert.equal(openDescriptors(), before, 'a failed open leaks nothing');
});

test('memory-only records are read from memory, leave empty stubs on disk, count until acknowledged, and are refused beyond the cache', async (t) => {
  const dir = tempDir(t);
  // Cache: min(32 MiB, maxBytes / 2) = 64 KiB, so memory-only appends are taken up to 48 KiB unacknowledged.
  const journal = await Journal.open(dir, { maxBytes: 128 * 1024, fsync: 'never' });
  const payload = (n: number, fill: number): Buffer => Buffer.alloc(n, fill);
  assert.equal(await journal.append(Buffer.from('on disk')), 1);
  assert.equal(await journal.appendMany([payload(10_000, 1), payload(10_000, 2)], { memoryOnly: true }), 3);
  assert.equal(await journal.append(Buffer.from('after')), 4);
  const read = await journal.read(1, 1 << 20);
  assert.deepEqual(read.map((r) => [r.seq, r.payload.length, r.payload[0]]), [[1, 7, 0x6f], [2, 10_000, 1], [3, 10_000, 2], [4, 5, 0x61]]);
  assert.equal(journal.stats().bytes, recordBytes(7) + 2 * recordBytes(10_000) + recordBytes(5), 'memory-only records count as their size');
  const onDisk = segments(dir).reduce((n, s) => n + statSync(join(dir, s)).size, 0);
  assert.equal(onDisk, recordBytes(7) + 2 * recordBytes(0) + recordBytes(5), 'the disk holds empty stubs for them');

  // Beyond three quarters of the cache, unacknowledged: refused as full, nothing written.
  await assert.rejects(journal.appendMany([payload(30_000, 3)], { memoryOnly: true }), (e: unknown) => e instanceof JournalFullError);
  assert.equal(journal.stats().lastSeq, 4);
  await journal.ack(3);
  assert.equal(journal.stats().bytes, recordBytes(5), 'acknowledged: their weight is gone');
  assert.equal(await journal.appendMany([payload(30_000, 3)], { memoryOnly: true }), 5);
  // A batch that could never be held in memory is stored on disk as usual.
  assert.equal(await journal.appendMany([payload(60_000, 4)], { memoryOnly: true }), 6);
  await journal.close();

  // Reopened: the memory-only record still unacknowledged reads back empty (its reader must take it as lost).
  const reopened = await openJournal(t, dir, { maxBytes: 128 * 1024, fsync: 'never' });
  const again = await reopened.read(5, 1 << 20);
  assert.deepEqual(again.map((r) => [r.seq, r.payload.length]), [[5, 0], [6, 60_000]]);
});

test('memory-only batches in pooled memory are refused before they would push unacknowledged ones out of the cache', async (t) => {
  const dir = tempDir(t);
  // Cache: 32 MiB. Batches of 4 MiB each hold a pooled buffer of 6 MiB, so five fit, not the six that three
  // quarters of the cache by their size would let in: the sixth pushed the first out unacknowledged (read back lost).
  const journal = await openJournal(t, dir, { maxBytes: 256 * 1024 * 1024, fsync: 'never' });
  const batchBytes = 4 * 1024 * 1024 - 64;
  // Each a view of a buffer more than twice its size, so the journal copies it into a batch rather than hold it.
  const sparse = (fill: number): Buffer => Buffer.alloc(3 * batchBytes, fill).subarray(0, batchBytes);
  let accepted = 0;
  for (let fill = 1; fill <= 8; fill++) {
    try {
      await journal.appendMany([sparse(fill)], { memoryOnly: true });
      accepted++;
    } catch (e) {
      assert.ok(e instanceof JournalFullError, String(e));
    }
  }
  assert.equal(accepted, 5);
  const check = async (fromSeq: number, fills: readonly number[]): Promise<void> => {
    const read = await journal.read(fromSeq, 1 << 30);
    assert.deepEqual(read.map((r) => [r.seq, r.payload.length, r.payload[0], r.payload[r.payload.length - 1]]),
      fills.map((fill, i) => [fromSeq + i, batchBytes, fill, fill]), 'every accepted record is still held whole');
  };
  await check(1, [1, 2, 3, 4, 5]);
  // Refused appends (copied nothing, kept nothing) and acknowledged batches give their memory back for the next
  // ones: what was read before an acknowledgement and what is appended after it do not mix.
  await journal.ack(2);
  for (const fill of [9, 10]) await journal.appendMany([sparse(fill)], { memoryOnly: true });
  await check(3, [3, 4, 5, 9, 10]);
});

test('memory-only payloads that fill their memory are held as given, not copied, and released once acknowledged', async (t) => {
  const dir = tempDir(t);
  const journal = await openJournal(t, dir, { maxBytes: 256 * 1024 * 1024, fsync: 'never' });
  const released: number[] = [];
  const chunk = (fill: number): [Buffer, Buffer] => [Buffer.from([fill, 0, 0]), Buffer.alloc(1024 * 1024, fill)];
  const batches = [[chunk(1), chunk(2)], [chunk(3)], [chunk(4), chunk(5)]];
  for (const [i, payloads] of batches.entries()) await journal.appendMany(payloads, { memoryOnly: true, release: () => released.push(i) });
  assert.deepEqual(released.slice(), [], 'held until acknowledged');
  const read = await journal.read(1, 1 << 30);
  assert.deepEqual(read.map((r) => r.seq), [1, 2, 3, 4, 5]);
  // The very memory given: a record's parts are the writer's buffers, not copies of them.
  read.forEach((r, i) => {
    const given = batches.flat()[i]!;
    assert.ok(Array.isArray(r.payload) && r.payload[0] === given[0] && r.payload[1] === given[1], `record ${r.seq} is held as given`);
    assert.equal(partsLength(r.payload), 3 + 1024 * 1024);
    assert.deepEqual(joinParts(r.payload), Buffer.concat(given));
  });
  await journal.ack(1);
  assert.deepEqual(released.slice(), [], 'half of the first batch acknowledged: still held');
  await journal.ack(4);
  assert.deepEqual(released.slice(), [0, 1], 'whole batches acknowledged: released, in order, once each');
  // The disk holds stubs only: reopened, the unacknowledged record reads back lost.
  assert.equal(statSync(join(dir, segments(dir)[0]!)).size, 5 * recordBytes(0));
  await journal.ack(5);
  assert.deepEqual(released.slice(), [0, 1, 2]);

  // Payloads that pin much more memory than they fill (a small file read into a pooled buffer) are copied, and
  // released as soon as the append is done; a failed append releases nothing (the caller may try again).
  const sparse = Buffer.alloc(1024 * 1024, 7).subarray(0, 1000);
  await journal.appendMany([sparse], { memoryOnly: true, release: () => released.push(3) });
  assert.deepEqual(released.slice(), [0, 1, 2, 3], 'copied: released at once');
  const copied = (await journal.read(6, 1 << 20))[0]!;
  assert.ok(Buffer.isBuffer(copied.payload) && copied.payload.buffer !== sparse.buffer && copied.payload.equals(sparse));
  const chunks = (n: number): Buffer[] => Array.from({ length: n }, (_, i) => chunk(10 + i)[1]);
  await journal.appendMany(chunks(20), { memoryOnly: true, release: () => released.push(4) });
  // 20 MiB unacknowledged, and three quarters of the 32 MiB cache is the most memory-only records may weigh.
  await assert.rejects(journal.appendMany(chunks(8), { memoryOnly: true, release: () => released.push(5) }), JournalFullError);
  assert.deepEqual(released.slice(), [0, 1, 2, 3], 'held, and refused: neither released');
  await journal.ack(7 + 19);
  assert.deepEqual(released.slice(), [0, 1, 2, 3, 4]);
});

test('acknowledging only memory-only records leaves the state file for later (flush, close, or another ack) and keeps the count exact', async (t) => {
  const dir = tempDir(t);
  const options = { maxBytes: 1024 * 1024, fsync: 'never' } as const;
  const journal = await Journal.open(dir, options);
  const payload = (n: number, fill: number): Buffer => Buffer.alloc(n, fill);
  const state = (): string => readFileSync(join(dir, 'journal.state'), 'utf8');
  assert.equal(await journal.append(Buffer.from('on disk')), 1);
  await journal.ack(1);
  const afterFirst = state();
  assert.match(afterFirst, /"ackedSeq":1/);
  assert.equal(await journal.appendMany([payload(10_000, 1), payload(10_000, 2)], { memoryOnly: true }), 3);
  assert.equal(await journal.appendMany([payload(5_000, 3), payload(5_000, 4)], { memoryOnly: true }), 5);
  assert.equal(await journal.appendMany([payload(7_000, 5)], { memoryOnly: true }), 6);
  await journal.ack(3);
  await journal.ack(4); // half of a batch: its weight counts until all of it is acknowledged
  assert.equal(state(), afterFirst, 'not written for memory-only records');
  assert.equal(journal.stats().ackedSeq, 4);
  // Seq 5's stub on disk, the whole batch 4-5's payloads (until all of it is acknowledged), and seq 6.
  assert.equal(journal.stats().bytes, recordBytes(0) + 2 * 5_000 + recordBytes(7_000), 'exact, as if counted on disk');
  await journal.ack(5);
  assert.equal(journal.stats().bytes, recordBytes(7_000));
  // Another kind of record acknowledged along: written at once, with the segments behind it gone as usual.
  assert.equal(await journal.append(Buffer.from('again on disk')), 7);
  await journal.ack(7);
  assert.match(state(), /"ackedSeq":7/);
  assert.equal(journal.stats().bytes, 0);
  // Memory-only again, then flush() writes the state it owes.
  assert.equal(await journal.appendMany([payload(3_000, 6)], { memoryOnly: true }), 8);
  await journal.ack(8);
  assert.match(state(), /"ackedSeq":7/);
  await journal.flush();
  assert.match(state(), /"ackedSeq":8/);
  // And close() does too: reopened, the journal counts from there.
  assert.equal(await journal.appendMany([payload(3_000, 7)], { memoryOnly: true }), 9);
  await journal.ack(9);
  await journal.close();
  const reopened = await openJournal(t, dir, options);
  assert.deepEqual([reopened.stats().ackedSeq, reopened.stats().lastSeq, reopened.stats().bytes], [9, 9, 0]);
});

test('after a crash, memory-only acknowledgements not yet written leave their records unacknowledged, reading back as lost', async (t) => {
  const dir = tempDir(t);
  const options = { maxBytes: 1024 * 1024, fsync: 'never' } as const;
  const journal = await openJournal(t, dir, options);
  assert.equal(await journal.appendMany([Buffer.alloc(4_000, 1), Buffer.alloc(4_000, 2)], { memoryOnly: true }), 2);
  await journal.ack(2);
  // No close: a second process opens what the first left, as after kill -9.
  const recovered = await Journal.open(dir, options);
  t.after(() => recovered.close());
  assert.equal(recovered.stats().ackedSeq, 0);
  assert.deepEqual((await recovered.read(1, 1 << 20)).map((r) => [r.seq, r.payload.length]), [[1, 0], [2, 0]], 'stubs: the resync that wrote them runs again');
});
