/**
 * The handler of every invoke channel of the IPC contract, over one ConnectionManager. The Electron shell and the
 * web bridge both call `invoke`, so a request is validated and answered the same way whichever way it came.
 */
import {
  IpcError, parseRequest,
  type CenterClusterView, type CenterChange, type ClusterConfig, type InvokeChannel, type InvokeParams, type InvokeResult,
  type IpcResult,
} from '../../common/ipc/contract.js';
import { ProtocolError } from '../../common/protocol/api.js';
import type { AgentCredentials } from './agent-connection.js';
import type { ConnectionManager, ManagerChange, NodeView } from './connection-manager.js';
import { CenterError } from './errors.js';

/** A mapped type over the contract: a channel without a handler, or with the wrong types, does not compile. */
export type CenterHandlers = { readonly [C in InvokeChannel]: (params: InvokeParams<C>) => Promise<InvokeResult<C>> };

/** Turns a credentials reference into credentials; the center decides where references point (files, keychain). */
export type CredentialsResolver = (ref: string) => Promise<AgentCredentials>;

// Compile-time checks that main/core's views are what the contract promises the UI.
const _nodeView = (v: NodeView): CenterClusterView['nodes'][number] => v;
const _change = (c: ManagerChange): CenterChange => c;
void _nodeView; void _change;

export function createCenterHandlers(manager: ConnectionManager, options: { resolveCredentials?: CredentialsResolver } = {}): CenterHandlers {
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

  return {
    'clusters.list': async () => manager.list().map((v) => view(v.id)!),
    'clusters.add': async (config) => {
      if (manager.view(config.id)) throw new ProtocolError('CONFLICT', `cluster ${config.id} is already added`);
      const creds = await credentials(config.credentials);
      names.set(config.id, config.name);
      manager.add({
        id: config.id, credentials: creds,
        nodes: config.nodes.map((n) => ({ id: n.id, endpoint: { url: n.url, ...(n.via === undefined ? {} : { via: stripUndefined(n.via) }) } })),
      });
      return view(config.id)!;
    },
    'clusters.remove': async ({ cluster }) => {
      const known = manager.view(cluster) !== undefined;
      await manager.remove(cluster);
      names.delete(cluster);
      return { removed: known };
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
