/**
 * The center's web bridge: the same IPC contract as the Electron shell, over a WebSocket (`/ipc`) from a plain Node
 * HTTP server that also serves the UI's static files. It listens on 127.0.0.1 by default; since any local user
 * (or a web page in the operator's browser) can reach a loopback port, the first frame must carry an access token
 * generated at start, compared in constant time, before anything else is answered or pushed.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createReadStream, realpathSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { isIP } from 'node:net';
import type { AddressInfo } from 'node:net';
import { extname, join, resolve, sep } from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import {
  INVOKE_CHANNELS, WEB_CLOSE_BAD_FRAME as CLOSE_BAD_FRAME, WEB_CLOSE_UNAUTHENTICATED as CLOSE_UNAUTHENTICATED, webAuthSchema, webRequestSchema,
  type CenterChange, type WebServerFrame,
} from '../../common/ipc/contract.js';
import { invoke, type CenterHandlers } from '../core/center-handlers.js';
import { ChangeCoalescer } from '../core/change-coalescer.js';
import type { ConnectionManager } from '../core/connection-manager.js';

export interface CenterWebOptions {
  readonly manager: ConnectionManager;
  readonly handlers: CenterHandlers;
  readonly host?: string;
  /** 0 picks a free port. */
  readonly port?: number;
  /** The UI's built files; without it only /ipc is served. */
  readonly staticDir?: string;
  /** Given by tests; otherwise 32 random bytes. */
  readonly token?: string;
  /** How long a new connection may take to authenticate. */
  readonly authTimeoutMs?: number;
  /**
   * The page over HTTPS (and the bridge over wss). Required for any address but loopback: the page carries the
   * access token and every command, and a remote browser must not send them in clear.
   */
  readonly tls?: { readonly cert: string; readonly key: string };
  /** A node's changes within this window are sent as its latest view (ChangeCoalescer); 0 sends each. Default 50. */
  readonly pushWindowMs?: number;
}

/** Requests are small; snapshots only flow the other way. */
const MAX_PAYLOAD = 256 * 1024;
/** The close codes, defined once in the contract (the page's bridge reads them too). */
export { WEB_CLOSE_UNAUTHENTICATED as CLOSE_UNAUTHENTICATED, WEB_CLOSE_BAD_FRAME as CLOSE_BAD_FRAME } from '../../common/ipc/contract.js';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8',
  '.json': 'application/json', '.svg': 'image/svg+xml', '.png': 'image/png', '.ico': 'image/x-icon', '.woff2': 'font/woff2',
};

export class CenterWeb {
  readonly token: string;
  private readonly server: Server;
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: MAX_PAYLOAD });
  private readonly clients = new Set<WebSocket>();
  private readonly coalescer: ChangeCoalescer;
  private readonly onChange = (change: CenterChange): void => this.coalescer.push(change);

  private constructor(private readonly options: CenterWebOptions) {
    this.token = options.token ?? randomBytes(32).toString('base64url');
    this.coalescer = new ChangeCoalescer((change) => this.push(change), options.pushWindowMs ?? 50);
    const serve = (req: IncomingMessage, res: ServerResponse): void => this.serveStatic(req, res);
    this.server = options.tls === undefined ? createServer(serve) : createHttpsServer({ cert: options.tls.cert, key: options.tls.key }, serve);
    this.server.on('upgrade', (req, socket, head) => {
      if (new URL(req.url ?? '/', 'http://x').pathname !== '/ipc') {
        socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
        return;
      }
      this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws));
    });
    options.manager.on('change', this.onChange);
  }

  static async start(options: CenterWebOptions): Promise<CenterWeb> {
    const host = options.host ?? '127.0.0.1';
    if (options.tls === undefined && !isLoopback(host)) {
      throw new Error(`host ${host}: serving beyond loopback needs TLS (a certificate and its key): the page carries the access token and every command`);
    }
    const web = new CenterWeb(options);
    await new Promise<void>((done, fail) => {
      web.server.once('error', fail);
      web.server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => { web.server.off('error', fail); done(); });
    });
    return web;
  }

  get port(): number { return (this.server.address() as AddressInfo).port; }
  get url(): string {
    const host = this.options.host ?? '127.0.0.1';
    return `${this.options.tls === undefined ? 'http' : 'https'}://${host.includes(':') ? `[${host}]` : host}:${this.port}/`;
  }

  /** Closes every WebSocket and the server; the manager is the caller's to dispose. */
  async close(): Promise<void> {
    this.options.manager.off('change', this.onChange);
    this.coalescer.dispose();
    for (const ws of this.clients) ws.terminate();
    this.clients.clear();
    this.wss.close();
    this.server.closeAllConnections();
    await new Promise<void>((done) => this.server.close(() => done()));
  }

  private accept(ws: WebSocket): void {
    let authed = false;
    const timer = setTimeout(() => ws.close(CLOSE_UNAUTHENTICATED, 'no access token'), this.options.authTimeoutMs ?? 10_000);
    ws.on('close', () => { clearTimeout(timer); this.clients.delete(ws); });
    ws.on('error', () => ws.terminate());
    ws.on('message', (data, isBinary) => {
      const frame = isBinary ? undefined : parseJson(data.toString());
      if (!authed) {
        clearTimeout(timer);
        const auth = webAuthSchema.safeParse(frame);
        if (!auth.success || !sameSecret(auth.data.token, this.token)) {
          this.send(ws, { auth: { ok: false, error: { code: 'UNAUTHENTICATED', message: 'a missing or wrong access token' } } });
          ws.close(CLOSE_UNAUTHENTICATED, 'bad access token');
          return;
        }
        authed = true;
        this.clients.add(ws);
        this.send(ws, { auth: { ok: true, result: { channels: INVOKE_CHANNELS } } });
        return;
      }
      const request = webRequestSchema.safeParse(frame);
      if (!request.success) {
        // Without a readable id nothing can be answered: the client is broken, not merely wrong.
        ws.close(CLOSE_BAD_FRAME, 'expected {id, channel, params}');
        return;
      }
      const { id, channel, params } = request.data;
      void invoke(this.options.handlers, channel, params).then((r) => this.send(ws, { id, ...r }));
    });
  }

  private push(change: CenterChange): void {
    for (const ws of this.clients) this.send(ws, { channel: 'center.change', data: change });
  }

  private send(ws: WebSocket, frame: WebServerFrame): void {
    if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(frame));
  }

  private serveStatic(req: IncomingMessage, res: ServerResponse): void {
    const root = this.options.staticDir === undefined ? undefined : resolve(this.options.staticDir);
    if (root === undefined || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404).end();
      return;
    }
    let path: string;
    try {
      path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    } catch {
      res.writeHead(400).end();
      return;
    }
    let file = resolve(join(root, path));
    // A path that climbs out of the folder (../, an encoded %2e%2e) is not served.
    if (file !== root && !file.startsWith(root + sep)) {
      res.writeHead(404).end();
      return;
    }
    try {
      if (statSync(file).isDirectory()) file = join(file, 'index.html');
      // Nor is a symlink inside it that points outside (the agent's web root refuses the same).
      const real = realpathSync(file);
      const realRoot = realpathSync(root);
      if (!real.startsWith(realRoot + sep)) throw new Error('outside the static folder');
      const size = statSync(file).size;
      res.writeHead(200, {
        'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'content-length': size,
        'x-content-type-options': 'nosniff', 'cache-control': 'no-cache',
      });
      if (req.method === 'HEAD') res.end();
      else createReadStream(file).pipe(res);
    } catch {
      res.writeHead(404).end();
    }
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** 127.0.0.0/8, ::1 and `localhost`: addresses only this machine reaches. */
export function isLoopback(host: string): boolean {
  if (host === 'localhost' || host === '::1') return true;
  return isIP(host) === 4 && host.startsWith('127.');
}
