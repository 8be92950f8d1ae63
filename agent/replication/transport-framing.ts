/**
 * Cuts a byte stream into frames. A frame's header is checked (type, flags, the type's size limit) as soon as its
 * six bytes are in, so an oversized length is refused before anything is kept for its body; chunks are held as
 * they came and copied once, only when a frame spans several.
 */
import { BufferPool } from '../util/buffer-pool.js';
import { decodeFrame, decodeFrameHeader, FRAME_HEADER_BYTES, ReplicationError, type ReplicationMessage } from '../../common/protocol/replication.js';

export interface DecodedFrame {
  readonly message: ReplicationMessage;
  /** Stream offset of the frame's first byte, for error messages. */
  readonly at: number;
  /** Header and body. */
  readonly size: number;
}

/**
 * Memory for frames that span several chunks of the stream (a record of a large file's 1 MiB arrives in dozens
 * of TLS reads, one of a 64 KiB block in a few), used again once the caller gives it back: with a fresh buffer per
 * record, V8 ran a full collection for every 64 MiB received in a full mirror, and several a second while files
 * were rewritten in place (see BufferPool). Frames of up to a block and of up to a write record are pooled in two
 * sizes; smaller and larger ones get memory of their own.
 */
export class FrameMemory {
  /** A block's write record (64 KiB of data) and its header. */
  static readonly SMALL_BUFFER_BYTES = 64 * 1024 + 1024;
  /** A write record of 1 MiB and its header. */
  static readonly BUFFER_BYTES = 1024 * 1024 + 64 * 1024;
  static readonly MIN_POOLED_BYTES = 16 * 1024;
  private readonly small: BufferPool;
  private readonly large: BufferPool;

  constructor(maxFree = 16) {
    this.small = new BufferPool(FrameMemory.SMALL_BUFFER_BYTES, { minLentBytes: FrameMemory.MIN_POOLED_BYTES, maxFree });
    this.large = new BufferPool(FrameMemory.BUFFER_BYTES, { maxFree });
  }

  take(bytes: number): Buffer {
    return (bytes <= FrameMemory.SMALL_BUFFER_BYTES ? this.small : this.large).lend(bytes);
  }

  /** A frame (or any view of it) that nobody reads any more; ignored unless its memory is the pool's. */
  give(view: Uint8Array): void {
    this.small.give(view);
    this.large.give(view);
  }
}

export class FrameReader {
  /** `memory`: where frames spanning chunks are put together; their owner gives them back (default: none). */
  constructor(private readonly memory?: FrameMemory) {}

  private chunks: Buffer[] = [];
  private buffered = 0;
  /** Stream offset of the first buffered byte. */
  private consumed = 0;
  /** Size of the frame being collected, once its header is in. */
  private frameSize: number | undefined;

  /** Feed a chunk; returns the frames it completes. Throws ReplicationError, its offset counted from the stream's start. */
  push(chunk: Buffer): DecodedFrame[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const frames: DecodedFrame[] = [];
    for (;;) {
      if (this.frameSize === undefined) {
        if (this.buffered < FRAME_HEADER_BYTES) break;
        const header = this.peek(FRAME_HEADER_BYTES);
        try {
          this.frameSize = FRAME_HEADER_BYTES + decodeFrameHeader(header).length;
        } catch (e) {
          throw this.inStream(e);
        }
      }
      if (this.buffered < this.frameSize) break;
      const at = this.consumed;
      const size = this.frameSize;
      const frame = this.take(size);
      this.frameSize = undefined;
      try {
        frames.push({ message: decodeFrame(frame), at, size });
      } catch (e) {
        throw this.inStream(e, at);
      }
    }
    return frames;
  }

  /** Call when the stream ends: bytes left over are a frame cut short. */
  finish(): void {
    if (this.buffered === 0) return;
    const expected = this.frameSize === undefined ? `a header of ${FRAME_HEADER_BYTES} bytes` : `a frame of ${this.frameSize} bytes`;
    throw new ReplicationError('VIGIL_REPL_TRUNCATED', `stream byte ${this.consumed}: the connection closed ${this.buffered} bytes into ${expected}`, { offset: this.consumed + this.buffered });
  }

  /** Re-base a decoder's frame-relative offset on the stream. */
  private inStream(e: unknown, frameAt = this.consumed): unknown {
    if (!(e instanceof ReplicationError)) return e;
    const offset = frameAt + (e.offset ?? 0);
    return new ReplicationError(e.code, `stream byte ${offset} (frame at ${frameAt}, ${e.message})`, { offset });
  }

  /** The first `n` buffered bytes, copied only if they span chunks. */
  private peek(n: number): Buffer {
    const first = this.chunks[0]!;
    if (first.length >= n) return first.subarray(0, n);
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    for (const chunk of this.chunks) {
      if (filled === n) break;
      filled += chunk.copy(out, filled, 0, Math.min(chunk.length, n - filled));
    }
    return out;
  }

  private take(n: number): Buffer {
    let out: Buffer;
    const first = this.chunks[0]!;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      out = this.memory?.take(n) ?? Buffer.allocUnsafe(n);
      let filled = 0;
      while (filled < n) {
        const chunk = this.chunks[0]!;
        const part = Math.min(chunk.length, n - filled);
        chunk.copy(out, filled, 0, part);
        filled += part;
        if (part === chunk.length) this.chunks.shift();
        else this.chunks[0] = chunk.subarray(part);
      }
    }
    this.buffered -= n;
    this.consumed += n;
    return out;
  }
}
