/**
 * Every cluster the center watches, each a set of nodes with their endpoints, and one AgentConnection per node.
 * It keeps a merged per-cluster view (each node's snapshot and status as last received, its connection state and
 * last error) and reports every change; requests go to the node the caller names. The Electron main process and
 * a headless test drive it alike.
 */
import { EventEmitter } from 'node:events';
import type { Method, Params, Results, Welcome } from '../../common/protocol/api.js';
import { ProtocolError } from '../../common/protocol/api.js';
import type { ClusterSnapshot } from '../../common/model/api.js';
import type { ClusterStatus } from '../../common/model/index.js';
import {
  AgentConnection, type AgentCredentials, type AgentEndpoint, type BackoffPolicy, type ConnectionState, type ErrorInfo,
} from './agent-connection.js';
import { KnownHosts } from './known-hosts.js';

export interface ClusterSpec {
  readonly id: string;
  readonly credentials: AgentCredentials;
  readonly nodes: readonly { readonly id: string; readonly endpoint: AgentEndpoint }[];
}

export interface NodeView {
  readonly node: string;
  readonly url: string;
  readonly viaSsh: boolean;
  readonly state: ConnectionState;
  readonly lastError?: ErrorInfo;
  readonly welcome?: Welcome;
  /** As last received (kept while reconnecting, so the screen can show it greyed rather than blank). */
  readonly snapshot?: ClusterSnapshot;
  readonly status?: ClusterStatus;
}

export interface ClusterView {
  readonly id: string;
  readonly nodes: readonly NodeView[];
}

export type ManagerChange =
  | { readonly kind: 'cluster-added' | 'cluster-removed'; readonly cluster: string }
  | { readonly kind: 'node'; readonly cluster: string; readonly node: string; readonly what: 'state' | 'snapshot' | 'event'; readonly view: NodeView };

export interface ConnectionManagerOptions {
  /** The center's known-hosts store (JSON), e.g. in Electron's userData folder. */
  readonly knownHostsFile: string;
  readonly client?: string;
  readonly timeoutMs?: number;
  readonly backoff?: Partial<BackoffPolicy>;
}

interface Entry { readonly spec: ClusterSpec; readonly connections: Map<string, AgentConnection> }

export class ConnectionManager extends EventEmitter<{ change: [ManagerChange] }> {
  readonly knownHosts: KnownHosts;
  private readonly clusters = new Map<string, Entry>();
  private disposed = false;

  constructor(private readonly options: ConnectionManagerOptions) {
    super();
    this.knownHosts = new KnownHosts(options.knownHostsFile);
  }

  /** Start watching a cluster: every node is connected to at once. */
  add(spec: ClusterSpec): void {
    if (this.disposed) throw new Error('the connection manager is disposed');
    if (this.clusters.has(spec.id)) throw new Error(`cluster ${spec.id} is already added`);
    const entry: Entry = { spec, connections: new Map() };
    this.clusters.set(spec.id, entry);
    for (const node of spec.nodes) {
      const connection = new AgentConnection({
        endpoint: node.endpoint, credentials: spec.credentials, knownHosts: this.knownHosts,
        ...(this.options.client === undefined ? {} : { client: this.options.client }),
        ...(this.options.timeoutMs === undefined ? {} : { timeoutMs: this.options.timeoutMs }),
        ...(this.options.backoff === undefined ? {} : { backoff: this.options.backoff }),
      });
      entry.connections.set(node.id, connection);
      connection.onChange((change) => {
        this.emit('change', { kind: 'node', cluster: spec.id, node: node.id, what: change.kind, view: this.nodeView(node.id, node.endpoint, connection) });
      });
    }
    this.emit('change', { kind: 'cluster-added', cluster: spec.id });
    for (const c of entry.connections.values()) c.start();
  }

  async remove(id: string): Promise<void> {
    const entry = this.clusters.get(id);
    if (!entry) return;
    this.clusters.delete(id);
    await Promise.all([...entry.connections.values()].map((c) => c.dispose()));
    this.emit('change', { kind: 'cluster-removed', cluster: id });
  }

  list(): ClusterView[] {
    return [...this.clusters.keys()].map((id) => this.view(id)!);
  }

  view(id: string): ClusterView | undefined {
    const entry = this.clusters.get(id);
    if (!entry) return undefined;
    return { id, nodes: entry.spec.nodes.map((n) => this.nodeView(n.id, n.endpoint, entry.connections.get(n.id)!)) };
  }

  /** An API request to one node; rejects with UNAVAILABLE while that node is not connected. */
  call<M extends Method>(cluster: string, node: string, method: M, params: Params<M>, timeoutMs?: number): Promise<Results[M]> {
    const connection = this.clusters.get(cluster)?.connections.get(node);
    if (!connection) return Promise.reject(new ProtocolError('NOT_FOUND', `no node ${node} in cluster ${cluster}`));
    return connection.call(method, params, timeoutMs);
  }

  /** The operator accepts an unknown SSH host key for that node (the fingerprint HOST_KEY_UNKNOWN showed). */
  acceptHostKey(cluster: string, node: string, fingerprint: string): void {
    this.connection(cluster, node).acceptHostKey(fingerprint);
  }

  /** Try a refused or backing-off node again now. */
  retry(cluster: string, node: string): void {
    this.connection(cluster, node).retry();
  }

  /** Closes every socket, tunnel and timer; the manager cannot be used afterwards. */
  async dispose(): Promise<void> {
    this.disposed = true;
    await Promise.all([...this.clusters.keys()].map((id) => this.remove(id)));
    this.removeAllListeners();
  }

  private connection(cluster: string, node: string): AgentConnection {
    const connection = this.clusters.get(cluster)?.connections.get(node);
    if (!connection) throw new Error(`no node ${node} in cluster ${cluster}`);
    return connection;
  }

  private nodeView(node: string, endpoint: AgentEndpoint, c: AgentConnection): NodeView {
    return {
      node, url: endpoint.url, viaSsh: endpoint.via !== undefined, state: c.state,
      ...(c.lastError === undefined ? {} : { lastError: c.lastError }),
      ...(c.welcome === undefined ? {} : { welcome: c.welcome }),
      ...(c.snapshot === undefined ? {} : { snapshot: c.snapshot, status: c.snapshot.status }),
    };
  }
}
