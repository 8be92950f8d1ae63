/**
 * Would this node run the configuration? The schema says whether the text is a configuration at all; the checks
 * here are the ones that can fail on one node only: its addresses, its key file, its folders, its OCF agents.
 * Run by every node before a proposal is committed, so a configuration no node can run never becomes current.
 */
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import { dirname, isAbsolute } from 'node:path';
import { ConfigError, parseConfig } from '../../common/config/load.js';
import { groupNodes, mirrorFolderOn, type ClusterConfig } from '../../common/config/schema.js';
import type { NodeId } from '../../common/model/ids.js';
import type { NodeProblem } from '../../common/model/config-version.js';
import { parseEndpoint } from '../heartbeat/endpoint.js';
import { resolveOcfAgent } from '../resources/ocf.js';
import { ClusterKeyError, loadAcceptedKeys } from '../security/cluster-key.js';

export type ValidationResult =
  | { readonly ok: true; readonly config: ClusterConfig }
  | { readonly ok: false; readonly problems: readonly NodeProblem[] };

export interface LocalValidationOptions {
  readonly nodeId: NodeId;
  /** Where the configuration file lives: a relative cluster.keyFile is read from here. */
  readonly configDir: string;
  /** Every address of this host (hostAddresses() in the daemon): this node's endpoints must be among them. */
  readonly localAddresses: readonly string[];
  /** Where ocf:PROVIDER:TYPE agents live (the platform's ocfRoot). */
  readonly ocfRoot: string;
  /** Resolves a host name written in an endpoint; DNS (getaddrinfo) by default. */
  readonly lookup?: (host: string) => Promise<readonly string[]>;
}

/** The addresses of this host's interfaces, as validateOnThisNode expects them. */
export function hostAddresses(): string[] {
  return Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((i) => i.address));
}

async function dnsLookup(host: string): Promise<readonly string[]> {
  return (await lookup(host, { all: true })).map((a) => a.address);
}

export async function validateOnThisNode(text: string, options: LocalValidationOptions): Promise<ValidationResult> {
  const node = options.nodeId;
  let config: ClusterConfig;
  try {
    config = parseConfig(text, 'configuration');
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    return { ok: false, problems: e.problems.map((p) => ({ node, path: p.field, message: p.message, ...(p.line > 0 ? { line: p.line } : {}) })) };
  }
  if (!config.nodes.some((n) => n.id === node)) {
    const problem = `"${node}" (this node) is not one of the nodes (${config.nodes.map((n) => n.id).join(', ')}): stop a node before removing it from the cluster`;
    return { ok: false, problems: [{ node, path: 'nodes', message: problem }] };
  }
  const problems: NodeProblem[] = [];
  const report = (path: string, message: string): void => { problems.push({ node, path, message }); };
  const checks: Promise<void>[] = [];

  try {
    loadAcceptedKeys(config, options.configDir);
  } catch (e) {
    if (!(e instanceof ClusterKeyError)) throw e;
    report(config.cluster.keyFile !== undefined ? 'cluster.keyFile' : 'cluster.key', e.message);
  }

  const local = new Set(options.localAddresses.map(normalizeAddress));
  const resolve = options.lookup ?? dnsLookup;
  const checkAddress = (path: string, hostPort: string): void => {
    checks.push(isLocalEndpoint(hostPort, local, resolve).then((problem) => { if (problem !== undefined) report(path, problem); }));
  };
  config.heartbeat.links.forEach((link, i) => {
    const endpoint = link.endpoints[node];
    if (endpoint === undefined) return;
    const path = `heartbeat.links[${i}].endpoints.${node}`;
    if (link.kind === 'serial') checks.push(checkDevice(endpoint).then((problem) => { if (problem !== undefined) report(path, problem); }));
    else checkAddress(path, endpoint);
  });
  config.nodes.forEach((n, i) => {
    // nodes[].api is the control plane's listening address, where the schema has it.
    if (n.id === node && 'api' in n && typeof n.api === 'string') checkAddress(`nodes[${i}].api`, n.api);
  });

  config.groups.forEach((group, i) => {
    if (!groupNodes(config, group).includes(node)) return;
    group.resources.forEach((r, j) => {
      const at = `groups[${i}].resources[${j}]`;
      if (r.kind === 'ocf') {
        const { path } = resolveOcfAgent(r.agent, options.ocfRoot);
        checks.push(checkExecutable(path).then((problem) => { if (problem !== undefined) report(`${at}.agent`, problem); }));
      } else if (r.kind === 'mirror') {
        const endpoint = r.endpoints[node];
        if (endpoint !== undefined) checkAddress(`${at}.endpoints.${node}`, endpoint);
        r.folders.forEach((f, k) => {
          const folder = mirrorFolderOn(f, node);
          if (folder === undefined) return;
          const path = typeof f === 'string' ? `${at}.folders[${k}]` : `${at}.folders[${k}].${node}`;
          checks.push(checkFolder(folder).then((problem) => { if (problem !== undefined) report(path, problem); }));
        });
      }
    });
  });
  await Promise.all(checks);
  if (problems.length > 0) return { ok: false, problems: problems.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)) };
  return { ok: true, config };
}

function normalizeAddress(address: string): string {
  const bare = address.replace(/%.*$/, '').toLowerCase();
  return bare.startsWith('::ffff:') && isIP(bare.slice(7)) === 4 ? bare.slice(7) : bare;
}

const WILDCARDS = new Set(['0.0.0.0', '::']);

async function isLocalEndpoint(hostPort: string, local: ReadonlySet<string>, resolve: (host: string) => Promise<readonly string[]>): Promise<string | undefined> {
  const { host } = parseEndpoint(hostPort);
  if (isIP(host) !== 0) {
    const address = normalizeAddress(host);
    return WILDCARDS.has(address) || local.has(address) ? undefined : `${host} is not an address of this host (${[...local].join(', ')})`;
  }
  let addresses: readonly string[];
  try {
    addresses = await resolve(host);
  } catch (e) {
    return `${host} cannot be resolved on this host (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`;
  }
  return addresses.some((a) => local.has(normalizeAddress(a))) ? undefined
    : `${host} resolves to ${addresses.join(', ')}, none of them an address of this host`;
}

async function checkDevice(path: string): Promise<string | undefined> {
  try {
    await access(path, constants.R_OK | constants.W_OK);
    return undefined;
  } catch (e) {
    return `${path} cannot be opened on this host (${(e as NodeJS.ErrnoException).code ?? 'error'})`;
  }
}

async function checkExecutable(path: string): Promise<string | undefined> {
  try {
    if (!(await stat(path)).isFile()) return `${path} is not a file`;
    await access(path, constants.X_OK);
    return undefined;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? `${path} is not installed on this host` : `${path} cannot be run (${code ?? 'error'})`;
  }
}

/** A mirror folder exists as a writable directory, or its nearest existing ancestor is one (it is created on start). */
async function checkFolder(folder: string): Promise<string | undefined> {
  if (!isAbsolute(folder)) return `${folder} is not an absolute path on this host`;
  let path = folder;
  for (;;) {
    try {
      const info = await stat(path);
      if (!info.isDirectory()) return path === folder ? `${folder} is not a directory` : `${folder} cannot be created: ${path} is not a directory`;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if ((code === 'ENOENT' || code === 'ENOTDIR') && dirname(path) !== path) { path = dirname(path); continue; }
      return `${folder} cannot be checked (${path}: ${code ?? 'error'})`;
    }
    try {
      await access(path, constants.W_OK);
      return undefined;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? 'error';
      return path === folder ? `${folder} is not writable (${code})` : `${folder} cannot be created: ${path} is not writable (${code})`;
    }
  }
}
