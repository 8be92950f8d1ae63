/**
 * A bounded history per mirror of what its reports said over time (throughput, lag, queues), sampled from the
 * center's pushes, for the mirrors screen's chart. Agents report only the present; the console remembers the
 * recent past itself. Pure: the store calls `recordMirrorReports` for the cluster whose node changed, and each
 * call returns the same objects when nothing was recorded, so screens of other mirrors and clusters do not repaint.
 */
import type { CenterNodeView } from '../../common/ipc/contract.js';
import type { EpochMs, MirrorStatus } from '../../common/model/index.js';

export interface MirrorSample {
  readonly at: EpochMs;
  /** Bytes per second the reporting side sent (source) or applied (target). */
  readonly throughput: number;
  readonly lagBytes: number;
  /** The source's journal, in bytes (0 when that side did not report it). */
  readonly sourceQueueBytes: number;
  /** The target's spool, in bytes (0 when unknown). */
  readonly targetQueueBytes: number;
}

/** One cluster's histories, by mirror id; each oldest first. */
export type MirrorHistory = Readonly<Record<string, readonly MirrorSample[]>>;

export interface MirrorHistoryPolicy {
  /** Most samples kept per mirror; the oldest go first. */
  readonly limit: number;
  /**
   * Reports closer together than this replace the last sample instead of adding one, so a burst of pushes (status,
   * events and mirrors arriving together) costs one point and the history spans `limit × minIntervalMs` at least.
   */
  readonly minIntervalMs: number;
}

/** Ten minutes at the agents' one report per second while mirrors are watched. */
export const DEFAULT_MIRROR_HISTORY_POLICY: MirrorHistoryPolicy = { limit: 600, minIntervalMs: 900 };

export function checkHistoryPolicy(p: MirrorHistoryPolicy): MirrorHistoryPolicy {
  if (!Number.isInteger(p.limit) || p.limit < 2) throw new RangeError(`mirrorHistory.limit must be an integer of at least 2, got ${p.limit}`);
  if (!Number.isFinite(p.minIntervalMs) || p.minIntervalMs < 0) throw new RangeError(`mirrorHistory.minIntervalMs must be a non-negative number, got ${p.minIntervalMs}`);
  return p;
}

export function sampleOf(report: MirrorStatus, at: EpochMs): MirrorSample {
  return {
    at, throughput: report.throughput, lagBytes: report.lagBytes,
    sourceQueueBytes: report.sourceQueue?.bytes ?? 0, targetQueueBytes: report.targetQueue?.bytes ?? 0,
  };
}

/** Adds a sample (or replaces the last one when it is younger than the interval); drops the oldest past the limit. */
export function appendSample(samples: readonly MirrorSample[], sample: MirrorSample, policy: MirrorHistoryPolicy): readonly MirrorSample[] {
  const last = samples[samples.length - 1];
  if (last !== undefined && sample.at < last.at) return samples; // a late report: the chart's time only moves forward
  if (last !== undefined && sample.at - last.at < policy.minIntervalMs) return [...samples.slice(0, -1), sample];
  const next = [...samples, sample];
  return next.length > policy.limit ? next.slice(next.length - policy.limit) : next;
}

/**
 * Whether this report is the one to sample: the source's (it sees the journal, the lag and what it sends). A target's
 * report counts only while no node of the cluster reports the mirror as its source (the source is down or
 * unreachable), so the history does not zigzag between the two sides' numbers; for the same reason, of two nodes
 * that both claim the source (a diverged mirror), only the first in the cluster's order is sampled.
 */
export function isSampledSide(report: MirrorStatus, nodes: readonly CenterNodeView[]): boolean {
  const firstSource = nodes.find((n) => n.snapshot?.mirrors.some((m) => m.id === report.id && m.role === 'source') === true);
  if (report.role === 'source') return firstSource === undefined || firstSource.node === report.node;
  return firstSource === undefined;
}

/**
 * Records what `reporter` now says of its mirrors (`nodes` is the cluster after the change). Returns `history`
 * itself when nothing was recorded.
 */
export function recordMirrorReports(
  history: MirrorHistory | undefined, reporter: CenterNodeView, nodes: readonly CenterNodeView[], now: EpochMs, policy: MirrorHistoryPolicy,
): MirrorHistory | undefined {
  const reports = reporter.snapshot?.mirrors ?? [];
  let next: Record<string, readonly MirrorSample[]> | undefined;
  for (const report of reports) {
    if (!isSampledSide(report, nodes)) continue;
    next ??= { ...history };
    next[report.id] = appendSample(next[report.id] ?? [], sampleOf(report, now), policy);
  }
  return next ?? history;
}
