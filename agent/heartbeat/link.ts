/** One heartbeat transport. UDP and TCP now; a serial line implements the same interface. */
import type { LinkKind, NodeId } from '../../common/model/index.js';

/** One complete frame (not yet authenticated), with a description of where it came from. */
export type FrameHandler = (frame: Buffer, from: string) => void;
/** A stream went out of step (garbage, an oversized length); the link has already dropped or skipped it. */
export type MalformedHandler = (from: string, why: string) => void;

export interface HeartbeatLink {
  readonly name: string;
  readonly kind: LinkKind;
  /** Bind and start receiving. Rejects with an error naming the link and its endpoint if it cannot bind. */
  start(onFrame: FrameHandler, onMalformed: MalformedHandler): Promise<void>;
  /** Best effort, never blocking: a heartbeat that cannot go now is simply lost, like a UDP datagram. */
  send(peer: NodeId, frame: Buffer): void;
  /** Releases every socket and timer of the link. */
  close(): Promise<void>;
}

/**
 * After a pause of this process (SIGSTOP, a hung host, a paused VM) every timer fires late, and before the
 * sockets are read. A timer late by a quarter interval or more is taken as such a pause (a busy loop is late by
 * milliseconds): what it would take as silent gets one more short wait, once, for what waited in the sockets.
 */
export function firedAfterPause(lateMs: number, interval: number): boolean {
  return lateMs >= interval / 4;
}

/** What a link is built from; the peers' endpoints exclude our own. */
export interface LinkOptions {
  readonly name: string;
  readonly local: string;
  readonly peers: ReadonlyMap<NodeId, string>;
  readonly interval: number;
  readonly deadTime: number;
}
