/**
 * A client of the agent's API, for the CLI, the tests and agents talking to each other. Connects over TLS (with
 * a client certificate or a token) or over the local socket, says hello, then matches responses to requests.
 */
import WebSocket from 'ws';
import {
  API_VERSIONS, ProtocolError, decodeServerMessage, encodeMessage,
  type EventMessage, type Method, type Params, type Results, type Welcome,
} from '../../common/protocol/api.js';

export interface ApiClientOptions {
  /** wss://host:port (the path /api is added), or undefined with socketPath. */
  readonly url?: string;
  /** The local agent's socket. */
  readonly socketPath?: string;
  readonly token?: string;
  /** Send the token as an Authorization header at the upgrade (default) or in hello (what a browser must do). */
  readonly tokenIn?: 'header' | 'hello';
  /** A client certificate and key (PEM), and the CAs the agent's certificate must chain to. */
  readonly cert?: string;
  readonly key?: string;
  readonly ca?: string;
  /** The name the agent's certificate must carry, when it differs from the URL's host. */
  readonly servername?: string;
  readonly client?: string;
  readonly timeoutMs?: number;
}

interface Pending { resolve(value: unknown): void; reject(error: Error): void; timer: NodeJS.Timeout }

export class ApiClient {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly listeners = new Set<(event: EventMessage) => void>();
  private closedBy: Error | undefined;
  private resolveEnded: (reason: Error) => void = () => undefined;
  /** Settles (never rejects) when the connection has ended, with the reason: for a client that only listens. */
  readonly ended = new Promise<Error>((resolve) => { this.resolveEnded = resolve; });

  private constructor(private readonly ws: WebSocket, readonly welcome: Welcome, private readonly timeoutMs: number) {
    ws.on('message', (data: WebSocket.RawData) => this.onMessage(data));
    ws.on('close', (code: number, reason: Buffer) => this.fail(new ProtocolError(code === 1009 ? 'BAD_FRAME' : 'UNAVAILABLE', `the agent closed the connection (${code}${reason.length ? ` ${reason.toString()}` : ''})`)));
    ws.on('error', (e: Error) => this.fail(new ProtocolError('UNAVAILABLE', e.message)));
  }

  static connect(options: ApiClientOptions): Promise<ApiClient> {
    const timeoutMs = options.timeoutMs ?? 10_000;
    const where = options.socketPath ?? options.url ?? '(nowhere)';
    const target = options.socketPath !== undefined ? `ws+unix://${options.socketPath}:/api` : `${(options.url ?? '').replace(/\/+$/, '')}/api`;
    const headers: Record<string, string> = {};
    if (options.token !== undefined && (options.tokenIn ?? 'header') === 'header') headers['Authorization'] = `Bearer ${options.token}`;
    const ws = new WebSocket(target, {
      headers, maxPayload: 64 * 1024 * 1024, perMessageDeflate: false, handshakeTimeout: timeoutMs,
      ...(options.ca === undefined ? {} : { ca: options.ca }),
      ...(options.cert === undefined ? {} : { cert: options.cert }),
      ...(options.key === undefined ? {} : { key: options.key }),
      ...(options.servername === undefined ? {} : { servername: options.servername }),
    });
    return new Promise<ApiClient>((resolve, reject) => {
      const timer = setTimeout(() => { ws.terminate(); reject(new ProtocolError('TIMEOUT', `agent at ${where} did not welcome us within ${timeoutMs} ms`)); }, timeoutMs);
      const fail = (error: Error): void => { clearTimeout(timer); ws.removeAllListeners(); ws.on('error', () => undefined); ws.terminate(); reject(error); };
      ws.once('open', () => {
        ws.send(encodeMessage({
          type: 'hello', versions: [...API_VERSIONS], client: options.client ?? 'vigil',
          ...(options.token !== undefined && options.tokenIn === 'hello' ? { token: options.token } : {}),
        }));
      });
      ws.once('message', (data: WebSocket.RawData) => {
        try {
          const message = decodeServerMessage(String(data));
          if (message.type === 'refused') return fail(new ProtocolError(message.error.code, message.error.message));
          if (message.type !== 'welcome') return fail(new ProtocolError('BAD_FRAME', `agent at ${where} answered hello with ${message.type}`));
          clearTimeout(timer);
          ws.removeAllListeners();
          resolve(new ApiClient(ws, message, timeoutMs));
        } catch (e) {
          fail(e as Error);
        }
      });
      ws.once('unexpected-response', (_req, res) => fail(new ProtocolError('UNAVAILABLE', `agent at ${where} answered the upgrade with HTTP ${res.statusCode}`)));
      ws.once('close', (code: number) => fail(new ProtocolError('UNAVAILABLE', `agent at ${where} closed the connection (${code})`)));
      ws.once('error', (e: NodeJS.ErrnoException) => fail(new ProtocolError('UNAVAILABLE',
        e.code === 'ENOENT' || e.code === 'ECONNREFUSED' ? `no agent is running at ${where} (${e.code})` : `agent at ${where}: ${e.message}`)));
    });
  }

  call<M extends Method>(method: M, params: Params<M>, timeoutMs = this.timeoutMs): Promise<Results[M]> {
    if (this.closedBy) return Promise.reject(this.closedBy);
    const id = this.nextId++;
    return new Promise<Results[M]>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new ProtocolError('TIMEOUT', `${method}: no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      this.ws.send(encodeMessage({ type: 'request', id, method, params } as never));
    });
  }

  /** Events of the topics subscribed to (call `subscribe` first). */
  onEvent(listener: (event: EventMessage) => void): { dispose(): void } {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }

  /** Whether the connection has ended (see `ended` for the reason). */
  get closed(): boolean {
    return this.closedBy !== undefined;
  }

  private onMessage(data: WebSocket.RawData): void {
    let message;
    try {
      message = decodeServerMessage(String(data));
    } catch (e) {
      this.fail(e as Error);
      this.ws.terminate();
      return;
    }
    if (message.type === 'event') {
      for (const l of this.listeners) l(message);
      return;
    }
    if (message.type !== 'response') return;
    const pending = this.pending.get(message.id);
    if (!pending) return;
    this.pending.delete(message.id);
    clearTimeout(pending.timer);
    if (message.ok) pending.resolve(message.result);
    else pending.reject(new ProtocolError(message.error.code, message.error.message, message.error.details));
  }

  private fail(error: Error): void {
    if (this.closedBy) return;
    this.closedBy = error;
    this.resolveEnded(error);
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(error);
    }
    this.pending.clear();
  }

  close(): Promise<void> {
    return new Promise<void>((resolve) => {
      if (this.ws.readyState === WebSocket.CLOSED) return resolve();
      const timer = setTimeout(() => { this.ws.terminate(); resolve(); }, 1000);
      this.ws.once('close', () => { clearTimeout(timer); resolve(); });
      this.ws.close(1000);
    });
  }
}

/** One request on a fresh connection: what the CLI does. */
export async function callOnce<M extends Method>(options: ApiClientOptions, method: M, params: Params<M>, timeoutMs?: number): Promise<Results[M]> {
  const client = await ApiClient.connect(options);
  try {
    return await client.call(method, params, timeoutMs);
  } finally {
    await client.close();
  }
}

/** One request to the local agent over its socket. */
export function callAgent<M extends Method>(socketPath: string, method: M, params: Params<M>, timeoutMs = 10_000): Promise<Results[M]> {
  return callOnce({ socketPath, timeoutMs }, method, params, timeoutMs);
}
