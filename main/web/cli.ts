#!/usr/bin/env node
/**
 * `npm run center:web -- [--port N] [--host ADDR] [--data-dir DIR] [--clusters FILE] [--static DIR] [--known-hosts FILE] [--cert FILE --key FILE]`
 *
 * Runs the monitoring center headless, its UI served to a browser. The data folder (default ~/.vigil-center) holds
 * the clusters added from the UI (clusters.json, secrets sealed with the key in secret.key) and the known hosts.
 * The clusters file (JSON or YAML) is a list of `clusters.add` requests, validated by the IPC contract like any
 * other; those are connected but not saved, the file stays their source. A credentials reference (`{ref: DIR}`)
 * names a folder holding the cluster's trust.pem and either `token` or `client.crt` + `client.key`.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { parseRequest, type ClusterConfig } from '../../common/ipc/contract.js';
import type { AgentCredentials } from '../core/agent-connection.js';
import { createCenter, errorInfo } from '../core/center-handlers.js';
import { CLUSTERS_FILE, ClusterStore, describeProblem } from '../core/cluster-store.js';
import { ConnectionManager } from '../core/connection-manager.js';
import { FileKeyCipher, SECRET_KEY_FILE } from '../core/secret-cipher.js';
import { CenterWeb } from './center-web.js';

/** The page scripts/build-ui.mjs builds, next to this file's build output (dist/main/web → dist/ui). */
const BUILT_UI = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'ui');

const USAGE = 'usage: center:web [--port N] [--host ADDR] [--data-dir DIR] [--clusters FILE] [--static DIR] [--known-hosts FILE] [--cert FILE --key FILE]';

/** A credentials folder: trust.pem, and a token file or a client certificate. */
async function credentialsFromFolder(ref: string): Promise<AgentCredentials> {
  const dir = resolve(ref);
  const read = (name: string): string | undefined => (existsSync(join(dir, name)) ? readFileSync(join(dir, name), 'utf8') : undefined);
  const ca = read('trust.pem');
  if (ca === undefined) throw new Error(`credentials ${dir}: no trust.pem`);
  const token = read('token')?.trim();
  if (token !== undefined) return { ca, token };
  const cert = read('client.crt');
  const key = read('client.key');
  if (cert === undefined || key === undefined) throw new Error(`credentials ${dir}: neither a token file nor client.crt and client.key`);
  return { ca, cert, key };
}

function loadClusters(file: string): ClusterConfig[] {
  const list: unknown = parseYaml(readFileSync(file, 'utf8'));
  if (!Array.isArray(list)) throw new Error(`${file}: expected a list of clusters`);
  return list.map((entry: unknown, i) => {
    try {
      const request = parseRequest('clusters.add', entry);
      return request.params as ClusterConfig;
    } catch (e) {
      throw new Error(`${file}: cluster ${i + 1}: ${errorInfo(e).message}`, { cause: e });
    }
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '0' }, host: { type: 'string', default: '127.0.0.1' }, clusters: { type: 'string' },
      static: { type: 'string' }, cert: { type: 'string' }, key: { type: 'string' }, 'data-dir': { type: 'string', default: join(homedir(), '.vigil-center') }, 'known-hosts': { type: 'string' },
      help: { type: 'boolean' },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port: not a port: ${values.port}`);
  const clusters = values.clusters === undefined ? [] : loadClusters(values.clusters);
  const dataDir = resolve(values['data-dir']);
  const knownHosts = values['known-hosts'] ?? join(dataDir, 'known-hosts.json');
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  mkdirSync(dirname(knownHosts), { recursive: true, mode: 0o700 });

  const manager = new ConnectionManager({ knownHostsFile: knownHosts, client: 'vigil-center-web' });
  const store = new ClusterStore(join(dataDir, CLUSTERS_FILE), new FileKeyCipher(join(dataDir, SECRET_KEY_FILE)));
  const center = createCenter(manager, { resolveCredentials: credentialsFromFolder, store });
  if ((values.cert === undefined) !== (values.key === undefined)) throw new Error('--cert and --key go together');
  const tls = values.cert === undefined || values.key === undefined ? undefined
    : { cert: readFileSync(values.cert, 'utf8'), key: readFileSync(values.key, 'utf8') };
  const web = await CenterWeb.start({
    manager, handlers: center.handlers, host: values.host, port, staticDir: values.static ?? BUILT_UI, ...(tls === undefined ? {} : { tls }),
  });
  for (const cluster of clusters) await center.addUnsaved(cluster);
  // After the file's: a saved cluster with the same id as one in the file is reported and the file's is kept.
  for (const problem of await center.restore()) console.error(`center:web: ${describeProblem(problem)}`);

  // The token goes in the fragment, which the browser never sends to the server or puts in logs.
  console.log(`vigil center listening on ${web.url}`);
  console.log(`access token: ${web.token}`);
  console.log(`open: ${web.url}#token=${web.token}`);

  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    void web.close().then(() => manager.dispose()).then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((e: unknown) => {
  console.error(`center:web: ${e instanceof Error ? e.message : String(e)}`);
  console.error(USAGE);
  process.exit(2);
});
