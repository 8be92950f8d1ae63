/** Something that must be released: timers, sockets, child processes. A daemon runs for years. */
export interface Disposable {
  dispose(): void;
}

/** Time as an injectable dependency, so timeouts are tested without sleeping. */
export interface Clock {
  now(): number;
  setTimer(ms: number, fn: () => void): Disposable;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(ms, fn) {
    const handle = setTimeout(fn, ms);
    return { dispose: () => clearTimeout(handle) };
  },
};

/** A timer told how late it fired (ms past its due time): a process that stood still fires every timer late. */
export function setTimerWithLateness(clock: Clock, ms: number, fn: (lateMs: number) => void): Disposable {
  const due = clock.now() + ms;
  return clock.setTimer(ms, () => fn(clock.now() - due));
}

/** A set of disposables released together, last registered first. */
export class DisposableStore implements Disposable {
  private readonly items: Disposable[] = [];
  private disposed = false;

  add<T extends Disposable>(item: T): T {
    if (this.disposed) item.dispose();
    else this.items.push(item);
    return item;
  }

  dispose(): void {
    this.disposed = true;
    while (this.items.length > 0) this.items.pop()!.dispose();
  }
}
