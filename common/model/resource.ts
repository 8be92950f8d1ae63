import type { EpochMs, GroupId, NodeId, ResourceId } from './ids.js';

/**
 * What a node knows of one resource it could run.
 * - unknown: not probed yet (after agent start, maintenance off, cleanup): it may or may not be running.
 * - failed: a monitor, start or probe said it is broken; it must be stopped before anything else.
 * - stop_failed: a stop did not succeed; without fencing nobody may start it elsewhere until an admin cleans up.
 */
export type ResourceState = 'unknown' | 'stopped' | 'starting' | 'running' | 'stopping' | 'failed' | 'stop_failed';

export const RESOURCE_STATES: readonly ResourceState[] = ['unknown', 'stopped', 'starting', 'running', 'stopping', 'failed', 'stop_failed'];

/** The operations a resource agent implements (the OCF names). */
export type ResourceOperation = 'start' | 'stop' | 'monitor' | 'probe' | 'validate-all' | 'meta-data';

export interface OperationResult {
  readonly operation: ResourceOperation;
  /** OCF exit code (0..7), or -1 when the operation timed out or could not be run at all. */
  readonly rc: number;
  readonly at: EpochMs;
  readonly durationMs: number;
  /** Why it ended so: the tail of stderr, a signal name, "timeout after 20000 ms". */
  readonly message: string;
}

export interface ResourceStatus {
  readonly state: ResourceState;
  /** When the last monitor or probe finished; drives the monitor schedule. */
  readonly lastMonitorAt?: EpochMs;
  readonly lastResult?: OperationResult;
}

export interface GroupStatus {
  /** Every configured resource of the group, in the group's order. */
  readonly resources: Readonly<Record<ResourceId, ResourceStatus>>;
  /** Failures of this group on this node (monitor failures, failed starts) since the last cleanup. */
  readonly failures: number;
  readonly lastFailureAt?: EpochMs;
}

/** Everything a node tells its peers in each heartbeat, and what `vigil status` shows of it. */
export interface NodeStatus {
  readonly node: NodeId;
  /** When this agent process started; a newer incarnation means the agent restarted. */
  readonly incarnation: EpochMs;
  /** Digest of the configuration this node runs: a mismatch between nodes is a fault. */
  readonly configDigest: string;
  readonly groups: Readonly<Record<GroupId, GroupStatus>>;
  readonly intents: Intents;
  /** The agent is shutting down cleanly: peers take its groups over once it has stopped them. */
  readonly leaving?: boolean;
  /** Whether this node reaches its ping targets (absent when none are configured). */
  readonly publicNetwork?: 'ok' | 'lost';
  /** Mirrors this node is the source of whose target is not yet level (queued changes, a resync due or running,
   * the target away): an automatic switchback to that target waits for them. */
  readonly mirrorsBehind?: readonly ResourceId[];
}

/** A value replicated between nodes: the higher version wins, ties go to the higher node id. */
export interface Versioned<T> {
  readonly value: T;
  readonly version: number;
  readonly by: NodeId;
  readonly at: EpochMs;
}

/**
 * Cluster-wide decisions that are not derived from state: the admin's and the cluster's own.
 * `target` is where the group should run while that node is eligible: set by `vigil switchover`,
 * `vigil switchback` and, with manual switchback, by the node that took the group over (the "hold").
 */
export interface Intents {
  readonly maintenance?: Versioned<boolean>;
  readonly targets: Readonly<Record<GroupId, Versioned<NodeId | null>>>;
  /**
   * Groups an operator stopped (`vigil group stop`, like Pacemaker's target-role=Stopped): true keeps the group
   * stopped everywhere until `vigil group start` sets it false. Optional so that intents saved or sent before it
   * existed still read as "none stopped".
   */
  readonly stopped?: Readonly<Record<GroupId, Versioned<boolean>>>;
}

export const EMPTY_INTENTS: Intents = { targets: {} };

function newer<T>(a: Versioned<T> | undefined, b: Versioned<T> | undefined): Versioned<T> | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  if (a.version !== b.version) return a.version > b.version ? a : b;
  return a.by >= b.by ? a : b;
}

function mergeByGroup<T>(a: Readonly<Record<GroupId, Versioned<T>>>, b: Readonly<Record<GroupId, Versioned<T>>>): Record<GroupId, Versioned<T>> {
  const merged: Record<GroupId, Versioned<T>> = { ...a };
  for (const [group, value] of Object.entries(b)) {
    const winner = newer(merged[group], value);
    if (winner !== undefined) merged[group] = winner;
  }
  return merged;
}

/** Merge two nodes' intents: commutative, associative and idempotent, so every node converges. */
export function mergeIntents(a: Intents, b: Intents): Intents {
  const targets = mergeByGroup(a.targets, b.targets);
  const stopped = mergeByGroup(a.stopped ?? {}, b.stopped ?? {});
  const maintenance = newer(a.maintenance, b.maintenance);
  return {
    ...(maintenance === undefined ? {} : { maintenance }),
    targets,
    // Left out while empty, so intents from agents that predate it compare equal after a merge.
    ...(Object.keys(stopped).length === 0 ? {} : { stopped }),
  };
}

/** The highest version seen in a set of intents: a new intent takes this plus one. */
export function intentsVersion(intents: Intents): number {
  let max = intents.maintenance?.version ?? 0;
  for (const t of Object.values(intents.targets)) max = Math.max(max, t.version);
  for (const s of Object.values(intents.stopped ?? {})) max = Math.max(max, s.version);
  return max;
}

/** Whether an operator keeps the group stopped (`vigil group stop`). */
export function isStoppedByOperator(intents: Intents, group: GroupId): boolean {
  return intents.stopped?.[group]?.value === true;
}
