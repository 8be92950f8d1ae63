/**
 * A heartbeat link over TCP: each node listens on its endpoint and keeps one outgoing connection to each peer,
 * on which it sends; it receives on the connections its peers opened. Frames delimit themselves (packet.ts).
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { NodeId } from '../../common/model/index.js';
import type { Clock, Disposable } from '../util/clock.js';
import { parseEndpoint, type HeartbeatLink } from './link.js';
import { frameLength, PacketError, HEADER_BYTES, MAC_BYTES, MAX_BODY_BYTES } from './packet.js';

const MAX_FRAME = HEADER_BYTES + MAX_BODY_BYTES + MAC_BYTES;
/** A peer that buffers this much unsent data from us is not keeping up: drop heartbeats rather than queue. */
const MAX_QUEUED_BYTES = 256 * 1024;

export class TcpLink implements HeartbeatLink {
  readonly kind = 'tcp' as const;
  private server: Server | undefined;
  private readonly incoming = new Set<Socket>();
  private readonly outgoing = new Map<NodeId, Socket>();
  private readonly retry = new Map<NodeId, Disposable>();
  private closed = false;

  constructor(
    readonly name: string,
    private readonly local: string,
    private readonly peers: ReadonlyMap<NodeId, string>,
    private readonly reconnectMs: number,
    private readonly clock: Clock,
  ) {}

  async start(onFrame: (frame: Buffer, from: string) => void, onMalformed: (from: string, why: string) => void): Promise<void> {
    const { host, port } = parseEndpoint(this.local);
    const server = createServer((socket) => this.accept(socket, onFrame, onMalformed));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e) => reject(new Error(`heartbeat link ${this.name}: cannot listen on tcp ${this.local}: ${e.message}`)));
      server.listen(port, host, () => resolve());
    });
    for (const peer of this.peers.keys()) this.dial(peer);
  }

  private accept(socket: Socket, onFrame: (frame: Buffer, from: string) => void, onMalformed: (from: string, why: string) => void): void {
    const from = `${socket.remoteAddress}:${socket.remotePort}`;
    this.incoming.add(socket);
    socket.setNoDelay(true);
    socket.on('close', () => this.incoming.delete(socket));
    socket.on('error', () => socket.destroy());
    let buffer: Buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk]);
      try {
        for (let length = frameLength(buffer); length !== undefined && buffer.length >= length; length = buffer.length ? frameLength(buffer) : undefined) {
          if (length > MAX_FRAME) throw new PacketError('malformed', `frame of ${length} bytes`);
          onFrame(buffer.subarray(0, length), from);
          buffer = buffer.subarray(length);
        }
      } catch (e) {
        // A stream out of step cannot be resynchronised safely: drop the connection, the peer reconnects.
        onMalformed(from, (e as Error).message);
        socket.destroy();
      }
    });
  }

  private dial(peer: NodeId): void {
    if (this.closed) return;
    const { host, port } = parseEndpoint(this.peers.get(peer)!);
    const socket = connect({ host, port });
    socket.setNoDelay(true);
    const connectTimer = this.clock.setTimer(Math.max(this.reconnectMs * 5, 1000), () => socket.destroy());
    socket.once('connect', () => {
      connectTimer.dispose();
      this.outgoing.set(peer, socket);
    });
    socket.on('data', () => undefined); // peers never write on our outgoing connection
    socket.on('error', () => undefined);
    socket.on('close', () => {
      connectTimer.dispose();
      if (this.outgoing.get(peer) === socket) this.outgoing.delete(peer);
      if (!this.closed) this.retry.set(peer, this.clock.setTimer(this.reconnectMs, () => this.dial(peer)));
    });
  }

  send(peer: NodeId, frame: Buffer): void {
    const socket = this.outgoing.get(peer);
    if (!socket || socket.writableLength > MAX_QUEUED_BYTES) return;
    socket.write(frame);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const timer of this.retry.values()) timer.dispose();
    for (const socket of [...this.outgoing.values(), ...this.incoming]) socket.destroy();
    this.outgoing.clear();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
