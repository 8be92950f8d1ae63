/**
 * Cuts a byte stream into frames. A frame's header is checked (type, flags, the type's size limit) as soon as its
 * six bytes are in, so an oversized length is refused before anything is kept for its body; chunks are held as
 * they came and copied once, only when a frame spans several.
 */
import { decodeFrame, decodeFrameHeader, FRAME_HEADER_BYTES, ReplicationError, type ReplicationMessage } from '../../common/protocol/replication.js';

export interface DecodedFrame {
  readonly message: ReplicationMessage;
  /** Stream offset of the frame's first byte, for error messages. */
  readonly at: number;
  /** Header and body. */
  readonly size: number;
}

export class FrameReader {
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
      out = Buffer.allocUnsafe(n);
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
