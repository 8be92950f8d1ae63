/**
 * One process's /proc/PID/stat, read once. The name (field 2) may hold spaces and parentheses, so the other fields
 * are counted from its last closing parenthesis.
 */
import { readFileSync } from 'node:fs';

/** Field `n` as proc(5) numbers them (1 the pid, 3 the state, 14 utime, 22 starttime ...). */
export type ProcStatField = (n: number) => string;

/** Undefined once the process is gone (or /proc cannot be read). */
export function procStat(pid: number): ProcStatField | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields[0] is field 3
  return (n) => fields[n - 3] ?? '';
}
