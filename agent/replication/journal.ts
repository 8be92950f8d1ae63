/**
 * The journal: an append-only, checksummed queue of opaque records on disk. The mirror uses it three ways (the
 * source's queue of changes the target has not acknowledged, the source's spool while transmission is paused, the
 * target's spool while writes are paused), so it knows nothing of what a payload means.
 *
 * On-disk format (integers big-endian):
 *   <dir>/<first seq as 20 digits>.seg  segments; seqs inside one are consecutive, starting at its name
 *   <dir>/journal.state                 JSON {version: 1, ackedSeq, nextSeq}, replaced atomically on every ack
 *   record = header (20 bytes) + payload + CRC32C (4 bytes) of header and payload
 *   header = magic "VJNL" (4) | version 1 (1) | flags 0 (1) | reserved 0 (2) | seq (8) | payload length (4)
 *
 * Recovery validates every record of every segment. A record that fails (bad magic, version, flags, seq out of
 * order, length above MAX_PAYLOAD_BYTES, checksum mismatch, or cut short by the end of the file) is:
 *   - a torn write, when it is in the last segment and no intact record starts anywhere after it: the file is
 *     truncated there and `recovery` reports what was cut. A crash mid-append leaves a prefix of the write or,
 *     after a power loss, blocks of garbage of the right length, so a bad checksum on the LAST record is a torn
 *     write too: that append never returned (fsync 'always') or was never flushed ('batch').
 *   - corruption, anywhere else (an earlier segment, or damage with an intact record after it, as a flipped bit
 *     in a length or a payload leaves): open() throws JournalCorruptError naming the file and byte offset.
 * Damage is never skipped: records after it would be delivered out of order or with a hole.
 *
 * Checksum: CRC32C (./crc32c.ts) rather than truncated SHA-256 from node:crypto. Measured on Node 20
 * (scripts/bench/journal.ts): CRC32C ~1.7 GB/s from 4 KiB up; SHA-256 ~1.8 GB/s on 1 MiB, even at 4 KiB, and
 * 20x slower on 64-byte records (its per-call cost). Both outrun the disk; a CRC also catches every burst error
 * up to 32 bits for certain, where a truncated hash catches it with probability 1 - 2^-32.
 *
 * Reads of records just appended are served from memory (./journal-cache.ts): the batch buffers the last appends
 * wrote, as they were written, so such a read costs neither a disk read nor a copy. A memory-only batch whose
 * payloads fill the memory they sit in is not even copied into a batch: it is held as given (see appendMany).
 */
import { mkdir, open, readdir, readFile, rename, rm, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { BufferPool } from '../util/buffer-pool.js';
import { partsLength, type BufferParts } from '../util/buffer-parts.js';
import { writePiece } from '../util/write-pieces.js';
import { crc32c } from './crc32c.js';
import { cachedCost, heldMemory, TailCache, type CachedBatch, type UnplacedBatch } from './journal-cache.js';

export { crc32c };

export const MAX_PAYLOAD_BYTES = 64 * 1024 * 1024;
const MAGIC = 0x564a4e4c; // "VJNL"
const MAGIC_BYTES = Buffer.from('VJNL', 'latin1');
const FORMAT_VERSION = 1;
const HEADER_BYTES = 20;
const CHECKSUM_BYTES = 4;
export const RECORD_OVERHEAD_BYTES = HEADER_BYTES + CHECKSUM_BYTES;
const DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024;
/** One index entry per this many bytes: finding a seq reads at most this much beyond it. */
const INDEX_STRIDE_BYTES = 64 * 1024;
/**
 * ... or per this many records, whichever comes first: a resync's memory-only records leave 24-byte stubs, and
 * 64 KiB of them is thousands of records to parse each time an acknowledgement locates its place.
 */
const INDEX_STRIDE_RECORDS = 256;
const READ_CHUNK_BYTES = 1024 * 1024;
/**
 * Memory for the tail cache: min(this, maxBytes / 2). 32 MiB is the transport's default window
 * (DEFAULT_WINDOW_BYTES): the records in flight plus the next read fit, which is what a reader keeping up asks for;
 * a reader further behind is catching up from disk anyway. Half of maxBytes keeps a small journal (a test, a small
 * spool) from holding as much in memory as on disk.
 */
const TAIL_CACHE_MAX_BYTES = 32 * 1024 * 1024;
const STATE_FILE = 'journal.state';
const EMPTY = Buffer.alloc(0);
const SEGMENT_NAME = /^(\d{20})\.seg$/;

export interface JournalOptions {
  /** Cap on the bytes of unacknowledged records on disk (headers included); beyond it append throws JournalFullError. */
  readonly maxBytes: number;
  /** Default 64 MiB; a new segment starts when the current one would exceed it (a bigger record gets one alone). */
  readonly segmentBytes?: number;
  /** 'always': every append is durable before it returns; 'batch' (default): durable at flush(), ack() and close(); 'never': tests and tmpfs. */
  readonly fsync?: 'always' | 'batch' | 'never';
}

/** A record as read: one Buffer, or a memory-only record's parts as its writer gave them (journal-cache.ts). */
export interface JournalRecord { readonly seq: number; readonly payload: JournalPayload }

/**
 * Memory-only payloads are held as given, not copied into a batch, while the memory they pin is at most this many
 * times their bytes: a resync's 1 MiB read chunks are, a small file read into a pooled 1 MiB buffer is copied.
 */
const HOLD_MAX_MEMORY_RATIO = 2;

/** firstSeq is ackedSeq + 1 and lastSeq the last seq handed out, so an empty journal has firstSeq = lastSeq + 1. */
export interface JournalStats { readonly firstSeq: number; readonly lastSeq: number; readonly records: number; readonly bytes: number; readonly ackedSeq: number }

/** What open() had to cut from the end of the last segment (a torn write); truncatedBytes 0 when nothing. */
export interface JournalRecovery { readonly truncatedBytes: number; readonly segment?: string; readonly reason?: string }

export type JournalErrorCode =
  | 'VIGIL_JOURNAL_FULL' | 'VIGIL_JOURNAL_CORRUPT' | 'VIGIL_JOURNAL_TOO_LARGE' | 'VIGIL_JOURNAL_BAD_ARGUMENT'
  | 'VIGIL_JOURNAL_CLOSED' | 'VIGIL_JOURNAL_BROKEN';

export class JournalError extends Error {
  constructor(readonly code: JournalErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'JournalError';
  }
}

/** The append would take the unacknowledged bytes past maxBytes. Nothing was written; ack, then append again. */
export class JournalFullError extends JournalError {
  override readonly code = 'VIGIL_JOURNAL_FULL';
  constructor(dir: string, readonly neededBytes: number, readonly unackedBytes: number, readonly maxBytes: number) {
    super('VIGIL_JOURNAL_FULL', `journal ${dir} is full: ${unackedBytes} unacknowledged bytes + ${neededBytes} to append > maxBytes ${maxBytes}`);
    this.name = 'JournalFullError';
  }
}

/** Damage that is not a torn tail; `segment` is the file's path and `offset` the byte where the bad record starts. */
export class JournalCorruptError extends JournalError {
  override readonly code = 'VIGIL_JOURNAL_CORRUPT';
  constructor(readonly segment: string, readonly offset: number, reason: string) {
    super('VIGIL_JOURNAL_CORRUPT', `journal file ${segment}, byte ${offset}: ${reason}`);
    this.name = 'JournalCorruptError';
  }
}

// ---- records ----

type Parsed =
  | { readonly kind: 'record'; readonly seq: number; readonly bytes: number; readonly payload: Buffer }
  | { readonly kind: 'short'; readonly reason: string; readonly needs?: number }
  | { readonly kind: 'bad'; readonly reason: string };

/** Parse the record at the start of `view`; expectedSeq undefined accepts any seq (searching for a resync point). */
function parseRecord(view: Buffer, expectedSeq: number | undefined): Parsed {
  if (view.length < HEADER_BYTES) return { kind: 'short', reason: `only ${view.length} bytes left, a record header takes ${HEADER_BYTES}` };
  if (view.readUInt32BE(0) !== MAGIC) return { kind: 'bad', reason: `bad magic 0x${view.readUInt32BE(0).toString(16).padStart(8, '0')}` };
  const version = view.readUInt8(4);
  if (version !== FORMAT_VERSION) return { kind: 'bad', reason: `unknown record version ${version}` };
  if (view.readUInt8(5) !== 0 || view.readUInt16BE(6) !== 0) return { kind: 'bad', reason: 'reserved header bits are set' };
  const high = view.readUInt32BE(8);
  const seq = high * 2 ** 32 + view.readUInt32BE(12);
  if (high >= 2 ** 21) return { kind: 'bad', reason: 'seq beyond 2^53' };
  if (expectedSeq !== undefined && seq !== expectedSeq) return { kind: 'bad', reason: `seq ${seq} where ${expectedSeq} was expected` };
  const length = view.readUInt32BE(16);
  if (length > MAX_PAYLOAD_BYTES) return { kind: 'bad', reason: `payload length ${length} above the maximum ${MAX_PAYLOAD_BYTES}` };
  const bytes = HEADER_BYTES + length + CHECKSUM_BYTES;
  if (view.length < bytes) return { kind: 'short', reason: `record ${seq} takes ${bytes} bytes, only ${view.length} are left`, needs: bytes };
  const stored = view.readUInt32BE(HEADER_BYTES + length);
  const computed = crc32c(view, 0, HEADER_BYTES + length);
  if (stored !== computed) return { kind: 'bad', reason: `checksum mismatch in record ${seq} (stored 0x${stored.toString(16)}, computed 0x${computed.toString(16)})` };
  return { kind: 'record', seq, bytes, payload: view.subarray(HEADER_BYTES, HEADER_BYTES + length) };
}

/** Records laid out with their payloads copied in; seqs and checksums are stamped when the append runs. */
interface EncodedBatch { readonly buffer: Buffer; readonly offsets: readonly number[] }

/**
 * A record's payload: one Buffer, or its parts in order (the payload is their concatenation), so that a caller
 * holding [header, data] hands both over without concatenating them first; the journal copies the parts once, or
 * not at all for a memory-only batch it holds as given.
 */
export type JournalPayload = BufferParts;

/** The payload's length, or a JournalError naming payloads[i] (or payloads[i][j]) when it is not a payload. */
function payloadLength(payload: JournalPayload, i: number): number | JournalError {
  if (Buffer.isBuffer(payload)) return payload.length;
  if (!Array.isArray(payload)) return new JournalError('VIGIL_JOURNAL_BAD_ARGUMENT', `payloads[${i}]: not a Buffer or an array of Buffers`);
  let length = 0;
  for (const [j, part] of payload.entries()) {
    if (!Buffer.isBuffer(part)) return new JournalError('VIGIL_JOURNAL_BAD_ARGUMENT', `payloads[${i}][${j}]: not a Buffer`);
    length += part.length;
  }
  return length;
}

/**
 * Memory for large batches, used again once their records are acknowledged. A full mirror appends a gigabyte in
 * batches of about 4 MiB: each a fresh allocation, it cost page faults on every first touch, and V8, counting
 * that memory as external, ran a full collection every few dozen MiB, each longer the more files the index held.
 * Batches under 2 MiB get memory of their own (a pooled buffer would hold on to three times their size or more),
 * never a slice of Node's shared slab, which the tail cache would pin.
 */
function batchMemory(): BufferPool {
  return new BufferPool(6 * 1024 * 1024, { minLentBytes: 2 * 1024 * 1024, maxFree: 4, fresh: (bytes) => Buffer.allocUnsafeSlow(bytes) });
}

/**
 * lengths[i] is payloads[i]'s length, checked by the caller. Every byte of the buffer is written here or by
 * stampBatch, so it need not be zeroed first; the batch gets memory of its own (a large one from `memory`), not
 * a slice of Node's shared pool, because the tail cache may keep it (a pooled slice would pin the whole 8 KiB slab).
 */
function encodeBatch(payloads: readonly JournalPayload[], lengths: readonly number[], memory?: BufferPool): EncodedBatch {
  const offsets: number[] = [];
  let total = 0;
  for (const length of lengths) {
    offsets.push(total);
    total += RECORD_OVERHEAD_BYTES + length;
  }
  const buffer = memory !== undefined ? memory.lend(total) : Buffer.allocUnsafeSlow(total);
  payloads.forEach((payload, i) => {
    const at = offsets[i]!;
    buffer.writeUInt32BE(MAGIC, at);
    buffer.writeUInt8(FORMAT_VERSION, at + 4);
    buffer.writeUInt8(0, at + 5); // flags
    buffer.writeUInt16BE(0, at + 6); // reserved
    buffer.writeUInt32BE(lengths[i]!, at + 16);
    if (Buffer.isBuffer(payload)) {
      payload.copy(buffer, at + HEADER_BYTES);
    } else {
      let into = at + HEADER_BYTES;
      for (const part of payload) {
        part.copy(buffer, into);
        into += part.length;
      }
    }
  });
  return { buffer, offsets };
}

function stampBatch(batch: EncodedBatch, firstSeq: number): void {
  const { buffer, offsets } = batch;
  offsets.forEach((at, i) => {
    const seq = firstSeq + i;
    buffer.writeUInt32BE(Math.floor(seq / 2 ** 32), at + 8);
    buffer.writeUInt32BE(seq % 2 ** 32, at + 12);
    const end = at + HEADER_BYTES + buffer.readUInt32BE(at + 16);
    buffer.writeUInt32BE(crc32c(buffer, at, end), end);
  });
}

// ---- segments ----

/** Every INDEX_STRIDE_BYTES (or INDEX_STRIDE_RECORDS), where a record starts: finding a seq scans at most one stride. */
class SparseIndex {
  private readonly seqs: number[] = [];
  private readonly offsets: number[] = [];

  note(seq: number, offset: number): void {
    const last = this.offsets[this.offsets.length - 1];
    const lastSeq = this.seqs[this.seqs.length - 1];
    if (last === undefined || offset - last >= INDEX_STRIDE_BYTES || seq - lastSeq! >= INDEX_STRIDE_RECORDS) {
      this.seqs.push(seq);
      this.offsets.push(offset);
    }
  }

  /** The last indexed record at or before seq (the segment's first record is always indexed). */
  floor(seq: number): { seq: number; offset: number } {
    let lo = 0;
    let hi = this.seqs.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.seqs[mid]! <= seq) lo = mid;
      else hi = mid - 1;
    }
    return { seq: this.seqs[lo]!, offset: this.offsets[lo]! };
  }

  forget(fromOffset: number): void {
    while (this.offsets.length > 0 && this.offsets[this.offsets.length - 1]! >= fromOffset) {
      this.offsets.pop();
      this.seqs.pop();
    }
  }
}

interface Segment {
  readonly firstSeq: number;
  readonly path: string;
  /** firstSeq - 1 while empty. */
  lastSeq: number;
  size: number;
  readonly index: SparseIndex;
}

function segmentName(firstSeq: number): string {
  return `${String(firstSeq).padStart(20, '0')}.seg`;
}

/** Reads a file through a window of about READ_CHUNK_BYTES, so a scan makes few system calls. */
class WindowReader {
  private window = Buffer.alloc(0);
  private windowStart = 0;

  constructor(private readonly handle: FileHandle, private readonly size: number) {}

  /** The bytes from offset on: at least `min` of them, fewer only at the end of the file. */
  async view(offset: number, min: number): Promise<Buffer> {
    const windowEnd = this.windowStart + this.window.length;
    if (offset >= this.windowStart && (offset + min <= windowEnd || windowEnd === this.size)) {
      return this.window.subarray(offset - this.windowStart);
    }
    const length = Math.min(Math.max(min, READ_CHUNK_BYTES), this.size - offset);
    const buffer = Buffer.allocUnsafe(length);
    let filled = 0;
    while (filled < length) {
      const { bytesRead } = await this.handle.read(buffer, filled, length - filled, offset + filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    this.window = buffer.subarray(0, filled);
    this.windowStart = offset;
    return this.window;
  }

  async recordAt(offset: number, expectedSeq: number | undefined): Promise<Parsed> {
    const view = await this.view(offset, HEADER_BYTES);
    const parsed = parseRecord(view, expectedSeq);
    if (parsed.kind !== 'short' || parsed.needs === undefined || offset + view.length >= this.size) return parsed;
    return parseRecord(await this.view(offset, parsed.needs), expectedSeq);
  }
}

interface ScannedSegment { readonly segment: Segment; readonly cut?: { readonly offset: number; readonly bytes: number; readonly reason: string } }

/** Validate every record; cut a torn tail of the last segment (see the rules at the top of this file). */
async function scanSegment(path: string, firstSeq: number, isLast: boolean, durable: boolean): Promise<ScannedSegment> {
  const handle = await open(path, isLast ? 'r+' : 'r');
  try {
    const size = (await handle.stat()).size;
    const reader = new WindowReader(handle, size);
    const segment: Segment = { firstSeq, path, lastSeq: firstSeq - 1, size: 0, index: new SparseIndex() };
    let offset = 0;
    while (offset < size) {
      const parsed = await reader.recordAt(offset, segment.lastSeq + 1);
      if (parsed.kind === 'record') {
        segment.index.note(parsed.seq, offset);
        segment.lastSeq = parsed.seq;
        offset += parsed.bytes;
        continue;
      }
      if (!isLast) throw new JournalCorruptError(path, offset, `${parsed.reason} (not the last segment, so not a torn write)`);
      const intact = await findIntactRecord(handle, offset + 1, size);
      if (intact !== undefined) {
        throw new JournalCorruptError(path, offset, `${parsed.reason}; an intact record follows at byte ${intact}, so this is damage, not a torn write`);
      }
      await handle.truncate(offset);
      if (durable) await handle.datasync();
      segment.size = offset;
      return { segment, cut: { offset, bytes: size - offset, reason: parsed.reason } };
    }
    segment.size = size;
    return { segment };
  } finally {
    await handle.close();
  }
}

/** Where the first intact record (any seq) starts in [from, size), if one does. */
async function findIntactRecord(handle: FileHandle, from: number, size: number): Promise<number | undefined> {
  if (from >= size) return undefined;
  const tail = Buffer.allocUnsafe(size - from);
  let filled = 0;
  while (filled < tail.length) {
    const { bytesRead } = await handle.read(tail, filled, tail.length - filled, from + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  const bytes = tail.subarray(0, filled);
  for (let at = bytes.indexOf(MAGIC_BYTES); at >= 0; at = bytes.indexOf(MAGIC_BYTES, at + 1)) {
    if (parseRecord(bytes.subarray(at), undefined).kind === 'record') return from + at;
  }
  return undefined;
}

// ---- durable small files ----

/** fsync of a folder, so a create, rename or unlink in it survives a power loss. */
export async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Replace `file` so a crash leaves the old or the new content, never a mix: temp file, fsync, rename, fsync folder. */
export async function replaceFileAtomically(file: string, data: string | Buffer, durable = true): Promise<void> {
  const temp = `${file}.tmp`;
  const handle = await open(temp, 'w', 0o600);
  try {
    await handle.writeFile(data);
    if (durable) await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temp, file);
  if (durable) await syncDirectory(dirname(file));
}

const stateSchema = z.strictObject({
  version: z.literal(1),
  ackedSeq: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  nextSeq: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
}).refine((s) => s.nextSeq > s.ackedSeq, { message: 'nextSeq must be above ackedSeq', path: ['nextSeq'] });

type JournalState = z.output<typeof stateSchema>;

async function loadState(file: string): Promise<JournalState> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, ackedSeq: 0, nextSeq: 1 };
    throw e;
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new JournalCorruptError(file, 0, `not JSON (${(e as Error).message})`);
  }
  const parsed = stateSchema.safeParse(raw);
  if (!parsed.success) {
    throw new JournalCorruptError(file, 0, parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; '));
  }
  return parsed.data;
}

function validateOptions(options: JournalOptions): Required<JournalOptions> {
  const { maxBytes, segmentBytes = DEFAULT_SEGMENT_BYTES, fsync = 'batch' } = options;
  if (!Number.isSafeInteger(maxBytes) || maxBytes <= RECORD_OVERHEAD_BYTES) {
    throw new JournalError('VIGIL_JOURNAL_BAD_ARGUMENT', `options.maxBytes: ${maxBytes} is not an integer above ${RECORD_OVERHEAD_BYTES}`);
  }
  if (!Number.isSafeInteger(segmentBytes) || segmentBytes <= RECORD_OVERHEAD_BYTES) {
    throw new JournalError('VIGIL_JOURNAL_BAD_ARGUMENT', `options.segmentBytes: ${segmentBytes} is not an integer above ${RECORD_OVERHEAD_BYTES}`);
  }
  if (fsync !== 'always' && fsync !== 'batch' && fsync !== 'never') {
    throw new JournalError('VIGIL_JOURNAL_BAD_ARGUMENT', `options.fsync: ${String(fsync)} is not 'always', 'batch' or 'never'`);
  }
  return { maxBytes, segmentBytes, fsync };
}

function checkSeq(name: string, value: number, min: number): void {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new JournalError('VIGIL_JOURNAL_BAD_ARGUMENT', `${name}: ${value} is not an integer >= ${min}`);
  }
}

/** The segment appends go to, with its open handle. */
interface Active { readonly segment: Segment; readonly handle: FileHandle }

export class Journal {
  /** Operations run one at a time, in call order: seqs follow call order and a read never sees half an append. */
  private queue: Promise<unknown> = Promise.resolve();
  private closing = false;
  /** Set when a failed append could not be undone: the files no longer match memory, so nothing more is done. */
  private broken: Error | undefined;
  private unflushed = false;
  /** The batches the last appends wrote, for reads of records just appended (see journal-cache.ts). */
  private readonly cache: TailCache;
  private readonly memory = batchMemory();
  /** Memory-only batches not yet acknowledged: their weight beyond their stubs on disk (see appendMany). */
  private readonly memoryOnlyExtra: { firstSeq: number; lastSeq: number; bytes: number }[] = [];
  /**
   * The state file names an older ackedSeq than this.ackedSeq: acknowledgements of memory-only records only are
   * not written at once (see acknowledge); the next other acknowledgement, flush() or close() writes it.
   */
  private stateBehind = false;

  private constructor(
    readonly dir: string,
    private readonly options: Required<JournalOptions>,
    readonly recovery: JournalRecovery,
    private readonly segments: Segment[],
    private active: Active | undefined,
    private ackedSeq: number,
    private nextSeq: number,
    private unackedBytes: number,
  ) {
    this.cache = new TailCache(Math.min(TAIL_CACHE_MAX_BYTES, Math.floor(options.maxBytes / 2)));
  }

  /** Create `dir` if needed and recover what is in it; throws JournalCorruptError on damage that is not a torn tail. */
  static async open(dir: string, options: JournalOptions): Promise<Journal> {
    const valid = validateOptions(options);
    const durable = valid.fsync !== 'never';
    await mkdir(dir, { recursive: true });
    const statePath = join(dir, STATE_FILE);
    await rm(`${statePath}.tmp`, { force: true });
    const state = await loadState(statePath);

    const names = (await readdir(dir)).filter((n) => SEGMENT_NAME.test(n)).sort();
    const segments: Segment[] = [];
    let recovery: JournalRecovery = { truncatedBytes: 0 };
    for (const [i, name] of names.entries()) {
      const firstSeq = Number(SEGMENT_NAME.exec(name)![1]);
      if (firstSeq < 1 || !Number.isSafeInteger(firstSeq)) throw new JournalCorruptError(join(dir, name), 0, 'the name is not a seq from 1 to 2^53');
      const scanned = await scanSegment(join(dir, name), firstSeq, i === names.length - 1, durable);
      segments.push(scanned.segment);
      if (scanned.cut) recovery = { truncatedBytes: scanned.cut.bytes, segment: scanned.segment.path, reason: `${scanned.cut.reason} at byte ${scanned.cut.offset}` };
    }
    checkContinuity(segments, state, statePath);

    const last = segments[segments.length - 1];
    const nextSeq = Math.max(state.nextSeq, state.ackedSeq + 1, (last?.lastSeq ?? 0) + 1);
    // Segments a crash kept between writing the ack and deleting them.
    while (segments.length > 1 && segments[0]!.lastSeq <= state.ackedSeq) await unlink(segments.shift()!.path);
    const active = last !== undefined && last.lastSeq + 1 === nextSeq ? { segment: last, handle: await open(last.path, 'r+') } : undefined;
    const journal = new Journal(dir, valid, recovery, segments, active, state.ackedSeq, nextSeq, 0);
    try {
      journal.unackedBytes = await journal.countUnackedBytes();
    } catch (e) {
      await active?.handle.close();
      throw e;
    }
    return journal;
  }

  /** Append one record; returns its seq. The payload is copied before this returns. */
  append(payload: JournalPayload): Promise<number> {
    return this.appendMany([payload]);
  }

  /**
   * Append records all or nothing (JournalFullError writes none of them); returns the last one's seq. A payload
   * given as parts is stored as their concatenation; size limits apply to that. Payloads are copied before this returns.
   *
   * `memoryOnly`: the records are kept in memory only (the tail cache) and the segment gets an empty record in
   * each one's place, so seqs stay consecutive on disk. For records their writer can make again from elsewhere
   * (a resync re-reads the files): they cost no disk write and no checksum. Once one has left the cache (a restart,
   * or the cache emptied) it reads back with an empty payload, which its reader must take as "lost". To keep that
   * rare, such an append is refused as full (JournalFullError), before its payloads are copied, while the
   * unacknowledged records, or the memory the cache holds for them, would not all fit in the cache; a batch that
   * could never fit there is stored on disk as usual.
   *
   * `release`, when the append succeeds, is called once the payloads' memory may be used again: at once when they
   * were copied, or, for memory-only payloads held as given (not copied: what they pin is at most
   * HOLD_MAX_MEMORY_RATIO times their bytes), once their records are acknowledged. It is never called for held
   * payloads the cache let go unacknowledged (a reader may still hold them): their memory is the collector's then.
   * When the append fails the payloads are still the caller's, and release is not called.
   */
  appendMany(payloads: readonly JournalPayload[], options: { readonly memoryOnly?: boolean; readonly release?: () => void } = {}): Promise<number> {
    if (!Array.isArray(payloads)) return Promise.reject(new JournalError('VIGIL_JOURNAL_BAD_ARGUMENT', 'payloads: not an array'));
    if (payloads.length === 0) return Promise.reject(new JournalError('VIGIL_JOURNAL_BAD_ARGUMENT', 'payloads: empty, nothing to append'));
    const lengths: number[] = [];
    for (const [i, payload] of payloads.entries()) {
      const length = payloadLength(payload, i);
      if (length instanceof JournalError) return Promise.reject(length);
      if (length > MAX_PAYLOAD_BYTES) {
        return Promise.reject(new JournalError('VIGIL_JOURNAL_TOO_LARGE', `payloads[${i}]: ${length} bytes, above the maximum ${MAX_PAYLOAD_BYTES}`));
      }
      lengths.push(length);
    }
    const onDisk = lengths.reduce((sum, length) => sum + RECORD_OVERHEAD_BYTES + length, 0);
    if (onDisk > this.options.maxBytes) {
      return Promise.reject(new JournalError('VIGIL_JOURNAL_TOO_LARGE', `payloads: ${onDisk} bytes on disk, more than maxBytes ${this.options.maxBytes} could ever hold; split them`));
    }
    const inMemory = options.memoryOnly === true && onDisk <= this.memoryOnlyBytes;
    // A writer waiting for room retries every few milliseconds: refused before its payloads are copied.
    if (inMemory && this.unackedBytes + onDisk > this.memoryOnlyBytes) return Promise.reject(new JournalFullError(this.dir, onDisk, this.unackedBytes, this.memoryOnlyBytes));
    if (inMemory) {
      const memoryBytes = heldMemory(payloads);
      const held = { payloads, memoryBytes, ...(options.release === undefined ? {} : { release: options.release }) };
      if (memoryBytes <= HOLD_MAX_MEMORY_RATIO * onDisk && cachedCost(held) <= this.cache.limitBytes) {
        return this.run(() => this.writeMemoryOnly(held, onDisk));
      }
    }
    const batch = encodeBatch(payloads, lengths, this.memory);
    // One whose memory (a pooled buffer may be larger than the batch) could never be held is stored on disk.
    const memoryOnly = inMemory && cachedCost(batch) <= this.cache.limitBytes;
    return this.run(() => (memoryOnly ? this.writeMemoryOnly({ buffer: batch.buffer, offsets: batch.offsets }, onDisk) : this.write(batch))).then((seq) => {
      options.release?.(); // copied into the batch
      return seq;
    }, (e: unknown) => {
      // Not kept (the journal was full, or the write failed): the batch's memory is free again.
      this.memory.give(batch.buffer);
      throw e;
    });
  }

  /** Most unacknowledged bytes with which a memory-only append is taken: what the cache surely holds. */
  private get memoryOnlyBytes(): number {
    return Math.floor(this.cache.limitBytes * 3 / 4);
  }

  /** `batch`: the records encoded into a batch of ours, or payloads held as given; `needed`: their bytes on disk. */
  private async writeMemoryOnly(batch: UnplacedBatch, needed: number): Promise<number> {
    if (this.unackedBytes + needed > this.memoryOnlyBytes) throw new JournalFullError(this.dir, needed, this.unackedBytes, this.memoryOnlyBytes);
    // Nor may it push unacknowledged records out of the cache (a pooled batch holds more memory than it fills).
    const cost = cachedCost(batch);
    if (this.cache.bytes + cost > this.cache.limitBytes) throw new JournalFullError(this.dir, cost, this.cache.bytes, this.cache.limitBytes);
    const records = 'offsets' in batch ? batch.offsets.length : batch.payloads.length;
    const stubs = encodeBatch(Array.from({ length: records }, () => EMPTY), Array.from({ length: records }, () => 0));
    const firstSeq = this.nextSeq;
    const last = await this.write(stubs, needed);
    // The disk holds only the stubs: what the records weigh beyond them counts until they are acknowledged.
    this.memoryOnlyExtra.push({ firstSeq, lastSeq: last, bytes: needed - stubs.buffer.length });
    // write() cached the stubs; the real records replace them in memory (the same seqs, nothing else in between).
    // Not held, nobody read them: their memory is free at once.
    if (!this.cache.replaceNewest({ firstSeq, ...batch })) this.giveBack({ firstSeq, ...batch });
    return last;
  }

  /** A cached batch's memory may be used again: ours goes back to the pool, a writer's to the writer. */
  private giveBack(batch: CachedBatch): void {
    if ('payloads' in batch) batch.release?.();
    else this.memory.give(batch.buffer);
  }

  /** Everything appended so far is durable (a no-op with fsync 'never'). */
  flush(): Promise<void> {
    return this.run(async () => {
      await this.sync();
      await this.writeStateIfBehind();
    });
  }

  /**
   * Unacknowledged records with seq >= fromSeq in order: at least one if any exists, then up to about maxBytes of
   * payload. Payloads may be views of the journal's cache of recent appends: read them, never write to them, and
   * let go of them once acknowledged (the memory of a large batch is then used again).
   */
  read(fromSeq: number, maxBytes: number): Promise<JournalRecord[]> {
    try {
      checkSeq('fromSeq', fromSeq, 1);
      checkSeq('maxBytes', maxBytes, 1);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.run(() => this.readRecords(Math.max(fromSeq, this.ackedSeq + 1), maxBytes));
  }

  /** Records up to uptoSeq are no longer needed; whole segments below it are deleted. Durable before it returns. */
  ack(uptoSeq: number): Promise<void> {
    try {
      checkSeq('uptoSeq', uptoSeq, 0);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.run(() => this.acknowledge(uptoSeq));
  }

  stats(): JournalStats {
    const lastSeq = this.nextSeq - 1;
    return { firstSeq: this.ackedSeq + 1, lastSeq, records: lastSeq - this.ackedSeq, bytes: this.unackedBytes, ackedSeq: this.ackedSeq };
  }

  /** Flush, then release the file handle; waits for operations already queued. Later calls reject with VIGIL_JOURNAL_CLOSED. */
  async close(): Promise<void> {
    if (this.closing) return this.queue.then(() => undefined);
    const done = this.run(async () => {
      try {
        if (this.broken === undefined) {
          await this.sync();
          await this.writeStateIfBehind();
        }
      } finally {
        this.cache.clear();
        await this.active?.handle.close();
        this.active = undefined;
      }
      if (this.broken === undefined && this.nextSeq - 1 === this.ackedSeq) await this.dropAcknowledged();
    }, true);
    this.closing = true;
    return done;
  }

  /**
   * Every record is acknowledged: the segments hold nothing that will be read again, and the next open would
   * only check them (a restarted agent spent a tenth of a second on a full mirror's stubs). The state file keeps
   * the seqs going on; it is written first, so a crash between the two leaves acknowledged segments, which open()
   * checks and keeps as it always did.
   */
  private async dropAcknowledged(): Promise<void> {
    await this.writeState(this.ackedSeq);
    for (const segment of this.segments.splice(0)) await unlink(segment.path);
  }

  private run<T>(operation: () => Promise<T>, evenIfBroken = false): Promise<T> {
    if (this.closing) return Promise.reject(new JournalError('VIGIL_JOURNAL_CLOSED', `journal ${this.dir} is closed`));
    const result = this.queue.then(() => {
      if (this.broken && !evenIfBroken) {
        throw new JournalError('VIGIL_JOURNAL_BROKEN', `journal ${this.dir} stopped after an append failed and could not be undone; reopen it`, { cause: this.broken });
      }
      return operation();
    });
    this.queue = result.catch(() => undefined);
    return result;
  }

  private async sync(): Promise<void> {
    if (this.unflushed && this.options.fsync !== 'never' && this.active) await this.active.handle.datasync();
    this.unflushed = false;
  }

  /** `accounted`: the bytes counted as unacknowledged (a memory-only batch counts its records, not its stubs). */
  private async write(batch: EncodedBatch, accounted = batch.buffer.length): Promise<number> {
    const needed = accounted;
    if (this.unackedBytes + needed > this.options.maxBytes) throw new JournalFullError(this.dir, needed, this.unackedBytes, this.options.maxBytes);
    const firstSeq = this.nextSeq;
    stampBatch(batch, firstSeq);

    const before = this.active ? { active: this.active, size: this.active.segment.size, lastSeq: this.active.segment.lastSeq } : undefined;
    const created: Active[] = [];
    try {
      let target = this.active;
      for (const run of this.planRuns(batch)) {
        if (run.newSegment || target === undefined) {
          // The previous segment is durable before the next exists, so recovery never sees a hole behind a newer file.
          if (target && this.options.fsync !== 'never') await target.handle.datasync();
          target = await this.createSegment(firstSeq + run.first);
          created.push(target);
        }
        const { segment } = target;
        const start = batch.offsets[run.first]!;
        await writeFully(target.handle, batch.buffer.subarray(start, run.end), segment.size);
        for (let i = run.first; i < run.first + run.count; i++) segment.index.note(firstSeq + i, segment.size + batch.offsets[i]! - start);
        segment.size += run.end - start;
        segment.lastSeq = firstSeq + run.first + run.count - 1;
      }
      if (this.options.fsync === 'always') await target!.handle.datasync();
      else this.unflushed = true;
      for (const old of [before?.active, ...created]) if (old && old !== target) await old.handle.close();
      this.active = target;
    } catch (e) {
      await this.undo(e as Error, before, created);
      throw e;
    }
    this.nextSeq = firstSeq + batch.offsets.length;
    this.unackedBytes += needed;
    this.cache.add({ firstSeq, buffer: batch.buffer, offsets: batch.offsets });
    return this.nextSeq - 1;
  }

  /** Split a batch into runs of consecutive records bound for one segment, each written with one call. */
  private planRuns(batch: EncodedBatch): { newSegment: boolean; first: number; count: number; end: number }[] {
    const runs: { newSegment: boolean; first: number; count: number; end: number }[] = [];
    let size = this.active?.segment.size;
    batch.offsets.forEach((start, i) => {
      const end = batch.offsets[i + 1] ?? batch.buffer.length;
      const bytes = end - start;
      const last = runs[runs.length - 1];
      if (size === undefined || (size > 0 && size + bytes > this.options.segmentBytes)) {
        runs.push({ newSegment: true, first: i, count: 1, end });
        size = 0;
      } else if (last === undefined) {
        runs.push({ newSegment: false, first: i, count: 1, end });
      } else {
        last.count++;
        last.end = end;
      }
      size += bytes;
    });
    return runs;
  }

  private async createSegment(firstSeq: number): Promise<Active> {
    const path = join(this.dir, segmentName(firstSeq));
    const handle = await open(path, 'wx+', 0o600);
    try {
      if (this.options.fsync !== 'never') await syncDirectory(this.dir);
    } catch (e) {
      await handle.close();
      await unlink(path);
      throw e;
    }
    const segment: Segment = { firstSeq, path, lastSeq: firstSeq - 1, size: 0, index: new SparseIndex() };
    this.segments.push(segment);
    return { segment, handle };
  }

  /** Put the files and memory back as they were before a failed append; if that fails too, stop. */
  private async undo(cause: Error, before: { active: Active; size: number; lastSeq: number } | undefined, created: readonly Active[]): Promise<void> {
    // A successful undo leaves the cached records as they were, but one that fails half way does not: start afresh.
    this.cache.clear();
    try {
      for (const { segment, handle } of created) {
        await handle.close();
        await unlink(segment.path);
        this.segments.splice(this.segments.indexOf(segment), 1);
      }
      if (before) {
        await before.active.handle.truncate(before.size);
        before.active.segment.size = before.size;
        before.active.segment.lastSeq = before.lastSeq;
        before.active.segment.index.forget(before.size);
      }
      this.active = before?.active;
    } catch (undoError) {
      this.broken = new AggregateError([cause, undoError], 'append failed and could not be undone');
    }
  }

  private segmentOf(seq: number): Segment | undefined {
    return this.segments.find((s) => s.firstSeq <= seq && seq <= s.lastSeq);
  }

  /** Records from the tail cache where it holds them, from the segments below that; the same bytes either way. */
  private async readRecords(fromSeq: number, maxBytes: number): Promise<JournalRecord[]> {
    const records: JournalRecord[] = [];
    let total = 0;
    const take = (seq: number, payload: JournalPayload): boolean => {
      const bytes = partsLength(payload);
      if (records.length > 0 && total + bytes > maxBytes) return false;
      records.push({ seq, payload });
      total += bytes;
      return true;
    };
    const cachedFrom = this.cache.firstSeq ?? this.nextSeq;
    let seq = fromSeq;
    if (seq < cachedFrom) {
      seq = await this.readFromDisk(seq, cachedFrom, take);
      if (seq < cachedFrom) return records;
    }
    // The cache holds every record from cachedFrom to the last; the disk answers too, should that ever not be so.
    if (seq < this.nextSeq && !this.cache.read(seq, take)) await this.readFromDisk(seq, this.nextSeq, take);
    return records;
  }

  /** Hand `take` the records fromSeq..untilSeq-1 from the segments until it returns false; returns the first seq not taken. */
  private async readFromDisk(fromSeq: number, untilSeq: number, take: (seq: number, payload: Buffer) => boolean): Promise<number> {
    let seq = fromSeq;
    while (seq < untilSeq) {
      const segment = this.segmentOf(seq);
      if (segment === undefined) throw new JournalCorruptError(join(this.dir, segmentName(seq)), 0, `record ${seq} is in no segment`);
      const full = await this.withReader(segment, async (reader) => {
        const start = await this.locate(reader, segment, seq);
        let offset = start;
        for (; seq <= segment.lastSeq && seq < untilSeq; seq++) {
          const parsed = await reader.recordAt(offset, seq);
          if (parsed.kind !== 'record') throw new JournalCorruptError(segment.path, offset, `${parsed.reason} (found while reading)`);
          if (!take(seq, parsed.payload)) return true;
          offset += parsed.bytes;
        }
        return false;
      });
      if (full) break;
    }
    return seq;
  }

  /** Byte offset of record seq in the segment (its size when seq is past its last record). */
  private async locate(reader: WindowReader, segment: Segment, seq: number): Promise<number> {
    if (seq > segment.lastSeq) return segment.size;
    const floor = segment.index.floor(seq);
    let offset = floor.offset;
    for (let at = floor.seq; at < seq; at++) {
      const parsed = await reader.recordAt(offset, at);
      if (parsed.kind !== 'record') throw new JournalCorruptError(segment.path, offset, `${parsed.reason} (found while reading)`);
      offset += parsed.bytes;
    }
    return offset;
  }

  private async withReader<T>(segment: Segment, use: (reader: WindowReader) => Promise<T>): Promise<T> {
    if (this.active?.segment === segment) return use(new WindowReader(this.active.handle, segment.size));
    const handle = await open(segment.path, 'r');
    try {
      return await use(new WindowReader(handle, segment.size));
    } finally {
      await handle.close();
    }
  }

  private async countUnackedBytes(): Promise<number> {
    let bytes = 0;
    for (const segment of this.segments) {
      if (segment.lastSeq <= this.ackedSeq) continue;
      if (segment.firstSeq > this.ackedSeq) bytes += segment.size;
      else bytes += segment.size - await this.withReader(segment, (reader) => this.locate(reader, segment, this.ackedSeq + 1));
    }
    return bytes;
  }

  private async acknowledge(uptoSeq: number): Promise<void> {
    if (uptoSeq <= this.ackedSeq) return;
    if (uptoSeq >= this.nextSeq) {
      throw new JournalError('VIGIL_JOURNAL_BAD_ARGUMENT', `uptoSeq: ${uptoSeq} is beyond the last record appended (${this.nextSeq - 1})`);
    }
    if (this.onlyMemoryOnly(this.ackedSeq + 1, uptoSeq)) {
      // A resync acknowledges its memory-only records every few milliseconds; rewriting the state file (and
      // finding the first unacknowledged record on disk) each time kept the agent's main thread busy and held the
      // appends up behind it in the queue. Those records are lost with the process anyway (a restart resyncs), so
      // the state file is brought up to date later; their stubs on disk have a known size.
      const stubs = uptoSeq - this.ackedSeq;
      this.ackedSeq = uptoSeq;
      this.stateBehind = true;
      for (const batch of this.cache.dropThrough(uptoSeq)) this.giveBack(batch);
      let extra = 0;
      while (this.memoryOnlyExtra.length > 0 && this.memoryOnlyExtra[0]!.lastSeq <= uptoSeq) extra += this.memoryOnlyExtra.shift()!.bytes;
      this.unackedBytes -= stubs * RECORD_OVERHEAD_BYTES + extra;
      return;
    }
    const durable = this.options.fsync !== 'never';
    // Records the state file says exist must be on disk first, or a crash could leave it promising lost records.
    await this.sync();
    await this.writeState(uptoSeq);
    this.ackedSeq = uptoSeq;
    for (const batch of this.cache.dropThrough(uptoSeq)) this.giveBack(batch);
    let removed = false;
    while (this.segments.length > 1 && this.segments[0] !== this.active?.segment && this.segments[0]!.lastSeq <= uptoSeq) {
      await unlink(this.segments.shift()!.path);
      removed = true;
    }
    if (removed && durable) await syncDirectory(this.dir);
    while (this.memoryOnlyExtra.length > 0 && this.memoryOnlyExtra[0]!.lastSeq <= uptoSeq) this.memoryOnlyExtra.shift();
    this.unackedBytes = await this.countUnackedBytes() + this.memoryOnlyExtra.reduce((sum, m) => sum + m.bytes, 0);
  }

  /** Whether every record from `fromSeq` to `toSeq` is a memory-only one (a stub on disk). */
  private onlyMemoryOnly(fromSeq: number, toSeq: number): boolean {
    let next = fromSeq;
    for (const batch of this.memoryOnlyExtra) {
      if (batch.lastSeq < next) continue;
      if (batch.firstSeq > next) return false;
      next = batch.lastSeq + 1;
      if (next > toSeq) return true;
    }
    return false;
  }

  private async writeState(ackedSeq: number): Promise<void> {
    await replaceFileAtomically(join(this.dir, STATE_FILE), JSON.stringify({ version: 1, ackedSeq, nextSeq: this.nextSeq }) + '\n', this.options.fsync !== 'never');
    this.stateBehind = false;
  }

  private async writeStateIfBehind(): Promise<void> {
    if (this.stateBehind) await this.writeState(this.ackedSeq);
  }
}

async function writeFully(handle: FileHandle, bytes: Buffer, position: number): Promise<void> {
  let written = 0;
  while (written < bytes.length) {
    const result = await handle.write(bytes, written, writePiece(bytes.length - written), position + written);
    written += result.bytesWritten;
  }
}

/** Segments must follow each other without a hole, except where everything in the hole is acknowledged. */
function checkContinuity(segments: readonly Segment[], state: JournalState, statePath: string): void {
  const first = segments[0];
  if (first && first.firstSeq > state.ackedSeq + 1) {
    throw new JournalCorruptError(first.path, 0, `starts at seq ${first.firstSeq} but only seqs up to ${state.ackedSeq} are acknowledged: records ${state.ackedSeq + 1}..${first.firstSeq - 1} are missing`);
  }
  for (let i = 1; i < segments.length; i++) {
    const prev = segments[i - 1]!;
    const next = segments[i]!;
    if (next.firstSeq <= prev.lastSeq) {
      throw new JournalCorruptError(next.path, 0, `starts at seq ${next.firstSeq}, inside ${prev.path} (which ends at ${prev.lastSeq})`);
    }
    if (next.firstSeq > prev.lastSeq + 1 && next.firstSeq - 1 > state.ackedSeq) {
      throw new JournalCorruptError(next.path, 0, `starts at seq ${next.firstSeq} but ${prev.path} ends at ${prev.lastSeq}: records ${prev.lastSeq + 1}..${next.firstSeq - 1} are missing`);
    }
  }
  const highest = Math.max(segments[segments.length - 1]?.lastSeq ?? 0, state.ackedSeq);
  if (state.nextSeq - 1 > highest) {
    const last = segments[segments.length - 1];
    throw new JournalCorruptError(last?.path ?? statePath, last?.size ?? 0, `${statePath} records seqs up to ${state.nextSeq - 1} as appended, but the segments end at ${highest}`);
  }
}
