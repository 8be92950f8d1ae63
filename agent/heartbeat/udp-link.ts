import { createSocket, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import type { NodeId } from '../../common/model/index.js';
import { parseEndpoint, type HeartbeatLink } from './link.js';

export class UdpLink implements HeartbeatLink {
  readonly kind = 'udp' as const;
  private socket: Socket | undefined;

  constructor(readonly name: string, private readonly local: string, private readonly peers: ReadonlyMap<NodeId, string>) {}

  async start(onFrame: (frame: Buffer, from: string) => void): Promise<void> {
    const { host, port } = parseEndpoint(this.local);
    const socket = createSocket({ type: isIPv6(host) ? 'udp6' : 'udp4', reuseAddr: false });
    this.socket = socket;
    socket.on('message', (msg, rinfo) => onFrame(msg, `${rinfo.address}:${rinfo.port}`));
    await new Promise<void>((resolve, reject) => {
      socket.once('error', (e) => reject(new Error(`heartbeat link ${this.name}: cannot bind udp ${this.local}: ${e.message}`)));
      socket.bind(port, host, () => {
        socket.removeAllListeners('error');
        // Later socket errors (an unreachable peer) must never bring the agent down.
        socket.on('error', () => undefined);
        resolve();
      });
    });
  }

  send(peer: NodeId, frame: Buffer): void {
    const endpoint = this.peers.get(peer);
    if (!endpoint || !this.socket) return;
    const { host, port } = parseEndpoint(endpoint);
    this.socket.send(frame, port, host, () => undefined);
  }

  async close(): Promise<void> {
    const socket = this.socket;
    this.socket = undefined;
    if (socket) await new Promise<void>((resolve) => socket.close(() => resolve()));
  }
}
