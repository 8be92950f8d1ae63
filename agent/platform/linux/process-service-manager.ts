/**
 * Services Vigil supervises itself, where there is no systemd. The service runs detached in its own
 * process group and session, with its output appended to `<stateDir>/services/<name>.log`, and outlives
 * the agent: a restarted agent finds it again through `<stateDir>/services/<name>.pid`.
 * The command must stay in the foreground (like systemd's Type=simple): a program that daemonizes itself
 * with setsid leaves our process group and could not be stopped.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { systemClock, type Clock } from '../../util/clock.js';
import { tailOf } from '../process-runner.js';
import type { ServiceManager, ServiceOutcome, ServiceSpec } from '../types.js';
import { SANE_PATH } from '../environment.js';
import { pollUntil } from '../wait.js';
import { untilAccepting } from '../tcp-ready.js';
import { normalPriority } from '../priority.js';
import { currentBootId, inspectPidfile, removePidfile, writePidfile, type PidfileState } from './pidfile.js';
import { processGroupMembers, readProcStat } from './proc.js';

export interface ProcessServiceOptions {
  readonly clock?: Clock;
  /** How long start watches the new process for an immediate exit (bounded by the start timeout). */
  readonly startGraceMs?: number;
  readonly pollMs?: number;
  /** After SIGKILL, how long stop waits for the group to vanish before it reports a failure. */
  readonly killWaitMs?: number;
}

export function servicePaths(stateDir: string, name: string): { dir: string; pidFile: string; logFile: string } {
  const dir = join(stateDir, 'services');
  return { dir, pidFile: join(dir, `${name}.pid`), logFile: join(dir, `${name}.log`) };
}

/** The end of the service's log: why it exited at once. */
function logTail(path: string, bytes = 4096): string {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const size = fstatSync(fd).size;
    const length = Math.min(size, bytes);
    const buffer = Buffer.alloc(length);
    readSync(fd, buffer, 0, length, size - length);
    return tailOf(buffer.toString('utf8'));
  } catch {
    return '';
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // ESRCH: the group is already gone.
  }
}

/** Waits for the child to be running (resolves undefined) or to fail to start (resolves the error). */
function spawned(child: ChildProcess): Promise<NodeJS.ErrnoException | undefined> {
  return new Promise((resolve) => {
    child.once('spawn', () => resolve(undefined));
    child.once('error', (e: NodeJS.ErrnoException) => resolve(e));
  });
}

export function createProcessServiceManager(options: ProcessServiceOptions = {}): ServiceManager {
  const clock = options.clock ?? systemClock;
  const startGraceMs = options.startGraceMs ?? 500;
  const pollMs = options.pollMs ?? 50;
  const killWaitMs = options.killWaitMs ?? 2_000;

  /** The processes a dead service left in its group (workers that may still hold its port). */
  function leftovers(state: PidfileState): number[] {
    return state.kind === 'stale' && state.groupIsOurs ? processGroupMembers(state.record.pid).map((p) => p.pid) : [];
  }

  async function status(spec: ServiceSpec): Promise<ServiceOutcome> {
    const { pidFile } = servicePaths(spec.stateDir, spec.name);
    const state = inspectPidfile(pidFile);
    if (state.kind === 'running') return { rc: 0, message: `running as pid ${state.record.pid}` };
    if (state.kind === 'absent') return { rc: 7, message: 'not running' };
    const left = leftovers(state);
    // Keep the pidfile while something of the group runs: it is how stop finds those processes.
    if (left.length > 0) return { rc: 7, message: `not running: ${state.reason}; processes ${left.join(', ')} of its group remain (stop ends them)` };
    removePidfile(pidFile);
    return { rc: 7, message: `not running: ${state.reason} (stale pidfile removed)` };
  }

  async function start(spec: ServiceSpec, timeoutMs: number, signal?: AbortSignal): Promise<ServiceOutcome> {
    const [program, ...args] = spec.command ?? [];
    if (program === undefined) return { rc: 6, message: `service ${spec.name}: no command to run` };
    const current = await status(spec);
    if (current.rc === 0) return { rc: 0, message: `already ${current.message}` };
    const { dir, pidFile, logFile } = servicePaths(spec.stateDir, spec.name);
    if (existsSync(pidFile)) {
      // What a dead instance left behind goes first: we would lose track of it once the pidfile is replaced.
      const cleared = await stop(spec, timeoutMs, signal);
      if (cleared.rc !== 0) return { rc: 1, message: `the previous instance's processes survive: ${cleared.message}` };
    }

    mkdirSync(dir, { recursive: true });
    const log = openSync(logFile, 'a');
    let child: ChildProcess;
    try {
      child = spawn(program, args, {
        detached: true,
        stdio: ['ignore', log, log],
        env: { PATH: SANE_PATH, ...spec.env },
        ...(spec.cwd === undefined ? {} : { cwd: spec.cwd }),
      });
    } catch (e) {
      return { rc: 1, message: `cannot start ${program}: ${(e as Error).message}` };
    } finally {
      closeSync(log); // the child has its own copy
    }
    // The service must not keep the agent's event loop alive; Node still reaps it if it dies while we run.
    child.unref();
    normalPriority(child.pid);
    const failure = await spawned(child);
    if (failure !== undefined) {
      const notInstalled = failure.code === 'ENOENT' || failure.code === 'EACCES';
      return { rc: notInstalled ? 5 : 1, message: `cannot start ${program}: ${failure.message}` };
    }
    const pid = child.pid!;
    let exit: string | undefined;
    const onExit = (code: number | null, sig: NodeJS.Signals | null): void => {
      exit = sig === null ? `exit code ${code}` : `signal ${sig}`;
    };
    child.once('exit', onExit);
    const stat = readProcStat(pid);
    if (stat !== undefined) writePidfile(pidFile, { pid, startTime: stat.startTime, bootId: currentBootId() });

    // An immediate exit (a typo in the arguments, a port in use) is a failed start, not a running service. With a
    // ready port, the service is up as soon as it accepts connections: no fixed grace holds up a failover.
    let ready: boolean | undefined;
    if (spec.readyPort === undefined) await pollUntil(clock, () => exit !== undefined, Math.min(startGraceMs, timeoutMs), pollMs, signal);
    else ready = await untilAccepting(clock, spec.readyPort, timeoutMs, () => exit !== undefined, 20, signal);
    child.off('exit', onExit);
    if (exit !== undefined || stat === undefined) {
      removePidfile(pidFile);
      const tail = logTail(logFile);
      return { rc: 1, message: `${program} exited at once (${exit ?? 'before it could be recorded'})${tail === '' ? '' : `: ${tail}`}` };
    }
    if (signal?.aborted === true) return { rc: -1, message: `aborted; started as pid ${pid}` };
    if (ready === false) return { rc: -1, message: `started as pid ${pid}, but port ${spec.readyPort} accepted no connection within ${timeoutMs} ms` };
    return { rc: 0, message: `started as pid ${pid}${ready === true ? `, accepting connections on port ${spec.readyPort}` : ''}` };
  }

  async function stop(spec: ServiceSpec, timeoutMs: number, signal?: AbortSignal): Promise<ServiceOutcome> {
    const { pidFile } = servicePaths(spec.stateDir, spec.name);
    const state = inspectPidfile(pidFile);
    if (state.kind === 'absent') return { rc: 0, message: 'not running' };
    // A pid that another process has taken, or one from before a reboot, names nothing of ours.
    if (state.kind === 'stale' && !state.groupIsOurs) {
      removePidfile(pidFile);
      return { rc: 0, message: `not running: ${state.reason}` };
    }
    // The leader lives, or it died and left workers in its group (they could hold its port): stop them all.
    const pgid = state.record.pid;
    const gone = (): boolean => processGroupMembers(pgid).length === 0;
    if (gone()) {
      removePidfile(pidFile);
      return { rc: 0, message: 'not running' };
    }
    signalGroup(pgid, 'SIGTERM');
    if (await pollUntil(clock, gone, timeoutMs, pollMs, signal)) {
      removePidfile(pidFile);
      return { rc: 0, message: `stopped pid ${pgid}` };
    }
    if (signal?.aborted === true) return { rc: -1, message: 'aborted while stopping' };
    signalGroup(pgid, 'SIGKILL');
    if (await pollUntil(clock, gone, killWaitMs, pollMs, signal)) {
      removePidfile(pidFile);
      return { rc: 0, message: `stopped pid ${pgid} with SIGKILL after ${timeoutMs} ms` };
    }
    const left = processGroupMembers(pgid).map((p) => p.pid);
    return { rc: 1, message: `processes ${left.join(', ')} of pid ${pgid}'s group survive SIGKILL` };
  }

  return {
    kind: 'process',
    start,
    stop,
    status: (spec) => status(spec),
  };
}
