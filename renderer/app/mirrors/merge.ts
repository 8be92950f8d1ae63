/**
 * A mirror is reported twice, by its source and by its target, each for its own side. These pure functions find
 * the mirrors of a cluster, put the two reports of one mirror together, and say which node's agent must receive
 * each command.
 */
import type { CenterNodeView } from '../../../common/ipc/contract.js';
import type { MirrorAction, MirrorQueue, MirrorState, MirrorStatus } from '../../../common/model/index.js';

/** The two reports of one mirror (either may be missing: that node is down or not connected to the center). */
export interface MirrorSides {
  readonly id: string;
  readonly source?: MirrorStatus;
  readonly target?: MirrorStatus;
}

/** Every mirror id any node of the cluster reports, sorted (a stable list, so the screen's rows keep their order). */
export function mirrorIds(nodes: readonly CenterNodeView[]): string[] {
  const ids = new Set<string>();
  for (const n of nodes) for (const m of n.snapshot?.mirrors ?? []) ids.add(m.id);
  return [...ids].sort();
}

/**
 * The source's and the target's report of mirror `id`. Two nodes both claiming the source (a diverged mirror) keep
 * the first in the cluster's node order as "source" and the other as "target", so both stay visible.
 */
export function mirrorSides(nodes: readonly CenterNodeView[], id: string): MirrorSides {
  let source: MirrorStatus | undefined;
  let target: MirrorStatus | undefined;
  for (const n of nodes) {
    const m = n.snapshot?.mirrors.find((x) => x.id === id);
    if (m === undefined) continue;
    if (m.role === 'source' && source === undefined) source = m;
    else target ??= m;
  }
  return { id, ...(source === undefined ? {} : { source }), ...(target === undefined ? {} : { target }) };
}

/** Worst first: the row shows the worse of its two sides' states. */
const STATE_ORDER: readonly MirrorState[] = ['diverged', 'inconsistent', 'disconnected', 'paused', 'resyncing', 'lagging', 'idle', 'in-sync'];

export interface MergedMirror {
  readonly id: string;
  readonly group: string;
  readonly sourceNode: string;
  readonly targetNode: string;
  readonly state: MirrorState;
  /** Each side's reasons, prefixed by the node that gave them. */
  readonly reasons: readonly string[];
  readonly sourceGeneration?: string;
  readonly targetGeneration?: string;
  readonly connected: boolean;
  readonly pausedSource: boolean;
  readonly pausedTarget: boolean;
  /** The source's journal; undefined when the source did not report. */
  readonly sourceQueue?: MirrorQueue;
  /** The target's spool: its own report, else what the source last heard from it. */
  readonly targetQueue?: MirrorQueue;
  readonly dirtyFiles: number;
  readonly lagSeconds: number;
  readonly lagBytes: number;
  /** Bytes per second sent by the source. */
  readonly sentPerSecond?: number;
  /** The source's bandwidth limit, bytes per second, when it has one. */
  readonly maxSendRate?: number;
  /** Bytes per second applied by the target. */
  readonly appliedPerSecond?: number;
  readonly lastSync?: MirrorStatus['lastSync'];
  /** The target listing its copy in the background (after a resync wrote to it) while it does, from its report. */
  readonly backgroundListing?: MirrorStatus['backgroundListing'];
}

export function mergeMirror(sides: MirrorSides): MergedMirror | undefined {
  const { source, target } = sides;
  const first = source ?? target;
  if (first === undefined) return undefined;
  const states = [source?.state, target?.state].filter((s): s is MirrorState => s !== undefined);
  const state = STATE_ORDER.find((s) => states.includes(s)) ?? first.state;
  const reasons = [source, target].flatMap((r) => (r === undefined ? [] : r.reasons.map((why) => `${r.node}: ${why}`)));
  const targetQueue = target?.targetQueue ?? source?.targetQueue;
  return {
    id: sides.id, group: first.group,
    sourceNode: source?.node ?? target!.peer,
    targetNode: target?.node ?? source!.peer,
    state, reasons,
    ...(source === undefined ? {} : { sourceGeneration: source.generation, sentPerSecond: source.throughput }),
    ...(source?.maxSendRate === undefined ? {} : { maxSendRate: source.maxSendRate }),
    ...(target === undefined ? {} : { targetGeneration: target.generation, appliedPerSecond: target.throughput }),
    connected: source?.connected ?? false,
    pausedSource: source?.pausedSource ?? target!.pausedSource,
    pausedTarget: target?.pausedTarget ?? source!.pausedTarget,
    ...(source?.sourceQueue === undefined ? {} : { sourceQueue: source.sourceQueue }),
    ...(targetQueue === undefined ? {} : { targetQueue }),
    dirtyFiles: source?.dirtyFiles ?? 0,
    lagSeconds: source?.lagSeconds ?? target!.lagSeconds,
    lagBytes: source?.lagBytes ?? target!.lagBytes,
    ...(source?.lastSync === undefined ? {} : { lastSync: source.lastSync }),
    ...(target?.backgroundListing === undefined || target.backgroundListing.finishedAt !== undefined ? {} : { backgroundListing: target.backgroundListing }),
  };
}

export type MirrorCommand = Exclude<MirrorAction, 'status'>;
/** The console's mirror buttons: one per command, and the differential mirror once more as a thorough one. */
export type MirrorButton = MirrorCommand | 'diff-thorough';
export const MIRROR_BUTTONS: readonly MirrorButton[] = ['full', 'diff', 'diff-thorough', 'pause-target', 'pause-source', 'resume', 'verify'];

/** What a button asks the agent (the API's `mirror` parameters). */
export function buttonParams(button: MirrorButton, name: string): { readonly action: MirrorCommand; readonly name: string; readonly thorough?: true } {
  return button === 'diff-thorough' ? { action: 'diff', name, thorough: true } : { action: button, name };
}

/**
 * The node whose agent handles `command` (agent/replication/service.ts): the source's for all of them (full, diff,
 * pause-source and verify only run there; pause-target and resume are relayed from it to the target). When the
 * source's agent is not connected to the center, pause-target and resume go to the target's agent, which applies
 * them to its own side; the others still name the source, so the operator sees why they fail.
 */
export function commandNode(command: MirrorCommand, mirror: MergedMirror, sourceReachable: boolean): string {
  if (!sourceReachable && (command === 'pause-target' || command === 'resume')) return mirror.targetNode;
  return mirror.sourceNode;
}
