/**
 * Which copy of a mirror is newer, after any sequence of failures (the idea of DRBD's generation identifiers).
 *
 * Every time a node's copy is promoted to source, it starts a new generation: a fresh random id, with the ids it
 * descends from kept as history. A target that is in sync carries the source's current id. When two nodes meet:
 *   same current id            -> the same data lineage: the journal (or a differential resync) brings them level;
 *   my history holds theirs    -> mine is newer: I am the source, they resync from me;
 *   their history holds mine   -> theirs is newer: I must not overwrite it; I resync from them;
 *   neither                    -> both were promoted apart (split brain): nothing is overwritten automatically;
 *                                 the operator chooses the copy to keep.
 */
import { randomBytes } from 'node:crypto';

export interface Lineage {
  /** The id of the generation this copy holds. */
  readonly current: string;
  /** The generations it descends from, newest first (bounded). */
  readonly history: readonly string[];
}

export type LineageVerdict = 'same' | 'mine-newer' | 'peer-newer' | 'diverged';

/** Generations remembered: enough for any realistic run of failovers between two nodes, and it keeps the lineage
 * within the 255 bytes the replication HELLO allows. */
export const HISTORY_LIMIT = 14;

/** The lineage of a copy that has never been promoted: both nodes start here, with the same empty id. */
export const EMPTY_LINEAGE: Lineage = { current: '0', history: [] };

export function compareLineage(mine: Lineage, peer: Lineage): LineageVerdict {
  if (mine.current === peer.current) return 'same';
  if (mine.history.includes(peer.current)) return 'mine-newer';
  if (peer.history.includes(mine.current)) return 'peer-newer';
  return 'diverged';
}

/** A new generation descending from `from` (a promotion). `id` is for tests; by default a random 64-bit id. */
export function nextGeneration(from: Lineage, id: string = randomBytes(8).toString('hex')): Lineage {
  return { current: id, history: [from.current, ...from.history].slice(0, HISTORY_LIMIT) };
}

/** What a target that has caught up with `source` holds: the source's lineage. */
export function adoptLineage(source: Lineage): Lineage {
  return { current: source.current, history: [...source.history].slice(0, HISTORY_LIMIT) };
}

/** The lineage as the replication HELLO carries it: "current,older,...". */
export function lineageText(l: Lineage): string {
  return [l.current, ...l.history].join(',');
}

export function parseLineage(text: string): Lineage {
  const [current, ...history] = text.split(',');
  return { current: current ?? '0', history };
}
