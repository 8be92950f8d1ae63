/**
 * Long loops on the agent's main thread give way to the event loop now and then. That loop also carries the
 * heartbeats and the ticks the guard process waits for: a guard that hears nothing for (deadTime - interval) / 2
 * (300 ms by default) takes the agent for frozen and stops its resources. A loop over every file of a large
 * mirror (an index of 300,000 files took 1.9 s to load in one go) must not hold the thread that long.
 */

/** How long a slice may run before it yields: well under the guard's silence, and a heartbeat interval or less. */
export const SLICE_MS = 10;
/** Iterations between looks at the clock: reading it on every one would cost more than many iterations. */
const CHECK_EVERY = 256;

export class TimeSlicer {
  private started = performance.now();
  private count = 0;
  /** Turns of the event loop given away so far (tests count them). */
  yields = 0;

  constructor(private readonly sliceMs = SLICE_MS) {}

  /**
   * Call once per iteration: undefined while the slice lasts, else a promise to await, resolved on a later turn
   * of the event loop (after its timers and I/O).
   */
  step(): Promise<void> | undefined {
    if (++this.count % CHECK_EVERY !== 0 || performance.now() - this.started < this.sliceMs) return undefined;
    this.yields++;
    return new Promise<void>((resolve) => setImmediate(() => {
      this.started = performance.now();
      resolve();
    }));
  }
}
