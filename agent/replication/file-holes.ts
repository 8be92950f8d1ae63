/**
 * Reading a sparse file without reading its holes. A hole reads as zeros, which the kernel copies out like any
 * other bytes: a thin virtual machine image of 100 GiB holding 10 cost 90 GiB of copies of zeros to read. Where the
 * platform says where a file's data lies (Linux's SEEK_DATA and SEEK_HOLE, through the agent's native addon), the
 * holes are filled with zeros here instead; what comes out is the same bytes.
 */
import { readSync } from 'node:fs';
import { loadLinuxHoles } from '../platform/linux/native.js';

/** Where a file's data lies: the offsets as lseek gives them, -1 for "no data at or after the offset". */
export interface FileHoles {
  /** The first offset at or after `offset` that holds data, or -1 when none does (a hole to the end, or past it). */
  seekData(fd: number, offset: number): number;
  /** The first offset at or after `offset` in a hole; the file's end counts as one. */
  seekHole(fd: number, offset: number): number;
}

let loaded: { readonly holes: FileHoles | undefined } | undefined;

/** This machine's, or undefined (another platform, no addon): then every byte is read. */
export function fileHoles(): FileHoles | undefined {
  loaded ??= { holes: process.platform === 'linux' ? loadLinuxHoles() : undefined };
  return loaded.holes;
}

/**
 * As a loop of readSync from `position` into `into[at, at + length)` until it is full or the file ends, which it
 * returns the bytes of; the file's holes (within `size`, its length when looked at) are zeroed, not read, where
 * `holes` (fileHoles()) says where they are.
 */
export function readSkippingHoles(fd: number, into: Buffer, at: number, length: number, position: number, size: number, holes: FileHoles | undefined): number {
  let filled = 0;
  while (filled < length) {
    const from = position + filled;
    let dataEnd = position + length;
    if (holes !== undefined) {
      const data = holes.seekData(fd, from);
      if (data === from) {
        dataEnd = Math.min(dataEnd, holes.seekHole(fd, from));
      } else {
        // A hole from here: to the next data, or to the end as it was looked at (past it, the read below finds
        // the end, or what was written since).
        const holeEnd = Math.min(dataEnd, data < 0 ? Math.max(size, from) : data);
        if (holeEnd > from) {
          into.fill(0, at + filled, at + holeEnd - position);
          filled = holeEnd - position;
          continue;
        }
      }
    }
    // At least a byte: a hole that moved under us must not read as the end.
    const n = readSync(fd, into, at + filled, Math.max(1, dataEnd - from), from);
    if (n === 0) break;
    filled += n;
  }
  return filled;
}
