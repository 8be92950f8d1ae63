/**
 * One client connection: the hello/welcome handshake, then requests answered in any order and events pushed.
 * Until the caller is authenticated, nothing but `hello` is read; a role check runs before every handler.
 */
import type { WebSocket, RawData } from 'ws';
import { roleAllows, type Principal, type SnapshotTopic, type TopicData } from '../../common/model/index.js';
import {
  API_VERSIONS, ProtocolError, decodeClientMessage, encodeMessage, errorRequestId, methodsFor, requiredRole,
  type Capability, type ErrorCode, type Hello, type Method, type Params, type RequestMessage, type Results, type ServerMessage,
} from '../../common/protocol/api.js';
import type { AuthResult, Authenticator } from './authenticator.js';
import { TokenBucket } from './rate-limit.js';
import type { TopicHub, TopicSubscriber } from './topic-hub.js';

/** Who called, for handlers that record an author and for the audit log. */
export interface Caller { readonly principal: Principal; readonly remote: string }

type SessionMethod = 'subscribe' | 'unsubscribe';
export type Handlers = { [M in Exclude<Method, SessionMethod>]: (params: Params<M>, caller: Caller) => Results[M] | Promise<Results[M]> };

export interface AuditRecord {
  readonly principal?: Principal;
  readonly remote: string;
  readonly method: string;
  readonly params: unknown;
  readonly result: 'ok' | ErrorCode;
  readonly message?: string;
  readonly durationMs: number;
}

export interface SessionLimits {
  /** A client must say hello within this time. */
  readonly helloTimeoutMs: number;
  readonly requestsPerSecond: number;
  readonly requestBurst: number;
  /** Requests refused for the rate before the connection is closed. */
  readonly refusalsBeforeClose: number;
  readonly maxInFlight: number;
  /** Bytes queued for a client that does not read before it is dropped. */
  readonly maxBufferedBytes: number;
}

export const DEFAULT_SESSION_LIMITS: SessionLimits = {
  helloTimeoutMs: 5_000, requestsPerSecond: 50, requestBurst: 100, refusalsBeforeClose: 500, maxInFlight: 32, maxBufferedBytes: 8 * 1024 * 1024,
};

export interface SessionContext {
  readonly node: string;
  readonly cluster: string;
  readonly agentVersion: string;
  readonly capabilities: readonly Capability[];
  readonly authenticator: Authenticator;
  readonly handlers: Handlers;
  readonly hub: TopicHub;
  readonly snapshot: () => Results['snapshot'];
  readonly audit: (record: AuditRecord) => void;
  /** Every request answered, by method and result ("ok" or the error code), for the metrics. */
  readonly count?: (method: string, result: string) => void;
  readonly limits: SessionLimits;
}

/** WebSocket close codes: 4401/4403 mirror HTTP's, 1008 is a policy violation, 1013 "try again later". */
const CLOSE_UNAUTHENTICATED = 4401;
const CLOSE_POLICY = 1008;
const CLOSE_OVERLOADED = 1013;

export class ApiSession implements TopicSubscriber {
  private principal: Principal | undefined;
  private welcomed = false;
  private closed = false;
  private inFlight = 0;
  private refusals = 0;
  private seq = 0;
  private readonly bucket: TokenBucket;
  private readonly helloTimer: NodeJS.Timeout;

  /**
   * `preAuth` is what the TLS handshake or the upgrade's Authorization header established: a principal, a
   * refusal, or nothing (the hello must then carry a token).
   */
  constructor(private readonly ws: WebSocket, private readonly remote: string, private readonly preAuth: AuthResult | undefined, private readonly ctx: SessionContext) {
    this.bucket = new TokenBucket(ctx.limits.requestsPerSecond, ctx.limits.requestBurst);
    this.helloTimer = setTimeout(() => this.refuse('UNAUTHENTICATED', `no hello within ${ctx.limits.helloTimeoutMs} ms`), ctx.limits.helloTimeoutMs);
    ws.on('message', (data: RawData, isBinary: boolean) => this.onFrame(data, isBinary));
    ws.on('close', () => this.dispose());
    ws.on('error', () => ws.terminate());
  }

  private onFrame(data: RawData, isBinary: boolean): void {
    if (this.closed) return;
    const allowed = this.bucket.take();
    if (!allowed && ++this.refusals >= this.ctx.limits.refusalsBeforeClose) {
      this.close(CLOSE_POLICY, 'request flood');
      return;
    }
    if (isBinary) {
      this.refuseOrAnswer(new ProtocolError('BAD_FRAME', 'binary frames are not part of this protocol: send JSON text'));
      return;
    }
    let message;
    try {
      message = decodeClientMessage((Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer)).toString('utf8'));
    } catch (e) {
      this.refuseOrAnswer(e as ProtocolError);
      return;
    }
    if (message.type === 'hello') this.onHello(message);
    else if (!this.welcomed) this.refuse('UNAUTHENTICATED', 'a session starts with hello');
    else if (!allowed) this.reply({ type: 'response', id: message.id, ok: false, error: { code: 'RATE_LIMITED', message: `more than ${this.ctx.limits.requestsPerSecond} requests per second` } });
    else void this.onRequest(message);
  }

  /** Before the welcome any bad frame ends the session; after it, a bad request gets an error answer. */
  private refuseOrAnswer(e: ProtocolError): void {
    if (!this.welcomed) {
      this.refuse(e.code, e.message);
      return;
    }
    this.reply({ type: 'response', id: errorRequestId(e) ?? -1, ok: false, error: { code: e.code, message: e.message } });
  }

  private onHello(hello: Hello): void {
    if (this.welcomed) {
      this.reply({ type: 'response', id: -1, ok: false, error: { code: 'BAD_FRAME', message: 'hello was already said' } });
      return;
    }
    clearTimeout(this.helloTimer);
    const version = Math.max(...hello.versions.filter((v) => (API_VERSIONS as readonly number[]).includes(v)));
    if (!Number.isFinite(version)) {
      this.refuse('BAD_VERSION', `this agent speaks protocol version ${API_VERSIONS.join(', ')}, the client ${hello.versions.join(', ')}`);
      return;
    }
    let auth = this.preAuth;
    if (auth === undefined || (auth.ok === false && auth.code === 'UNAUTHENTICATED')) {
      auth = hello.token !== undefined ? this.ctx.authenticator.fromToken(hello.token)
        : { ok: false, code: 'UNAUTHENTICATED', message: 'no credentials: give a token or a client certificate of the cluster' };
    }
    if (!auth.ok) {
      this.ctx.audit({ remote: this.remote, method: 'hello', params: { client: hello.client }, result: auth.code, message: auth.message, durationMs: 0 });
      this.refuse(auth.code, auth.message);
      return;
    }
    this.principal = auth.principal;
    this.welcomed = true;
    this.reply({
      type: 'welcome', version, node: this.ctx.node, cluster: this.ctx.cluster, agentVersion: this.ctx.agentVersion,
      principal: auth.principal, methods: methodsFor(auth.principal.role), capabilities: this.ctx.capabilities,
    });
  }

  private async onRequest(request: RequestMessage): Promise<void> {
    this.methodsById.set(request.id, request.method);
    const principal = this.principal as Principal;
    if (this.inFlight >= this.ctx.limits.maxInFlight) {
      this.reply({ type: 'response', id: request.id, ok: false, error: { code: 'RATE_LIMITED', message: `more than ${this.ctx.limits.maxInFlight} requests in flight` } });
      return;
    }
    const needed = requiredRole(request.method, request.params);
    const audited = needed !== 'viewer';
    const started = Date.now();
    if (!roleAllows(principal.role, needed)) {
      const message = `${request.method} needs the ${needed} role; ${principal.name} is ${principal.role}`;
      this.ctx.audit({ principal, remote: this.remote, method: request.method, params: request.params, result: 'FORBIDDEN', message, durationMs: 0 });
      this.reply({ type: 'response', id: request.id, ok: false, error: { code: 'FORBIDDEN', message } });
      return;
    }
    this.inFlight += 1;
    try {
      const result = await this.call(request);
      if (audited) this.ctx.audit({ principal, remote: this.remote, method: request.method, params: request.params, result: 'ok', durationMs: Date.now() - started });
      this.reply({ type: 'response', id: request.id, ok: true, result } as ServerMessage);
    } catch (e) {
      const error = e instanceof ProtocolError ? e : new ProtocolError('INTERNAL', (e as Error).message);
      if (audited) this.ctx.audit({ principal, remote: this.remote, method: request.method, params: request.params, result: error.code, message: error.message, durationMs: Date.now() - started });
      this.reply({ type: 'response', id: request.id, ok: false, error: { code: error.code, message: error.message, ...(error.details === undefined ? {} : { details: error.details }) } });
    } finally {
      this.inFlight -= 1;
    }
  }

  private async call(request: RequestMessage): Promise<unknown> {
    const caller: Caller = { principal: this.principal as Principal, remote: this.remote };
    if (request.method === 'subscribe') {
      const { topics } = request.params as Params<'subscribe'>;
      this.ctx.hub.subscribe(this, topics);
      return { topics, snapshot: this.ctx.snapshot() } satisfies Results['subscribe'];
    }
    if (request.method === 'unsubscribe') {
      const { topics } = request.params as Params<'unsubscribe'>;
      this.ctx.hub.unsubscribe(this, topics);
      return { topics } satisfies Results['unsubscribe'];
    }
    const handler = this.ctx.handlers[request.method] as (p: unknown, c: Caller) => unknown;
    return handler(request.params, caller);
  }

  send<T extends SnapshotTopic>(topic: T, data: TopicData[T]): void {
    if (this.ws.bufferedAmount > this.ctx.limits.maxBufferedBytes) {
      this.close(CLOSE_OVERLOADED, 'the client does not read its events');
      return;
    }
    this.seq += 1;
    this.reply({ type: 'event', seq: this.seq, topic, data });
  }

  private reply(message: ServerMessage): void {
    if (message.type === 'response') this.countResponse(message);
    if (this.closed || this.ws.readyState !== this.ws.OPEN) return;
    this.ws.send(encodeMessage(message));
  }

  private readonly methodsById = new Map<number, string>();

  private countResponse(message: Extract<ServerMessage, { type: 'response' }>): void {
    const method = this.methodsById.get(message.id) ?? 'unknown';
    this.methodsById.delete(message.id);
    this.ctx.count?.(method, message.ok ? 'ok' : message.error.code);
  }

  private refuse(code: ErrorCode, message: string): void {
    this.reply({ type: 'refused', error: { code, message } });
    this.close(code === 'UNAUTHENTICATED' || code === 'BAD_CREDENTIALS' || code === 'TOKEN_EXPIRED' || code === 'CERTIFICATE_REJECTED' ? CLOSE_UNAUTHENTICATED : CLOSE_POLICY, code);
  }

  private close(code: number, reason: string): void {
    if (this.closed) return;
    this.dispose();
    this.ws.close(code, reason);
    // A peer that never completes the closing handshake is cut off.
    setTimeout(() => this.ws.terminate(), 2_000).unref();
  }

  private dispose(): void {
    this.closed = true;
    clearTimeout(this.helloTimer);
    this.ctx.hub.unsubscribe(this);
  }
}
