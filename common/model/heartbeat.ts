import type { EpochMs, LinkName, NodeId } from './ids.js';

export type LinkKind = 'udp' | 'tcp' | 'serial';

/** One heartbeat link to one peer, as this node sees it. */
export interface LinkStatus {
  readonly link: LinkName;
  readonly kind: LinkKind;
  readonly peer: NodeId;
  readonly up: boolean;
  readonly lastSeenAt?: EpochMs;
  /** Packets lost over the recent window, in percent (0..100), from sequence gaps. */
  readonly lossPercent: number;
  /** Smoothed round trip of the last echoes, or undefined before the first echo. */
  readonly rttMs?: number;
  /** Packets dropped because they failed authentication, were replays, or came from another cluster. */
  readonly rejected: { readonly badMac: number; readonly replay: number; readonly foreign: number; readonly malformed: number };
}

/** A change the heartbeat layer reports to the engine. */
export type MembershipChange =
  | { readonly kind: 'link-up' | 'link-down'; readonly link: LinkName; readonly peer: NodeId }
  | { readonly kind: 'peer-alive' | 'peer-lost' | 'peer-status'; readonly peer: NodeId }
  | { readonly kind: 'rejected'; readonly link: LinkName; readonly reason: 'bad-mac' | 'replay' | 'foreign' | 'malformed'; readonly from: string }
  /** This process stood still (SIGSTOP, a hung host, a paused VM) for about `ms`: no peer was lost for it. */
  | { readonly kind: 'paused'; readonly ms: number };
