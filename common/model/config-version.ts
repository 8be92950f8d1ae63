/**
 * The nouns of cluster-wide configuration: a version of the configuration text, what a node finds wrong with
 * one, and the errors of the two-phase commit. Pure, so the API's protocol and the CLI can speak them too.
 */
import type { NodeId } from './ids.js';

/** One committed (or staged) configuration, exactly as an admin wrote it. */
export interface ConfigVersion {
  /** Strictly increasing across the cluster; 1 is the file the cluster was installed with. */
  readonly generation: number;
  /** The YAML as written: comments and layout are kept, so history and rollback give back what people wrote. */
  readonly text: string;
  /** sha-256 of the text, hex. */
  readonly digest: string;
  /** The principal that proposed it ("admin", "node:alpha" for an installation file). */
  readonly author: string;
  /** Milliseconds since the epoch, on the proposing node's clock. */
  readonly at: number;
  readonly comment: string;
  /** The generation it was built on; null for generation 1. */
  readonly parent: number | null;
}

/** Names a version without its text: what commit and abort carry, and what the heartbeat tells peers. */
export interface VersionRef {
  readonly generation: number;
  readonly digest: string;
}

/** Something a node finds wrong with a configuration, precise enough to fix without reading logs. */
export interface NodeProblem {
  readonly node: NodeId;
  /** The field, as a path: heartbeat.links[0].endpoints.beta; "" for the text as a whole (YAML syntax). */
  readonly path: string;
  readonly message: string;
  /** 1-based line in the text, when the problem has a place in it. */
  readonly line?: number;
}

/** Stable codes callers match on; the message says what to do about it. */
export const CONFIG_SYNC_ERROR_CODES = [
  'STALE_GENERATION',  // the proposal builds on a generation that is no longer current (someone committed first)
  'UNCHANGED',         // the proposed text is the current text
  'BUSY',              // another proposal is in progress (here, or staged on a node by another coordinator)
  'BEHIND',            // this node misses generations the proposal builds on; it catches up first
  'VALIDATION_FAILED', // at least one node rejects the text: the problems say where and why
  'PREPARE_FAILED',    // a node could not be asked (unreachable, timed out): applied on none
  'COMMIT_FAILED',     // this node could not record the decision: applied on none
  'FETCH_FAILED',      // catch-up could not fetch a version from the peer
  'NOT_STAGED',        // commit of a version that is not the one staged here
  'NOT_FOUND',         // no such generation
  'DIGEST_MISMATCH',   // a version's digest is not the sha-256 of its text
  'CONFLICT',          // two nodes hold different texts under one generation: an admin decides
  'HISTORY_DAMAGED',   // the history database cannot be read
] as const;
export type ConfigSyncErrorCode = (typeof CONFIG_SYNC_ERROR_CODES)[number];

export class ConfigSyncError extends Error {
  constructor(readonly code: ConfigSyncErrorCode, message: string, readonly problems: readonly NodeProblem[] = []) {
    super(message);
    this.name = 'ConfigSyncError';
  }
}

/** What a node answers to "could you run this?": validation without staging. */
export type CheckResult = { readonly ok: true } | { readonly ok: false; readonly problems: readonly NodeProblem[] };

/** A participant's answer to prepare: staged, or why not. */
export type PrepareResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly code: 'VALIDATION_FAILED' | 'BUSY' | 'STALE_GENERATION' | 'BEHIND'; readonly message: string; readonly problems: readonly NodeProblem[] };

/** What one node said of a proposal or a validation. */
export type PerNodeResult =
  | { readonly node: NodeId; readonly outcome: 'ok' }
  /** Not alive: not asked; it catches up when it is back. */
  | { readonly node: NodeId; readonly outcome: 'down' }
  | {
    readonly node: NodeId; readonly outcome: 'failed';
    readonly code: 'VALIDATION_FAILED' | 'BUSY' | 'STALE_GENERATION' | 'BEHIND' | 'UNREACHABLE';
    readonly message: string; readonly problems: readonly NodeProblem[];
  };

export interface CommitOutcome {
  readonly generation: number;
  readonly digest: string;
  /** Nodes where the version is current now, this one first. */
  readonly committed: NodeId[];
  /** Nodes that were down or missed earlier generations: they fetch the version when they are back or caught up. */
  readonly pending: NodeId[];
  /** Nodes that prepared but whose commit failed: the version is decided, they catch up. */
  readonly partial: { readonly node: NodeId; readonly message: string }[];
}
