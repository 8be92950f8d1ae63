/**
 * The cluster as the scheduler reads it: one view per configured node, derived from the observed state.
 * Pure: no I/O, time is a parameter.
 */
import type { ClusterConfig, GroupConfig } from '../../common/config/schema.js';
import type { EpochMs, GroupId, GroupStatus, NodeId, NodeStatus, ObservedState, ResourceState } from '../../common/model/index.js';

export interface NodeView {
  readonly id: NodeId;
  readonly isLocal: boolean;
  readonly alive: boolean;
  readonly aliveSince: EpochMs | undefined;
  readonly status: NodeStatus | undefined;
  /** Heard only over public links: alive, but every private link to it is down. */
  readonly publicOnly: boolean;
}

export function nodeViews(config: ClusterConfig, observed: ObservedState): Map<NodeId, NodeView> {
  const views = new Map<NodeId, NodeView>();
  for (const { id } of config.nodes) {
    if (id === observed.localNode) {
      views.set(id, { id, isLocal: true, alive: true, aliveSince: observed.startedAt, status: observed.local, publicOnly: false });
    } else {
      const peer = observed.peers[id];
      views.set(id, { id, isLocal: false, alive: peer?.alive ?? false, aliveSince: peer?.aliveSince, status: peer?.status, publicOnly: peer?.publicOnly ?? false });
    }
  }
  return views;
}

/**
 * Until when absent peers may be present after all, so that their absence moves nothing: the startup grace at
 * start-up (they may be booting with the group running), and again after this node's public network came back
 * (their heartbeats may not have arrived yet: besides an interval, the kernel may hold them for up to a second
 * while it resolves addresses that failed to resolve during the cut). Never less than the longest dead time.
 */
export function graceEnds(config: ClusterConfig, observed: ObservedState): { readonly startup: EpochMs; readonly rejoin: EpochMs } {
  const deadTime = config.heartbeat.links.reduce((longest, link) => Math.max(longest, link.deadTime), 0);
  const grace = Math.max(config.cluster.startupGrace, deadTime);
  return {
    startup: observed.startedAt + config.cluster.startupGrace,
    rejoin: observed.publicNetworkBackAt === undefined ? -Infinity : observed.publicNetworkBackAt + grace,
  };
}

/**
 * A resource's state on a node. The local node's missing entries are unknown (never probed); a peer that
 * does not report a group does not know it, so cannot be running it.
 */
export function resourceState(view: NodeView, group: GroupId, resource: string): ResourceState {
  const state = view.status?.groups[group]?.resources[resource]?.state;
  if (state !== undefined) return state;
  return view.isLocal ? 'unknown' : 'stopped';
}

export function groupStatus(view: NodeView, group: GroupId): GroupStatus | undefined {
  return view.status?.groups[group];
}

export function statesOf(view: NodeView, group: GroupConfig): ResourceState[] {
  return group.resources.map((r) => resourceState(view, group.id, r.id));
}

/** Anything but "stopped" may be running: such a node holds the group. */
export function holds(view: NodeView, group: GroupConfig): boolean {
  return view.alive && statesOf(view, group).some((s) => s !== 'stopped');
}

/** The node has probed every resource of the group, so what it reports is the truth. */
export function hasProbed(view: NodeView, group: GroupConfig): boolean {
  return view.status !== undefined && statesOf(view, group).every((s) => s !== 'unknown');
}

export function stopFailed(view: NodeView, group: GroupConfig): boolean {
  return statesOf(view, group).includes('stop_failed');
}

export function inFlight(view: NodeView, group: GroupConfig): boolean {
  return statesOf(view, group).some((s) => s === 'starting' || s === 'stopping');
}

/** Failures that still count: with a failure timeout, old failures are forgotten. */
export function effectiveFailures(view: NodeView, group: GroupConfig, now: EpochMs): number {
  const status = groupStatus(view, group.id);
  if (!status || status.failures === 0) return 0;
  if (group.failureTimeout > 0 && status.lastFailureAt !== undefined && now >= status.lastFailureAt + group.failureTimeout) return 0;
  return status.failures;
}

/** When a counted failure expires, so the scheduler wakes to reconsider; undefined if never. */
export function failureExpiry(view: NodeView, group: GroupConfig, now: EpochMs): EpochMs | undefined {
  const status = groupStatus(view, group.id);
  if (!status || status.failures === 0 || group.failureTimeout === 0 || status.lastFailureAt === undefined) return undefined;
  const at = status.lastFailureAt + group.failureTimeout;
  return at > now ? at : undefined;
}
