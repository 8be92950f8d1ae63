/**
 * The target side: accepts sources, checks their HELLO, and applies each mirror's records in order, one at a time,
 * acknowledging what is applied. One connection per mirror is live: a newer one (a source back after a cable cut
 * while its old connection still looks open here) replaces the older, which first finishes the record it applies.
 */
import type { Socket } from 'node:net';
import { createServer, type Server, type TLSSocket } from 'node:tls';
import {
  encodeAck, encodeHelloOk, isValidCode, RECORD_OVERHEAD_BYTES, ReplicationError, type HelloMessage, type RecordMessage,
} from '../../common/protocol/replication.js';
import { systemClock, type Clock, type Disposable } from '../util/clock.js';
import { Fifo } from '../util/fifo.js';
import { Connection, handlesClosed, type StreamMessage } from './transport-connection.js';
import { FrameMemory } from './transport-framing.js';
import { checkIdentity, handshakeError, serverTlsOptions } from './transport-tls.js';
import { DEFAULT_CALL_TIMEOUT_MS, DEFAULT_KEEPALIVE_MS, type MirrorEndpoint, type ReplicationServerOptions } from './transport-types.js';

/**
 * Acks are coalesced: one when the queue empties, or after this many bytes applied (or a quarter of the source's
 * window, if less), so the source's window reopens while the queue is still busy.
 */
const ACK_EVERY_BYTES = 1024 * 1024;

interface QueuedRecord {
  readonly seq: number;
  readonly payload: Buffer;
  readonly size: number;
}

const codeOf = (e: unknown): string | undefined => {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && isValidCode(code) ? code : undefined;
};

export class ReplicationServer {
  private readonly sockets = new Set<Socket>();
  private readonly sessions = new Set<TargetSession>();
  /** The live session of each mirror. */
  readonly active = new Map<string, TargetSession>();
  private closing = false;
  readonly keepaliveMs: number;
  readonly clock: Clock;
  /** Where the sessions put large records together, given back once applied (transport-framing.ts). */
  readonly frameMemory = new FrameMemory();

  private constructor(
    readonly options: ReplicationServerOptions, private readonly server: Server, readonly port: number,
    /** The node each socket proved to be in its TLS handshake (its PSK identity). */
    private readonly identities: WeakMap<TLSSocket, string>,
  ) {
    this.keepaliveMs = options.keepaliveMs ?? DEFAULT_KEEPALIVE_MS;
    this.clock = options.clock ?? systemClock;
  }

  /** Listen on host:port; rejects with VIGIL_REPL_CONFIG for bad options and VIGIL_REPL_CONNECT if it cannot bind. */
  static async listen(options: ReplicationServerOptions): Promise<ReplicationServer> {
    checkIdentity(options.key, options.nodeId, options.clusterId);
    const keepaliveMs = options.keepaliveMs ?? DEFAULT_KEEPALIVE_MS;
    if (!Number.isFinite(keepaliveMs) || keepaliveMs <= 0) throw new ReplicationError('VIGIL_REPL_CONFIG', `keepaliveMs: ${keepaliveMs} is not a positive number`);
    const identities = new WeakMap<TLSSocket, string>();
    const server = createServer(serverTlsOptions([options.key, ...(options.acceptKeys ?? [])], identities, keepaliveMs));
    const port = await new Promise<number>((resolve, reject) => {
      server.once('error', (e: Error & { code?: string }) => reject(new ReplicationError('VIGIL_REPL_CONNECT', `replication server: cannot listen on ${options.host}:${options.port}: ${e.code ?? e.message}`)));
      server.listen({ host: options.host, port: options.port, exclusive: true }, () => {
        server.removeAllListeners('error');
        const address = server.address();
        resolve(typeof address === 'object' && address !== null ? address.port : options.port);
      });
    });
    const self = new ReplicationServer(options, server, port, identities);
    self.attach();
    return self;
  }

  /** Call the source of `mirror` over its live connection. */
  call(mirror: string, method: string, body: Buffer, timeoutMs = DEFAULT_CALL_TIMEOUT_MS): Promise<Buffer> {
    const session = this.active.get(mirror);
    if (!session?.conn.ready) return Promise.reject(new ReplicationError('VIGIL_REPL_NOT_CONNECTED', `call ${method}: no source of mirror "${mirror}" is connected`));
    return session.conn.call(method, body, timeoutMs);
  }

  /** Mirrors with a source connected and streaming. */
  connectedMirrors(): string[] {
    return [...this.active].filter(([, s]) => s.conn.ready).map(([name]) => name);
  }

  /**
   * Stop listening and drop every connection. Resolves once every socket is released and no apply is running
   * (records queued behind the one being applied are dropped: the source resends them).
   */
  async close(): Promise<void> {
    this.closing = true;
    const listening = new Promise<void>((resolve) => this.server.close(() => resolve()));
    const sessions = [...this.sessions];
    const released = sessions.map((s) => s.conn.destroy());
    for (const socket of this.sockets) socket.destroy();
    await Promise.all([listening, ...released, ...sessions.map((s) => s.idle())]);
    await handlesClosed();
  }

  report(error: ReplicationError): void {
    try {
      this.options.onError?.(error);
    } catch {
      // A throwing callback must not take the connection handling down with it.
    }
  }

  forget(session: TargetSession): void {
    this.sessions.delete(session);
    if (session.mirror !== undefined && this.active.get(session.mirror) === session) this.active.delete(session.mirror);
  }

  private attach(): void {
    this.server.on('error', (e) => this.report(new ReplicationError('VIGIL_REPL_SOCKET', `replication server: ${e.message}`)));
    // Raw sockets, handshakes included, so close() can release the ones that never finish theirs.
    this.server.on('connection', (socket: Socket) => {
      if (this.closing) {
        socket.destroy();
        return;
      }
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    this.server.on('tlsClientError', (e: Error & { code?: string }, socket: TLSSocket) => {
      this.report(handshakeError('server', `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`, e));
      socket.destroy();
    });
    this.server.on('secureConnection', (socket: TLSSocket) => {
      if (this.closing) {
        socket.destroy();
        return;
      }
      const session = new TargetSession(this, socket, this.identities.get(socket) ?? '?');
      this.sessions.add(session);
    });
  }
}

/** One source's connection, from HELLO to close. */
class TargetSession {
  readonly conn: Connection;
  mirror: string | undefined;
  private endpoint: MirrorEndpoint | undefined;
  private state: 'hello' | 'opening' | 'streaming' | 'done' = 'hello';
  private helloTimer: Disposable | undefined;
  private window = 0;
  private received = 0;
  private applied = 0;
  /** Received, not yet started: up to a window of records, tens of thousands when they are small. */
  private readonly queue = new Fifo<QueuedRecord>();
  private queuedBytes = 0;
  private bytesSinceAck = 0;
  private applying: Promise<void> | undefined;
  /** The previous session of the mirror, until its last apply has landed. */
  private predecessor: Promise<void> = Promise.resolve();

  constructor(private readonly server: ReplicationServer, socket: TLSSocket, private readonly identity: string) {
    const peer = `node "${identity}" (${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'})`;
    this.conn = new Connection(socket, { keepaliveMs: server.keepaliveMs, clock: server.clock, peer, frameMemory: server.frameMemory }, {
      onMessage: (m, at) => this.receive(m, at),
      onClose: (error) => this.closed(error),
      onDrain: () => undefined,
      handle: (method, body) => {
        const handle = this.endpoint?.handle;
        if (!handle) throw new ReplicationError('VIGIL_REPL_UNKNOWN_METHOD', `mirror "${this.mirror ?? '?'}" handles no calls (method ${method})`);
        return handle.call(this.endpoint, method, body);
      },
    });
    this.helloTimer = server.clock.setTimer(server.keepaliveMs, () => {
      this.conn.fail(new ReplicationError('VIGIL_REPL_TIMEOUT', `${peer}: no HELLO within ${server.keepaliveMs} ms of the TLS handshake`));
    });
  }

  /** Settles when no apply is running for this session or the ones it replaced. */
  idle(): Promise<void> {
    return Promise.all([this.predecessor, this.applying]).then(() => undefined);
  }

  private receive(m: StreamMessage, at: number): void {
    switch (m.type) {
      case 'HELLO':
        if (this.state !== 'hello') throw new ReplicationError('VIGIL_REPL_UNEXPECTED', `stream byte ${at}: a second HELLO`, { offset: at });
        this.state = 'opening';
        this.helloTimer?.dispose();
        this.helloTimer = undefined;
        void this.open(m);
        return;
      case 'RECORD':
        this.record(m, at);
        return;
      default:
        throw new ReplicationError('VIGIL_REPL_UNEXPECTED', `stream byte ${at}: ${m.type} is sent by a target, not to it`, { offset: at });
    }
  }

  private async open(hello: HelloMessage): Promise<void> {
    const { options } = this.server;
    try {
      if (hello.sourceNode !== this.identity) {
        throw new ReplicationError('VIGIL_REPL_AUTH', `HELLO.sourceNode: "${hello.sourceNode}", but the TLS key is node "${this.identity}"'s`);
      }
      if (hello.clusterId !== options.clusterId) {
        throw new ReplicationError('VIGIL_REPL_WRONG_CLUSTER', `HELLO.clusterId: "${hello.clusterId}", this node belongs to cluster "${options.clusterId}"`);
      }
      const endpoint = options.mirror(hello.mirror);
      if (!endpoint) throw new ReplicationError('VIGIL_REPL_UNKNOWN_MIRROR', `HELLO.mirror: node "${options.nodeId}" is not a target of mirror "${hello.mirror}"`);
      this.mirror = hello.mirror;
      this.endpoint = endpoint;
      const previous = this.server.active.get(hello.mirror);
      this.server.active.set(hello.mirror, this);
      if (previous) {
        previous.conn.fail(new ReplicationError('VIGIL_REPL_REPLACED', `mirror "${hello.mirror}": a newer connection from node "${hello.sourceNode}" replaces this one`));
        this.predecessor = previous.idle();
        await this.predecessor; // its record in progress lands before we read lastApplied
      }
      if (this.isDone()) return;
      try {
        await endpoint.onHello?.({ node: hello.sourceNode, lineage: hello.lineage, fromSeq: hello.fromSeq });
      } catch (e) {
        const appCode = codeOf(e);
        throw new ReplicationError('VIGIL_REPL_REFUSED', `mirror "${hello.mirror}" refused node "${hello.sourceNode}": ${(e as Error).message}`, appCode ? { appCode } : {});
      }
      if (this.isDone()) return;
      const lastApplied = endpoint.lastApplied();
      this.applied = this.received = lastApplied;
      this.window = hello.window;
      this.conn.write([encodeHelloOk(lastApplied, endpoint.lineage())]);
      this.state = 'streaming';
      this.conn.ready = true;
    } catch (e) {
      this.conn.fail(e instanceof ReplicationError ? e : new ReplicationError('VIGIL_REPL_REFUSED', `HELLO: ${(e as Error).message}`));
    }
  }

  private record(m: RecordMessage, at: number): void {
    if (this.state !== 'streaming') throw new ReplicationError('VIGIL_REPL_UNEXPECTED', `stream byte ${at}: RECORD before HELLO_OK`, { offset: at });
    if (m.seq <= this.received) {
      // A resend of what we hold: acknowledged (once applied), never applied twice.
      if (!this.applying) this.sendAck();
      return;
    }
    if (m.seq !== this.received + 1) {
      throw new ReplicationError('VIGIL_REPL_SEQ_GAP', `stream byte ${at + 6}: RECORD.seq ${m.seq}, expected ${this.received + 1} (mirror "${this.mirror ?? '?'}")`, { offset: at + 6 });
    }
    const size = RECORD_OVERHEAD_BYTES + m.payload.length;
    this.received = m.seq;
    this.queue.push({ seq: m.seq, payload: Buffer.from(m.payload.buffer, m.payload.byteOffset, m.payload.byteLength), size });
    this.queuedBytes += size;
    if (this.queue.length > 1 && this.queuedBytes > this.window) {
      throw new ReplicationError('VIGIL_REPL_WINDOW', `stream byte ${at}: ${this.queuedBytes} bytes unacknowledged, the source announced a window of ${this.window}`, { offset: at });
    }
    this.applying ??= this.applyQueued();
  }

  /**
   * Never rejects: a failed apply fails the connection. Up to the endpoint's concurrency records are applied at
   * once; they complete (and are acknowledged) in seq order, so `applied` only ever names a whole prefix. After a
   * failure, records after it may have been applied too: the source resends them, and applying is idempotent.
   */
  private async applyQueued(): Promise<void> {
    const endpoint = this.endpoint!;
    const concurrency = Math.max(1, endpoint.concurrency ?? 1);
    const started: { record: QueuedRecord; done: Promise<unknown> }[] = [];
    while (this.state === 'streaming' && (this.queue.length > 0 || started.length > 0)) {
      while (started.length < concurrency && this.queue.length > 0) {
        const record = this.queue.shift()!;
        // The outcome, never a rejection: undefined when applied, else the error.
        started.push({ record, done: endpoint.apply({ seq: record.seq, payload: record.payload }).then(() => undefined, (e: unknown) => e ?? new Error('apply failed')) });
      }
      const { record: r, done } = started.shift()!;
      const failure = await done;
      // Applied (or failed): the endpoint keeps nothing of a payload once its apply settles.
      this.server.frameMemory.give(r.payload);
      if (failure !== undefined) {
        const appCode = codeOf(failure);
        this.conn.fail(new ReplicationError('VIGIL_REPL_APPLY', `mirror "${this.mirror ?? '?'}": applying record ${r.seq} failed: ${(failure as Error).message ?? String(failure)}`, appCode ? { appCode } : {}));
        break;
      }
      this.applied = r.seq;
      endpoint.appliedThrough?.(r.seq);
      this.queuedBytes -= r.size;
      this.bytesSinceAck += r.size;
      if ((this.queue.length === 0 && started.length === 0) || this.bytesSinceAck >= Math.min(ACK_EVERY_BYTES, this.window / 4)) {
        // An ack promises the record survives a crash of the target: make it durable first.
        try {
          await endpoint.flush?.();
        } catch (e) {
          this.conn.fail(new ReplicationError('VIGIL_REPL_APPLY', `mirror "${this.mirror ?? '?'}": making records up to ${r.seq} durable failed: ${(e as Error).message}`));
          break;
        }
        this.sendAck();
      }
    }
    // What was started lands before this session counts as idle (a newer one must not send it again meanwhile).
    await Promise.all(started.map((s) => s.done));
    for (const s of started) this.server.frameMemory.give(s.record.payload);
    this.applying = undefined;
  }

  private sendAck(): void {
    if (this.state !== 'streaming') return;
    this.bytesSinceAck = 0;
    this.conn.write([encodeAck(this.applied)]);
  }

  private isDone(): boolean {
    return this.state === 'done';
  }

  private closed(error: ReplicationError | undefined): void {
    this.state = 'done';
    this.helloTimer?.dispose();
    this.helloTimer = undefined;
    this.queue.clear();
    this.queuedBytes = 0;
    // Stay the mirror's session until the record in progress lands: a newer one waits for it before it reads
    // lastApplied(), or it would send that record again.
    void this.idle().then(() => this.server.forget(this));
    if (error) this.server.report(error);
  }
}
