// Helpers for the transport tests: a journal and a target in memory, servers and clients with test defaults (fast reconnects),
// a raw TLS client holding the right key, and a count of the sockets and timers the process holds.
import type { Socket } from 'node:net';
import { connect, type TLSSocket } from 'node:tls';
import type { TestContext } from 'node:test';
import { ReplicationClient, ReplicationServer, type CallHandler, type MirrorEndpoint, type RecordSource, type ReplicationClientOptions, type ReplicationError, type ReplicationRecord, type ReplicationServerOptions } from '../../../agent/replication/transport.js';
import { clientTlsOptions } from '../../../agent/replication/transport-tls.js';

export { until } from '../../support/process.js';

export const KEY = Buffer.alloc(32, 0x5a);
export const CLUSTER = 'test-cluster';
export const MIRROR = 'data';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The source's journal: append records, read them back from any seq. */
export class MemoryJournal implements RecordSource {
  readonly records: Buffer[] = [];
  reads = 0;

  append(payload: Buffer): number {
    this.records.push(payload);
    return this.records.length;
  }

  async read(fromSeq: number, maxBytes: number): Promise<ReplicationRecord[]> {
    this.reads++;
    const out: ReplicationRecord[] = [];
    let bytes = 0;
    for (let seq = fromSeq; seq <= this.records.length; seq++) {
      const payload = this.records[seq - 1]!;
      if (out.length > 0 && bytes + payload.length > maxBytes) break;
      out.push({ seq, payload });
      bytes += payload.length;
    }
    return out;
  }
}

/** A payload that names its seq, so the target can check what it got. */
export function payloadFor(seq: number, size = 64): Buffer {
  const b = Buffer.alloc(Math.max(8, size), seq & 0xff);
  b.writeUInt32BE(seq, 0);
  return b;
}

/** The target's side of the mirror: every seq applied, in order, and how many times. */
export class MemoryTarget implements MirrorEndpoint {
  readonly applied: number[] = [];
  applyDelayMs = 0;
  /** Called during each apply (e.g. to sample the source's in-flight bytes). */
  onApply: ((seq: number) => void) | undefined;
  lin = '1';
  handle?: CallHandler;
  onHello?: (peer: { readonly node: string; readonly lineage: string; readonly fromSeq: number }) => void | Promise<void>;
  last = 0;

  lastApplied(): number {
    return this.last;
  }

  lineage(): string {
    return this.lin;
  }

  async apply(r: ReplicationRecord): Promise<void> {
    if (r.payload.readUInt32BE(0) !== r.seq) throw new Error(`record ${r.seq} carries the payload of ${r.payload.readUInt32BE(0)}`);
    this.onApply?.(r.seq);
    if (this.applyDelayMs > 0) await sleep(this.applyDelayMs);
    this.applied.push(r.seq);
    this.last = r.seq;
  }

  /** Every seq from 1 to n exactly once, in order. */
  isExactly(n: number): boolean {
    return this.applied.length === n && this.applied.every((s, i) => s === i + 1);
  }
}

export async function startServer(t: TestContext, mirrors: Record<string, MirrorEndpoint>, extra: Partial<ReplicationServerOptions> = {}): Promise<{ server: ReplicationServer; errors: ReplicationError[] }> {
  const errors: ReplicationError[] = [];
  const server = await ReplicationServer.listen({
    host: '127.0.0.1', port: 0, clusterId: CLUSTER, nodeId: 'beta', key: KEY,
    mirror: (name) => mirrors[name], onError: (e) => errors.push(e), ...extra,
  });
  t.after(() => server.close());
  return { server, errors };
}

export interface ClientHarness {
  readonly client: ReplicationClient;
  readonly acks: number[];
  readonly errors: ReplicationError[];
  readonly states: string[];
}

export function startClient(t: TestContext, port: number, source: RecordSource, extra: Partial<ReplicationClientOptions> = {}): ClientHarness {
  const acks: number[] = [];
  const errors: ReplicationError[] = [];
  const states: string[] = [];
  const client = new ReplicationClient({
    host: '127.0.0.1', port, clusterId: CLUSTER, nodeId: 'alpha', key: KEY, mirror: MIRROR, lineage: () => '1', source,
    onAck: (seq) => acks.push(seq), onError: (e) => errors.push(e), onState: (s, d) => states.push(d ? `${s}: ${d}` : s),
    reconnect: { minMs: 10, maxMs: 100 }, ...extra,
  });
  t.after(() => client.close());
  client.start();
  return { client, acks, errors, states };
}

/** A TLS connection with the right key that speaks whatever bytes a test writes. */
export async function rawClient(t: TestContext, port: number, nodeId = 'alpha', key = KEY): Promise<TLSSocket & { received: Buffer[] }> {
  const socket = connect({ host: '127.0.0.1', port, ...clientTlsOptions(key, nodeId) }) as TLSSocket & { received: Buffer[] };
  socket.received = [];
  socket.on('data', (d: Buffer) => socket.received.push(d));
  socket.on('error', () => undefined);
  t.after(() => { socket.destroy(); });
  await new Promise<void>((resolve, reject) => {
    socket.once('secureConnect', () => resolve());
    socket.once('close', () => reject(new Error('closed during the handshake')));
  });
  return socket;
}

export function closedPromise(socket: Socket): Promise<void> {
  return socket.destroyed ? Promise.resolve() : new Promise((r) => socket.once('close', () => r()));
}

/** Sockets, servers and timers this process holds, by kind. */
export function resourceCounts(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const kind of process.getActiveResourcesInfo()) counts[kind] = (counts[kind] ?? 0) + 1;
  return counts;
}
