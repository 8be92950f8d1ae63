/**
 * The source side: keeps one connection to the mirror's target, reconnecting with backoff, and streams records
 * from the journal from the target's last applied seq + 1. At most `window` unacknowledged bytes are in flight,
 * and nothing more is written while the socket asks to drain: a slow target slows the reader, memory stays flat.
 */
import { connect, type TLSSocket } from 'node:tls';
import {
  encodeHello, encodeRecordPrefix, MAX_RECORD_PAYLOAD_BYTES, RECORD_OVERHEAD_BYTES, ReplicationError, type HelloOkMessage,
} from '../../common/protocol/replication.js';
import { partsLength, partsOf } from '../util/buffer-parts.js';
import { systemClock, type Clock, type Disposable } from '../util/clock.js';
import { Fifo } from '../util/fifo.js';
import { SendPacer } from './send-pacer.js';
import { Connection, handlesClosed, type StreamMessage } from './transport-connection.js';
import { checkIdentity, clientTlsOptions, handshakeError } from './transport-tls.js';
import {
  DEFAULT_CALL_TIMEOUT_MS, DEFAULT_KEEPALIVE_MS, DEFAULT_WINDOW_BYTES, type ClientState, type ClientStats, type ReplicationClientOptions,
  type OutgoingRecord,
} from './transport-types.js';

/** Read the journal in batches of at most this much, so reading and sending overlap. */
const READ_BATCH_BYTES = 4 * 1024 * 1024;
const CONNECT_ERRORS = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EADDRNOTAVAIL']);

interface InFlight {
  readonly seq: number;
  readonly size: number;
}

/** One connection attempt: the TLS socket, then (after the handshake) the Connection and its stream state. */
class Attempt {
  conn: Connection | undefined;
  connectTimer: Disposable | undefined;
  helloDone = false;
  connectedAt = 0;
  madeProgress = false;
  nextSeq = 1;
  /** Read from the source, not yet sent: up to a read batch of records, tens of thousands when they are small. */
  readonly pending = new Fifo<OutgoingRecord>();
  private readonly inFlight = new Fifo<InFlight>();
  inFlightBytes = 0;
  private waiter: (() => void) | undefined;
  private woken = false;
  /** The pacer's wake-up (waitAtMost), gone with any wake. */
  private pacing: Disposable | undefined;
  readonly released: Promise<void>;

  constructor(readonly socket: TLSSocket) {
    this.released = new Promise((resolve) => socket.once('close', () => resolve()));
  }

  get live(): boolean {
    return this.conn !== undefined && !this.conn.isFinished;
  }

  addInFlight(seq: number, size: number): void {
    this.inFlight.push({ seq, size });
    this.inFlightBytes += size;
  }

  /** Forget what `seq` acknowledges. */
  release(seq: number): void {
    for (let oldest = this.inFlight.peek(); oldest !== undefined && oldest.seq <= seq; oldest = this.inFlight.peek()) {
      this.inFlightBytes -= oldest.size;
      this.inFlight.shift();
    }
  }

  wake(): void {
    this.pacing?.dispose();
    this.pacing = undefined;
    this.woken = true;
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  /** Clear before checking a condition, then wait(): a wake in between is not lost. */
  clearWake(): void {
    this.woken = false;
  }

  wait(): Promise<void> {
    if (this.woken) return Promise.resolve();
    return new Promise((resolve) => { this.waiter = resolve; });
  }

  /** wait(), woken at the latest after `ms` (the pacer's time to the next record). */
  waitAtMost(ms: number, clock: Clock): Promise<void> {
    this.pacing?.dispose();
    this.pacing = clock.setTimer(ms, () => this.wake());
    return this.wait();
  }
}

export class ReplicationClient {
  private readonly clock: Clock;
  private readonly window: number;
  private readonly keepaliveMs: number;
  private readonly minBackoffMs: number;
  private readonly maxBackoffMs: number;
  private state: 'new' | 'running' | 'closed' = 'new';
  private attempt: Attempt | undefined;
  private retryTimer: Disposable | undefined;
  private failures = 0;
  private ackedSeq = 0;
  private sentBytes = 0;
  private maxInFlightBytes = 0;
  private pacer: SendPacer | undefined;

  /** Throws VIGIL_REPL_CONFIG naming the option that is wrong. */
  constructor(private readonly options: ReplicationClientOptions) {
    checkIdentity(options.key, options.nodeId, options.clusterId);
    this.clock = options.clock ?? systemClock;
    this.window = options.window ?? DEFAULT_WINDOW_BYTES;
    this.keepaliveMs = options.keepaliveMs ?? DEFAULT_KEEPALIVE_MS;
    this.minBackoffMs = options.reconnect?.minMs ?? 100;
    this.maxBackoffMs = options.reconnect?.maxMs ?? 5000;
    const positive = { window: this.window, keepaliveMs: this.keepaliveMs, 'reconnect.minMs': this.minBackoffMs, 'reconnect.maxMs': this.maxBackoffMs };
    for (const [name, value] of Object.entries(positive)) {
      if (!Number.isFinite(value) || value <= 0) throw new ReplicationError('VIGIL_REPL_CONFIG', `${name}: ${value} is not a positive number`);
    }
    if (!Number.isInteger(this.window) || this.window > 0xffffffff) throw new ReplicationError('VIGIL_REPL_CONFIG', `window: ${this.window} is not a whole number of bytes below 4 GiB`);
    this.setMaxBytesPerSecond(options.maxBytesPerSecond);
  }

  /** A new bandwidth limit (undefined: none), from the next record on. Throws VIGIL_REPL_CONFIG for one not positive. */
  setMaxBytesPerSecond(rate: number | undefined): void {
    if (rate !== undefined && !(Number.isFinite(rate) && rate > 0)) throw new ReplicationError('VIGIL_REPL_CONFIG', `maxBytesPerSecond: ${rate} is not a positive number`);
    this.pacer = rate === undefined ? undefined : new SendPacer(rate);
    // A pump waiting for the old pace asks the new one.
    this.attempt?.wake();
  }

  /** Connect, and keep connecting until close(). */
  start(): void {
    if (this.state !== 'new') throw new ReplicationError('VIGIL_REPL_CONFIG', `start(): the client is already ${this.state}`);
    this.state = 'running';
    this.dial();
  }

  /** New records are in the journal. */
  notify(): void {
    this.attempt?.wake();
  }

  /** Call the target's handler of this mirror. Rejects with a ReplicationError (VIGIL_REPL_REMOTE for the handler's own errors). */
  call(method: string, body: Buffer, timeoutMs = this.options.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS): Promise<Buffer> {
    const conn = this.attempt?.helloDone ? this.attempt.conn : undefined;
    if (!conn) return Promise.reject(new ReplicationError('VIGIL_REPL_NOT_CONNECTED', `call ${method}: not connected to the target of mirror "${this.options.mirror}"`));
    return conn.call(method, body, timeoutMs);
  }

  stats(): ClientStats {
    const a = this.attempt;
    return {
      sentBytes: this.sentBytes, ackedSeq: this.ackedSeq, inFlightBytes: a?.inFlightBytes ?? 0, maxInFlightBytes: this.maxInFlightBytes,
      connected: a?.helloDone === true && a.live,
    };
  }

  /** Stop reconnecting and close the connection; resolves once its socket and every timer are released. */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.retryTimer?.dispose();
    this.retryTimer = undefined;
    const a = this.attempt;
    if (!a) return;
    a.connectTimer?.dispose();
    a.wake();
    if (a.conn) await a.conn.close();
    else {
      a.socket.destroy();
      await a.released;
    }
    await handlesClosed();
  }

  // ---- connecting ----

  private dial(): void {
    this.retryTimer = undefined;
    if (this.state !== 'running') return;
    this.setState('connecting');
    const { host, port } = this.options;
    const peer = `${host}:${port}`;
    const socket = connect({ host, port, ...clientTlsOptions(this.options.key, this.options.nodeId) });
    const a = new Attempt(socket);
    this.attempt = a;
    let handshakeFailure: ReplicationError | undefined;
    a.connectTimer = this.clock.setTimer(this.keepaliveMs, () => {
      handshakeFailure = new ReplicationError('VIGIL_REPL_TIMEOUT', `${peer}: no TLS session within ${this.keepaliveMs} ms`);
      socket.destroy();
    });
    socket.on('error', (e: Error & { code?: string }) => {
      if (a.conn) return; // the Connection reports errors once it exists
      handshakeFailure ??= CONNECT_ERRORS.has(e.code ?? '')
        ? new ReplicationError('VIGIL_REPL_CONNECT', `${peer}: ${e.code ?? 'error'}: ${e.message}`)
        : handshakeError('client', peer, e);
    });
    socket.once('close', () => {
      if (a.conn) return;
      a.connectTimer?.dispose();
      this.lost(a, handshakeFailure ?? new ReplicationError('VIGIL_REPL_HANDSHAKE', `${peer}: the connection closed during the TLS handshake`));
    });
    socket.once('secureConnect', () => {
      a.connectTimer?.dispose();
      a.connectTimer = undefined;
      if (this.state !== 'running') {
        socket.destroy();
        return;
      }
      a.conn = new Connection(socket, { keepaliveMs: this.keepaliveMs, clock: this.clock, peer: `target ${peer}` }, {
        onMessage: (m, at) => this.receive(a, m, at),
        onClose: (error) => this.lost(a, error),
        onDrain: () => a.wake(),
        handle: this.options.handle,
      });
      try {
        a.conn.write([encodeHello({
          window: this.window, lineage: this.options.lineage(), fromSeq: this.ackedSeq + 1,
          clusterId: this.options.clusterId, mirror: this.options.mirror, sourceNode: this.options.nodeId,
        })]);
      } catch (e) {
        a.conn.fail(e instanceof ReplicationError ? e : new ReplicationError('VIGIL_REPL_CONFIG', `HELLO: ${(e as Error).message}`), false);
      }
    });
  }

  private lost(a: Attempt, error: ReplicationError | undefined): void {
    if (this.attempt !== a) return;
    a.pending.clear();
    a.wake(); // the pump sees the connection gone and stops
    const lasted = a.helloDone && this.clock.now() - a.connectedAt >= this.keepaliveMs;
    if (a.madeProgress || lasted) this.failures = 0;
    if (error && this.state === 'running') {
      try {
        this.options.onError?.(error);
      } catch {
        // a throwing callback must not stop the reconnecting
      }
    }
    this.setState('disconnected', error ? `${error.code}: ${error.message}` : 'connection closed');
    if (this.state !== 'running') return;
    const delay = Math.min(this.maxBackoffMs, this.minBackoffMs * 2 ** this.failures);
    this.failures = Math.min(this.failures + 1, 30);
    this.retryTimer = this.clock.setTimer(delay, () => this.dial());
  }

  private setState(state: ClientState, detail?: string): void {
    try {
      this.options.onState?.(state, ...(detail === undefined ? [] : [detail]));
    } catch {
      // as above
    }
  }

  // ---- the stream ----

  private receive(a: Attempt, m: StreamMessage, at: number): void {
    if (m.type === 'HELLO_OK') {
      if (a.helloDone) throw new ReplicationError('VIGIL_REPL_UNEXPECTED', `stream byte ${at}: a second HELLO_OK`, { offset: at });
      this.opened(a, m);
      return;
    }
    if (m.type !== 'ACK') throw new ReplicationError('VIGIL_REPL_UNEXPECTED', `stream byte ${at}: ${m.type} is sent by a source, not to it`, { offset: at });
    if (!a.helloDone) throw new ReplicationError('VIGIL_REPL_UNEXPECTED', `stream byte ${at}: ACK before HELLO_OK`, { offset: at });
    if (m.seq >= a.nextSeq) {
      throw new ReplicationError('VIGIL_REPL_BAD_ACK', `stream byte ${at + 6}: ACK.seq ${m.seq}, but only records up to ${a.nextSeq - 1} were sent`, { offset: at + 6 });
    }
    a.release(m.seq);
    if (m.seq > this.ackedSeq) {
      this.ackedSeq = m.seq;
      a.madeProgress = true;
      this.options.onAck(m.seq);
    }
    a.wake();
  }

  private opened(a: Attempt, m: HelloOkMessage): void {
    a.helloDone = true;
    a.conn!.ready = true;
    a.connectedAt = this.clock.now();
    // The target may hold less than we were told (its data restored from a backup): resend from what it holds.
    a.nextSeq = m.lastApplied + 1;
    this.setState('connected', `target at seq ${m.lastApplied}, lineage ${m.lineage}`);
    if (m.lastApplied > this.ackedSeq) {
      this.ackedSeq = m.lastApplied;
      this.options.onAck(m.lastApplied);
    }
    this.options.onHelloOk?.({ lastApplied: m.lastApplied, lineage: m.lineage });
    void this.pump(a);
  }

  /** Sends records while the window and the socket allow; waits for acks, drains and notify() otherwise. */
  private async pump(a: Attempt): Promise<void> {
    const conn = a.conn!;
    while (a.live && this.attempt === a) {
      a.clearWake();
      if (a.pending.length === 0) {
        if (a.inFlightBytes >= this.window) {
          await a.wait();
          continue;
        }
        let records: OutgoingRecord[];
        try {
          records = await this.options.source.read(a.nextSeq, Math.max(1, Math.min(READ_BATCH_BYTES, this.window - a.inFlightBytes)));
          if (!a.live) return;
          checkRecords(a.nextSeq, records);
        } catch (e) {
          if (a.live) conn.fail(e instanceof ReplicationError ? e : new ReplicationError('VIGIL_REPL_SOURCE', `read(${a.nextSeq}): ${(e as Error).message}`));
          return;
        }
        if (records.length === 0) await a.wait();
        else for (const r of records) a.pending.push(r);
        continue;
      }
      const r = a.pending.peek()!;
      const bytes = partsLength(r.payload);
      const size = RECORD_OVERHEAD_BYTES + bytes;
      if ((a.inFlightBytes > 0 && a.inFlightBytes + size > this.window) || conn.needsDrain) {
        await a.wait();
        continue;
      }
      const early = this.pacer?.delay(size, this.clock.now()) ?? 0;
      if (early > 0) {
        await a.waitAtMost(early, this.clock);
        continue;
      }
      a.pending.shift();
      conn.write([encodeRecordPrefix(r.seq, bytes), ...partsOf(r.payload)]);
      a.addInFlight(r.seq, size);
      a.nextSeq = r.seq + 1;
      this.sentBytes += size;
      if (a.inFlightBytes > this.maxInFlightBytes) this.maxInFlightBytes = a.inFlightBytes;
    }
  }
}

/** The journal must hand back contiguous records from the seq asked for, each within the frame limit. */
function checkRecords(fromSeq: number, records: readonly OutgoingRecord[]): void {
  if (!Array.isArray(records)) throw new ReplicationError('VIGIL_REPL_SOURCE', `read(${fromSeq}) returned no array`);
  records.forEach((r, i) => {
    if (r.seq !== fromSeq + i) throw new ReplicationError('VIGIL_REPL_SOURCE', `read(${fromSeq}) returned seq ${r.seq} at index ${i}, expected ${fromSeq + i}`);
    const parts: readonly unknown[] = isPayloadPart(r.payload) ? [r.payload] : Array.isArray(r.payload) ? r.payload : [undefined];
    const bad = parts.findIndex((part) => !isPayloadPart(part));
    if (bad >= 0) throw new ReplicationError('VIGIL_REPL_SOURCE', `read(${fromSeq}): record ${r.seq} has no Buffer payload${parts.length > 1 ? ` (part ${bad})` : ''}`);
    const bytes = partsLength(r.payload);
    if (bytes > MAX_RECORD_PAYLOAD_BYTES) {
      throw new ReplicationError('VIGIL_REPL_SOURCE', `read(${fromSeq}): record ${r.seq} has ${bytes} bytes, at most ${MAX_RECORD_PAYLOAD_BYTES} may be sent`);
    }
  });
}

function isPayloadPart(part: unknown): part is Buffer {
  return part instanceof Uint8Array;
}
