/**
 * The monitoring center watching a real two-node cluster on test hosts (network namespaces, see netns.ts), for the
 * browser end-to-end tests. Everything runs as it would on a site:
 *
 *   alpha, beta  nodes (the address plan of netns-cluster.ts): heartbeats on priv1 and priv2, the mirror `data`
 *                (group files) replicating on priv1, the group web (a small web service and its VIP) on pub, and
 *                each agent's API on its pub address (PKI made by `vigil init`'s code).
 *   beta         also runs its own sshd on its pub address: the center reaches beta's API through it (an SSH hop,
 *                password login of a throwaway account), as a center outside the site's network would.
 *   console      a host on pub only: the center (`center:web`, the real CLI) and the browser run there. Its
 *                127.0.0.1 is its own, so the page reaches the center and the center reaches the agents while
 *                nothing is bridged to the machine's own network.
 *
 * create(t) registers one teardown that closes, in order, the browser, the center, sshd, the hosts (every process
 * in them) and the account, even when the test fails.
 */
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { callAgent } from '../../agent/api/api-client.js';
import { compileGlobs } from '../../agent/replication/glob.js';
import { verifyTrees } from '../../agent/replication/verify.js';
import { initCluster } from '../../agent/security/pki.js';
import type { ClusterConfigInput } from '../../common/ipc/contract.js';
import type { ClusterStatus, MirrorStatus } from '../../common/model/index.js';
import { ConsoleBrowser, type ConsoleBrowserOptions } from './browser.js';
import { AgentRuns, NODES, PRIVATE_NETS, addressOf, twoNodeNetwork, type NodeName } from './netns-cluster.js';
import { TestNetwork, type HostProcess } from './netns.js';
import { until } from './process.js';
import { Sshd, createUser } from './sshd.js';

export { NODES, type NodeName } from './netns-cluster.js';

export const CONSOLE_HOST = 'console';
export const CONSOLE_ADDRESS = '203.0.113.20';
export const GROUP = 'web';
export const MIRROR_GROUP = 'files';
export const MIRROR = 'data';
const VIP = '203.0.113.100';
const SERVICE_PORT = 8080;
const API_PORT = 7480;
const REPLICATION_PORT = 7420;
/** The cluster's id, in its configuration and in its PKI. */
const CLUSTER_ID = 'e2e';

/** What registers the fixture's teardown: a test's context, or the demo's exit handler. */
export interface Teardown { after(fn: () => Promise<void>): void }

export interface CenterProcess {
  readonly process: HostProcess;
  /** The page's address with the access token in its fragment, as center:web prints it. */
  readonly openUrl: string;
  readonly token: string;
}

/** A cluster entry of the center's clusters file, for one or both nodes. */
export interface CenterClusterEntry {
  readonly id: string;
  readonly name: string;
  /** Which nodes, and whether beta is reached through its sshd with the right password or a wrong one. */
  readonly nodes: readonly NodeName[];
  readonly sshPassword?: 'right' | 'wrong';
}

export class NetnsConsole {
  readonly configPath: string;
  readonly pkiDir: string;
  private readonly runs: AgentRuns;
  private sshdServer: Sshd | undefined;
  private account: { name: string; password: string; remove(): void } | undefined;
  private readonly browsers: ConsoleBrowser[] = [];
  /** The admin token `vigil init` printed, which the center's credentials folder holds. */
  private adminToken = '';
  private center: CenterProcess | undefined;

  private constructor(readonly net: TestNetwork) {
    this.configPath = join(net.tempDir, 'cluster.yaml');
    this.pkiDir = join(net.tempDir, 'pki');
    this.runs = new AgentRuns(net, this.configPath, (node) => this.stateDir(node));
    for (const node of NODES) mkdirSync(this.folder(node));
  }

  /** `t` is a test's context, or anything that runs the teardown later (the demo). */
  static async create(t: Teardown): Promise<NetnsConsole> {
    const net = await TestNetwork.create(twoNodeNetwork({ name: CONSOLE_HOST, address: CONSOLE_ADDRESS }));
    const fixture = new NetnsConsole(net);
    t.after(() => fixture.destroy());
    const init = await initCluster({ dir: fixture.pkiDir, clusterId: CLUSTER_ID, nodes: NODES.map((id) => ({ id, hosts: [addressOf(id, 'pub')] })) });
    fixture.adminToken = init.adminToken;
    writeFileSync(fixture.configPath, fixture.clusterYaml(), { mode: 0o600 });
    return fixture;
  }

  private clusterYaml(): string {
    const endpoints = (net: string, port: number): string => `{ ${NODES.map((n) => `${n}: "${addressOf(n, net)}:${port}"`).join(', ')} }`;
    return `# The cluster the browser e2e tests watch (test/support/netns-console.ts)
cluster: { id: ${CLUSTER_ID}, key: "${randomBytes(32).toString('hex')}", startupGrace: 2s }
nodes: [${NODES.map((n) => `{ id: ${n}, api: "${addressOf(n, 'pub')}:${API_PORT}" }`).join(', ')}]
heartbeat:
  links:
${PRIVATE_NETS.map((net, i) => `    - { name: ${net}, kind: udp, endpoints: ${endpoints(net, 7405 + i)} }`).join('\n')}
api: { pki: ${JSON.stringify(this.pkiDir)} }
groups:
  - id: ${GROUP}
    nodes: [alpha, beta]
    switchback: manual
    resources:
      - id: web-svc
        kind: service
        name: web
        manager: process
        command: ["${process.execPath}", "${resolve('scripts/demo/web-service.mjs')}"]
        env: { DEMO_PORT: "${SERVICE_PORT}", DEMO_HOST: "0.0.0.0" }
        readyPort: ${SERVICE_PORT}
        monitorInterval: 500ms
      - { id: web-ip, kind: vip, address: "${VIP}/24", arpCount: 3, arpInterval: 100ms, monitorInterval: 500ms }
  - id: ${MIRROR_GROUP}
    nodes: [alpha, beta]
    switchback: manual
    resources:
      - id: ${MIRROR}
        kind: mirror
        folders: [{ alpha: "${this.folder('alpha')}", beta: "${this.folder('beta')}" }]
        endpoints: ${endpoints('priv1', REPLICATION_PORT)}
        monitorInterval: 1s
`;
  }

  /** The mirrored folder on a node (a plain path: the test writes into it from outside the host). */
  folder(node: NodeName): string { return join(this.net.tempDir, `data-${node}`); }
  stateDir(node: NodeName): string { return join(this.net.tempDir, `state-${node}`); }

  /** Start the node's agent (again); its state dir survives restarts, as on a real server. */
  start(node: NodeName): HostProcess { return this.runs.start(node); }

  /** kill -9 of the node's agent; returns once it is gone. */
  kill(node: NodeName): Promise<void> { return this.runs.kill(node); }

  /** The node's status through its control socket (Unix sockets are files: reachable from outside the host). */
  status(node: NodeName): Promise<ClusterStatus> {
    return callAgent(join(this.stateDir(node), 'vigild.sock'), 'status', {}, 5000);
  }

  async mirrorStatus(node: NodeName): Promise<MirrorStatus | undefined> {
    const r = await callAgent(join(this.stateDir(node), 'vigild.sock'), 'mirror', { action: 'status', name: MIRROR }, 5000);
    return r.status[0];
  }

  /** The two copies of the mirror are equal by content hash, type and mode. */
  async level(): Promise<boolean> {
    return (await verifyTrees(this.folder('alpha'), this.folder('beta'), compileGlobs([], []))).equal;
  }

  /** Both agents up, both groups on alpha, every node alive, and the mirror in sync (asked through the sockets). */
  async settled(timeoutMs = 60_000): Promise<void> {
    await this.eventually('both groups run on alpha, both nodes alive, the mirror in sync', async () => {
      for (const node of NODES) {
        const s = await this.status(node).catch(() => undefined);
        if (s === undefined || !s.nodes.every((n) => n.alive)) return false;
        if (![GROUP, MIRROR_GROUP].every((g) => s.groups.find((x) => x.id === g)?.runningOn.join() === 'alpha')) return false;
      }
      const m = await this.mirrorStatus('alpha').catch(() => undefined);
      return m?.role === 'source' && m.state === 'in-sync';
    }, timeoutMs);
  }

  /** beta's own sshd on its pub address, allowing one throwaway account with a password. */
  async startSshd(): Promise<Sshd> {
    this.account = createUser();
    this.sshdServer = await Sshd.start([this.account.name], { namespace: this.net.namespaceOf('beta'), address: addressOf('beta', 'pub'), port: 22 });
    return this.sshdServer;
  }

  /**
   * The real center:web in the console host, watching `clusters` (a clusters file whose credentials are a folder
   * reference, as an operator writes it). Resolves once it prints the page's address.
   */
  async startCenter(clusters: readonly CenterClusterEntry[]): Promise<CenterProcess> {
    const home = join(this.net.tempDir, 'center');
    const credentials = join(home, 'credentials');
    mkdirSync(credentials, { recursive: true, mode: 0o700 });
    copyFileSync(join(this.pkiDir, 'trust.pem'), join(credentials, 'trust.pem'));
    writeFileSync(join(credentials, 'token'), `${this.adminToken}\n`, { mode: 0o600 });
    const file = join(home, 'clusters.json');
    writeFileSync(file, JSON.stringify(clusters.map((c) => this.clusterEntry(c, credentials)), null, 2), { mode: 0o600 });
    const p = this.net.spawn(CONSOLE_HOST, [process.execPath, resolve('dist/main/web/cli.js'),
      '--clusters', file, '--known-hosts', join(home, 'known-hosts.json'), '--data-dir', join(home, 'data')]);
    let openUrl = '';
    await this.eventually('center:web prints its address', () => {
      const log = readLog(p.logPath);
      if (p.child.exitCode !== null) throw new Error(`center:web exited (${p.child.exitCode}):\n${log}`);
      openUrl = /^open: (\S+)$/m.exec(log)?.[1] ?? '';
      return openUrl !== '';
    }, 30_000);
    this.center = { process: p, openUrl, token: new URL(openUrl).hash.replace(/^#token=/, '') };
    return this.center;
  }

  private clusterEntry(c: CenterClusterEntry, credentials: string): ClusterConfigInput {
    const account = this.account;
    return {
      id: c.id, name: c.name, credentials: { ref: credentials },
      nodes: c.nodes.map((node) => {
        const url = `wss://${addressOf(node, 'pub')}:${API_PORT}`;
        if (node !== 'beta' || c.sshPassword === undefined) return { id: node, url };
        if (account === undefined || this.sshdServer === undefined) throw new Error('startSshd() first: beta is reached through its sshd');
        const password = c.sshPassword === 'right' ? account.password : `not-${account.password}`;
        return { id: node, url, via: { host: addressOf('beta', 'pub'), port: this.sshdServer.port, username: account.name, password } };
      }),
    };
  }

  /** The browser, inside the console host. */
  async launchBrowser(options: Omit<ConsoleBrowserOptions, 'namespace'> = {}): Promise<ConsoleBrowser> {
    const browser = await ConsoleBrowser.launch({ ...options, namespace: this.net.namespaceOf(CONSOLE_HOST) });
    this.browsers.push(browser);
    return browser;
  }

  /** Wait for a condition; on timeout the error carries the agents' and the center's log tails. */
  async eventually(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
    try {
      await until(what, condition, timeoutMs, 200);
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${this.logs()}`, { cause: err });
    }
  }

  /** The last lines of every agent run and of the center, for failure messages. */
  logs(lines = 40): string {
    const tail = (label: string, path: string): string => `--- ${label} (${path}):\n${readLog(path).split('\n').slice(-lines).join('\n')}`;
    const agents = NODES.flatMap((n) => this.runs.of(n).map((p) => tail(`${n}'s agent`, p.logPath)));
    return [...agents, ...(this.center === undefined ? [] : [tail('center:web', this.center.process.logPath)])].join('\n');
  }

  private async destroy(): Promise<void> {
    const failures: unknown[] = [];
    const attempt = async (step: () => Promise<void> | void): Promise<void> => {
      try { await step(); } catch (e) { failures.push(e); }
    };
    for (const b of this.browsers) await attempt(() => b.close());
    if (this.center !== undefined) await attempt(() => this.net.kill(this.center!.process, 'SIGTERM').catch(() => this.net.kill(this.center!.process)));
    if (this.sshdServer !== undefined) await attempt(() => this.sshdServer!.stop());
    await attempt(() => this.net.destroy());
    if (this.account !== undefined) await attempt(() => this.account!.remove());
    if (failures.length > 0) throw new AggregateError(failures, 'tearing down the console fixture');
  }
}

function readLog(path: string): string {
  try { return readFileSync(path, 'utf8'); } catch { return ''; }
}
