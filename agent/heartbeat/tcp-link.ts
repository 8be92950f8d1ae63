/**
 * A heartbeat link over TCP: each node listens on its endpoint and keeps one outgoing connection to each peer,
 * on which it sends; it receives on the connections its peers opened. Frames delimit themselves (packet.ts).
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { NodeId } from '../../common/model/index.js';
import { setTimerWithLateness, type Clock, type Disposable } from '../util/clock.js';
import { Endpoint, parseEndpoint } from './endpoint.js';
import { firedAfterPause, type FrameHandler, type HeartbeatLink, type LinkOptions, type MalformedHandler } from './link.js';
import { frameLength } from './packet.js';

/** A peer that leaves this much of our data unread is stuck: reconnect rather than queue more. */
const MAX_QUEUED_BYTES = 64 * 1024;
/** Incoming connections beyond this evict the oldest: a restarted peer's half-open ghost must not block it. */
const INCOMING_PER_PEER = 2;

interface Incoming {
  readonly socket: Socket;
  idle: Disposable | undefined;
}

interface Outgoing {
  socket: Socket | undefined;
  connected: boolean;
  connectTimer: Disposable | undefined;
  retry: Disposable | undefined;
  failures: number;
}

export class TcpLink implements HeartbeatLink {
  readonly kind = 'tcp' as const;
  readonly name: string;
  private server: Server | undefined;
  private readonly incoming = new Set<Incoming>();
  private readonly outgoing = new Map<NodeId, Outgoing>();
  private readonly endpoints: ReadonlyMap<NodeId, Endpoint>;
  private closed = false;

  constructor(private readonly options: LinkOptions, private readonly clock: Clock) {
    this.name = options.name;
    this.endpoints = new Map([...options.peers].map(([node, text]) => [node, new Endpoint(text, () => clock.now())]));
  }

  async start(onFrame: FrameHandler, onMalformed: MalformedHandler): Promise<void> {
    const { host, port } = parseEndpoint(this.options.local);
    const server = createServer({ noDelay: true }, (socket) => this.accept(socket, onFrame, onMalformed));
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e) => reject(new Error(`heartbeat link ${this.name}: cannot listen on tcp ${this.options.local}: ${e.message}`)));
      server.listen({ port, host, exclusive: true }, () => {
        server.removeAllListeners('error');
        server.on('error', () => undefined); // accept errors (EMFILE) must not bring the agent down
        resolve();
      });
    });
    this.server = server;
    for (const peer of this.endpoints.keys()) {
      this.outgoing.set(peer, { socket: undefined, connected: false, connectTimer: undefined, retry: undefined, failures: 0 });
      this.dial(peer);
    }
  }

  send(peer: NodeId, frame: Buffer): void {
    const out = this.outgoing.get(peer);
    if (!out?.connected || !out.socket) return;
    if (out.socket.writableLength > MAX_QUEUED_BYTES) {
      out.socket.destroy(); // its close handler reconnects
      return;
    }
    out.socket.write(frame);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const out of this.outgoing.values()) {
      out.retry?.dispose();
      out.connectTimer?.dispose();
      out.socket?.destroy();
    }
    this.outgoing.clear();
    for (const conn of [...this.incoming]) this.drop(conn);
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  // ---- receiving: connections our peers opened ----

  private accept(socket: Socket, onFrame: FrameHandler, onMalformed: MalformedHandler): void {
    if (this.closed) {
      socket.destroy();
      return;
    }
    const from = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    const conn: Incoming = { socket, idle: undefined };
    this.incoming.add(conn);
    const limit = INCOMING_PER_PEER * this.endpoints.size + 1;
    if (this.incoming.size > limit) this.drop(this.incoming.values().next().value!);
    socket.on('close', () => this.drop(conn));
    socket.on('error', () => socket.destroy());
    this.touch(conn);
    let buffer: Buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      this.touch(conn);
      buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk]);
      try {
        // frameLength bounds every frame, so the buffer never holds more than one frame and a chunk.
        for (let length = frameLength(buffer); length !== undefined && buffer.length >= length; length = frameLength(buffer)) {
          onFrame(buffer.subarray(0, length), from);
          buffer = buffer.subarray(length);
          if (buffer.length === 0 || socket.destroyed) break;
        }
      } catch (e) {
        // A stream out of step cannot be resynchronised safely: drop the connection, the peer reconnects.
        this.drop(conn);
        onMalformed(from, (e as Error).message);
      }
    });
  }

  /**
   * A silent incoming connection is a dead peer's or an idler's: release it. Unless this process stood still
   * (link.ts, firedAfterPause): what the peer sent meanwhile waits in this very connection, and is read first
   * (heartbeat.ts's expiry waits for it too); once per silence, so that a loop late all the time still drops a
   * dead peer's connection.
   */
  private touch(conn: Incoming, again = false): void {
    conn.idle?.dispose();
    conn.idle = setTimerWithLateness(this.clock, 2 * this.options.deadTime, (late) => {
      if (!again && firedAfterPause(late, this.options.interval)) this.touch(conn, true);
      else this.drop(conn);
    });
  }

  private drop(conn: Incoming): void {
    conn.idle?.dispose();
    conn.idle = undefined;
    this.incoming.delete(conn);
    conn.socket.destroy();
  }

  // ---- sending: one outgoing connection per peer ----

  private dial(peer: NodeId): void {
    const out = this.outgoing.get(peer);
    const endpoint = this.endpoints.get(peer);
    if (this.closed || !out || !endpoint) return;
    out.retry = undefined;
    const address = endpoint.address();
    if (address === undefined) {
      this.redial(peer, out); // the name is being resolved in the background
      return;
    }
    const socket = connect({ host: address, port: endpoint.port, noDelay: true });
    out.socket = socket;
    out.connected = false;
    // A connect that takes longer than the link's dead time is of no use to a heartbeat.
    out.connectTimer = this.clock.setTimer(this.options.deadTime, () => socket.destroy());
    socket.once('connect', () => {
      out.connectTimer?.dispose();
      out.connectTimer = undefined;
      out.connected = true;
      out.failures = 0;
    });
    socket.on('data', () => undefined); // peers never write on our outgoing connection
    socket.on('error', () => undefined); // 'close' follows and reconnects
    socket.on('close', () => {
      out.connectTimer?.dispose();
      out.connectTimer = undefined;
      if (out.socket !== socket) return;
      out.socket = undefined;
      out.connected = false;
      this.redial(peer, out);
    });
  }

  /** Back off exponentially, but never longer than one interval: a returning peer must hear us at once. */
  private redial(peer: NodeId, out: Outgoing): void {
    if (this.closed) return;
    const base = Math.max(10, this.options.interval / 8);
    const delay = Math.min(this.options.interval, base * 2 ** out.failures);
    out.failures = Math.min(out.failures + 1, 16);
    out.retry = this.clock.setTimer(delay, () => this.dial(peer));
  }
}
