/**
 * CPU seconds (user plus system) a process has used, from /proc: its own, every thread counted, and that of the
 * children it has waited for. Wall times on a shared machine move by 2x from run to run; the CPU a copy costs moves
 * much less, and it is what an agent takes from the server's own service.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface CpuTime {
  readonly own: number;
  readonly children: number;
}

const TICKS_PER_SECOND = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** Undefined once the process is gone. */
export function cpuTime(pid: number): CpuTime | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The name may hold spaces and parentheses: fields are counted from its closing one. proc(5) numbers them from
  // 1 with the state third: utime is 14, stime 15, cutime 16, cstime 17.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const field = (n: number): number => Number(fields[n - 3]);
  return { own: (field(14) + field(15)) / TICKS_PER_SECOND, children: (field(16) + field(17)) / TICKS_PER_SECOND };
}

/** Whether the process has children it has not waited for yet (a forked rsync receiver still running, say). */
export function hasChildren(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim() !== '';
  } catch {
    return false;
  }
}
