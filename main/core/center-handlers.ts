/**
 * The handler of every invoke channel of the IPC contract, over one ConnectionManager. The Electron shell and the
 * web bridge both call `invoke`, so a request is validated and answered the same way whichever way it came.
 * With a ClusterStore, `clusters.add` and `clusters.remove` are remembered and `restore()` reconnects at start-up.
 */
import {
  IpcError, parseRequest,
  type CenterClusterView, type CenterChange, type ClusterConfig, type InvokeChannel, type InvokeParams, type InvokeResult,
  type IpcResult,
} from '../../common/ipc/contract.js';
import { ProtocolError } from '../../common/protocol/api.js';
import type { AgentCredentials } from './agent-connection.js';
import type { ConnectionManager, ManagerChange, NodeView } from './connection-manager.js';
import type { ClusterStore, StoreProblem } from './cluster-store.js';
import { CenterError } from './errors.js';

/** A mapped type over the contract: a channel without a handler, or with the wrong types, does not compile. */
export type CenterHandlers = { readonly [C in InvokeChannel]: (params: InvokeParams<C>) => Promise<InvokeResult<C>> };

/** Turns a credentials reference into credentials; the center decides where references point (files, keychain). */
export type CredentialsResolver = (ref: string) => Promise<AgentCredentials>;

// Compile-time checks that main/core's views are what the contract promises the UI.
const _nodeView = (v: NodeView): CenterClusterView['nodes'][number] => v;
const _change = (c: ManagerChange): CenterChange => c;
void _nodeView; void _change;

export interface CenterOptions {
  readonly resolveCredentials?: CredentialsResolver;
  /** Where the clusters added through `clusters.add` are remembered; without one they last as long as the process. */
  readonly store?: ClusterStore;
}

/** The handlers, and what a shell does at start-up besides answering the UI. */
export interface Center {
  readonly handlers: CenterHandlers;
  /**
   * Connects to every cluster the store remembers. Never throws: what could not be restored (an entry the store
   * cannot read, credentials that no longer resolve, an id already added) comes back as problems naming the cluster.
   */
  restore(): Promise<StoreProblem[]>;
  /** Adds a cluster another source owns (center:web --clusters FILE): connected, not saved. */
  addUnsaved(config: ClusterConfig): Promise<CenterClusterView>;
  /** The name the operator gave a cluster (its id when unknown), for texts outside the UI such as notifications. */
  clusterName(id: string): string;
}

export function createCenterHandlers(manager: ConnectionManager, options: CenterOptions = {}): CenterHandlers {
  return createCenter(manager, options).handlers;
}

export function createCenter(manager: ConnectionManager, options: CenterOptions = {}): Center {
  // The manager knows clusters by id only; the display name is the UI's, kept here.
  const names = new Map<string, string>();
  const view = (id: string): CenterClusterView | undefined => {
    const v = manager.view(id);
    return v && { ...v, name: names.get(id) ?? id };
  };
  const credentials = async (c: ClusterConfig['credentials']): Promise<AgentCredentials> => {
    if (!('ref' in c)) return stripUndefined(c);
    if (!options.resolveCredentials) throw new IpcError('BAD_PARAMS', 'credentials.ref: this center resolves no credential references');
    return options.resolveCredentials(c.ref);
  };
  const connect = async (config: ClusterConfig): Promise<CenterClusterView> => {
    if (manager.view(config.id)) throw new ProtocolError('CONFLICT', `cluster ${config.id} is already added`);
    const creds = await credentials(config.credentials);
    names.set(config.id, config.name);
    manager.add({
      id: config.id, credentials: creds,
      nodes: config.nodes.map((n) => ({ id: n.id, endpoint: { url: n.url, ...(n.via === undefined ? {} : { via: stripUndefined(n.via) }) } })),
    });
    return view(config.id)!;
  };
  const store = options.store;
  /** What restore() could not do, until the operator removes the cluster concerned. */
  let problems: StoreProblem[] = [];

  const handlers: CenterHandlers = {
    'clusters.list': async () => manager.list().map((v) => view(v.id)!),
    'clusters.add': async (config) => {
      const added = await connect(config);
      try {
        store?.put(config);
      } catch (e) {
        // Not remembered means not added: the operator sees the error and the cluster does not vanish at restart.
        await manager.remove(config.id);
        names.delete(config.id);
        throw e;
      }
      return added;
    },
    'clusters.remove': async ({ cluster }) => {
      const known = manager.view(cluster) !== undefined;
      await manager.remove(cluster);
      names.delete(cluster);
      const saved = store?.remove(cluster) ?? false;
      problems = problems.filter((p) => p.cluster !== cluster);
      return { removed: known || saved };
    },
    'agent.call': async (p) => manager.call(p.cluster, p.node, p.method, p.params),
    'hostKey.accept': async ({ cluster, node, fingerprint }) => {
      known(manager, cluster, node);
      manager.acceptHostKey(cluster, node, fingerprint);
      return null;
    },
    'connection.retry': async ({ cluster, node }) => {
      known(manager, cluster, node);
      manager.retry(cluster, node);
      return null;
    },
    'center.problems': async () => problems,
  };

  return {
    handlers,
    addUnsaved: connect,
    clusterName: (id) => names.get(id) ?? id,
    async restore() {
      if (!store) return [];
      const loaded = store.load();
      const found = [...loaded.problems];
      for (const config of loaded.clusters) {
        try {
          await connect(config);
        } catch (e) {
          found.push({ cluster: config.id, message: `not restored: ${errorInfo(e).message}` });
        }
      }
      problems = [...problems, ...found];
      return found;
    },
  };
}

function known(manager: ConnectionManager, cluster: string, node: string): void {
  if (!manager.view(cluster)?.nodes.some((n) => n.node === node)) throw new ProtocolError('NOT_FOUND', `no node ${node} in cluster ${cluster}`);
}

/** zod leaves absent optional keys absent, but exactOptionalPropertyTypes wants that proven. */
function stripUndefined<T extends object>(o: T): { [K in keyof T]: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as { [K in keyof T]: Exclude<T[K], undefined> };
}

/** Validates and runs one request; never throws: every failure becomes `{ok: false, error: {code, message}}`. */
export async function invoke(handlers: CenterHandlers, channel: unknown, params: unknown): Promise<IpcResult<unknown>> {
  try {
    const request = parseRequest(channel, params);
    // The union of requests cannot be correlated with the mapped handlers by the compiler; parseRequest paired them.
    const handler = handlers[request.channel] as (p: typeof request.params) => Promise<unknown>;
    return { ok: true, result: await handler(request.params) };
  } catch (e) {
    return { ok: false, error: errorInfo(e) };
  }
}

export function errorInfo(e: unknown): { code: string; message: string; details?: unknown } {
  if (e instanceof IpcError || e instanceof ProtocolError || e instanceof CenterError) {
    return { code: e.code, message: e.message, ...(e.details === undefined ? {} : { details: e.details }) };
  }
  return { code: 'INTERNAL', message: e instanceof Error ? e.message : String(e) };
}
