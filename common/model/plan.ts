import type { EpochMs, GroupId, NodeId, ResourceId } from './ids.js';
import type { NodeStatus } from './resource.js';

/** What this node knows of one peer. */
export interface PeerView {
  /** At least one heartbeat link to the peer is up. A peer is lost only when every link is down. */
  readonly alive: boolean;
  /** The peer's last reported status; absent until its first heartbeat arrives. */
  readonly status?: NodeStatus;
  /** When the peer last became alive (for switchback delays). */
  readonly aliveSince?: EpochMs;
  /** Alive, but heard only over public links: every private link to it is down. */
  readonly publicOnly?: boolean;
}

/** The scheduler's whole input besides configuration and time. */
export interface ObservedState {
  readonly localNode: NodeId;
  /** When this agent started: groups wait `startupGrace` for absent peers before starting. */
  readonly startedAt: EpochMs;
  /**
   * When this node's ping targets last answered again after it had lost them. Cut off, it heard none of its
   * peers; for the startup grace (at least a dead time) after its network is back, a peer not heard yet may
   * simply not have been heard yet, so that peer's silence moves nothing (keepalived too comes out of its fault
   * state as a backup and waits for the master's adverts).
   */
  readonly publicNetworkBackAt?: EpochMs;
  /** This node's own status, with intents already merged from every peer. */
  readonly local: NodeStatus;
  /** Every other configured node. */
  readonly peers: Readonly<Record<NodeId, PeerView>>;
}

/** A step the engine executes on this node. Actions within one group run one at a time, in order. */
export type Action =
  | { readonly kind: 'probe'; readonly group: GroupId; readonly resource: ResourceId }
  | { readonly kind: 'start'; readonly group: GroupId; readonly resource: ResourceId }
  | { readonly kind: 'stop'; readonly group: GroupId; readonly resource: ResourceId }
  | { readonly kind: 'monitor'; readonly group: GroupId; readonly resource: ResourceId }
  /** Record that the group should stay on `node` (manual switchback): replicated as an intent. */
  | { readonly kind: 'hold'; readonly group: GroupId; readonly node: NodeId };

export type ActionKind = Action['kind'];

/** Why a group is placed where it is, or why it cannot run: shown to the operator as is. */
export interface GroupDecision {
  readonly target: NodeId | null;
  readonly reasons: readonly string[];
  /** Facts are missing (probes, peers, a blocked stop): nothing starts or moves; target is the current holder. */
  readonly waiting?: true;
  /** An operator stopped the group (`vigil group stop`): it runs nowhere, by intent, not by failure. */
  readonly stopped?: true;
}

export interface PlanResult {
  readonly actions: readonly Action[];
  readonly groups: Readonly<Record<GroupId, GroupDecision>>;
  /** Node-level faults (config mismatch, waiting for peers); empty when all is well. */
  readonly faults: readonly string[];
  /** When time alone will change the plan (a monitor falls due, a grace period ends); null if never. */
  readonly wakeAt: EpochMs | null;
}

export function describeAction(a: Action): string {
  return a.kind === 'hold' ? `hold ${a.group} on ${a.node}` : `${a.kind} ${a.group}/${a.resource}`;
}
