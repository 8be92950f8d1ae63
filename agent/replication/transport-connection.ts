/**
 * One authenticated replication connection, whichever side opened it: frames in and out, keepalive and silence
 * detection, calls in both directions, and one way to end (finish) that releases every timer and reports once.
 * The roles (transport-server.ts, transport-client.ts) see only HELLO, HELLO_OK, RECORD and ACK.
 */
import type { TLSSocket } from 'node:tls';
import {
  encodeError, encodePing, encodeRequestPrefix, encodeResponseError, encodeResponsePrefix, isReplicationErrorCode, isValidCode,
  MAX_CALL_BODY_BYTES, ReplicationError, type AckMessage, type HelloMessage, type HelloOkMessage, type RecordMessage, type ReplicationMessage,
  type RequestMessage,
} from '../../common/protocol/replication.js';
import type { Clock, Disposable } from '../util/clock.js';
import { FrameReader, type FrameMemory } from './transport-framing.js';

export type StreamMessage = HelloMessage | HelloOkMessage | RecordMessage | AckMessage;
/** Answers a call from the peer; a thrown error with a `code` (A-Z, 0-9, _) reaches the caller as appCode. */
export type CallHandler = (method: string, body: Buffer) => Promise<Buffer>;

export interface ConnectionHandlers {
  /** A frame of the role's stream. Throw a ReplicationError to refuse it: the connection fails with it. */
  onMessage(message: StreamMessage, at: number): void;
  /** Once: `error` is undefined when either side closed cleanly. */
  onClose(error: ReplicationError | undefined): void;
  /** socket.write() returned false earlier and the socket has drained. */
  onDrain(): void;
  handle?: CallHandler | undefined;
}

export interface ConnectionOptions {
  readonly keepaliveMs: number;
  readonly clock: Clock;
  /** How the peer is named in messages ("10.0.0.2:7410"). */
  readonly peer: string;
  /** Where large frames are put together; the receiver of their messages gives them back (FrameMemory). */
  readonly frameMemory?: FrameMemory;
}

/** Calls the peer may have running here at once: a flood of calls must not pile up handlers. */
export const MAX_CONCURRENT_CALLS = 64;
/** After sending ERROR or ending, how long the peer has to close before the socket is destroyed. */
const CLOSE_GRACE_MS = 1000;

interface PendingCall {
  readonly method: string;
  readonly resolve: (body: Buffer) => void;
  readonly reject: (e: ReplicationError) => void;
  readonly timer: Disposable;
}

/**
 * Resolves once sockets destroyed so far are released: libuv closes handles in the loop's close phase, which
 * follows the check phase, so two setImmediate turns see them gone.
 */
export function handlesClosed(): Promise<void> {
  return new Promise((resolve) => setImmediate(() => setImmediate(resolve)));
}

const asBuffer = (bytes: Uint8Array): Buffer => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

export class Connection {
  /** Set by the role once HELLO is exchanged: only then do calls flow. */
  ready = false;
  private finished = false;
  /** Writes of this turn of the event loop are being gathered (see write). */
  private corked = false;
  private readonly reader: FrameReader;
  private lastHeardAt: number;
  private tick: Disposable | undefined;
  private grace: Disposable | undefined;
  private nextCallId = 1;
  private readonly calls = new Map<number, PendingCall>();
  private handling = 0;
  private readonly closed: Promise<void>;

  constructor(readonly socket: TLSSocket, private readonly options: ConnectionOptions, private readonly handlers: ConnectionHandlers) {
    this.reader = new FrameReader(options.frameMemory);
    this.lastHeardAt = options.clock.now();
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('end', () => this.ended());
    socket.on('drain', () => { if (!this.finished) handlers.onDrain(); });
    socket.on('error', (e: Error & { code?: string }) => this.finish(new ReplicationError('VIGIL_REPL_SOCKET', `${options.peer}: ${e.code ?? 'error'}: ${e.message}`)));
    socket.on('close', () => {
      this.grace?.dispose();
      this.ended();
    });
    this.scheduleTick();
  }

  get isFinished(): boolean {
    return this.finished;
  }

  /**
   * Write frame parts as one; false when the caller should wait for onDrain. What is written in one turn of the
   * event loop leaves together (corked until the turn ends): a run of small records (a small file's create,
   * write and meta) costs one TLS write and one system call rather than one each, and waits for nothing.
   */
  write(parts: readonly Uint8Array[]): boolean {
    if (this.finished || this.socket.destroyed) return false;
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(() => {
        this.corked = false;
        this.socket.uncork();
      });
    }
    let ok = true;
    for (const part of parts) ok = this.socket.write(part);
    return ok;
  }

  get needsDrain(): boolean {
    return this.socket.writableNeedDrain;
  }

  /** Refuse the peer: tell it why (unless it is gone), close, and report `error`. */
  fail(error: ReplicationError, tellPeer = true): void {
    if (this.finished) return;
    if (tellPeer && this.socket.writable) {
      this.socket.write(encodeError(error.appCode !== undefined && isValidCode(error.appCode) ? error.appCode : error.code, error.message));
      this.endGracefully();
    } else {
      this.socket.destroy();
    }
    this.finish(error);
  }

  /** Close cleanly: the peer sees an orderly end. Resolves once the socket is released. */
  close(): Promise<void> {
    this.finish(undefined);
    this.endGracefully();
    return this.closed;
  }

  /** Close at once (no goodbye). Resolves once the socket is released. */
  destroy(): Promise<void> {
    this.finish(undefined);
    this.socket.destroy();
    return this.closed;
  }

  call(method: string, body: Buffer, timeoutMs: number): Promise<Buffer> {
    if (!this.ready || this.finished) return Promise.reject(new ReplicationError('VIGIL_REPL_NOT_CONNECTED', `call ${method}: not connected to ${this.options.peer}`));
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) return Promise.reject(new ReplicationError('VIGIL_REPL_CONFIG', `call ${method}: timeoutMs ${timeoutMs} is not a positive number`));
    let prefix: Uint8Array;
    const id = this.nextCallId;
    try {
      prefix = encodeRequestPrefix(id, method, body.length);
    } catch (e) {
      return Promise.reject(e);
    }
    this.nextCallId = id >= 0xffffffff ? 1 : id + 1;
    return new Promise<Buffer>((resolve, reject) => {
      const timer = this.options.clock.setTimer(timeoutMs, () => {
        this.calls.delete(id);
        reject(new ReplicationError('VIGIL_REPL_TIMEOUT', `call ${method} (id ${id}): no answer from ${this.options.peer} within ${timeoutMs} ms`));
      });
      this.calls.set(id, { method, resolve, reject, timer });
      this.write([prefix, body]);
    });
  }

  // ---- receiving ----

  private receive(chunk: Buffer): void {
    if (this.finished) return; // after a failure nothing more is believed
    this.lastHeardAt = this.options.clock.now();
    try {
      for (const frame of this.reader.push(chunk)) {
        this.dispatch(frame.message, frame.at);
        if (this.finished) return;
      }
    } catch (e) {
      this.fail(e instanceof ReplicationError ? e : new ReplicationError('VIGIL_REPL_UNEXPECTED', `${this.options.peer}: internal error: ${(e as Error).message}`));
    }
  }

  private dispatch(m: ReplicationMessage, at: number): void {
    switch (m.type) {
      case 'PING': return;
      case 'ERROR': {
        const known = isReplicationErrorCode(m.code);
        const error = new ReplicationError(known ? m.code : 'VIGIL_REPL_REFUSED', `${this.options.peer} closed the connection: ${m.message}`, {
          fromPeer: true, ...(known ? {} : { appCode: m.code }),
        });
        this.finish(error);
        this.endGracefully();
        return;
      }
      case 'REQUEST':
        this.expectReady(m.type, at);
        void this.serve(m);
        return;
      case 'RESPONSE':
      case 'RESPONSE_ERROR': {
        this.expectReady(m.type, at);
        const call = this.calls.get(m.id);
        if (!call) {
          // A late answer to a call that timed out is expected; an answer to a call never made is not.
          if (m.id >= 1 && m.id < this.nextCallId) return;
          throw new ReplicationError('VIGIL_REPL_UNEXPECTED', `stream byte ${at}: ${m.type} for call id ${m.id}, which was never made`, { offset: at });
        }
        this.calls.delete(m.id);
        call.timer.dispose();
        if (m.type === 'RESPONSE') call.resolve(asBuffer(m.body));
        else {
          const known = isReplicationErrorCode(m.code);
          call.reject(new ReplicationError(known ? m.code : 'VIGIL_REPL_REMOTE', `call ${call.method} failed on ${this.options.peer}: ${m.message}`, {
            fromPeer: true, ...(known ? {} : { appCode: m.code }),
          }));
        }
        return;
      }
      default:
        this.handlers.onMessage(m, at);
    }
  }

  private expectReady(type: string, at: number): void {
    if (!this.ready) throw new ReplicationError('VIGIL_REPL_UNEXPECTED', `stream byte ${at}: ${type} before the HELLO exchange completed`, { offset: at });
  }

  private async serve(m: RequestMessage): Promise<void> {
    const handle = this.handlers.handle;
    if (!handle) {
      this.write([encodeResponseError(m.id, 'VIGIL_REPL_UNKNOWN_METHOD', `no calls are handled on this side (method ${m.method})`)]);
      return;
    }
    if (this.handling >= MAX_CONCURRENT_CALLS) {
      this.write([encodeResponseError(m.id, 'VIGIL_REPL_BUSY', `${MAX_CONCURRENT_CALLS} calls already in progress (method ${m.method})`)]);
      return;
    }
    this.handling++;
    let frame: Uint8Array[];
    try {
      const out = await handle(m.method, asBuffer(m.body));
      if (!(out instanceof Uint8Array)) throw new ReplicationError('VIGIL_REPL_REMOTE', `the handler of ${m.method} returned no Buffer`);
      if (out.length > MAX_CALL_BODY_BYTES) throw new ReplicationError('VIGIL_REPL_FRAME_TOO_LARGE', `the handler of ${m.method} returned ${out.length} bytes, at most ${MAX_CALL_BODY_BYTES} may be sent`);
      frame = [encodeResponsePrefix(m.id, out.length), out];
    } catch (e) {
      const err = e as Error & { code?: unknown };
      const code = typeof err.code === 'string' && isValidCode(err.code) ? err.code : 'VIGIL_REPL_REMOTE';
      frame = [encodeResponseError(m.id, code, err instanceof Error ? err.message : String(e))];
    } finally {
      this.handling--;
    }
    this.write(frame);
  }

  // ---- keepalive ----

  private scheduleTick(): void {
    const every = Math.max(1, Math.floor(this.options.keepaliveMs / 3));
    this.tick = this.options.clock.setTimer(every, () => {
      if (this.finished) return;
      const silent = this.options.clock.now() - this.lastHeardAt;
      if (silent >= this.options.keepaliveMs) {
        // A dead peer cannot read a goodbye; a cut cable would only hold it in our buffers.
        this.fail(new ReplicationError('VIGIL_REPL_PEER_SILENT', `${this.options.peer}: nothing heard for ${silent} ms (keepalive ${this.options.keepaliveMs} ms)`), false);
        return;
      }
      this.write([encodePing()]);
      this.scheduleTick();
    });
  }

  // ---- ending ----

  private ended(): void {
    if (this.finished) return;
    try {
      this.reader.finish();
    } catch (e) {
      this.finish(e as ReplicationError);
      this.socket.destroy();
      return;
    }
    this.finish(undefined);
    this.endGracefully();
  }

  private endGracefully(): void {
    if (this.socket.destroyed) return;
    this.socket.end();
    this.grace ??= this.options.clock.setTimer(CLOSE_GRACE_MS, () => this.socket.destroy());
  }

  private finish(error: ReplicationError | undefined): void {
    if (this.finished) return;
    this.finished = true;
    this.ready = false;
    this.tick?.dispose();
    this.tick = undefined;
    for (const [id, call] of this.calls) {
      call.timer.dispose();
      call.reject(new ReplicationError('VIGIL_REPL_CLOSED', `call ${call.method} (id ${id}): the connection to ${this.options.peer} closed${error ? ` (${error.code}: ${error.message})` : ''}`));
    }
    this.calls.clear();
    this.handlers.onClose(error);
  }
}
