/** The events screen's filter: the store's filter, scoped to the route's cluster, edited one field at a time. */
import type { EventFilter } from '../../state/store.js';

/** The route decides the cluster (all of them on #/events), whatever the stored filter says. */
export function scopedFilter(filter: EventFilter, cluster: string | undefined): EventFilter {
  const { cluster: _stored, ...rest } = filter;
  return cluster === undefined ? rest : { ...rest, cluster };
}

/** `filter` with `key` set to `value`, or without it when `value` is undefined (no filter on that field). */
export function withField<K extends keyof EventFilter>(filter: EventFilter, key: K, value: EventFilter[K] | undefined): EventFilter {
  const { [key]: _old, ...rest } = filter;
  return value === undefined ? rest : { ...rest, [key]: value };
}

/** The last millisecond of the minute `at` falls in: "until 10:05" includes what happened during 10:05. */
export function endOfMinute(at: number): number {
  return Math.floor(at / 60_000) * 60_000 + 59_999;
}
