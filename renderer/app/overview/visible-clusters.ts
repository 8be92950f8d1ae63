/**
 * Which clusters the overview lists and in which order: a text filter over id and name, a health filter, and the
 * center's order, by name or worst health first. Returns ids only, so the list repaints when the order changes
 * and not when a card's content does (each card selects its own cluster).
 */
import type { HealthLevel } from '../../state/health.js';
import type { ConsoleState } from '../../state/store.js';

export type HealthFilter = 'all' | 'problems' | HealthLevel;
export const HEALTH_FILTERS: readonly HealthFilter[] = ['all', 'problems', 'critical', 'warning', 'unknown', 'ok'];
export type ClusterSort = 'center' | 'name' | 'health';
export const CLUSTER_SORTS: readonly ClusterSort[] = ['center', 'name', 'health'];

export interface OverviewQuery {
  readonly text: string;
  readonly health: HealthFilter;
  readonly sort: ClusterSort;
}

const SEVERITY: Readonly<Record<HealthLevel, number>> = { critical: 0, warning: 1, unknown: 2, ok: 3 };

export function visibleClusters(s: Pick<ConsoleState, 'clusters' | 'clusterOrder' | 'health'>, q: OverviewQuery): string[] {
  const needle = q.text.trim().toLowerCase();
  const level = (id: string): HealthLevel => s.health[id]?.level ?? 'unknown';
  const name = (id: string): string => s.clusters[id]?.name ?? id;
  const ids = s.clusterOrder.filter((id) =>
    (needle === '' || id.toLowerCase().includes(needle) || name(id).toLowerCase().includes(needle))
    && (q.health === 'all' || (q.health === 'problems' ? level(id) !== 'ok' : level(id) === q.health)));
  // Array.prototype.sort is stable: equal keys keep the center's order.
  if (q.sort === 'name') ids.sort((a, b) => name(a).localeCompare(name(b)) || a.localeCompare(b));
  if (q.sort === 'health') ids.sort((a, b) => SEVERITY[level(a)] - SEVERITY[level(b)]);
  return ids;
}

type Inputs = readonly [ConsoleState['clusterOrder'], ConsoleState['health'], ConsoleState['clusters'] | null, string, HealthFilter, ClusterSort];

/**
 * `visibleClusters` remembering its last answer: every store change (a heartbeat of any node of any cluster) runs
 * the overview's selector, so with hundreds of clusters it recomputes only when what it reads changed. The
 * clusters map (which changes with every push) is read only for names, when filtering by text or sorting by name.
 */
export function memoVisibleClusters(): (s: Pick<ConsoleState, 'clusters' | 'clusterOrder' | 'health'>, q: OverviewQuery) => string[] {
  let last: { readonly inputs: Inputs; readonly ids: string[] } | undefined;
  return (s, q) => {
    const needsNames = q.text.trim() !== '' || q.sort === 'name';
    const inputs: Inputs = [s.clusterOrder, s.health, needsNames ? s.clusters : null, q.text, q.health, q.sort];
    if (last !== undefined && inputs.every((v, i) => v === last!.inputs[i])) return last.ids;
    last = { inputs, ids: visibleClusters(s, q) };
    return last.ids;
  };
}
