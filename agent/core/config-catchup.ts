/**
 * Which configuration version this node should fetch, from what the heartbeat says of its peers. The newest
 * generation wins; two texts under one generation (a proposal committed by a partitioned node) are a conflict
 * that an admin resolves by proposing or rolling back: never resolved silently, because either choice loses an
 * admin's change.
 */
import type { NodeId } from '../../common/model/ids.js';
import type { VersionRef } from '../../common/model/config-version.js';

export interface PeerConfigState {
  readonly node: NodeId;
  readonly alive: boolean;
  /** Absent while the peer has not said (an older agent, or no status heard yet). */
  readonly generation?: number;
  readonly digest?: string;
}

export type CatchUpDecision =
  | { readonly fetchFrom: NodeId; readonly generation: number }
  | { readonly conflict: string };

export function decideCatchUp(input: { readonly local: VersionRef; readonly peers: readonly PeerConfigState[] }): CatchUpDecision | undefined {
  const { local } = input;
  const known = input.peers
    .filter((p): p is PeerConfigState & VersionRef => p.alive && p.generation !== undefined && p.digest !== undefined)
    .sort((a, b) => b.generation - a.generation || (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
  for (const p of known) {
    if (p.generation === local.generation && p.digest !== local.digest) {
      return { conflict: `generation ${local.generation} differs between this node (${short(local.digest)}) and ${p.node} (${short(p.digest)})` };
    }
  }
  const newest = known[0];
  if (newest === undefined || newest.generation <= local.generation) return undefined;
  const rival = known.find((p) => p.generation === newest.generation && p.digest !== newest.digest);
  if (rival !== undefined) {
    return { conflict: `generation ${newest.generation} differs between ${newest.node} (${short(newest.digest)}) and ${rival.node} (${short(rival.digest)})` };
  }
  return { fetchFrom: newest.node, generation: newest.generation };
}

function short(digest: string): string {
  return digest.slice(0, 12);
}
