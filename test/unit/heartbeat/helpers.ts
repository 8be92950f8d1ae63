// Helpers for the heartbeat tests: a clock moved by hand, links in memory, taps on real links, free ports.
import type { NodeId, NodeStatus } from '../../../common/model/index.js';
import type { Clock, Disposable } from '../../../agent/util/clock.js';
import { defaultLinkFactory, type LinkFactory } from '../../../agent/heartbeat/heartbeat.js';
import type { FrameHandler, HeartbeatLink, MalformedHandler } from '../../../agent/heartbeat/link.js';

export function status(node: string, extra: Partial<NodeStatus> = {}): NodeStatus {
  return { node, incarnation: 1, configDigest: 'd', groups: {}, intents: { targets: {} }, ...extra };
}

export { freePort, until } from '../../support/process.js';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Time that moves only when a test says so: timers fire in order, deterministically. */
export class ManualClock implements Clock {
  private time = 1_700_000_000_000;
  private readonly timers = new Set<{ at: number; fn: () => void }>();

  now(): number {
    return this.time;
  }

  setTimer(ms: number, fn: () => void): Disposable {
    const timer = { at: this.time + ms, fn };
    this.timers.add(timer);
    return { dispose: () => this.timers.delete(timer) };
  }

  advance(ms: number): void {
    const end = this.time + ms;
    for (;;) {
      let next: { at: number; fn: () => void } | undefined;
      for (const t of this.timers) if (t.at <= end && (!next || t.at < next.at)) next = t;
      if (!next) break;
      this.timers.delete(next);
      this.time = Math.max(this.time, next.at); // after a stall, overdue timers fire late, as real ones do
      next.fn();
    }
    this.time = end;
  }

  /** The process stood still (SIGSTOP): time passes and no timer fires until the next advance. */
  stall(ms: number): void {
    this.time += ms;
  }

  get pending(): number {
    return this.timers.size;
  }
}

/** Links in memory: frames are delivered at once; a test cuts a link between two nodes or drops frames. */
export class MemoryNetwork {
  private readonly receivers = new Map<string, FrameHandler>();
  readonly cut = new Set<string>();
  /** Nodes that read nothing for now (a stopped process): what is sent to them waits, in order, for `release`. */
  private readonly held = new Map<NodeId, (() => void)[]>();
  sent = 0;

  hold(node: NodeId): void {
    this.held.set(node, []);
  }

  /** The node reads again: whatever waited for it is delivered; returns how many frames that was. */
  release(node: NodeId): number {
    const waiting = this.held.get(node) ?? [];
    this.held.delete(node);
    for (const deliver of waiting) deliver();
    return waiting.length;
  }

  factory(node: NodeId): LinkFactory {
    return (config) => {
      const endpoint = `${config.name}/${node}`;
      const link: HeartbeatLink = {
        name: config.name, kind: config.kind,
        start: async (onFrame: FrameHandler, _onMalformed: MalformedHandler) => { this.receivers.set(endpoint, onFrame); },
        send: (peer, frame) => {
          this.sent++;
          if (this.cut.has(config.name)) return;
          const deliver = (): void => this.receivers.get(`${config.name}/${peer}`)?.(frame, endpoint);
          const waiting = this.held.get(peer);
          if (waiting) waiting.push(deliver);
          else deliver();
        },
        close: async () => { this.receivers.delete(endpoint); },
      };
      return link;
    };
  }

  /** Hand a frame to a node's link as if it came off the wire. */
  inject(link: string, node: NodeId, frame: Buffer): void {
    this.receivers.get(`${link}/${node}`)?.(frame, 'injected');
  }
}

/** Real links with a tap: every frame sent is shown to `onSend`, which may drop it by returning false. */
export function tappedFactory(onSend: (link: string, peer: NodeId, frame: Buffer) => boolean | undefined): LinkFactory {
  return (config, options, clock) => {
    const inner = defaultLinkFactory(config, options, clock);
    return {
      name: inner.name, kind: inner.kind,
      start: (onFrame, onMalformed) => inner.start(onFrame, onMalformed),
      send: (peer, frame) => { if (onSend(config.name, peer, frame) !== false) inner.send(peer, frame); },
      close: () => inner.close(),
    };
  };
}
