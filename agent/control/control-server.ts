/**
 * The local control socket: a Unix socket that only its owner (root) may open, so the operating system
 * authenticates every client before a byte is read. One JSON request per line, one response per line.
 * The network API (WebSocket over TLS, tokens, roles) comes on top of the same protocol and handlers.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { chmodSync, existsSync, unlinkSync } from 'node:fs';
import { connect } from 'node:net';
import {
  MAX_FRAME_BYTES, ProtocolError, decodeRequest, encodeError, encodeResult,
  type Method, type Params, type RequestFrame, type Results,
} from '../../common/protocol/control.js';

export type Handlers = { [M in Method]: (params: Params<M>) => Results[M] | Promise<Results[M]> };

export class ControlServer {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();

  constructor(private readonly path: string, private readonly handlers: Handlers) {}

  async listen(): Promise<void> {
    await removeStaleSocket(this.path);
    const server = createServer((socket) => this.accept(socket));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e) => reject(new Error(`control socket ${this.path}: ${e.message}`)));
      // Created with umask 077 semantics: chmod right after listen, before any client can matter.
      server.listen(this.path, () => { chmodSync(this.path, 0o600); resolve(); });
    });
  }

  private accept(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.setEncoding('utf8');
    let buffer = '';
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      if (buffer.length > MAX_FRAME_BYTES && !buffer.includes('\n')) {
        socket.end(encodeError(0, 'BAD_FRAME', `frame exceeds ${MAX_FRAME_BYTES} bytes`) + '\n');
        socket.destroy();
        return;
      }
      let newline: number;
      while ((newline = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        if (line.trim()) void this.answer(socket, line);
      }
    });
  }

  private async answer(socket: Socket, line: string): Promise<void> {
    let request: RequestFrame | undefined;
    let reply: string;
    try {
      request = decodeRequest(line);
      const handler = this.handlers[request.method] as (p: unknown) => unknown;
      const result = await handler(request.params);
      reply = encodeResult(request.id, result as Results[Method]);
    } catch (e) {
      if (e instanceof ProtocolError) reply = encodeError(request?.id ?? e.id, e.code, e.message);
      else reply = encodeError(request?.id ?? 0, 'INTERNAL', (e as Error).message);
    }
    if (!socket.destroyed) socket.write(reply + '\n');
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    if (existsSync(this.path)) unlinkSync(this.path);
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
