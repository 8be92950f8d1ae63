/**
 * A client of the agent's API, for the CLI, the tests and agents talking to each other. Connects over TLS (with
 * a client certificate or a token) or over the local socket, says hello, then matches responses to requests.
 */
import WebSocket from 'ws';
import { ProtocolError, type EventMessage, type Method, type Params, type Results, type Welcome } from '../../common/protocol/api.js';
import { ProtocolSession, wsSessionSocket } from '../../common/protocol/session.js';

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

/** Opens the WebSocket; errors before it is open say where and why in the CLI's words. */
function openSocket(options: ApiClientOptions, timeoutMs: number): Promise<WebSocket> {
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
  return new Promise<WebSocket>((resolve, reject) => {
    const timer = setTimeout(() => fail(new ProtocolError('TIMEOUT', `agent at ${where} did not welcome us within ${timeoutMs} ms`)), timeoutMs);
    const fail = (error: Error): void => { clearTimeout(timer); ws.removeAllListeners(); ws.on('error', () => undefined); ws.terminate(); reject(error); };
    ws.once('open', () => { clearTimeout(timer); ws.removeAllListeners(); resolve(ws); });
    ws.once('unexpected-response', (_req, res) => fail(new ProtocolError('UNAVAILABLE', `agent at ${where} answered the upgrade with HTTP ${res.statusCode}`)));
    ws.once('close', (code: number) => fail(new ProtocolError('UNAVAILABLE', `agent at ${where} closed the connection (${code})`)));
    ws.once('error', (e: NodeJS.ErrnoException) => fail(new ProtocolError('UNAVAILABLE',
      e.code === 'ENOENT' || e.code === 'ECONNREFUSED' ? `no agent is running at ${where} (${e.code})` : `agent at ${where}: ${e.message}`)));
  });
}

/** A ws socket carrying a ProtocolSession: the protocol itself lives in common/protocol/session.ts. */
export class ApiClient {
  private constructor(private readonly ws: WebSocket, private readonly session: ProtocolSession) {}

  static async connect(options: ApiClientOptions): Promise<ApiClient> {
    const timeoutMs = options.timeoutMs ?? 10_000;
    const started = Date.now();
    const ws = await openSocket(options, timeoutMs);
    const session = await ProtocolSession.open(wsSessionSocket(ws), {
      timers: { setTimeout: (cb, ms) => setTimeout(cb, ms), clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout) },
      timeoutMs: Math.max(1, timeoutMs - (Date.now() - started)),
      requestTimeoutMs: timeoutMs,
      client: options.client ?? 'vigil',
      where: `agent at ${options.socketPath ?? options.url ?? '(nowhere)'}`,
      ...(options.token !== undefined && options.tokenIn === 'hello' ? { token: options.token } : {}),
    }).catch((e: unknown) => { ws.terminate(); throw e; });
    return new ApiClient(ws, session);
  }

  get welcome(): Welcome { return this.session.welcome; }

  /** Settles (never rejects) when the connection has ended, with the reason: for a client that only listens. */
  get ended(): Promise<Error> { return this.session.ended; }

  call<M extends Method>(method: M, params: Params<M>, timeoutMs?: number): Promise<Results[M]> {
    return this.session.call(method, params, timeoutMs);
  }

  /** Events of the topics subscribed to (call `subscribe` first). */
  onEvent(listener: (event: EventMessage) => void): { dispose(): void } {
    return this.session.onEvent(listener);
  }

  /** Whether the connection has ended (see `ended` for the reason). */
  get closed(): boolean {
    return this.session.closed;
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
