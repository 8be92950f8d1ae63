/**
 * What the API shows: the snapshot a client receives when it subscribes, and the topics whose changes are then
 * pushed to it. One agent's view: its cluster status, its own NICs, volumes, mirrors and alerts; the monitoring
 * center connects to every node and merges.
 */
import type { EpochMs, NodeId } from './ids.js';
import type { ClusterEvent } from './events.js';
import type { ClusterStatus } from './status.js';
import type { MirrorStatus } from './mirror.js';
import type { NodeInventory } from './inventory.js';
import type { AlertRecord } from './alerts.js';
import type { Role } from './auth.js';

export const SNAPSHOT_TOPICS = ['status', 'events', 'mirrors', 'inventory', 'alerts', 'config'] as const;
export type SnapshotTopic = (typeof SNAPSHOT_TOPICS)[number];

/** A configuration version without its text. */
export interface ConfigVersionSummary {
  readonly generation: number;
  readonly digest: string;
  readonly author: string;
  readonly at: EpochMs;
  readonly comment?: string;
}

/** What each topic's event carries: the new value of that part of the snapshot (events: the new log entry). */
export interface TopicData {
  status: ClusterStatus;
  events: ClusterEvent;
  mirrors: MirrorStatus[];
  inventory: NodeInventory | null;
  alerts: AlertRecord[];
  config: ConfigVersionSummary;
}

export interface ClusterSnapshot {
  readonly node: NodeId;
  readonly agentVersion: string;
  readonly startedAt: EpochMs;
  readonly status: ClusterStatus;
  /** The newest entries of the event log, newest first. */
  readonly events: readonly ClusterEvent[];
  readonly mirrors: readonly MirrorStatus[];
  readonly inventory: NodeInventory | null;
  readonly alerts: readonly AlertRecord[];
  readonly config: ConfigVersionSummary;
}

/** One control command, as the audit log keeps it. */
export interface AuditEntry {
  readonly id: number;
  readonly at: EpochMs;
  readonly principal: string;
  readonly role: Role | 'none';
  readonly via: string;
  readonly remote: string;
  readonly method: string;
  /** The parameters as JSON, shortened; configuration texts are replaced by their digest. */
  readonly params: string;
  /** "ok" or the error code. */
  readonly result: string;
  readonly message?: string;
  readonly durationMs: number;
}
