import type { EpochMs, GroupId, NodeId, ResourceId } from './ids.js';
import type { LinkStatus } from './heartbeat.js';
import type { OperationResult, ResourceState } from './resource.js';

/** The whole cluster as one node sees it: what `vigil status` and the monitoring center show. */
export interface ClusterStatus {
  readonly cluster: string;
  readonly reportedBy: NodeId;
  readonly at: EpochMs;
  readonly maintenance: boolean;
  readonly nodes: readonly NodeSummary[];
  readonly groups: readonly GroupSummary[];
  /** Node-level faults, each a sentence the operator can act on. */
  readonly faults: readonly string[];
}

export interface NodeSummary {
  readonly id: NodeId;
  readonly local: boolean;
  readonly alive: boolean;
  readonly incarnation?: EpochMs;
  readonly configDigest?: string;
  readonly links: readonly LinkStatus[];
}

export interface GroupSummary {
  readonly id: GroupId;
  readonly target: NodeId | null;
  readonly reasons: readonly string[];
  /** The nodes that run (or may run) some of the group right now. */
  readonly runningOn: readonly NodeId[];
  readonly switchback: 'auto' | 'manual';
  /** Stopped by an operator (`group.stop`): it runs nowhere until `group.start`. */
  readonly stopped?: boolean;
  /** Failures of the group per node that reported it (monitor failures, failed starts) since the last cleanup. */
  readonly failures: Readonly<Record<NodeId, number>>;
  readonly resources: readonly ResourceSummary[];
}

export interface ResourceSummary {
  readonly id: ResourceId;
  readonly kind: string;
  /** State per node that reported it. */
  readonly states: Readonly<Record<NodeId, ResourceState>>;
  /** The last operation this node ran on it. */
  readonly lastResult?: OperationResult;
}
