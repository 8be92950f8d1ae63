/**
 * Buffers of one size, lent out and used again once every holder has given them back. Memory allocated outside
 * V8's heap counts towards its limit for a full collection, so a fresh buffer for every chunk, record or frame
 * made V8 collect every few dozen MiB (a full mirror) or several times a second (files rewritten in place).
 *
 * A buffer may have several holders (its reader and each record made of a view of it): it is free again once each
 * has given it back. Only the pool's own buffers are taken back; anything else given is ignored, so a caller may
 * give back whatever lend() returned.
 */
export interface BufferPoolOptions {
  /** lend() hands out pool memory from this many bytes on; below, fresh memory costs little. Default 0. */
  readonly minLentBytes?: number;
  /** Free buffers kept at most; more given back are left to the collector. Default 8. */
  readonly maxFree?: number;
  /** Memory for what the pool does not lend. Default Buffer.allocUnsafe (small ones from Node's shared slab). */
  readonly fresh?: (bytes: number) => Buffer;
  /**
   * The pool's own buffers are SharedArrayBuffers, which a worker thread fills in place: a buffer handed over
   * (transferred) instead comes back as a new ArrayBuffer each time, which V8 counts as newly allocated memory.
   * Default false.
   */
  readonly shared?: boolean;
  /**
   * Free buffers are dropped once the pool has lent nothing for this long: a mirror that went idle gives its
   * memory back (up to tens of MiB per mirror and port), one that keeps working keeps it. 0 keeps them for good.
   * Default IDLE_RELEASE_MS.
   */
  readonly idleMs?: number;
}

/** How long a pool may lend nothing before its free buffers are dropped. */
export const IDLE_RELEASE_MS = 30_000;

export class BufferPool {
  private readonly free: Buffer[] = [];
  /** The pool's buffers, by their memory, and how many holders each has now. */
  private readonly holders = new WeakMap<ArrayBufferLike, number>();
  private readonly minLentBytes: number;
  private readonly maxFree: number;
  private readonly fresh: (bytes: number) => Buffer;
  readonly shared: boolean;
  private readonly idleMs: number;
  /** Buffers taken so far: whether any was taken since the idle check was set. */
  private taken = 0;
  /** Set while free buffers are kept; unreferenced, so it never keeps the process up. */
  private idleCheck: NodeJS.Timeout | undefined;

  constructor(readonly bufferBytes: number, options: BufferPoolOptions = {}) {
    this.shared = options.shared ?? false;
    this.minLentBytes = options.minLentBytes ?? 0;
    this.maxFree = options.maxFree ?? 8;
    this.fresh = options.fresh ?? ((bytes) => Buffer.allocUnsafe(bytes));
    this.idleMs = options.idleMs ?? IDLE_RELEASE_MS;
  }

  /** Buffers kept for reuse now. */
  get freeBuffers(): number {
    return this.free.length;
  }

  /** A whole buffer of the pool's size, owning its memory whole (it may be handed over to a worker thread, or
   * shared with one). */
  take(): Buffer {
    const buffer = this.free.pop() ?? (this.shared ? Buffer.from(new SharedArrayBuffer(this.bufferBytes)) : Buffer.allocUnsafeSlow(this.bufferBytes));
    this.holders.set(buffer.buffer, 1);
    this.taken++;
    return buffer;
  }

  /** `bytes` of memory: a view of one of the pool's buffers when minLentBytes <= bytes <= bufferBytes, else fresh. */
  lend(bytes: number): Buffer {
    return bytes >= this.minLentBytes && bytes <= this.bufferBytes ? this.take().subarray(0, bytes) : this.fresh(bytes);
  }

  /** One more holder of `bytes` (or of the buffer it is a view of); ignored unless it is one of the pool's in use. */
  retain(bytes: Uint8Array): void {
    const count = this.holders.get(bytes.buffer);
    if (count !== undefined && count > 0) this.holders.set(bytes.buffer, count + 1);
  }

  /** One holder of `bytes` (or of the buffer it is a view of) will not read it again; ignored unless it is one of
   * the pool's in use. */
  give(bytes: Uint8Array): void {
    const count = this.holders.get(bytes.buffer);
    if (count === undefined || count === 0) return; // not ours, or given back already
    this.holders.set(bytes.buffer, count - 1);
    if (count === 1 && this.free.length < this.maxFree) {
      this.free.push(Buffer.from(bytes.buffer, 0, this.bufferBytes));
      this.watchIdle();
    }
  }

  /** Drops the free buffers after idleMs in which nothing was taken; looks again later while the pool is used. */
  private watchIdle(): void {
    if (this.idleCheck !== undefined || this.idleMs <= 0) return;
    const takenBefore = this.taken;
    this.idleCheck = setTimeout(() => {
      this.idleCheck = undefined;
      if (this.taken === takenBefore) this.free.length = 0;
      else if (this.free.length > 0) this.watchIdle();
    }, this.idleMs);
    this.idleCheck.unref();
  }
}
