/** What one link tells about one peer: up or down, when last heard, loss from sequence gaps, round trip. */
import type { LinkKind, LinkStatus, NodeId } from '../../common/model/index.js';
import type { RejectReason } from './packet.js';

const LOSS_WINDOW = 100;
const SEND_HISTORY = 64;
/** Weight of a new round-trip sample in the smoothed value (as TCP's SRTT uses 1/8). */
const RTT_ALPHA = 0.125;

export class LinkStats {
  up = false;
  lastSeenAt: number | undefined;
  rttMs: number | undefined;
  private incarnation = -1;
  private highestSeq = 0;
  private firstSeq = 0;
  private readonly received = new Set<number>();
  private readonly sentAt = new Map<number, number>();
  readonly rejected: Record<RejectReason, number> = { 'bad-mac': 0, replay: 0, foreign: 0, malformed: 0 };
  /** The last packet received from the peer, echoed back in ours for its round-trip measurement. */
  lastReceived: { seq: number; at: number } | undefined;

  constructor(readonly link: string, readonly kind: LinkKind, readonly peer: NodeId) {}

  noteRejected(reason: RejectReason): void {
    this.rejected[reason]++;
  }

  /** Our send times, kept for the last few sequence numbers only: enough to match the peer's echoes. */
  noteSent(seq: number, at: number): void {
    this.sentAt.set(seq, at);
    if (this.sentAt.size > SEND_HISTORY) this.sentAt.delete(this.sentAt.keys().next().value!);
  }

  noteReceived(incarnation: number, seq: number, at: number, echo?: { s: number; h: number }): void {
    if (incarnation !== this.incarnation) {
      this.incarnation = incarnation;
      this.received.clear();
      this.firstSeq = seq;
      this.highestSeq = seq;
    }
    this.highestSeq = Math.max(this.highestSeq, seq);
    this.received.add(seq);
    for (const s of this.received) if (s <= this.highestSeq - LOSS_WINDOW) this.received.delete(s);
    this.lastSeenAt = at;
    this.lastReceived = { seq, at };
    const sent = echo ? this.sentAt.get(echo.s) : undefined;
    if (echo && sent !== undefined) {
      const sample = Math.max(0, at - sent - echo.h);
      this.rttMs = this.rttMs === undefined ? sample : this.rttMs + RTT_ALPHA * (sample - this.rttMs);
    }
  }

  /** Percent of the sequence numbers in the recent window that never arrived. */
  lossPercent(): number {
    if (this.received.size === 0) return 0;
    const window = Math.min(LOSS_WINDOW, this.highestSeq - this.firstSeq + 1);
    return Math.max(0, (100 * (window - this.received.size)) / window);
  }

  status(): LinkStatus {
    return {
      link: this.link, kind: this.kind, peer: this.peer, up: this.up, lossPercent: this.lossPercent(),
      rejected: { badMac: this.rejected['bad-mac'], replay: this.rejected.replay, foreign: this.rejected.foreign, malformed: this.rejected.malformed },
      ...(this.lastSeenAt === undefined ? {} : { lastSeenAt: this.lastSeenAt }),
      ...(this.rttMs === undefined ? {} : { rttMs: this.rttMs }),
    };
  }
}
