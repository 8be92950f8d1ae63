/**
 * The most bytes one write() system call hands the kernel. A buffered write of 1 MiB cost from 0.2 to 1.1 s per
 * GiB in the page cache here (the kernel allocates a large folio for it, from memory the hypervisor may have
 * taken back), against a steady 0.2 s for pieces of 64 to 512 KiB; rsync's writes are smaller than this too.
 */
export const WRITE_PIECE_BYTES = 256 * 1024;

/** How many bytes the next write of `remaining` bytes should take. */
export function writePiece(remaining: number): number {
  return Math.min(remaining, WRITE_PIECE_BYTES);
}
