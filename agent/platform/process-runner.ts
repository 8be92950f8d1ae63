/**
 * Runs a program to completion in its own process group, with a deadline that kills the whole group.
 * Resolves on the child's `exit`, not on its pipes' `close`: an OCF start typically daemonizes a grandchild
 * that inherits stdout and would hold the pipe open for ever. Once the child has exited we read what is
 * already in the pipes, then release them, so the daemon is not tied to us (the same as Pacemaker does).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { normalPriority } from './priority.js';
import type { Readable } from 'node:stream';
import { systemClock, type Clock } from '../util/clock.js';
import type { ProcessRunner, RunRequest, RunResult } from './types.js';

/** Each of stdout and stderr is captured up to this size. */
export const OUTPUT_LIMIT_BYTES = 64 * 1024;
/** After the child exits, how long we keep reading output its pipes still hold. */
const DRAIN_GRACE_MS = 50;
const TAIL_LINES = 5;
const TAIL_CHARS = 500;

/** Keeps the first (head) or the last (tail) `limit` bytes of a stream. */
export class OutputCapture {
  private chunks: Buffer[] = [];
  private size = 0;
  truncated = false;

  constructor(private readonly keep: 'head' | 'tail', private readonly limit = OUTPUT_LIMIT_BYTES) {}

  push(chunk: Buffer): void {
    if (this.keep === 'head') {
      const room = this.limit - this.size;
      if (chunk.length > room) this.truncated = true;
      if (room <= 0) return;
      const kept = chunk.subarray(0, room);
      this.chunks.push(kept);
      this.size += kept.length;
      return;
    }
    this.chunks.push(chunk);
    this.size += chunk.length;
    while (this.size > this.limit) {
      this.truncated = true;
      const first = this.chunks[0]!;
      const excess = this.size - this.limit;
      if (first.length <= excess) {
        this.chunks.shift();
        this.size -= first.length;
      } else {
        this.chunks[0] = first.subarray(excess);
        this.size -= excess;
      }
    }
  }

  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

/** The last few lines of a program's stderr, short enough for a status line. */
export function tailOf(text: string): string {
  const lines = text.split('\n').map((l) => l.trimEnd()).filter((l) => l.length > 0);
  const tail = lines.slice(-TAIL_LINES).join('\n');
  return tail.length > TAIL_CHARS ? `…${tail.slice(-TAIL_CHARS)}` : tail;
}

/** SIGKILL to the whole group; the group may already be gone. */
function killGroup(child: ChildProcess): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // ESRCH: nothing left to kill.
  }
}

/** Resolves once the stream has ended, or when the grace period is over, whichever comes first. */
function drained(stream: Readable | null, clock: Clock, graceMs: number): Promise<void> {
  if (stream === null || stream.readableEnded || stream.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = clock.setTimer(graceMs, done);
    stream.once('end', done);
    stream.once('close', done);
    function done(): void {
      timer.dispose();
      stream!.off('end', done);
      stream!.off('close', done);
      resolve();
    }
  });
}

/** Destroys the stream and resolves once its handle is closed, so a resolved run holds nothing open. */
function released(stream: Readable | null): Promise<void> {
  if (stream === null || stream.closed) return Promise.resolve();
  return new Promise((resolve) => {
    stream.once('close', () => resolve());
    stream.destroy();
  });
}

export function createProcessRunner(clock: Clock = systemClock): ProcessRunner {
  return { run: (request) => runProcess(request, clock) };
}

export function runProcess(request: RunRequest, clock: Clock = systemClock): Promise<RunResult> {
  const started = clock.now();
  const stdout = new OutputCapture('head');
  const stderr = new OutputCapture('tail');
  const result = (fields: Partial<RunResult> & Pick<RunResult, 'rc'>): RunResult => {
    const err = stderr.text();
    return {
      signal: null, timedOut: false, aborted: false, durationMs: clock.now() - started,
      stdout: stdout.text(), stderr: err, stderrTail: tailOf(err), ...fields,
    };
  };
  const spawnFailure = (e: unknown): RunResult => {
    const error = e as NodeJS.ErrnoException;
    return result({ rc: -1, spawnError: { code: error.code ?? 'UNKNOWN', message: error.message } });
  };
  if (request.signal?.aborted === true) return Promise.resolve(result({ rc: -1, aborted: true }));

  let child: ChildProcess;
  try {
    // detached: the child leads a new process group (and session), so one kill reaches everything it forked.
    child = spawn(request.file, [...request.args], {
      detached: true,
      env: { ...request.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(request.cwd === undefined ? {} : { cwd: request.cwd }),
    });
  } catch (e) {
    return Promise.resolve(spawnFailure(e));
  }
  if (request.normalPriority === true) normalPriority(child.pid);
  child.stdout?.on('data', (chunk: Buffer) => stdout.push(chunk));
  child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk));

  return new Promise((resolve) => {
    let timedOut = false;
    let aborted = false;
    let settled = false;
    const timer = clock.setTimer(request.timeoutMs, () => {
      timedOut = true;
      killGroup(child);
    });
    const onAbort = (): void => {
      aborted = true;
      killGroup(child);
    };
    request.signal?.addEventListener('abort', onAbort, { once: true });

    const settle = async (fields: Partial<RunResult> & Pick<RunResult, 'rc'>): Promise<void> => {
      if (settled) return;
      settled = true;
      timer.dispose();
      request.signal?.removeEventListener('abort', onAbort);
      await Promise.all([drained(child.stdout, clock, DRAIN_GRACE_MS), drained(child.stderr, clock, DRAIN_GRACE_MS)]);
      // Release the pipes: a daemon the program left behind must not keep our event loop (or its pipe) alive.
      await Promise.all([released(child.stdout), released(child.stderr)]);
      resolve(result(fields));
    };
    // Without a pid the program never started: 'error' comes alone, without 'exit'.
    child.once('error', (e) => {
      if (child.pid === undefined) void settle(spawnFailure(e));
    });
    child.once('exit', (code, signal) => {
      const killedByUs = timedOut || aborted;
      void settle({ rc: killedByUs || code === null ? -1 : code, signal, timedOut, aborted });
    });
  });
}
