/**
 * The heartbeat layer: sends this node's status to every peer on every link, authenticates and de-duplicates
 * what arrives, and turns it into membership. A peer is alive while ANY link to it is up, and lost only when
 * every link is down. Nothing here waits on disk, scripts or the engine: a slow resource never delays a beat.
 */
import type { ClusterConfig, LinkConfig } from '../../common/config/schema.js';
import type { LinkStatus, MembershipChange, NodeId, NodeStatus, PeerView } from '../../common/model/index.js';
import type { HeartbeatBody } from '../../common/protocol/heartbeat.js';
import { setTimerWithLateness, systemClock, type Clock, type Disposable } from '../util/clock.js';
import { firedAfterPause, type HeartbeatLink, type LinkOptions } from './link.js';
import { LinkStats } from './link-stats.js';
import { decodePacket, encodePacket, MAX_BODY_BYTES, PacketError, type PacketExpectations, type RejectReason } from './packet.js';
import { ReplayWindow } from './replay.js';
import { fitStatus } from './status-fit.js';
import { SerialLink } from './serial-link.js';
import { TcpLink } from './tcp-link.js';
import { UdpLink } from './udp-link.js';

export type { MembershipChange } from '../../common/model/index.js';

export type LinkFactory = (config: LinkConfig, options: LinkOptions, clock: Clock) => HeartbeatLink;

export interface HeartbeatOptions {
  readonly config: ClusterConfig;
  readonly localNode: NodeId;
  readonly key: Buffer;
  /** Every key accepted (the sent one first), during a key rotation; default: only `key`. */
  readonly acceptKeys?: readonly Buffer[];
  /** This agent's start time (ms): peers take a higher incarnation as a restart. */
  readonly incarnation: number;
  readonly clock?: Clock;
  readonly onChange: (change: MembershipChange) => void;
  /** Builds a link's transport; tests and the serial link plug in here. Default: UDP or TCP by kind. */
  readonly createLink?: LinkFactory;
}

/** Triggered updates (status changed) go out at once, but not more often than this. */
const MIN_TRIGGER_INTERVAL_MS = 20;
const MAX_SEQ = 0xffffffff;

/** One peer as seen on one link. */
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

interface KnownStatus {
  readonly status: NodeStatus;
  readonly incarnation: number;
  readonly sentAt: number;
  readonly json: string;
}

/**
 * How long a link whose expiry came late (this process stood still) listens before it is taken as down: what
 * waited in the socket arrives at once, and a live peer's next beat within an interval; never beyond the dead time.
 */
export function pauseGrace(link: Pick<LinkConfig, 'interval' | 'deadTime'>): number {
  return Math.min(link.deadTime, 2 * link.interval);
}

export const defaultLinkFactory: LinkFactory = (config, options, clock) => {
  switch (config.kind) {
    case 'udp': return new UdpLink(options, clock);
    case 'tcp': return new TcpLink(options, clock);
    case 'serial': return new SerialLink(options, config.baudRate, clock);
  }
};

export class Heartbeat {
  private readonly clock: Clock;
  private readonly expect: PacketExpectations;
  private readonly links = new Map<string, RunningLink>();
  private readonly peerStatus = new Map<NodeId, KnownStatus>();
  private readonly aliveSince = new Map<NodeId, number>();
  private status: NodeStatus | undefined;
  private statusJson = '';
  private lastTriggeredAt = -Infinity;
  private pendingTrigger: Disposable | undefined;
  private state: 'new' | 'starting' | 'running' | 'closed' = 'new';
  private pauseReportedAt = -Infinity;

  constructor(private readonly options: HeartbeatOptions) {
    const { config, localNode } = options;
    this.clock = options.clock ?? systemClock;
    const nodes = new Set(config.nodes.map((n) => n.id));
    if (!nodes.has(localNode)) throw new Error(`heartbeat: "${localNode}" is not a node of cluster ${config.cluster.id} (nodes: ${[...nodes].join(', ')})`);
    this.expect = { clusterId: config.cluster.id, localNode, nodes };
    const createLink = options.createLink ?? defaultLinkFactory;
    for (const link of config.heartbeat.links) {
      const local = link.endpoints[localNode];
      if (local === undefined) continue; // the schema requires an endpoint per node; a partial link simply is not ours
      const endpoints = new Map(Object.entries(link.endpoints).filter(([node]) => node !== localNode));
      const transport = createLink(link, { name: link.name, local, peers: endpoints, interval: link.interval, deadTime: link.deadTime }, this.clock);
      const peers = new Map<NodeId, PeerLink>();
      for (const peer of endpoints.keys()) {
        peers.set(peer, { stats: new LinkStats(link.name, link.kind, peer), replay: new ReplayWindow(), seq: 0, expiry: undefined });
      }
      this.links.set(link.name, { config: link, transport, peers, timer: undefined, closed: false });
    }
  }

  /** Binds every link, then starts sending. If one link cannot bind, the others are released and this rejects. */
  async start(): Promise<void> {
    if (this.state !== 'new') throw new Error(`heartbeat: start() called on a heartbeat that is ${this.state}`);
    this.state = 'starting';
    const started: RunningLink[] = [];
    try {
      for (const link of this.links.values()) {
        if (link.closed) continue; // an administrator closed it before start
        await link.transport.start((frame, from) => this.receive(link, frame, from), (from) => this.reject(link, 'malformed', from));
        started.push(link);
        if (this.isClosed()) break; // close() ran while we were binding
      }
    } catch (e) {
      this.state = 'closed';
      for (const link of this.links.values()) this.stopLink(link);
      await Promise.all(started.map((l) => l.transport.close()));
      throw e;
    }
    if (this.isClosed()) {
      // close() released what was bound before it ran; release what was bound since.
      await Promise.all(started.map((l) => l.transport.close()));
      return;
    }
    this.state = 'running';
    for (const link of this.links.values()) this.scheduleSend(link);
  }

  /** The payload of the following packets; a change is sent at once (at most one triggered update per 20 ms). */
  setStatus(status: NodeStatus): void {
    if (status.node !== this.options.localNode) throw new Error(`heartbeat: status of ${status.node} given to the heartbeat of ${this.options.localNode}`);
    const fitted = fitStatus(status, MAX_BODY_BYTES);
    const json = JSON.stringify(fitted);
    this.status = fitted;
    if (json === this.statusJson) return;
    this.statusJson = json;
    if (this.state !== 'running') return; // the first regular beat carries it
    const wait = this.lastTriggeredAt + MIN_TRIGGER_INTERVAL_MS - this.clock.now();
    if (wait <= 0) this.sendTriggered();
    else this.pendingTrigger ??= this.clock.setTimer(wait, () => this.sendTriggered());
  }

  linkStatuses(): LinkStatus[] {
    return [...this.links.values()].flatMap((l) => [...l.peers.values()].map((p) => p.stats.status()));
  }

  /** Every other configured node; a lost peer keeps the last status it sent. */
  peers(): Record<NodeId, PeerView> {
    const out: Record<NodeId, PeerView> = {};
    for (const { id } of this.options.config.nodes) {
      if (id === this.options.localNode) continue;
      const known = this.peerStatus.get(id);
      const since = this.aliveSince.get(id);
      const alive = this.isAlive(id);
      out[id] = {
        alive, ...(known ? { status: known.status } : {}), ...(since === undefined ? {} : { aliveSince: since }),
        ...(alive && !this.isAlive(id, 'private') ? { publicOnly: true } : {}),
      };
    }
    return out;
  }

  /** Take one link out of service (an administrator's choice, or a test cutting a cable for real). */
  async closeLink(name: string): Promise<void> {
    const link = this.links.get(name);
    if (!link) throw new Error(`heartbeat: no link named "${name}" (links: ${[...this.links.keys()].join(', ')})`);
    if (link.closed) return;
    this.stopLink(link);
    await link.transport.close();
    for (const [peer, p] of link.peers) this.linkDown(link, peer, p);
  }

  /** Releases every socket and timer. Reports no changes: the agent is going away. */
  async close(): Promise<void> {
    this.state = 'closed';
    this.pendingTrigger?.dispose();
    this.pendingTrigger = undefined;
    for (const link of this.links.values()) this.stopLink(link);
    await Promise.all([...this.links.values()].map((l) => l.transport.close()));
  }

  /** Read through a method: TypeScript cannot know that close() may run during start()'s awaits. */
  private isClosed(): boolean {
    return this.state === 'closed';
  }

  private stopLink(link: RunningLink): void {
    link.closed = true;
    link.timer?.dispose();
    link.timer = undefined;
    for (const p of link.peers.values()) {
      p.expiry?.dispose();
      p.expiry = undefined;
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
    for (const [peer, p] of link.peers) this.sendTo(link, peer, p);
  }

  private sendTo(link: RunningLink, peer: NodeId, p: PeerLink): void {
    const status = this.status;
    if (!status) return;
    const now = this.clock.now();
    // Wrapping takes 27 years at 5 beats a second; a restart (new incarnation) resets it long before.
    p.seq = p.seq >= MAX_SEQ ? 1 : p.seq + 1;
    const last = p.stats.lastReceived;
    const body: HeartbeatBody = {
      c: this.expect.clusterId, n: this.expect.localNode, a: peer, l: link.config.name, i: this.options.incarnation, s: p.seq, t: now, p: status,
      ...(last ? { e: { s: last.seq, h: Math.max(0, now - last.at) } } : {}),
    };
    p.stats.noteSent(p.seq, now);
    try {
      link.transport.send(peer, encodePacket(body, this.options.key));
    } catch {
      // A transport that throws loses this beat, not the loop: the next interval tries again.
    }
  }

  // ---- receiving ----

  private receive(link: RunningLink, frame: Buffer, from: string): void {
    if (link.closed) return;
    let body: HeartbeatBody;
    try {
      body = decodePacket(frame, this.options.acceptKeys ?? this.options.key, this.expect);
    } catch (e) {
      this.reject(link, e instanceof PacketError ? e.code : 'malformed', from);
      return;
    }
    const p = link.peers.get(body.n);
    if (!p) {
      this.reject(link, 'foreign', from); // a configured node without an endpoint on this link
      return;
    }
    if (body.a !== this.expect.localNode || body.l !== link.config.name) {
      // Authentic, but sent to another node or on another link: a captured packet played back here.
      p.stats.noteRejected('replay');
      this.options.onChange({ kind: 'rejected', link: link.config.name, reason: 'replay', from });
      return;
    }
    if (!p.replay.accept(body.i, body.s)) {
      p.stats.noteRejected('replay');
      this.options.onChange({ kind: 'rejected', link: link.config.name, reason: 'replay', from });
      return;
    }
    const now = this.clock.now();
    p.stats.noteReceived(body.i, body.s, now, body.e);
    this.armExpiry(link, body.n, p, link.config.deadTime);
    const changed = this.updatePeerStatus(body);
    if (!p.stats.up) {
      const wasAlive = this.isAlive(body.n);
      p.stats.up = true;
      this.options.onChange({ kind: 'link-up', link: link.config.name, peer: body.n });
      if (!wasAlive) {
        this.aliveSince.set(body.n, now);
        this.options.onChange({ kind: 'peer-alive', peer: body.n });
      }
      // Answered at once: a peer that just started (or came back) hears us now, not an interval later, which
      // is what a start-up of the whole cluster waits for. Once per link coming up, so nothing can make it a flood.
      this.sendTo(link, body.n, p);
    }
    if (changed) this.options.onChange({ kind: 'peer-status', peer: body.n });
  }

  /** Links race: keep the newest status by (incarnation, send time). True if what the peer reports changed. */
  private updatePeerStatus(body: HeartbeatBody): boolean {
    const known = this.peerStatus.get(body.n);
    if (known && (body.i < known.incarnation || (body.i === known.incarnation && body.t < known.sentAt))) return false;
    const json = JSON.stringify(body.p);
    this.peerStatus.set(body.n, { status: body.p as NodeStatus, incarnation: body.i, sentAt: body.t, json });
    return known?.json !== json;
  }

  /** `grace`: this is the short wait after a pause, which is not extended again however late it fires. */
  private armExpiry(link: RunningLink, peer: NodeId, p: PeerLink, ms: number, grace = false): void {
    p.expiry?.dispose();
    p.expiry = setTimerWithLateness(this.clock, ms, (late) => this.expired(link, peer, p, late, grace));
  }

  /**
   * The peer has been silent for the dead time, unless this process was the one that stood still (link.ts,
   * firedAfterPause): the beats that waited in the sockets meanwhile are not read yet, and taking the peer as lost
   * would start its groups here while it still runs them (as corosync does on "process pause detected", the
   * silence of the pause does not count). The link gets a short while to deliver what waits, a fresh beat
   * included. Once per silence: a loop late all the time (a starved machine) still loses a dead peer, a grace
   * later. Only a silent peer's timer ever fires, so this costs nothing else.
   */
  private expired(link: RunningLink, peer: NodeId, p: PeerLink, late: number, grace: boolean): void {
    if (!grace && firedAfterPause(late, link.config.interval)) {
      // Reported when it was a pause worth the name: a whole interval without a beat sent.
      if (late >= link.config.interval) this.notePause(late);
      this.armExpiry(link, peer, p, pauseGrace(link.config), true);
      return;
    }
    this.linkDown(link, peer, p);
  }

  /** One report per pause, whatever the number of links and peers whose timers it made late. */
  private notePause(late: number): void {
    const now = this.clock.now();
    if (now - this.pauseReportedAt < late) return;
    this.pauseReportedAt = now;
    this.options.onChange({ kind: 'paused', ms: late });
  }

  private reject(link: RunningLink, reason: RejectReason, from: string): void {
    if (link.closed) return;
    // Counted on every peer's stats of the link: who really sent a bad packet cannot be known.
    for (const p of link.peers.values()) p.stats.noteRejected(reason);
    this.options.onChange({ kind: 'rejected', link: link.config.name, reason, from });
  }

  private linkDown(link: RunningLink, peer: NodeId, p: PeerLink): void {
    p.expiry?.dispose();
    p.expiry = undefined;
    if (!p.stats.up) return;
    p.stats.up = false;
    this.options.onChange({ kind: 'link-down', link: link.config.name, peer });
    if (!this.isAlive(peer)) {
      this.aliveSince.delete(peer);
      this.options.onChange({ kind: 'peer-lost', peer });
    }
  }

  /** Alive while any link (of the given role) to the peer is up. */
  private isAlive(peer: NodeId, role?: 'private' | 'public'): boolean {
    for (const link of this.links.values()) {
      if ((role === undefined || link.config.role === role) && link.peers.get(peer)?.stats.up) return true;
    }
    return false;
  }
}
