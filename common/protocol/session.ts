/**
 * The client side of an API session, once: hello/welcome, request ids, responses matched with timeouts, events,
 * refusals. Pure, so the CLI (ws in Node), the monitoring center's core and a browser all speak the protocol
 * through this one implementation; each brings only a thin adapter for its socket and its timers.
 */
import {
  API_VERSIONS, ProtocolError, decodeServerMessage, encodeMessage,
  type EventMessage, type Method, type Params, type Results, type Welcome,
} from './api.js';

/** What the session needs of an open socket. The adapter calls the handlers; `close` may be called repeatedly. */
export interface SessionSocket {
  send(text: string): void;
  close(): void;
  /** Registers the session's handlers (once, before hello is sent). `closed` gets the reason the socket ended. */
  listen(handlers: { message(text: string): void; closed(reason: Error): void }): void;
}

/** What the session needs of a `ws` WebSocket (structurally: common/ imports no Node module). */
export interface WsLike {
  readonly readyState: number;
  send(text: string): void;
  close(code?: number): void;
  on(event: 'message', listener: (data: { toString(): string }) => void): unknown;
  on(event: 'close', listener: (code: number, reason: { readonly length: number; toString(): string }) => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
}

const WS_CLOSED = 3;

/** The session's view of a ws WebSocket, for the agent's client and the monitoring center alike. */
export function wsSessionSocket(ws: WsLike): SessionSocket {
  return {
    send: (text) => ws.send(text),
    close: () => { if (ws.readyState !== WS_CLOSED) ws.close(1000); },
    listen: (handlers) => {
      ws.on('message', (data) => handlers.message(data.toString()));
      ws.on('close', (code, reason) => handlers.closed(new ProtocolError(code === 1009 ? 'BAD_FRAME' : 'UNAVAILABLE',
        `the agent closed the connection (${code}${reason.length ? ` ${reason.toString()}` : ''})`)));
      ws.on('error', (e) => handlers.closed(new ProtocolError('UNAVAILABLE', e.message)));
    },
  };
}

/** Timers come from the caller: common/ knows no platform, and a test may pass a fake clock. */
export interface SessionTimers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface SessionOptions {
  readonly timers: SessionTimers;
  /** How long to wait for welcome, and (unless requestTimeoutMs) the default for each request. */
  readonly timeoutMs: number;
  readonly requestTimeoutMs?: number;
  readonly client?: string;
  /** Sent in hello: what a browser must do, as it cannot set an Authorization header. */
  readonly token?: string;
  /** Names the agent in error messages. */
  readonly where?: string;
}

export interface Disposable { dispose(): void }

interface Pending { resolve(value: unknown): void; reject(error: Error): void; timer: unknown }

export class ProtocolSession {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly listeners = new Set<(event: EventMessage) => void>();
  private closedBy: Error | undefined;
  private resolveEnded: (reason: Error) => void = () => undefined;
  /** Settles (never rejects) when the session has ended, with the reason. */
  readonly ended = new Promise<Error>((resolve) => { this.resolveEnded = resolve; });
  private welcomed: Welcome | undefined;

  private constructor(private readonly socket: SessionSocket, private readonly options: SessionOptions) {}

  /** Say hello on an open socket; resolves at welcome, rejects with the refusal's ProtocolError (and closes). */
  static open(socket: SessionSocket, options: SessionOptions): Promise<ProtocolSession> {
    const session = new ProtocolSession(socket, options);
    const where = options.where ?? 'the agent';
    return new Promise<ProtocolSession>((resolve, reject) => {
      const { timers } = options;
      let settled = false;
      const settle = (error: Error | undefined): void => {
        if (settled) return;
        settled = true;
        timers.clearTimeout(timer);
        if (error === undefined) return resolve(session);
        session.fail(error);
        socket.close();
        reject(error);
      };
      const timer = timers.setTimeout(() => settle(new ProtocolError('TIMEOUT', `${where} did not welcome us within ${options.timeoutMs} ms`)), options.timeoutMs);
      session.onHandshake = settle;
      socket.listen({ message: (text) => session.onMessage(text), closed: (reason) => session.fail(reason) });
      try {
        socket.send(encodeMessage({
          type: 'hello', versions: [...API_VERSIONS], client: options.client ?? 'vigil',
          ...(options.token === undefined ? {} : { token: options.token }),
        }));
      } catch (e) {
        settle(e instanceof Error ? e : new ProtocolError('UNAVAILABLE', String(e)));
      }
    });
  }

  /** Called with the handshake's outcome until welcome or refusal. */
  private onHandshake: ((error: Error | undefined) => void) | undefined;

  get welcome(): Welcome {
    if (!this.welcomed) throw new Error('no welcome yet');
    return this.welcomed;
  }

  get closed(): boolean {
    return this.closedBy !== undefined;
  }

  call<M extends Method>(method: M, params: Params<M>, timeoutMs = this.options.requestTimeoutMs ?? this.options.timeoutMs): Promise<Results[M]> {
    if (this.closedBy) return Promise.reject(this.closedBy);
    const id = this.nextId++;
    return new Promise<Results[M]>((resolve, reject) => {
      const timer = this.options.timers.setTimeout(() => {
        this.pending.delete(id);
        reject(new ProtocolError('TIMEOUT', `${method}: no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      try {
        this.socket.send(encodeMessage({ type: 'request', id, method, params } as never));
      } catch (e) {
        this.options.timers.clearTimeout(timer);
        this.pending.delete(id);
        reject(e instanceof Error ? e : new ProtocolError('UNAVAILABLE', String(e)));
      }
    });
  }

  /** Events of the topics subscribed to (call `subscribe` first). */
  onEvent(listener: (event: EventMessage) => void): Disposable {
    this.listeners.add(listener);
    return { dispose: () => { this.listeners.delete(listener); } };
  }

  /** Ends the session: pending requests are rejected, the socket is closed. */
  close(reason: Error = new ProtocolError('UNAVAILABLE', 'the session was closed')): void {
    this.fail(reason);
    this.socket.close();
  }

  private onMessage(text: string): void {
    if (this.closedBy) return;
    let message;
    try {
      message = decodeServerMessage(text);
    } catch (e) {
      // An agent that speaks garbage is not trusted with the rest of the session.
      this.close(e as Error);
      return;
    }
    if (this.onHandshake) {
      const done = this.onHandshake;
      if (message.type === 'welcome') {
        this.welcomed = message;
        this.onHandshake = undefined;
        done(undefined);
      } else if (message.type === 'refused') {
        done(new ProtocolError(message.error.code, message.error.message));
      } else {
        done(new ProtocolError('BAD_FRAME', `${this.options.where ?? 'the agent'} answered hello with ${message.type}`));
      }
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
    this.options.timers.clearTimeout(pending.timer);
    if (message.ok) pending.resolve(message.result);
    else pending.reject(new ProtocolError(message.error.code, message.error.message, message.error.details));
  }

  private fail(error: Error): void {
    if (this.closedBy) return;
    this.closedBy = error;
    this.onHandshake?.(error);
    this.onHandshake = undefined;
    this.resolveEnded(error);
    for (const p of this.pending.values()) {
      this.options.timers.clearTimeout(p.timer);
      p.reject(error);
    }
    this.pending.clear();
  }
}
