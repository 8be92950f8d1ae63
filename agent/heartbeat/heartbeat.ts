/**
 * The heartbeat layer: sends this node's status to every peer on every link, authenticates and de-duplicates
 * what arrives, and turns it into membership. A peer is alive while ANY link to it is up, and lost only when
 * every link is down. Nothing here waits on disk, scripts or the engine: a slow resource never delays a beat.
 */
import type { ClusterConfig, LinkConfig } from '../../common/config/schema.js';
import type { LinkStatus, MembershipChange, NodeId, NodeStatus, PeerView } from '../../common/model/index.js';
import type { HeartbeatBody } from '../../common/protocol/heartbeat.js';
import { systemClock, type Clock, type Disposable } from '../util/clock.js';
import type { HeartbeatLink } from './link.js';
import { LinkStats } from './link-stats.js';
import { decodePacket, encodePacket, PacketError, type RejectReason } from './packet.js';
import { ReplayWindow } from './replay.js';
import { TcpLink } from './tcp-link.js';
import { UdpLink } from './udp-link.js';

export interface HeartbeatOptions {
  readonly config: ClusterConfig;
  readonly localNode: NodeId;
  readonly key: Buffer;
  readonly incarnation: number;
  readonly clock?: Clock;
  readonly onChange: (change: MembershipChange) => void;
  /** Builds a link's transport; tests and the serial link plug in here. Default: UDP or TCP by kind. */
  readonly createLink?: (config: LinkConfig, local: string, peers: ReadonlyMap<NodeId, string>, clock: Clock) => HeartbeatLink;
}

/** Triggered updates (status changed) go out at once, but not more often than this. */
const MIN_TRIGGER_INTERVAL_MS = 20;

interface PeerLink {
  readonly stats: LinkStats;
  readonly replay: ReplayWindow;
  seq: number;
  expiry: Disposable | undefined;
}

interface RunningLink {
  readonly config: LinkConfig;
  readonly transport: HeartbeatLink;
  readonly peers: Map<NodeId, PeerLink>;
  timer: Disposable | undefined;
  closed: boolean;
}

export class Heartbeat {
  private readonly clock: Clock;
  private readonly links = new Map<string, RunningLink>();
  private readonly peerStatus = new Map<NodeId, { status: NodeStatus; incarnation: number; sentAt: number; json: string }>();
  private readonly aliveSince = new Map<NodeId, number>();
  private status: NodeStatus | undefined;
  private statusJson = '';
  private lastTriggeredAt = -Infinity;
  private pendingTrigger: Disposable | undefined;

  constructor(private readonly options: HeartbeatOptions) {
    this.clock = options.clock ?? systemClock;
    const { config, localNode } = options;
    for (const link of config.heartbeat.links) {
      const local = link.endpoints[localNode];
      if (local === undefined) continue;
      const endpoints = new Map(Object.entries(link.endpoints).filter(([node]) => node !== localNode));
      const transport = options.createLink?.(link, local, endpoints, this.clock) ?? defaultLink(link, local, endpoints, this.clock);
      const peers = new Map<NodeId, PeerLink>();
      for (const peer of endpoints.keys()) peers.set(peer, { stats: new LinkStats(link.name, link.kind, peer), replay: new ReplayWindow(), seq: 0, expiry: undefined });
      this.links.set(link.name, { config: link, transport, peers, timer: undefined, closed: false });
    }
  }

  async start(): Promise<void> {
    const started: RunningLink[] = [];
    try {
      for (const link of this.links.values()) {
        await link.transport.start((frame, from) => this.receive(link, frame, from), (from) => this.reject(link, 'malformed', from));
        started.push(link);
      }
    } catch (e) {
      for (const link of started) await link.transport.close();
      throw e;
    }
    for (const link of this.links.values()) this.scheduleSend(link);
  }

  setStatus(status: NodeStatus): void {
    const json = JSON.stringify(status);
    this.status = status;
    if (json === this.statusJson) return;
    this.statusJson = json;
    const wait = this.lastTriggeredAt + MIN_TRIGGER_INTERVAL_MS - this.clock.now();
    if (wait <= 0) this.sendTriggered();
    else this.pendingTrigger ??= this.clock.setTimer(wait, () => this.sendTriggered());
  }

  linkStatuses(): LinkStatus[] {
    return [...this.links.values()].flatMap((l) => [...l.peers.values()].map((p) => p.stats.status()));
  }

  peers(): Record<NodeId, PeerView> {
    const out: Record<NodeId, PeerView> = {};
    for (const { id } of this.options.config.nodes) {
      if (id === this.options.localNode) continue;
      const known = this.peerStatus.get(id);
      const since = this.aliveSince.get(id);
      out[id] = { alive: this.isAlive(id), ...(known ? { status: known.status } : {}), ...(since === undefined ? {} : { aliveSince: since }) };
    }
    return out;
  }

  /** Take one link out of service (an administrator's choice, or a test cutting a cable for real). */
  async closeLink(name: string): Promise<void> {
    const link = this.links.get(name);
    if (!link || link.closed) return;
    link.closed = true;
    link.timer?.dispose();
    await link.transport.close();
    for (const [peer, p] of link.peers) {
      p.expiry?.dispose();
      if (p.stats.up) this.linkDown(link, peer, p);
    }
  }

  async close(): Promise<void> {
    this.pendingTrigger?.dispose();
    for (const link of this.links.values()) {
      link.closed = true;
      link.timer?.dispose();
      for (const p of link.peers.values()) p.expiry?.dispose();
      await link.transport.close();
    }
  }

  // ---- sending ----

  private scheduleSend(link: RunningLink): void {
    if (link.closed) return;
    this.sendOn(link);
    link.timer = this.clock.setTimer(link.config.interval, () => this.scheduleSend(link));
  }

  private sendTriggered(): void {
    this.pendingTrigger?.dispose();
    this.pendingTrigger = undefined;
    this.lastTriggeredAt = this.clock.now();
    for (const link of this.links.values()) if (!link.closed) this.sendOn(link);
  }

  private sendOn(link: RunningLink): void {
    const status = this.status;
    if (!status) return;
    const now = this.clock.now();
    for (const [peer, p] of link.peers) {
      p.seq = p.seq >= 0xffffffff ? 1 : p.seq + 1;
      const last = p.stats.lastReceived;
      const body: HeartbeatBody = {
        c: this.options.config.cluster.id, n: this.options.localNode, i: this.options.incarnation, s: p.seq, t: now, p: status,
        ...(last ? { e: { s: last.seq, h: Math.max(0, now - last.at) } } : {}),
      };
      p.stats.noteSent(p.seq, now);
      link.transport.send(peer, encodePacket(body, this.options.key));
    }
  }

  // ---- receiving ----

  private receive(link: RunningLink, frame: Buffer, from: string): void {
    let body: HeartbeatBody;
    try {
      body = decodePacket(frame, this.options.key, this.options.config.cluster.id);
    } catch (e) {
      this.reject(link, e instanceof PacketError ? e.reason : 'malformed', from);
      return;
    }
    const p = link.peers.get(body.n);
    if (!p || body.p.node !== body.n) {
      // Authentic but not from a peer on this link (ourselves looped back, a node not in our config).
      this.reject(link, 'foreign', from);
      return;
    }
    if (!p.replay.accept(body.i, body.s)) {
      p.stats.rejected.replay++;
      this.options.onChange({ kind: 'rejected', link: link.config.name, reason: 'replay', from });
      return;
    }
    const now = this.clock.now();
    p.stats.noteReceived(body.i, body.s, now, body.e);
    p.expiry?.dispose();
    p.expiry = this.clock.setTimer(link.config.deadTime, () => this.linkDown(link, body.n, p));
    if (!p.stats.up) {
      const wasAlive = this.isAlive(body.n);
      p.stats.up = true;
      this.options.onChange({ kind: 'link-up', link: link.config.name, peer: body.n });
      if (!wasAlive) {
        this.aliveSince.set(body.n, now);
        this.options.onChange({ kind: 'peer-alive', peer: body.n });
      }
    }
    this.updatePeerStatus(body, now);
  }

  private updatePeerStatus(body: HeartbeatBody, _now: number): void {
    const known = this.peerStatus.get(body.n);
    // Links race: keep the newest status by (incarnation, send time).
    if (known && (body.i < known.incarnation || (body.i === known.incarnation && body.t < known.sentAt))) return;
    const json = JSON.stringify(body.p);
    this.peerStatus.set(body.n, { status: body.p as NodeStatus, incarnation: body.i, sentAt: body.t, json });
    if (known?.json !== json) this.options.onChange({ kind: 'peer-status', peer: body.n });
  }

  private reject(link: RunningLink, reason: RejectReason, from: string): void {
    // Counted on every peer's stats of the link: the sender of a bad packet cannot be known.
    for (const p of link.peers.values()) p.stats.rejected[reason]++;
    this.options.onChange({ kind: 'rejected', link: link.config.name, reason, from });
  }

  private linkDown(link: RunningLink, peer: NodeId, p: PeerLink): void {
    p.expiry = undefined;
    if (!p.stats.up) return;
    p.stats.up = false;
    this.options.onChange({ kind: 'link-down', link: link.config.name, peer });
    if (!this.isAlive(peer)) {
      this.aliveSince.delete(peer);
      this.options.onChange({ kind: 'peer-lost', peer });
    }
  }

  private isAlive(peer: NodeId): boolean {
    for (const link of this.links.values()) if (link.peers.get(peer)?.stats.up) return true;
    return false;
  }
}

function defaultLink(config: LinkConfig, local: string, peers: ReadonlyMap<NodeId, string>, clock: Clock): HeartbeatLink {
  return config.kind === 'udp' ? new UdpLink(config.name, local, peers) : new TcpLink(config.name, local, peers, config.interval, clock);
}
