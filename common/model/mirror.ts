import type { EpochMs, GroupId, NodeId } from './ids.js';

/** What a node is for a mirror: the source sends its changes, the target applies them. */
export type MirrorRole = 'source' | 'target';

/**
 * The mirror as one node sees it. `in-sync`: nothing queued; `lagging`: changes queued or in flight;
 * `resyncing`: a full or differential mirror is running; `paused`: by the operator (see pausedSource/pausedTarget);
 * `disconnected`: the peer is unreachable (changes queue on disk); `diverged`: both copies were promoted apart and
 * neither is overwritten until the operator chooses; `inconsistent`: a target whose copy is mid-resync (it must not
 * be promoted).
 */
export type MirrorState = 'in-sync' | 'lagging' | 'resyncing' | 'paused' | 'disconnected' | 'diverged' | 'inconsistent' | 'idle';

export interface MirrorQueue {
  readonly records: number;
  readonly bytes: number;
}

export interface MirrorStatus {
  readonly id: string;
  readonly group: GroupId;
  readonly node: NodeId;
  readonly peer: NodeId;
  readonly role: MirrorRole;
  readonly state: MirrorState;
  /** Why it is in that state, each a sentence the operator can act on. */
  readonly reasons: readonly string[];
  /** The generation this node's copy holds. */
  readonly generation: string;
  readonly connected: boolean;
  readonly pausedSource: boolean;
  readonly pausedTarget: boolean;
  /** The source's journal (changes not yet acknowledged by the target), on the source. */
  readonly sourceQueue?: MirrorQueue;
  /** The target's spool (received while target writes are paused), on the target. */
  readonly targetQueue?: MirrorQueue;
  /** Files marked for a differential resync because the journal was full. */
  readonly dirtyFiles: number;
  readonly lagBytes: number;
  /** Age of the oldest change not yet applied by the target; 0 when in sync. */
  readonly lagSeconds: number;
  /** Bytes per second sent (source) or applied (target) over the last few seconds. */
  readonly throughput: number;
  /** On the source, the mirror's bandwidth limit in bytes per second (maxSendRate), when it has one. */
  readonly maxSendRate?: number;
  readonly lastSync?: MirrorSyncSummary;
  /**
   * On the target, its last listing of its copy in the background since the agent started, which a resync that
   * wrote to the copy starts (so that, as the source after a failover, it compares from the hashes instead of
   * reading the copy): when it started, the files listed so far, and when it ended (absent: still running).
   */
  readonly backgroundListing?: { readonly startedAt: EpochMs; readonly files: number; readonly finishedAt?: EpochMs };
}

export interface MirrorSyncSummary {
  readonly kind: 'full' | 'diff';
  readonly startedAt: EpochMs;
  readonly finishedAt?: EpochMs;
  readonly files: number;
  readonly bytesSent: number;
  readonly error?: string;
}

/**
 * What verify found, by path as each node has it: under the source's folders (the mirrored folder itself by its own
 * path), but `extra`, which only the target has, under the target's.
 */
export interface MirrorVerifyReport {
  readonly id: string;
  readonly equal: boolean;
  readonly missing: readonly string[];
  readonly extra: readonly string[];
  readonly contentDiffers: readonly string[];
  readonly metadataDiffers: readonly { readonly path: string; readonly fields: readonly string[] }[];
}

export const MIRROR_ACTIONS = ['status', 'full', 'diff', 'pause-target', 'pause-source', 'resume', 'verify'] as const;
export type MirrorAction = (typeof MIRROR_ACTIONS)[number];
