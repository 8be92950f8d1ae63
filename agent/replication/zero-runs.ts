/**
 * Runs of zero bytes in what a file's write records would carry. A sparse file (a virtual machine's disk, a
 * database preallocated by truncate) reads as zeros in its holes; sent as bytes, a 100 GiB image holding 5 GiB
 * would cross the wire whole and land fully allocated on the target, which may not have the room. A run of zeros
 * travels as one small `zeros` record instead, and the target leaves a hole where it lies past its file's end.
 *
 * The bytes are looked at as read, never taken from a block hash (a file changed since it was hashed, or a
 * collision, must not turn data into zeros). Most units of real data differ from zero in their first byte, so the
 * scan costs a byte's look per unit; only units that start with a zero are compared whole.
 */
import type { BufferPool } from '../util/buffer-pool.js';
import type { ChangeRecord } from './records.js';

/** Zeros are looked for in units of this many bytes, from the start of the data (a file system's page). */
export const ZERO_UNIT = 4096;
/** A shorter run of zeros travels inside its write: a record of its own would cost more than it saves. */
export const MIN_ZERO_RUN = 64 * 1024;

const ZEROS = Buffer.alloc(ZERO_UNIT);

/** A piece of the data: `zero` when all of its bytes are. Pieces cover the data in order, without a gap. */
export interface DataPiece { readonly zero: boolean; readonly start: number; readonly end: number }

/**
 * `data` cut into pieces of data and runs of at least MIN_ZERO_RUN zero bytes (whole units; a run at the data's end
 * may end with a shorter unit). Data with no such run is one piece.
 */
export function zeroRuns(data: Uint8Array): DataPiece[] {
  const pieces: DataPiece[] = [];
  let dataStart = 0;
  let runStart = -1;
  const closeRun = (end: number): void => {
    if (runStart >= 0 && end - runStart >= MIN_ZERO_RUN) {
      if (runStart > dataStart) pieces.push({ zero: false, start: dataStart, end: runStart });
      pieces.push({ zero: true, start: runStart, end });
      dataStart = end;
    }
    runStart = -1;
  };
  for (let at = 0; at < data.length; at += ZERO_UNIT) {
    const end = Math.min(at + ZERO_UNIT, data.length);
    if (isZero(data, at, end)) {
      if (runStart < 0) runStart = at;
    } else {
      closeRun(at);
    }
  }
  closeRun(data.length);
  if (dataStart < data.length) pieces.push({ zero: false, start: dataStart, end: data.length });
  return pieces;
}

function isZero(data: Uint8Array, start: number, end: number): boolean {
  return data[start] === 0 && data[end - 1] === 0 && ZEROS.compare(data, start, end, 0, end - start) === 0;
}

/**
 * The records for a file's bytes as they are read, in order: writes, and (`holes`: the target takes them) zeros
 * records for the runs of zeros, a run that continues from one read to the next being one record. Each write
 * holds the pooled buffer it is a view of (`pool.retain`); the caller gives back its own hold once add() is done.
 */
export class DataRecords {
  private run: { offset: number; length: number } | undefined;

  constructor(private readonly path: string, private readonly pool: Pick<BufferPool, 'retain'>, private readonly holes: boolean) {}

  /** The records for `data`, read at `offset` of the file. */
  *add(offset: number, data: Buffer): Generator<ChangeRecord> {
    const pieces = this.holes ? zeroRuns(data) : [{ zero: false, start: 0, end: data.length }];
    for (const piece of pieces) {
      const at = offset + piece.start;
      const length = piece.end - piece.start;
      if (piece.zero && this.run !== undefined && this.run.offset + this.run.length === at) {
        this.run.length += length;
        continue;
      }
      yield* this.end();
      if (piece.zero) {
        this.run = { offset: at, length };
        continue;
      }
      const bytes = data.subarray(piece.start, piece.end);
      this.pool.retain(bytes);
      yield { op: 'write', path: this.path, offset: at, data: bytes };
    }
  }

  /** The run of zeros still open, after the last add. */
  *end(): Generator<ChangeRecord> {
    const run = this.run;
    this.run = undefined;
    if (run !== undefined) yield { op: 'zeros', path: this.path, offset: run.offset, length: run.length };
  }
}
