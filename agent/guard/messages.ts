/**
 * What the agent tells its guard, one JSON object per line on the guard's stdin. If the pipe closes without
 * a goodbye, the agent died: the guard stops what the agent last reported active, so the node never keeps
 * serving while a peer takes its groups over (self-fencing of services, as sbd does for Pacemaker).
 */
import type { ClusterConfig } from '../../common/config/schema.js';
import type { GroupId, NodeStatus, ResourceId } from '../../common/model/index.js';

export type GuardMessage =
  /**
   * The first line, and only the first: the configuration the agent runs (parsed and checked by the agent), and
   * its digest. The guard reads no configuration file: it loads neither YAML nor the schema, and guards with
   * exactly what its agent runs.
   */
  | { readonly t: 'config'; readonly digest: string; readonly config: ClusterConfig }
  /** Everything that may be running on this node, by group: the guard's to stop if the agent dies. */
  | { readonly t: 'active'; readonly groups: Readonly<Record<GroupId, readonly ResourceId[]>> }
  /**
   * The agent's event loop is turning: sent four times per release period. `at` is when it was sent, on the
   * machine's monotonic clock (systemMonotonicMs): a guard that reads it late still knows how long the agent has
   * been silent.
   */
  | { readonly t: 'tick'; readonly at: number }
  /** A clean exit: the agent has released what it meant to; the guard leaves everything as it is. */
  | { readonly t: 'bye' };

/**
 * Milliseconds on the machine's monotonic clock (CLOCK_MONOTONIC on Linux, QueryPerformanceCounter on Windows):
 * the same in every process of the machine, unlike performance.now(), and never stepped like Date.now().
 */
export function systemMonotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** Resources that are not known to be stopped, per group (unknown counts: it may be running). */
export function activeResources(status: NodeStatus): Record<GroupId, ResourceId[]> {
  const out: Record<GroupId, ResourceId[]> = {};
  for (const [group, g] of Object.entries(status.groups)) {
    const active = Object.entries(g.resources).filter(([, r]) => r.state !== 'stopped').map(([id]) => id);
    if (active.length > 0) out[group] = active;
  }
  return out;
}

export function parseGuardMessage(line: string): GuardMessage | undefined {
  try {
    const m = JSON.parse(line) as { t?: unknown; groups?: unknown; at?: unknown; digest?: unknown; config?: unknown };
    if (m.t === 'bye') return { t: 'bye' };
    if (m.t === 'config' && typeof m.digest === 'string' && isConfigShaped(m.config)) return { t: 'config', digest: m.digest, config: m.config };
    if (m.t === 'tick' && typeof m.at === 'number' && Number.isFinite(m.at)) return { t: 'tick', at: m.at };
    if (m.t === 'active' && typeof m.groups === 'object' && m.groups !== null) {
      const groups: Record<string, string[]> = {};
      for (const [g, list] of Object.entries(m.groups as Record<string, unknown>)) {
        if (Array.isArray(list)) groups[g] = list.filter((x): x is string => typeof x === 'string');
      }
      return { t: 'active', groups };
    }
  } catch {
    // A torn last line when the agent dies mid-write: ignore it, the previous report stands.
  }
  return undefined;
}

/**
 * What the guard uses of a configuration: its groups and their resources, each with an id. The rest was checked
 * by the agent, which sent it; this catches a line that is not a configuration at all.
 */
function isConfigShaped(value: unknown): value is ClusterConfig {
  const groups = (value as { groups?: unknown } | null)?.groups;
  return Array.isArray(groups) && groups.every((g: { id?: unknown; resources?: unknown } | null) =>
    typeof g?.id === 'string' && Array.isArray(g.resources) && g.resources.every((r: { id?: unknown } | null) => typeof r?.id === 'string'));
}
