/**
 * `CenterBridge` over the web bridge's WebSocket (`/ipc`, see main/web/center-web.ts): the browser's half of the
 * same contract the Electron preload exposes. The access token is the first frame; requests carry an id and are
 * answered by id; `center.change` pushes go to the listeners. When the socket drops (center:web restarted, network)
 * pending requests fail with UNAVAILABLE and it reconnects with a capped backoff; `onConnection` tells the page, so
 * it can reload the list after a reconnect. A refused token (close 4401) is final.
 */
import {
  WEB_CLOSE_UNAUTHENTICATED,
  type CenterBridge, type CenterChange, type InvokeChannel, type InvokeInput, type InvokeResult, type IpcResult, type PushChannel,
  type PushData, type WebServerFrame,
} from '../../common/ipc/contract.js';

export type WebBridgeState = 'connecting' | 'open' | 'reconnecting' | 'refused';

/** The structural part of the browser's WebSocket the bridge uses (so a test can hand it `ws`). */
export interface BrowserSocket {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number): void;
  onopen: ((ev: unknown) => void) | null;
  onclose: ((ev: { readonly code: number; readonly reason: string }) => void) | null;
  onmessage: ((ev: { readonly data: unknown }) => void) | null;
}

export interface WebBridgeOptions {
  readonly url: string;
  readonly token: string;
  readonly openSocket?: (url: string) => BrowserSocket;
  readonly onConnection?: (state: WebBridgeState, message?: string) => void;
}

const OPEN = 1;

export class WebBridge implements CenterBridge {
  private socket: BrowserSocket | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, (r: IpcResult<unknown>) => void>();
  private readonly listeners = new Set<(c: CenterChange) => void>();
  private authenticated = false;
  private waiting: (() => void)[] = [];
  private retryMs = 500;
  private closed = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private refusal: string | undefined;
  state: WebBridgeState = 'connecting';

  constructor(private readonly options: WebBridgeOptions) {
    this.open();
  }

  invoke<C extends InvokeChannel>(channel: C, params: InvokeInput<C>): Promise<IpcResult<InvokeResult<C>>> {
    return new Promise((resolve) => {
      const send = (): void => {
        if (this.socket === undefined || this.socket.readyState !== OPEN || !this.authenticated) {
          resolve({ ok: false, error: { code: 'UNAVAILABLE', message: 'the center is not connected' } });
          return;
        }
        const id = this.nextId++;
        this.pending.set(id, resolve as (r: IpcResult<unknown>) => void);
        this.socket.send(JSON.stringify({ id, channel, params }));
      };
      // Calls made while the first connection is being made wait for it rather than fail.
      if (!this.authenticated && this.state === 'connecting') this.waiting.push(send);
      else send();
    });
  }

  on<P extends PushChannel>(_channel: P, listener: (data: PushData<P>) => void): () => void {
    const l = listener as (c: CenterChange) => void;
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  close(): void {
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.socket?.close(1000);
  }

  private setState(state: WebBridgeState, message?: string): void {
    this.state = state;
    this.options.onConnection?.(state, message);
  }

  private open(): void {
    const socket = (this.options.openSocket ?? ((u) => new WebSocket(u) as unknown as BrowserSocket))(this.options.url);
    this.socket = socket;
    socket.onopen = () => socket.send(JSON.stringify({ token: this.options.token }));
    socket.onmessage = (ev) => this.receive(ev.data);
    socket.onclose = (ev) => {
      this.authenticated = false;
      for (const [, resolve] of this.pending) resolve({ ok: false, error: { code: 'UNAVAILABLE', message: 'the connection to the center was lost' } });
      this.pending.clear();
      if (this.closed) return;
      if (ev.code === WEB_CLOSE_UNAUTHENTICATED) {
        for (const send of this.waiting.splice(0)) send();
        this.setState('refused', this.refusal ?? (ev.reason || 'the access token was refused'));
        return;
      }
      this.setState('reconnecting');
      this.timer = setTimeout(() => this.open(), this.retryMs);
      this.retryMs = Math.min(this.retryMs * 2, 10_000);
    };
  }

  private receive(data: unknown): void {
    if (typeof data !== 'string') return;
    let frame: WebServerFrame;
    try {
      frame = JSON.parse(data) as WebServerFrame;
    } catch {
      return;
    }
    if ('auth' in frame) {
      if (!frame.auth.ok) {
        this.refusal = `${frame.auth.error.code}: ${frame.auth.error.message}`;
        return;
      }
      this.authenticated = true;
      this.retryMs = 500;
      this.setState('open');
      for (const send of this.waiting.splice(0)) send();
    } else if ('id' in frame) {
      const resolve = this.pending.get(frame.id);
      this.pending.delete(frame.id);
      if (resolve !== undefined) resolve(frame.ok ? { ok: true, result: frame.result } : { ok: false, error: frame.error });
    } else if (frame.channel === 'center.change') {
      for (const l of this.listeners) l(frame.data);
    }
  }
}
