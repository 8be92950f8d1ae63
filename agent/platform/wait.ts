/** Polling and sleeping on an injectable clock, cancellable, so nothing is left ticking after dispose. */
import type { Clock } from '../util/clock.js';

/** Resolves after `ms`, or early (false) when the signal aborts. */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted === true) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = (): void => {
      timer.dispose();
      resolve(false);
    };
    const timer = clock.setTimer(ms, () => {
      signal?.removeEventListener('abort', onAbort);
      resolve(true);
    });
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Checks `done` every `pollMs` until it holds (true) or `timeoutMs` has passed or the signal aborts (false). */
export async function pollUntil(
  clock: Clock, done: () => boolean, timeoutMs: number, pollMs: number, signal?: AbortSignal,
): Promise<boolean> {
  const deadline = clock.now() + timeoutMs;
  for (;;) {
    if (done()) return true;
    const left = deadline - clock.now();
    if (left <= 0 || signal?.aborted === true) return false;
    if (!(await sleep(clock, Math.min(pollMs, left), signal))) return false;
  }
}
