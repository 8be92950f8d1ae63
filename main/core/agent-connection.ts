/**
 * One connection from the center to one agent: direct over wss, or through an SSH tunnel, speaking the common
 * protocol session. It keeps itself up: after a drop it reconnects with capped exponential backoff and jitter,
 * subscribes to every topic again and hands on the fresh snapshot. A refusal (bad credentials, an unknown or
 * changed host key, an untrusted certificate) stops it: retrying would only repeat the refusal, or lock the
 * account, until the operator changes something and calls retry().
 */
import type { createConnection as NetCreateConnection } from 'node:net';
import { isIP } from 'node:net';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import WebSocket from 'ws';
import {
  ProtocolError, type ErrorCode, type EventMessage, type Method, type Params, type Results, type Welcome,
} from '../../common/protocol/api.js';
import { ProtocolSession, wsSessionSocket } from '../../common/protocol/session.js';
import { SNAPSHOT_TOPICS, type ClusterSnapshot } from '../../common/model/api.js';
import { CenterError, type CenterErrorCode } from './errors.js';
import { KnownHosts } from './known-hosts.js';
import { SshTunnel, type SshTarget } from './ssh-tunnel.js';

export interface AgentEndpoint {
  /** wss://host:port of the agent's API, as the SSH host sees it when `via` is set. */
  readonly url: string;
  readonly via?: SshTarget;
}

/** How the center proves itself to the cluster's agents, and how it knows them: the cluster's CA (trust.pem). */
export interface AgentCredentials {
  readonly ca: string;
  readonly token?: string;
  readonly cert?: string;
  readonly key?: string;
  /** The name the agent's certificate carries, when it differs from the URL's host. */
  readonly servername?: string;
}

export interface BackoffPolicy { readonly initialMs: number; readonly maxMs: number; readonly factor: number }
export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 500, maxMs: 30_000, factor: 2 };

/**
 * The wait before reconnect attempt `attempt` (1, 2, ...): exponential, capped, and jittered over its upper half
 * so a center watching many nodes does not hammer them in lockstep after a network blip.
 */
export function backoffDelay(attempt: number, policy: BackoffPolicy, random: () => number): number {
  const base = Math.min(policy.maxMs, policy.initialMs * policy.factor ** Math.max(0, attempt - 1));
  return Math.round(base / 2 + (random() * base) / 2);
}

export type ConnectionState = 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'refused' | 'closed';

export interface ErrorInfo {
  readonly code: ErrorCode | CenterErrorCode;
  readonly message: string;
  readonly details?: unknown;
}

export type ConnectionChange =
  | { readonly kind: 'state'; readonly state: ConnectionState; readonly error?: ErrorInfo }
  | { readonly kind: 'snapshot'; readonly snapshot: ClusterSnapshot }
  | { readonly kind: 'event'; readonly event: EventMessage; readonly snapshot: ClusterSnapshot };

export interface AgentConnectionOptions {
  readonly endpoint: AgentEndpoint;
  readonly credentials: AgentCredentials;
  /** Needed with `endpoint.via`. */
  readonly knownHosts?: KnownHosts;
  readonly client?: string;
  /** For one attempt (SSH, TLS, hello) and the default for each request. */
  readonly timeoutMs?: number;
  readonly backoff?: Partial<BackoffPolicy>;
  readonly random?: () => number;
}

/** Codes after which retrying cannot help until the operator acts. */
const REFUSALS: ReadonlySet<string> = new Set<ErrorCode | CenterErrorCode>([
  'BAD_VERSION', 'UNAUTHENTICATED', 'BAD_CREDENTIALS', 'TOKEN_EXPIRED', 'CERTIFICATE_REJECTED', 'FORBIDDEN',
  'HOST_KEY_UNKNOWN', 'HOST_KEY_CHANGED', 'SSH_AUTH_FAILED', 'TLS_REJECTED',
]);

/** Node's codes for a server certificate the CA or the name check rejects. */
const TLS_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID', 'ERR_TLS_CERT_ALTNAME_INVALID', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_SIGNATURE_FAILURE',
]);

const TIMERS = { setTimeout: (cb: () => void, ms: number): unknown => setTimeout(cb, ms), clearTimeout: (h: unknown) => clearTimeout(h as NodeJS.Timeout) };

function errorInfo(e: unknown): ErrorInfo {
  if (e instanceof ProtocolError || e instanceof CenterError) return { code: e.code, message: e.message, ...(e.details === undefined ? {} : { details: e.details }) };
  return { code: 'INTERNAL', message: e instanceof Error ? e.message : String(e) };
}

/** The snapshot with one event applied: each topic's event is that part's new value (events: a new entry). */
function applyEvent(s: ClusterSnapshot, e: EventMessage): ClusterSnapshot {
  switch (e.topic) {
    case 'status': return { ...s, status: (e as EventMessage<'status'>).data };
    case 'events': return { ...s, events: [(e as EventMessage<'events'>).data, ...s.events].slice(0, Math.max(100, s.events.length)) };
    case 'mirrors': return { ...s, mirrors: (e as EventMessage<'mirrors'>).data };
    case 'inventory': return { ...s, inventory: (e as EventMessage<'inventory'>).data };
    case 'alerts': return { ...s, alerts: (e as EventMessage<'alerts'>).data };
    case 'config': return { ...s, config: (e as EventMessage<'config'>).data };
  }
}

export class AgentConnection {
  private currentState: ConnectionState = 'idle';
  private error: ErrorInfo | undefined;
  private latest: ClusterSnapshot | undefined;
  private welcomed: Welcome | undefined;
  private session: ProtocolSession | undefined;
  private ws: WebSocket | undefined;
  private tunnel: SshTunnel | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  /** Bumped by retry() and dispose(): an attempt still in flight from before sees it and gives up. */
  private generation = 0;
  private acceptedFingerprint: string | undefined;
  private readonly listeners = new Set<(change: ConnectionChange) => void>();
  private readonly backoff: BackoffPolicy;
  private readonly timeoutMs: number;

  constructor(private readonly options: AgentConnectionOptions) {
    this.backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    this.timeoutMs = options.timeoutMs ?? 10_000;
    if (options.endpoint.via && !options.knownHosts) throw new Error('a connection through SSH needs a known-hosts store');
  }

  get state(): ConnectionState { return this.currentState; }
  get lastError(): ErrorInfo | undefined { return this.error; }
  /** The agent's snapshot as last received, kept current by its events; kept (stale) while reconnecting. */
  get snapshot(): ClusterSnapshot | undefined { return this.latest; }
  get welcome(): Welcome | undefined { return this.welcomed; }

  onChange(listener: (change: ConnectionChange) => void): { dispose(): void } {
    this.listeners.add(listener);
    return { dispose: () => { this.listeners.delete(listener); } };
  }

  start(): void {
    if (this.currentState === 'idle') void this.attempt(this.generation);
  }

  /** Try again now, from a refusal or during a backoff (after the operator changed something). */
  retry(): void {
    if (this.currentState === 'closed') return;
    this.generation++;
    this.failures = 0;
    clearTimeout(this.retryTimer);
    this.dropSession();
    void this.attempt(this.generation);
  }

  /** The operator accepts this SSH host key fingerprint (shown with HOST_KEY_UNKNOWN); it is remembered once seen. */
  acceptHostKey(fp: string): void {
    this.acceptedFingerprint = fp;
    if (this.currentState === 'refused') this.retry();
  }

  call<M extends Method>(method: M, params: Params<M>, timeoutMs?: number): Promise<Results[M]> {
    if (this.currentState !== 'connected' || !this.session) {
      return Promise.reject(new ProtocolError('UNAVAILABLE', `not connected to ${this.options.endpoint.url} (${this.currentState})`));
    }
    return this.session.call(method, params, timeoutMs);
  }

  /** Releases the socket, the tunnel and the retry timer; no change is reported afterwards. */
  async dispose(): Promise<void> {
    if (this.currentState === 'closed') return;
    this.generation++;
    clearTimeout(this.retryTimer);
    this.setState('closed');
    this.listeners.clear();
    const ws = this.ws;
    this.dropSession();
    if (ws && ws.readyState !== WebSocket.CLOSED) await new Promise<void>((resolve) => ws.once('close', () => resolve()));
    const tunnel = this.tunnel;
    this.tunnel = undefined;
    await tunnel?.close();
  }

  private async attempt(generation: number): Promise<void> {
    this.setState(this.latest === undefined && this.failures === 0 ? 'connecting' : 'reconnecting');
    try {
      await this.connectOnce(generation);
    } catch (e) {
      if (generation !== this.generation) return;
      this.dropSession();
      this.error = errorInfo(e);
      if (REFUSALS.has(this.error.code)) return this.setState('refused', this.error);
      this.scheduleRetry(generation);
    }
  }

  private scheduleRetry(generation: number): void {
    this.failures++;
    this.setState('reconnecting', this.error);
    const delay = backoffDelay(this.failures, this.backoff, this.options.random ?? Math.random);
    this.retryTimer = setTimeout(() => { if (generation === this.generation) void this.attempt(generation); }, delay);
  }

  private async connectOnce(generation: number): Promise<void> {
    const { endpoint, credentials } = this.options;
    const url = new URL(endpoint.url);
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const port = Number(url.port || 443);
    let stream: Duplex | undefined;
    if (endpoint.via) {
      if (!this.tunnel || this.tunnel.closed) {
        this.tunnel = undefined;
        const tunnel = await SshTunnel.open({
          target: endpoint.via, knownHosts: this.options.knownHosts!, timeoutMs: this.timeoutMs,
          ...(this.acceptedFingerprint === undefined ? {} : { acceptFingerprint: this.acceptedFingerprint }),
        });
        if (generation !== this.generation) { await tunnel.close(); return; }
        this.tunnel = tunnel;
      }
      stream = await this.tunnel.forward(host, port);
      if (generation !== this.generation) { stream.destroy(); return; }
    }
    const ws = await this.openSocket(url, host, credentials, stream);
    if (generation !== this.generation) { ws.terminate(); return; }
    this.ws = ws;
    const session = await ProtocolSession.open(wsSessionSocket(ws), {
      timers: TIMERS, timeoutMs: this.timeoutMs, client: this.options.client ?? 'vigil-center', where: `agent at ${endpoint.url}`,
    });
    if (generation !== this.generation) { session.close(); return; }
    this.session = session;
    // Events that arrive in the same read as subscribe's answer are dispatched before the awaiting code runs:
    // hold them until the snapshot they follow is in.
    const early: EventMessage[] = [];
    let ready = false;
    session.onEvent((event) => {
      if (!ready) { early.push(event); return; }
      this.onEvent(event);
    });
    const subscribed = await session.call('subscribe', { topics: [...SNAPSHOT_TOPICS] });
    if (generation !== this.generation) return;
    this.welcomed = session.welcome;
    this.latest = subscribed.snapshot;
    this.failures = 0;
    this.error = undefined;
    this.setState('connected');
    this.emit({ kind: 'snapshot', snapshot: subscribed.snapshot });
    ready = true;
    for (const event of early) this.onEvent(event);
    void session.ended.then((reason) => {
      if (generation !== this.generation) return;
      this.dropSession();
      this.error = errorInfo(reason);
      this.scheduleRetry(generation);
    });
  }

  private onEvent(event: EventMessage): void {
    if (!this.latest) return;
    this.latest = applyEvent(this.latest, event);
    this.emit({ kind: 'event', event, snapshot: this.latest });
  }

  private openSocket(url: URL, host: string, credentials: AgentCredentials, stream: Duplex | undefined): Promise<WebSocket> {
    const where = url.origin;
    const headers: Record<string, string> = {};
    if (credentials.token !== undefined) headers['Authorization'] = `Bearer ${credentials.token}`;
    const tls: { ca: string; cert?: string; key?: string; servername?: string } = {
      ca: credentials.ca,
      ...(credentials.cert === undefined ? {} : { cert: credentials.cert }),
      ...(credentials.key === undefined ? {} : { key: credentials.key }),
      ...(credentials.servername === undefined ? {} : { servername: credentials.servername }),
    };
    // Through a tunnel, TLS runs over the SSH channel; the certificate is still checked against the agent's
    // own name (the URL's host), as without it: the SSH host is trusted to carry bytes, not to vouch for the agent.
    const createConnection = stream === undefined ? undefined : ((opts: ConnectionOptions) => tlsConnect({
      ...opts, socket: stream, host, servername: credentials.servername ?? (isIP(host) ? '' : host),
    })) as unknown as typeof NetCreateConnection;
    const ws = new WebSocket(`${where}/api`, {
      ...tls, headers, maxPayload: 64 * 1024 * 1024, perMessageDeflate: false, handshakeTimeout: this.timeoutMs,
      ...(createConnection === undefined ? {} : { createConnection }),
    });
    return new Promise<WebSocket>((resolve, reject) => {
      const fail = (error: Error): void => { ws.removeAllListeners(); ws.on('error', () => undefined); ws.terminate(); stream?.destroy(); reject(error); };
      ws.once('open', () => { ws.removeAllListeners(); resolve(ws); });
      ws.once('unexpected-response', (_req, res) => fail(new ProtocolError('UNAVAILABLE', `agent at ${where} answered the upgrade with HTTP ${res.statusCode}`)));
      ws.once('close', (code: number) => fail(new ProtocolError('UNAVAILABLE', `agent at ${where} closed the connection (${code})`)));
      ws.once('error', (e: NodeJS.ErrnoException) => fail(e.code !== undefined && TLS_CODES.has(e.code)
        ? new CenterError('TLS_REJECTED', `the certificate of the agent at ${where} is not trusted: ${e.message}`, { code: e.code })
        : new ProtocolError('UNAVAILABLE', `agent at ${where}: ${e.message}`)));
    });
  }

  private dropSession(): void {
    this.session?.close();
    this.session = undefined;
    // close() above is graceful; a dead peer must not keep the socket (and the test's process) alive.
    const ws = this.ws;
    this.ws = undefined;
    if (ws && ws.readyState !== WebSocket.CLOSED) setTimeout(() => ws.terminate(), 1000).unref();
  }

  private setState(state: ConnectionState, error?: ErrorInfo): void {
    if (this.currentState === 'closed') return;
    this.currentState = state;
    this.emit({ kind: 'state', state, ...(error === undefined ? {} : { error }) });
  }

  private emit(change: ConnectionChange): void {
    for (const l of this.listeners) l(change);
  }
}
