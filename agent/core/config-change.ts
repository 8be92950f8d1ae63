/**
 * What a new configuration changes, and whether each change can apply to the running agent as it is (live) or
 * needs its components rebuilt (reload). Live means the value is read again where it is used: policies and
 * timings of the scheduler, alert settings, resource parameters at their next operation. Anything that
 * shapes sockets, links, keys, mirrors or the set of groups and resources is a reload.
 */
import { canonicalJson } from '../../common/config/digest.js';
import type { ClusterConfig, GroupConfig, ResourceConfig } from '../../common/config/schema.js';

export interface ConfigChange {
  /** Changed paths that apply live, e.g. groups[web].switchbackDelay, alerts. */
  readonly live: string[];
  /** Changed paths that need the agent's components reloaded, e.g. heartbeat, groups[db] (added). */
  readonly reload: string[];
}

/** Top-level sections read where they are used, so a new value applies at once. Not `api`: its listener, PKI,
 * limits and routes are fixed when the API server is built. */
const LIVE_SECTIONS = new Set(['alerts']);
const LIVE_CLUSTER_FIELDS = new Set(['startupGrace']);
const LIVE_GROUP_FIELDS = new Set(['switchback', 'switchbackDelay', 'migrationThreshold', 'failureTimeout']);
/**
 * Each resource agent is built with its resource's settings, so changing any of them rebuilds it; except a mirror's
 * bandwidth limit, which its running source takes at once (a reload would restart a resync under way).
 */
const LIVE_RESOURCE_FIELDS = new Set<string>(['maxSendRate']);

const same = (a: unknown, b: unknown): boolean => canonicalJson(a) === canonicalJson(b);

/** Paths name groups and resources by id (groups[web].resources[ip].params), which reordering does not change. */
export function classifyChange(old: ClusterConfig, next: ClusterConfig): ConfigChange {
  const change: ConfigChange = { live: [], reload: [] };
  const oldSections = old as unknown as Record<string, unknown>;
  const nextSections = next as unknown as Record<string, unknown>;
  const sections = [...new Set([...Object.keys(oldSections), ...Object.keys(nextSections)])].sort();
  for (const section of sections) {
    if (same(oldSections[section], nextSections[section])) continue;
    if (section === 'cluster') compareFields('cluster', old.cluster, next.cluster, LIVE_CLUSTER_FIELDS, change);
    else if (section === 'groups') compareGroups(old.groups, next.groups, change);
    else (LIVE_SECTIONS.has(section) ? change.live : change.reload).push(section);
  }
  return change;
}

function compareFields(path: string, old: object, next: object, liveFields: ReadonlySet<string>, change: ConfigChange): void {
  const a = old as Record<string, unknown>;
  const b = next as Record<string, unknown>;
  for (const field of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
    if (same(a[field], b[field])) continue;
    (liveFields.has(field) ? change.live : change.reload).push(`${path}.${field}`);
  }
}

function compareGroups(old: readonly GroupConfig[], next: readonly GroupConfig[], change: ConfigChange): void {
  const before = new Map(old.map((g) => [g.id, g]));
  const after = new Map(next.map((g) => [g.id, g]));
  for (const id of before.keys()) if (!after.has(id)) change.reload.push(`groups[${id}] (removed)`);
  for (const [id, g] of after) {
    const previous = before.get(id);
    if (previous === undefined) { change.reload.push(`groups[${id}] (added)`); continue; }
    if (same(previous, g)) continue;
    const { resources: oldResources, ...oldFields } = previous;
    const { resources: nextResources, ...nextFields } = g;
    compareFields(`groups[${id}]`, oldFields, nextFields, LIVE_GROUP_FIELDS, change);
    compareResources(`groups[${id}]`, oldResources, nextResources, change);
  }
  const common = (list: readonly GroupConfig[], other: Map<string, GroupConfig>): string[] => list.map((g) => g.id).filter((id) => other.has(id));
  if (!same(common(old, after), common(next, before))) change.reload.push('groups (order)');
}

function compareResources(group: string, old: readonly ResourceConfig[], next: readonly ResourceConfig[], change: ConfigChange): void {
  const before = new Map(old.map((r) => [r.id, r]));
  const after = new Map(next.map((r) => [r.id, r]));
  for (const id of before.keys()) if (!after.has(id)) change.reload.push(`${group}.resources[${id}] (removed)`);
  for (const [id, r] of after) {
    const previous = before.get(id);
    const path = `${group}.resources[${id}]`;
    if (previous === undefined) change.reload.push(`${path} (added)`);
    else if (previous.kind !== r.kind) change.reload.push(`${path}.kind`);
    else compareFields(path, previous, r, LIVE_RESOURCE_FIELDS, change);
  }
  // Resources start in order and stop in reverse: a new order is a new plan.
  const common = (list: readonly ResourceConfig[], other: Map<string, ResourceConfig>): string[] => list.map((r) => r.id).filter((id) => other.has(id));
  if (!same(common(old, after), common(next, before))) change.reload.push(`${group}.resources (order)`);
}
