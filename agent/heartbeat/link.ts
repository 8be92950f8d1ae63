/** One heartbeat transport. UDP and TCP now; a serial line implements the same interface. */
import type { LinkKind, NodeId } from '../../common/model/index.js';

export interface HeartbeatLink {
  readonly name: string;
  readonly kind: LinkKind;
  /** Bind and start receiving; every complete frame is handed over with a description of its origin. */
  start(onFrame: (frame: Buffer, from: string) => void, onMalformed: (from: string, why: string) => void): Promise<void>;
  /** Best effort, never blocking: a heartbeat that cannot go now is simply lost, like a UDP datagram. */
  send(peer: NodeId, frame: Buffer): void;
  close(): Promise<void>;
}

export function parseEndpoint(endpoint: string): { host: string; port: number } {
  const colon = endpoint.lastIndexOf(':');
  const host = endpoint.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
  return { host, port: Number(endpoint.slice(colon + 1)) };
}
