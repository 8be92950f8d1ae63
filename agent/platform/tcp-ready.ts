/** Readiness by TCP: a service is ready once its port accepts a connection (what clients will do next). */
import { connect } from 'node:net';
import type { Clock } from '../util/clock.js';
import { sleep } from './wait.js';

/** One connection attempt to 127.0.0.1:port, given up after `timeoutMs`. */
export function acceptsConnections(port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const done = (ok: boolean): void => { clearTimeout(timer); socket.destroy(); resolve(ok); };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/**
 * Waits until the port accepts a connection (true), `failed()` reports the service gone (false), the time is up
 * or the signal aborts (false). Tries every `pollMs`.
 */
export async function untilAccepting(
  clock: Clock, port: number, timeoutMs: number, failed: () => boolean, pollMs = 20, signal?: AbortSignal,
): Promise<boolean> {
  const deadline = clock.now() + timeoutMs;
  for (;;) {
    if (failed()) return false;
    const left = deadline - clock.now();
    if (left <= 0 || signal?.aborted === true) return false;
    if (await acceptsConnections(port, Math.min(250, left))) return !failed();
    if (!(await sleep(clock, Math.min(pollMs, Math.max(0, deadline - clock.now())), signal))) return false;
  }
}
