import type { EpochMs, GroupId, NodeId, ResourceId } from './ids.js';

/** Kinds of entries in a node's event log; alerts (a later layer) subscribe by kind. */
export const EVENT_KINDS = [
  'agent-started', 'agent-stopping',
  'peer-joined', 'peer-lost', 'link-up', 'link-down', 'heartbeat-rejected',
  'resource-started', 'resource-stopped', 'resource-failed', 'start-failed', 'stop-failed', 'monitor-failed',
  'group-placed', 'group-unplaceable', 'failover', 'switchover', 'switchback', 'hold',
  'maintenance-on', 'maintenance-off', 'group-stopped', 'group-started', 'cleanup', 'config-mismatch', 'fault',
] as const;

export type EventKind = (typeof EVENT_KINDS)[number];

export type Severity = 'info' | 'warning' | 'critical';

export interface ClusterEvent {
  readonly id?: number;
  readonly at: EpochMs;
  readonly kind: EventKind;
  readonly severity: Severity;
  readonly node: NodeId;
  readonly group?: GroupId;
  readonly resource?: ResourceId;
  readonly message: string;
}
