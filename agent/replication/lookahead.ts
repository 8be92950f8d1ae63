/**
 * Ordered lookahead over an async sequence: starts the work for up to `depth` items ahead of the consumer and
 * yields the results in the source's order. A reconcile reads thousands of small files one after the other;
 * each read is a few round trips to libuv's thread pool, and with the next files already being read the
 * consumer finds most of them done. A failed start is yielded as such, for the consumer to fall back on.
 */
export type Started<R> = { readonly ok: true; readonly value: R } | { readonly ok: false; readonly error: unknown };

/** The outcome of work whose result is awaited later: a failure then is no unhandled rejection meanwhile. */
export function settle<R>(work: Promise<R>): Promise<Started<R>> {
  return work.then((value) => ({ ok: true, value }), (error: unknown) => ({ ok: false, error }));
}

export async function* lookahead<T, R>(source: AsyncIterable<T>, depth: number, start: (item: T) => Promise<R>): AsyncGenerator<{ readonly item: T; readonly result: Started<R> }> {
  const window: { item: T; result: Promise<Started<R>> }[] = [];
  const launch = (item: T): void => {
    window.push({ item, result: settle(start(item)) });
  };
  for await (const item of source) {
    launch(item);
    if (window.length > depth) {
      const next = window.shift()!;
      yield { item: next.item, result: await next.result };
    }
  }
  while (window.length > 0) {
    const next = window.shift()!;
    yield { item: next.item, result: await next.result };
  }
}
