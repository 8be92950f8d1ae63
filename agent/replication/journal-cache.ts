/**
 * The journal's tail cache: the encoded batches the last appends wrote, kept so that a read of records just
 * appended (the mirror's transport reads them at once) is served from memory, as subarrays of those buffers, with
 * no disk read and no copy; and memory-only batches, held as their writer gave them (HeldBatch).
 *
 * Invariant, which the journal keeps: the cached batches hold consecutive seqs and the newest one ends at the
 * journal's last record, so a read from any cached seq can be answered from here to the end. Batches leave oldest
 * first (the byte bound, an ack); anything that changes the files otherwise empties the cache.
 */

import { partsOf } from '../util/buffer-parts.js';
import type { JournalPayload } from './journal.js';

/** A batch as written to disk: records back to back in `buffer`, record firstSeq + i starting at offsets[i]. */
export interface WrittenBatch { readonly firstSeq: number; readonly buffer: Buffer; readonly offsets: readonly number[] }

/**
 * A memory-only batch held as its writer gave it (record firstSeq + i is payloads[i]), not copied: a resync's
 * read chunks go from the read thread to the socket untouched. `memoryBytes` is the memory the payloads hold on
 * to; `release` hands them back to their writer once their records are acknowledged.
 */
export interface HeldBatch {
  readonly firstSeq: number;
  readonly payloads: readonly JournalPayload[];
  readonly memoryBytes: number;
  readonly release?: () => void;
}

export type CachedBatch = WrittenBatch | HeldBatch;

/** A batch before the journal has given it its seqs. */
export type UnplacedBatch = Omit<WrittenBatch, 'firstSeq'> | Omit<HeldBatch, 'firstSeq'>;

function recordCount(batch: CachedBatch): number {
  return 'offsets' in batch ? batch.offsets.length : batch.payloads.length;
}

/** The memory a set of payloads holds on to: each distinct underlying buffer whole (a view pins all of it). */
export function heldMemory(payloads: readonly JournalPayload[]): number {
  const buffers = new Set<ArrayBufferLike>();
  for (const payload of payloads) for (const part of partsOf(payload)) buffers.add(part.buffer);
  let bytes = 0;
  for (const buffer of buffers) bytes += buffer.byteLength;
  return bytes;
}

/** Where a record's payload length and payload sit in its header (see the format in journal.ts). */
const LENGTH_OFFSET = 16;
const HEADER_BYTES = 20;
/** What a cached batch costs besides its buffer: the Buffer and ArrayBuffer objects, this entry, its offsets. */
const BATCH_OVERHEAD_BYTES = 256;
const OFFSET_OVERHEAD_BYTES = 8;

export function cachedCost(batch: Pick<WrittenBatch, 'buffer' | 'offsets'> | Pick<HeldBatch, 'payloads' | 'memoryBytes'>): number {
  if ('payloads' in batch) return batch.memoryBytes + BATCH_OVERHEAD_BYTES + batch.payloads.length * OFFSET_OVERHEAD_BYTES;
  // The whole memory the buffer holds on to: a batch in a buffer from the journal's pool may use only part of it.
  return batch.buffer.buffer.byteLength + BATCH_OVERHEAD_BYTES + batch.offsets.length * OFFSET_OVERHEAD_BYTES;
}

export class TailCache {
  /** Oldest first; entries before `head` are dropped and compacted away now and then, so dropping is O(1). */
  private batches: CachedBatch[] = [];
  private head = 0;
  private heldBytes = 0;

  /** limitBytes: most memory held at once (see cachedCost); a batch that alone costs more is not kept. */
  constructor(readonly limitBytes: number) {}

  /** Bytes held, by cachedCost. */
  get bytes(): number {
    return this.heldBytes;
  }

  /** The oldest seq held, or undefined when empty. */
  get firstSeq(): number | undefined {
    return this.batches[this.head]?.firstSeq;
  }

  /** Keep a batch just written; it must follow the newest one held (otherwise the cache restarts from it). */
  add(batch: CachedBatch): void {
    const newest = this.batches[this.batches.length - 1];
    if (newest !== undefined && newest.firstSeq + recordCount(newest) !== batch.firstSeq) this.clear();
    this.batches.push(batch);
    this.heldBytes += cachedCost(batch);
    while (this.heldBytes > this.limitBytes && this.head < this.batches.length) this.dropOldest();
  }

  /**
   * Swap the newest batch for one with the same seqs (a memory-only append's records for its on-disk stubs).
   * False when it is not held (the stubs were dropped at once, or `batch` alone exceeds the limit).
   */
  replaceNewest(batch: CachedBatch): boolean {
    const newest = this.batches[this.batches.length - 1];
    if (newest === undefined || this.batches.length === this.head || newest.firstSeq !== batch.firstSeq || recordCount(newest) !== recordCount(batch)) {
      // Not held: the records are lost to readers, who are told by the stubs.
      return false;
    }
    this.heldBytes += cachedCost(batch) - cachedCost(newest);
    this.batches[this.batches.length - 1] = batch;
    while (this.heldBytes > this.limitBytes && this.head < this.batches.length) this.dropOldest();
    return this.batches.length > this.head && this.batches[this.batches.length - 1] === batch;
  }

  /**
   * Forget batches whose every record is at or below seq (acknowledged), and return them: their memory may be
   * used again, since whoever read those records has had them acknowledged.
   */
  dropThrough(seq: number): CachedBatch[] {
    const dropped: CachedBatch[] = [];
    for (let oldest = this.batches[this.head]; oldest !== undefined && oldest.firstSeq + recordCount(oldest) - 1 <= seq; oldest = this.batches[this.head]) {
      dropped.push(oldest);
      this.dropOldest();
    }
    return dropped;
  }

  clear(): void {
    this.batches = [];
    this.head = 0;
    this.heldBytes = 0;
  }

  /**
   * Hand `take` the records from fromSeq on, in order, until it returns false or the newest record was taken.
   * Returns false, having taken nothing, when fromSeq is not held. Each payload is a subarray of a cached buffer,
   * or a held batch's payload as its writer gave it: callers must not write to it.
   */
  read(fromSeq: number, take: (seq: number, payload: JournalPayload) => boolean): boolean {
    let index = this.indexOf(fromSeq);
    if (index === undefined) return false;
    let seq = fromSeq;
    for (; index < this.batches.length; index++) {
      const batch = this.batches[index]!;
      if ('payloads' in batch) {
        for (let i = seq - batch.firstSeq; i < batch.payloads.length; i++, seq++) if (!take(seq, batch.payloads[i]!)) return true;
        continue;
      }
      const { firstSeq, buffer, offsets } = batch;
      for (let i = seq - firstSeq; i < offsets.length; i++, seq++) {
        const start = offsets[i]! + HEADER_BYTES;
        const payload = buffer.subarray(start, start + buffer.readUInt32BE(offsets[i]! + LENGTH_OFFSET));
        if (!take(seq, payload)) return true;
      }
    }
    return true;
  }

  /** The index of the batch holding seq (binary search: there may be thousands of small batches). */
  private indexOf(seq: number): number | undefined {
    let lo = this.head;
    let hi = this.batches.length - 1;
    if (hi < lo || seq < this.batches[lo]!.firstSeq) return undefined;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.batches[mid]!.firstSeq <= seq) lo = mid;
      else hi = mid - 1;
    }
    const batch = this.batches[lo]!;
    return seq < batch.firstSeq + recordCount(batch) ? lo : undefined;
  }

  private dropOldest(): void {
    this.heldBytes -= cachedCost(this.batches[this.head]!);
    this.head++;
    if (this.head === this.batches.length) this.clear();
    else if (this.head >= 1024 && this.head * 2 >= this.batches.length) {
      this.batches = this.batches.slice(this.head);
      this.head = 0;
    }
  }
}
