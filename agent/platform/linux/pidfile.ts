/**
 * The pidfile of a process Vigil supervises. It names the process by pid AND start time AND boot, so a pid
 * the kernel has since given to another process (or a pidfile left over from before a reboot) is never
 * mistaken for our service.
 */
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { isLive, readProcStat, type ProcStat } from './proc.js';

export interface PidRecord {
  readonly pid: number;
  readonly startTime: string;
  readonly bootId: string;
}

export function currentBootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return 'unknown';
  }
}

export function readPidfile(path: string): PidRecord | undefined {
  try {
    const value: unknown = JSON.parse(readFileSync(path, 'utf8'));
    if (typeof value !== 'object' || value === null) return undefined;
    const { pid, startTime, bootId } = value as Record<string, unknown>;
    if (typeof pid !== 'number' || !Number.isInteger(pid) || pid <= 1) return undefined;
    if (typeof startTime !== 'string' || typeof bootId !== 'string') return undefined;
    return { pid, startTime, bootId };
  } catch {
    return undefined;
  }
}

/** Written to a temporary name and renamed, so a reader never sees half a pidfile. */
export function writePidfile(path: string, record: PidRecord): void {
  mkdirSync(dirname(path), { recursive: true });
  const temporary = `${path}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(record)}\n`);
  renameSync(temporary, path);
}

export function removePidfile(path: string): void {
  rmSync(path, { force: true });
}

export type PidfileState =
  | { readonly kind: 'absent' }
  | { readonly kind: 'running'; readonly record: PidRecord; readonly stat: ProcStat }
  /**
   * The recorded process is gone, or the pid now belongs to another process, or to another boot.
   * `groupIsOurs`: the recorded process died in this boot, so its process group (same number) can only
   * hold what it left behind.
   */
  | { readonly kind: 'stale'; readonly record: PidRecord; readonly reason: string; readonly groupIsOurs: boolean };

export function inspectPidfile(path: string): PidfileState {
  const record = readPidfile(path);
  if (record === undefined) return { kind: 'absent' };
  const stale = (reason: string, groupIsOurs: boolean): PidfileState => ({ kind: 'stale', record, reason, groupIsOurs });
  if (record.bootId !== currentBootId()) return stale(`pid ${record.pid} was recorded before the last reboot`, false);
  const stat = readProcStat(record.pid);
  if (stat !== undefined && stat.startTime !== record.startTime) return stale(`pid ${record.pid} now belongs to another process`, false);
  if (!isLive(stat)) return stale(`pid ${record.pid} has exited`, true);
  return { kind: 'running', record, stat };
}
