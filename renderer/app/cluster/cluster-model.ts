/**
 * What the cluster screen derives from the center's per-node views, pure: the topology's nodes (alive, maintenance,
 * faults, groups they run) and every node's links as that node itself reports them, and a group's recent history.
 */
import type { CenterNodeView } from '../../../common/ipc/contract.js';
import type { ClusterStatus, LinkStatus } from '../../../common/model/index.js';
import type { EventEntry } from '../../state/store.js';

export interface TopologyNode {
  readonly id: string;
  /** undefined: no node has reported the cluster's status yet. */
  readonly alive: boolean | undefined;
  /** The node whose report the screen shows. */
  readonly reporting: boolean;
  readonly maintenance: boolean;
  /** The faults this node reports about itself. */
  readonly faults: readonly string[];
  /** The groups running (or partly running) there. */
  readonly runs: readonly string[];
}

export interface Topology {
  readonly nodes: readonly TopologyNode[];
  /** Per node, its links as it reports them itself (a peer's view of them is the other half). */
  readonly links: ReadonlyMap<string, readonly LinkStatus[]>;
}

const ownStatus = (v: CenterNodeView): ClusterStatus | undefined => {
  const s = v.status ?? v.snapshot?.status;
  return s !== undefined && s.reportedBy === v.node ? s : undefined;
};

export function topologyOf(views: readonly CenterNodeView[], status: ClusterStatus | undefined): Topology {
  const ids = status !== undefined ? status.nodes.map((n) => n.id) : [];
  for (const v of views) if (!ids.includes(v.node)) ids.push(v.node);
  const own = new Map<string, ClusterStatus>();
  for (const v of views) {
    const s = ownStatus(v);
    if (s !== undefined) own.set(v.node, s);
  }
  const links = new Map<string, readonly LinkStatus[]>();
  const nodes = ids.map((id): TopologyNode => {
    const summary = status?.nodes.find((n) => n.id === id);
    // A node knows its own links best; when the center has no report from it, take what the freshest report says.
    // An agent lists its links under each peer's entry, not its own (agent/core/status.ts): its view is all of them.
    const mine = own.get(id)?.nodes.flatMap((n) => n.links);
    const nodeLinks = mine ?? summary?.links ?? [];
    if (nodeLinks.length > 0) links.set(id, nodeLinks);
    return {
      id,
      alive: status === undefined ? undefined : summary?.alive ?? false,
      reporting: status?.reportedBy === id,
      maintenance: status?.maintenance ?? false,
      faults: own.get(id)?.faults ?? (status?.reportedBy === id ? status.faults : []),
      runs: status?.groups.filter((g) => g.runningOn.includes(id)).map((g) => g.id) ?? [],
    };
  });
  return { nodes, links };
}

/**
 * The newest events of one group, each once: several agents log the same happening (a failover is seen by both
 * ends), so entries with the same time, kind, node and message are one.
 */
export function groupHistory(events: readonly EventEntry[], cluster: string, group: string, limit: number): EventEntry[] {
  const out: EventEntry[] = [];
  const seen = new Set<string>();
  for (const e of events) {
    if (e.cluster !== cluster || e.event.group !== group) continue;
    const key = `${e.event.at}\0${e.event.kind}\0${e.event.node}\0${e.event.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(e);
    if (out.length === limit) break;
  }
  return out;
}
