/**
 * CPU seconds (user plus system) a process has used, from /proc: its own, every thread counted, and that of the
 * children it has waited for. Wall times on a shared machine move by 2x from run to run; the CPU a copy costs moves
 * much less, and it is what an agent takes from the server's own service.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { procStat } from '../../test/support/proc-stat.js';

export interface CpuTime {
  readonly own: number;
  readonly children: number;
}

const TICKS_PER_SECOND = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** Undefined once the process is gone. */
export function cpuTime(pid: number): CpuTime | undefined {
  const field = procStat(pid);
  if (field === undefined) return undefined;
  // utime, stime, cutime, cstime.
  const ticks = (n: number): number => Number(field(n));
  return { own: (ticks(14) + ticks(15)) / TICKS_PER_SECOND, children: (ticks(16) + ticks(17)) / TICKS_PER_SECOND };
}

/** Whether the process has children it has not waited for yet (a forked rsync receiver still running, say). */
export function hasChildren(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim() !== '';
  } catch {
    return false;
  }
}

/**
 * The CPU of the children `pid` has waited for, once it has no child left (up to `waitMs`): rsync's daemon and
 * sshd fork a receiver per connection, counted only after they reap it, a moment after the client exits.
 */
export function reapedChildrenCpu(pid: number, waitMs = 5000): number {
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (const until = Date.now() + waitMs; hasChildren(pid) && Date.now() < until;) Atomics.wait(pause, 0, 0, 20);
  return cpuTime(pid)?.children ?? NaN;
}
