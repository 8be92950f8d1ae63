/**
 * The agent's API server. Two listeners share one WebSocket endpoint and one set of handlers:
 * - the network: HTTPS with the node's certificate, clients authenticated by a certificate of the cluster's CA
 *   or a bearer token; there is no plain-text variant;
 * - the local socket: a Unix socket only root can open, so the kernel has authenticated the caller (as admin).
 * Plain HTTP routes on both: /health (public), /metrics (authenticated unless configured public), and the
 * monitoring center's web build.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { connect, type Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { chmodSync, existsSync, unlinkSync } from 'node:fs';
import { WebSocketServer, type WebSocket } from 'ws';
import { roleAllows, type Principal } from '../../common/model/index.js';
import { MAX_FRAME_BYTES } from '../../common/protocol/api.js';
import { bearerToken, type AuthResult } from './authenticator.js';
import { ApiSession, DEFAULT_SESSION_LIMITS, type SessionContext, type SessionLimits } from './session.js';
import { serveStatic } from './static-files.js';

export interface TlsListener {
  readonly host: string;
  readonly port: number;
  readonly key: string;
  readonly cert: string;
  /** The CAs whose client certificates are accepted (the cluster's trust bundle). */
  readonly ca: string;
}

export interface HttpRoutes {
  /** Liveness and a one-line verdict, for load balancers and `curl`: no authentication, no detail. */
  readonly health: () => { ok: boolean; detail: string };
  readonly metrics: () => string;
  /** Serve /metrics without authentication (for a scraper on a trusted network). */
  readonly metricsPublic: boolean;
  /** The monitoring center's web build, or undefined when this agent serves none. */
  readonly webRoot?: string;
}

export interface ApiServerOptions {
  readonly session: Omit<SessionContext, 'limits'> & { readonly limits?: Partial<SessionLimits> };
  readonly tls?: TlsListener;
  readonly socketPath?: string;
  readonly routes: HttpRoutes;
  /** Open connections at most, and per remote address. */
  readonly maxConnections?: number;
  readonly maxConnectionsPerAddress?: number;
  readonly log: (line: string) => void;
}

const LOCAL: Principal = { name: 'root@local', role: 'admin', via: 'local' };

export class ApiServer {
  private readonly wss: WebSocketServer;
  private https: HttpsServer | undefined;
  private local: HttpServer | undefined;
  private readonly perAddress = new Map<string, number>();
  private readonly sockets = new Set<Socket>();
  private readonly context: SessionContext;

  constructor(private readonly options: ApiServerOptions) {
    this.context = { ...options.session, limits: { ...DEFAULT_SESSION_LIMITS, ...options.session.limits } };
    // ws checks the frame size before buffering it, and closes with 1009 when it is exceeded.
    this.wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES, perMessageDeflate: false });
  }

  /** The port the network listener is bound to (useful when asked for port 0). */
  get port(): number | undefined {
    const address = this.https?.address();
    return typeof address === 'object' && address !== null ? address.port : undefined;
  }

  async listen(): Promise<void> {
    if (this.options.tls) {
      const tls = this.options.tls;
      const server = createHttpsServer({
        key: tls.key, cert: tls.cert, ca: tls.ca, minVersion: 'TLSv1.2',
        // Ask for a certificate, but let the API decide: a browser comes with a token instead.
        requestCert: true, rejectUnauthorized: false,
      }, (req, res) => this.route(req, res, false));
      this.https = server;
      this.attach(server, false);
      await new Promise<void>((resolve, reject) => {
        server.once('error', (e) => reject(new Error(`API listener ${tls.host}:${tls.port}: ${e.message}`)));
        server.listen(tls.port, tls.host, () => resolve());
      });
    }
    if (this.options.socketPath) {
      const path = this.options.socketPath;
      await removeStaleSocket(path);
      const server = createHttpServer((req, res) => this.route(req, res, true));
      this.local = server;
      this.attach(server, true);
      await new Promise<void>((resolve, reject) => {
        server.once('error', (e) => reject(new Error(`control socket ${path}: ${e.message}`)));
        server.listen(path, () => { chmodSync(path, 0o600); resolve(); });
      });
    }
  }

  private attach(server: HttpServer | HttpsServer, local: boolean): void {
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    server.on('tlsClientError', () => { /* a failed handshake: nothing to serve, nothing to log per attempt */ });
    server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
      const remote = local ? 'local' : `${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? '?'}`;
      const address = local ? 'local' : req.socket.remoteAddress ?? '?';
      const count = this.perAddress.get(address) ?? 0;
      const total = [...this.perAddress.values()].reduce((a, b) => a + b, 0);
      if (!local && (count >= (this.options.maxConnectionsPerAddress ?? 32) || total >= (this.options.maxConnections ?? 256))) {
        socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      if (req.url !== '/api') {
        socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      const preAuth = local ? { ok: true as const, principal: LOCAL } : this.authenticateRequest(req);
      this.perAddress.set(address, count + 1);
      // Released when the socket closes, not the WebSocket: ws answers a bad handshake (no key, say) with 400
      // and never calls back, and each such request would otherwise hold a place until the address is locked out.
      socket.once('close', () => {
        const left = (this.perAddress.get(address) ?? 1) - 1;
        if (left <= 0) this.perAddress.delete(address);
        else this.perAddress.set(address, left);
      });
      this.wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
        new ApiSession(ws, remote, preAuth, this.context);
      });
    });
  }

  /** What the TLS handshake and the headers prove; undefined when they prove nothing (the hello may bring a token). */
  private authenticateRequest(req: IncomingMessage): AuthResult | undefined {
    const tlsSocket = req.socket as TLSSocket;
    const cert = tlsSocket.getPeerX509Certificate?.();
    if (cert) {
      const error = tlsSocket.authorized ? undefined : String(tlsSocket.authorizationError ?? 'not authorized');
      return this.context.authenticator.fromCertificate(cert, error);
    }
    const token = bearerToken(req.headers.authorization);
    if (token !== undefined) return this.context.authenticator.fromToken(token);
    return undefined;
  }

  private route(req: IncomingMessage, res: ServerResponse, local: boolean): void {
    const url = new URL(req.url ?? '/', 'https://agent');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD' }).end();
      return;
    }
    if (url.pathname === '/health') {
      const health = this.options.routes.health();
      res.writeHead(health.ok ? 200 : 503, { 'Content-Type': 'application/json' }).end(JSON.stringify({ ok: health.ok, node: this.context.node, detail: health.detail }));
      return;
    }
    if (url.pathname === '/metrics') {
      const auth = local || this.options.routes.metricsPublic ? undefined : this.authenticateRequest(req);
      if (!local && !this.options.routes.metricsPublic && (auth === undefined || !auth.ok || !roleAllows(auth.principal.role, 'viewer'))) {
        const message = auth === undefined ? 'UNAUTHENTICATED: a bearer token or a client certificate is needed' : auth.ok ? 'FORBIDDEN' : `${auth.code}: ${auth.message}`;
        res.writeHead(401, { 'Content-Type': 'text/plain', 'WWW-Authenticate': 'Bearer' }).end(message + '\n');
        return;
      }
      let body: string;
      try {
        body = this.options.routes.metrics();
      } catch (e) {
        res.writeHead(500, { 'Content-Type': 'text/plain' }).end(`metrics: ${(e as Error).message}\n`);
        return;
      }
      res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8' }).end(req.method === 'HEAD' ? undefined : body);
      return;
    }
    if (this.options.routes.webRoot !== undefined) {
      serveStatic(this.options.routes.webRoot, url.pathname, req.method === 'HEAD', res);
      return;
    }
    res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
  }

  /**
   * Closes every session with 1012 (service restart) so that answers already sent (a proposal whose commit makes
   * this agent reload) are flushed first; a client that does not finish the closing handshake within
   * `graceMs` is cut off.
   */
  async close(graceMs = 250): Promise<void> {
    const closing = [...this.wss.clients].map((client) => new Promise<void>((resolve) => {
      if (client.readyState === client.CLOSED) { resolve(); return; }
      const timer = setTimeout(() => { client.terminate(); resolve(); }, graceMs);
      client.once('close', () => { clearTimeout(timer); resolve(); });
      client.close(1012, 'agent restarting');
    }));
    await Promise.all(closing);
    for (const socket of this.sockets) socket.destroy();
    this.wss.close();
    const servers = [this.https, this.local].filter((s): s is HttpServer | HttpsServer => s !== undefined);
    this.https = undefined;
    this.local = undefined;
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    if (this.options.socketPath && existsSync(this.options.socketPath)) unlinkSync(this.options.socketPath);
  }
}

/** A socket file left by a killed agent is removed; one with a live agent behind it is an error. */
async function removeStaleSocket(path: string): Promise<void> {
  if (!existsSync(path)) return;
  const live = await new Promise<boolean>((resolve) => {
    const probe = connect(path);
    probe.once('connect', () => { probe.destroy(); resolve(true); });
    probe.once('error', () => resolve(false));
  });
  if (live) throw new Error(`control socket ${path}: another agent is already running there`);
  unlinkSync(path);
}
