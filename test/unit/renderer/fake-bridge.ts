// A fake of the console's one boundary, `CenterBridge`, typed by the IPC contract: the tests answer `clusters.list`
// from a table they control, any other channel with a typed handler of their own (`answer`), and push
// `center.change` by hand.
import {
  IpcError, parseRequest,
  type CenterBridge, type CenterChange, type CenterClusterView, type CenterNodeView, type InvokeChannel, type InvokeInput, type InvokeResult,
  type IpcResult, type PushChannel, type PushData,
} from '../../../common/ipc/contract.js';
import type { ClusterSnapshot, ClusterStatus, ClusterEvent, NodeSummary, GroupSummary, MirrorStatus, AlertRecord } from '../../../common/model/index.js';

export class FakeBridge implements CenterBridge {
  clusters: CenterClusterView[] = [];
  readonly calls: { channel: InvokeChannel; params: unknown }[] = [];
  private readonly listeners = new Set<(c: CenterChange) => void>();
  private readonly answers = new Map<InvokeChannel, (params: never) => IpcResult<unknown> | Promise<IpcResult<unknown>>>();

  /** Answers `channel` with `handler` from now on. */
  answer<C extends InvokeChannel>(channel: C, handler: (params: InvokeInput<C>) => IpcResult<InvokeResult<C>> | Promise<IpcResult<InvokeResult<C>>>): this {
    this.answers.set(channel, handler as (params: never) => IpcResult<unknown>);
    return this;
  }

  /** The params of every call of `channel` so far. */
  callsOf<C extends InvokeChannel>(channel: C): InvokeInput<C>[] {
    return this.calls.filter((c) => c.channel === channel).map((c) => c.params as InvokeInput<C>);
  }

  invoke<C extends InvokeChannel>(channel: C, params: InvokeInput<C>): Promise<IpcResult<InvokeResult<C>>> {
    this.calls.push({ channel, params });
    const handler = this.answers.get(channel);
    if (handler !== undefined) return Promise.resolve(handler(params as never)) as Promise<IpcResult<InvokeResult<C>>>;
    if (channel !== 'clusters.list') return Promise.resolve({ ok: false, error: { code: 'INTERNAL', message: `fake: ${channel} not faked` } });
    return Promise.resolve({ ok: true, result: structuredClone(this.clusters) as InvokeResult<C> });
  }

  on<P extends PushChannel>(_channel: P, listener: (data: PushData<P>) => void): () => void {
    const l = listener as (c: CenterChange) => void;
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  push(change: CenterChange): void {
    for (const l of this.listeners) l(change);
  }

  get listenerCount(): number { return this.listeners.size; }
}

export const T0 = 1_700_000_000_000;

export function node(id: string, alive = true, links: NodeSummary['links'] = []): NodeSummary {
  return { id, local: false, alive, links };
}

export function status(cluster: string, reportedBy: string, nodes: NodeSummary[], groups: GroupSummary[] = [], at = T0): ClusterStatus {
  return {
    cluster, reportedBy, at, maintenance: false, faults: [],
    nodes: nodes.map((n) => (n.id === reportedBy ? { ...n, local: true } : n)), groups,
  };
}

export function snapshot(st: ClusterStatus, extra: { events?: ClusterEvent[]; mirrors?: MirrorStatus[]; alerts?: AlertRecord[] } = {}): ClusterSnapshot {
  return {
    node: st.reportedBy, agentVersion: '0.1.0', startedAt: T0, status: st,
    events: extra.events ?? [], mirrors: extra.mirrors ?? [], inventory: null, alerts: extra.alerts ?? [],
    config: { generation: 1, digest: 'd', author: 'root', at: T0 },
  };
}

export function view(nodeId: string, state: CenterNodeView['state'], snap?: ClusterSnapshot): CenterNodeView {
  return {
    node: nodeId, url: `wss://${nodeId}:7443`, viaSsh: false, state,
    ...(snap !== undefined ? { snapshot: snap, status: snap.status } : {}),
  };
}

export function event(id: number, nodeId: string, kind: ClusterEvent['kind'], at: number, severity: ClusterEvent['severity'] = 'info'): ClusterEvent {
  return { id, at, kind, severity, node: nodeId, message: `${kind} on ${nodeId}` };
}

/**
 * A handler for `FakeBridge.answer` that checks the request as the center does, with the contract's own schema, so
 * a bad field is refused as BAD_PARAMS naming it; a valid one is answered with `result(params)`.
 */
export function validated<C extends InvokeChannel>(channel: C, result: (params: InvokeInput<C>) => unknown): (params: InvokeInput<C>) => IpcResult<never> {
  return (params) => {
    try {
      parseRequest(channel, params);
    } catch (e) {
      if (e instanceof IpcError) return { ok: false, error: { code: e.code, message: e.message, details: e.details } };
      throw e;
    }
    return { ok: true, result: result(params) as never };
  };
}

/** Resolves after the bridge's pending promises (the fake answers at once). */
export const settle = (): Promise<void> => new Promise((r) => setImmediate(r));
