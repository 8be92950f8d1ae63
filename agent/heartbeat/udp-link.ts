/** A heartbeat link over UDP: one socket bound to our endpoint, sending to each peer's endpoint. */
import { createSocket, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import type { NodeId } from '../../common/model/index.js';
import type { Clock } from '../util/clock.js';
import { Endpoint, parseEndpoint } from './endpoint.js';
import type { FrameHandler, HeartbeatLink, LinkOptions, MalformedHandler } from './link.js';
import { MAX_FRAME_BYTES } from './packet.js';

export class UdpLink implements HeartbeatLink {
  readonly kind = 'udp' as const;
  readonly name: string;
  private socket: Socket | undefined;
  private readonly peers: ReadonlyMap<NodeId, Endpoint>;

  constructor(private readonly options: LinkOptions, clock: Clock) {
    this.name = options.name;
    this.peers = new Map([...options.peers].map(([node, text]) => [node, new Endpoint(text, () => clock.now())]));
  }

  async start(onFrame: FrameHandler, onMalformed: MalformedHandler): Promise<void> {
    const { host, port } = parseEndpoint(this.options.local);
    const socket = createSocket({ type: isIPv6(host) ? 'udp6' : 'udp4', reuseAddr: false });
    socket.on('message', (msg, rinfo) => {
      const from = `${rinfo.address}:${rinfo.port}`;
      // The kernel already bounds a datagram; this bounds what the decoder is ever asked to look at.
      if (msg.length > MAX_FRAME_BYTES) onMalformed(from, `datagram of ${msg.length} bytes`);
      else onFrame(msg, from);
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', (e) => {
        socket.close();
        reject(new Error(`heartbeat link ${this.name}: cannot bind udp ${this.options.local}: ${e.message}`));
      });
      socket.bind(port, host, () => {
        socket.removeAllListeners('error');
        // Later socket errors (an unreachable peer) must never bring the agent down.
        socket.on('error', () => undefined);
        resolve();
      });
    });
    this.socket = socket;
  }

  send(peer: NodeId, frame: Buffer): void {
    const endpoint = this.peers.get(peer);
    const address = endpoint?.address();
    if (!this.socket || !endpoint || address === undefined) return;
    this.socket.send(frame, endpoint.port, address, () => undefined);
  }

  async close(): Promise<void> {
    const socket = this.socket;
    this.socket = undefined;
    if (socket) await new Promise<void>((resolve) => socket.close(() => resolve()));
  }
}
