/**
 * Ordered lookahead over an async sequence: starts the work for up to `depth` items ahead of the consumer and
 * yields the results in the source's order. A reconcile reads thousands of small files one after the other;
 * each read is a few round trips to libuv's thread pool, and with the next files already being read the
 * consumer finds most of them done. A failed start is yielded as such, for the consumer to fall back on.
 */
export type Started<R> = { readonly ok: true; readonly value: R } | { readonly ok: false; readonly error: unknown };

/** The outcome of work whose result is awaited later: a failure then is no unhandled rejection meanwhile. */
export function settle<R>(work: Promise<R>): Promise<Started<R>> {
  return work.then(succeeded, failed);
}

// Made once, not two closures per settled piece of work (a reconcile settles one a path).
function succeeded<R>(value: R): Started<R> {
  return { ok: true, value };
}

function failed(error: unknown): { readonly ok: false; readonly error: unknown } {
  return { ok: false, error };
}

/**
 * What the work started ahead may hold in memory: `weigh` says what an item's work will hold (the bytes of a file
 * it reads, say). An item whose weight would take what the items ahead of the consumer hold past `max` starts only
 * once the consumer has taken enough of them (alone, it always starts).
 */
export interface LookaheadBudget<T> {
  readonly weigh: (item: T) => number;
  readonly max: number;
}

export async function* lookahead<T, R>(source: AsyncIterable<T>, depth: number, start: (item: T) => Promise<R>, budget?: LookaheadBudget<T>): AsyncGenerator<{ readonly item: T; readonly result: Started<R> }> {
  const window: { item: T; weight: number; result: Promise<Started<R>> }[] = [];
  let held = 0;
  // Not an async function awaited per item: one promise less for every path of a reconcile.
  const oldest = (): { item: T; weight: number; result: Promise<Started<R>> } => {
    const first = window.shift()!;
    held -= first.weight;
    return first;
  };
  for await (const item of source) {
    const weight = budget?.weigh(item) ?? 0;
    // Room first: an item that would pass the budget waits until the consumer has taken what is ahead of it.
    while (budget !== undefined && window.length > 0 && held + weight > budget.max) {
      const first = oldest();
      yield { item: first.item, result: await first.result };
    }
    window.push({ item, weight, result: settle(start(item)) });
    held += weight;
    if (window.length > depth) {
      const first = oldest();
      yield { item: first.item, result: await first.result };
    }
  }
  while (window.length > 0) {
    const first = oldest();
    yield { item: first.item, result: await first.result };
  }
}
