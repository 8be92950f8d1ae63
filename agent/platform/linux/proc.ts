/** What /proc tells us of a process: enough to recognise it again and to find its process group. */
import { readdirSync, readFileSync } from 'node:fs';

export interface ProcStat {
  readonly pid: number;
  /** R, S, D, Z (zombie: dead, waiting to be reaped) ... */
  readonly state: string;
  readonly pgrp: number;
  /** Clock ticks after boot: with the pid, it names one process for ever (pids are reused, this pair is not). */
  readonly startTime: string;
}

/** The stat of a process, or undefined when there is no such process. */
export function readProcStat(pid: number, procRoot = '/proc'): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`${procRoot}/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) may hold spaces and parentheses: the fields we want follow the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 of proc(5): state; pgrp is field 5; starttime is field 22.
  const state = fields[0];
  const pgrp = Number(fields[2]);
  const startTime = fields[19];
  if (state === undefined || startTime === undefined || !Number.isInteger(pgrp)) return undefined;
  return { pid, state, pgrp, startTime };
}

/** True when the process exists and is not a zombie. */
export function isLive(stat: ProcStat | undefined): stat is ProcStat {
  return stat !== undefined && stat.state !== 'Z' && stat.state !== 'X';
}

/** The live (non-zombie) processes of a process group. */
export function processGroupMembers(pgid: number, procRoot = '/proc'): ProcStat[] {
  const members: ProcStat[] = [];
  for (const name of readdirSync(procRoot)) {
    if (!/^\d+$/.test(name)) continue;
    const stat = readProcStat(Number(name), procRoot);
    if (isLive(stat) && stat.pgrp === pgid) members.push(stat);
  }
  return members;
}
