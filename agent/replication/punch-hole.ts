/**
 * Holes punched into a file the target already has, where the source's file now reads as zeros (a virtual machine
 * that trimmed its disk: the hypervisor punched holes in the image). Written as zeros instead, they would stay
 * allocated, and a long-mirrored image would end fully allocated on the target. Node has no fallocate(2), so
 * util-linux's `fallocate --punch-hole` does it, on the descriptor the applier holds (through /proc/PID/fd: the
 * path itself could be swapped for a symlink, which the applier's O_NOFOLLOW open refused to follow).
 */
import { execFile } from 'node:child_process';

/** Linux, util-linux: a platform without either answers false at the first call, and is not asked again. */
export class HolePuncher {
  private unavailable = false;

  /**
   * Deallocates `length` bytes from `offset` of the open file `fd`, which then read as zeros. False when it could
   * not (no fallocate, a file system that does not support it, a file we may not reopen): write zeros instead.
   */
  async punch(fd: number, offset: number, length: number): Promise<boolean> {
    if (this.unavailable) return false;
    const args = ['--punch-hole', '--offset', String(offset), '--length', String(length), `/proc/${process.pid}/fd/${fd}`];
    return new Promise((resolve) => {
      execFile('fallocate', args, { timeout: 30_000 }, (error, _stdout, stderr) => {
        if (error === null) return resolve(true);
        // Missing, or not supported where the copy is: the same for every later file of this applier.
        if ((error as NodeJS.ErrnoException).code === 'ENOENT' || /not supported/i.test(stderr)) this.unavailable = true;
        resolve(false);
      });
    });
  }
}
