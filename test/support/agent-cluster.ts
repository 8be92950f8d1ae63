/**
 * Real `vigild` processes on loopback, each with its own state directory, driven through the real control
 * socket and the real `vigil` CLI. Everything it starts (agents, the resources they ran, temp files) is gone
 * after dispose(), which the tests call from t.after so a failing test cleans up too.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { ClusterStatus } from '../../common/model/index.js';
import { freePort, isRunning, pidInFile } from './process.js';
import { ApiClient, callAgent, callOnce } from '../../agent/api/api-client.js';
import type { Method, Params, Results } from '../../common/protocol/api.js';
import { initCluster } from '../../agent/security/pki.js';
import { TokenStore } from '../../agent/security/tokens.js';
import type { UserRole } from '../../common/model/index.js';

export const REPO = process.cwd();

/** One group, web, with one test OCF daemon, on alpha and beta, switched back by hand: what the API tests run. */
export const WEB_GROUP_YAML = `groups:
  - id: web
    nodes: [alpha, beta]
    switchback: manual
    resources:
      - { id: web-app, kind: ocf, agent: "@OCF@", monitorInterval: 300ms }
`;
const VIGILD = resolve(REPO, 'dist/agent/cli/vigild.js');
const VIGIL = resolve(REPO, 'dist/agent/cli/vigil.js');
const OCF_TEST_AGENT = resolve(REPO, 'test/fixtures/ocf/vigil-test-daemon');

export { freePort, isRunning } from './process.js';

export interface Ports { readonly udp: Record<string, number>; readonly tcp: Record<string, number> }

export class AgentProcess {
  readonly exited: Promise<number | null>;
  constructor(readonly node: string, readonly child: ChildProcess, readonly logPath: string) {
    this.exited = new Promise((res) => child.once('exit', (code) => res(code)));
  }
  get pid(): number { return this.child.pid!; }
  log(): string { return existsSync(this.logPath) ? readFileSync(this.logPath, 'utf8') : ''; }
}

export class LocalCluster {
  readonly dir = mkdtempSync(join(tmpdir(), 'vigil-it-'));
  readonly configPath = join(this.dir, 'cluster.yaml');
  readonly agents = new Map<string, AgentProcess>();
  readonly key = randomBytes(32).toString('hex');

  /** With `api`: where each node's API listens, the PKI folder, and the first admin token. */
  apiPorts: Record<string, number> = {};
  readonly pkiDir = join(this.dir, 'pki');
  adminToken = '';

  /**
   * With separateConfigs, each node runs its own copy at `<dir>/<node>/cluster.yaml` (made at its first start),
   * as real servers do: every node rewrites its file when a configuration is committed.
   */
  private separateConfigs = false;

  private constructor(readonly nodes: readonly string[], readonly ports: Ports) {}

  /**
   * The same cluster with the network API on: a PKI made by `vigil init`'s code, each node's API on a loopback
   * port, and `extraYaml` appended (an alerts section, say).
   */
  static async createWithApi(groupsYaml: string, options: { nodes?: readonly string[]; extraYaml?: string; apiYaml?: string; separateConfigs?: boolean } = {}): Promise<LocalCluster> {
    const nodes = options.nodes ?? ['alpha', 'beta'];
    const cluster = await LocalCluster.create(groupsYaml, nodes);
    cluster.separateConfigs = options.separateConfigs ?? false;
    for (const n of nodes) cluster.apiPorts[n] = await freePort();
    const init = await initCluster({ dir: cluster.pkiDir, clusterId: 'it', nodes: nodes.map((id) => ({ id, hosts: ['127.0.0.1'] })) });
    cluster.adminToken = init.adminToken;
    const text = readFileSync(cluster.configPath, 'utf8')
      .replace(/^nodes: .*$/m, `nodes: [${nodes.map((n) => `{ id: ${n}, api: "127.0.0.1:${cluster.apiPorts[n]}" }`).join(', ')}]`);
    // Every node's copy starts with the same text (one generation 1 cluster-wide), so paths in it are absolute.
    const pki = cluster.separateConfigs ? JSON.stringify(cluster.pkiDir) : 'pki';
    const keyed = cluster.separateConfigs ? text.replace('keyFile: cluster.key', `keyFile: ${JSON.stringify(join(cluster.dir, 'cluster.key'))}`) : text;
    writeFileSync(cluster.configPath, `${keyed}\napi: { pki: ${pki}${options.apiYaml ? `, ${options.apiYaml}` : ''} }\n${options.extraYaml ?? ''}`);
    return cluster;
  }

  /** The configuration file `node` runs with. */
  configFile(node: string): string {
    return this.separateConfigs ? join(this.stateDir(node), 'cluster.yaml') : this.configPath;
  }

  /** One request over a fresh admin session (`auth` overrides): survives an agent reloading between calls. */
  call<M extends Method>(node: string, method: M, params: Params<M>, auth: { token?: string } = { token: this.adminToken }): Promise<Results[M]> {
    return callOnce({ url: this.apiUrl(node), ca: this.trust(), client: 'integration-test', timeoutMs: 15_000, ...auth }, method, params);
  }

  /** Start every node and wait until web runs on `first` only and every node hears the others. */
  async startSettled(first = 'alpha'): Promise<void> {
    for (const node of this.nodes) this.start(node);
    await this.waitFor(`web running on ${first}, every node alive`, async () => {
      const s = await this.status(first);
      return s.groups[0]?.runningOn.join() === first && s.nodes.every((n) => n.alive) && this.runningOn('web-app').join() === first;
    });
  }

  apiUrl(node: string): string { return `wss://127.0.0.1:${this.apiPorts[node]}`; }

  /** The CA bundle a client trusts the agents' certificates with. */
  trust(): string { return readFileSync(join(this.pkiDir, 'trust.pem'), 'utf8'); }

  /** A session with a node's API; `auth` is a token, or a certificate and key. */
  connect(node: string, auth: { token?: string; tokenIn?: 'header' | 'hello'; cert?: string; key?: string } = { token: this.adminToken }): Promise<ApiClient> {
    return ApiClient.connect({ url: this.apiUrl(node), ca: this.trust(), client: 'integration-test', timeoutMs: 10_000, ...auth });
  }

  /** A token of the given role, made as `vigil token create` makes it. */
  token(name: string, role: UserRole, ttlMs?: number, createdAt = Date.now()): string {
    return TokenStore.open(join(this.pkiDir, 'tokens.json')).create({ name, role, ...(ttlMs === undefined ? {} : { ttlMs }) }, createdAt).token;
  }

  /** `groupsYaml` is the `groups:` section; "@OCF@" stands for the test OCF agent's path. */
  static async create(groupsYaml: string, nodes: readonly string[] = ['alpha', 'beta'], heartbeat: { interval: number; deadTime: number } = { interval: 100, deadTime: 500 }): Promise<LocalCluster> {
    const ports: Ports = { udp: {}, tcp: {} };
    for (const n of nodes) { ports.udp[n] = await freePort(); ports.tcp[n] = await freePort(); }
    const cluster = new LocalCluster(nodes, ports);
    const endpoints = (kind: 'udp' | 'tcp') => `{ ${nodes.map((n) => `${n}: "127.0.0.1:${ports[kind][n]}"`).join(', ')} }`;
    writeFileSync(join(cluster.dir, 'cluster.key'), cluster.key + '\n', { mode: 0o600 });
    writeFileSync(cluster.configPath, `cluster: { id: it, keyFile: cluster.key, startupGrace: 2s }
nodes: [${nodes.map((n) => `{ id: ${n} }`).join(', ')}]
heartbeat:
  links:
    - { name: lan-udp, kind: udp, interval: ${heartbeat.interval}ms, deadTime: ${heartbeat.deadTime}ms, endpoints: ${endpoints('udp')} }
    - { name: lan-tcp, kind: tcp, interval: ${heartbeat.interval}ms, deadTime: ${heartbeat.deadTime}ms, endpoints: ${endpoints('tcp')} }
${groupsYaml.replaceAll('@OCF@', OCF_TEST_AGENT)}`);
    return cluster;
  }

  /** The test OCF agent ("@OCF@" in groupsYaml), for configurations a test writes later. */
  resourceAgentPath(): string { return OCF_TEST_AGENT; }

  stateDir(node: string): string { return join(this.dir, node); }
  socket(node: string): string { return join(this.stateDir(node), 'vigild.sock'); }

  start(node: string): AgentProcess {
    const stateDir = this.stateDir(node);
    mkdirSync(stateDir, { recursive: true });
    const logPath = join(stateDir, 'vigild.log');
    const configFile = this.configFile(node);
    // A restarted node keeps the file it rewrote.
    if (!existsSync(configFile)) copyFileSync(this.configPath, configFile);
    const out = openSync(logPath, 'a');
    const child = spawn(process.execPath, [VIGILD, '--config', configFile, '--node', node, '--state-dir', stateDir], {
      stdio: ['ignore', out, out],
    });
    closeSync(out);
    const agent = new AgentProcess(node, child, logPath);
    this.agents.set(node, agent);
    return agent;
  }

  /** kill -9: the agent dies at once; whatever it started keeps running. */
  async kill(node: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const agent = this.agents.get(node);
    if (!agent) return;
    agent.child.kill(signal);
    await agent.exited;
    this.agents.delete(node);
  }

  async status(node: string): Promise<ClusterStatus> {
    return callAgent(this.socket(node), 'status', {}, 5000);
  }

  /** The real CLI, as an administrator runs it. */
  vigil(node: string, ...args: string[]): { code: number; stdout: string; stderr: string } {
    const r = spawnSync(process.execPath, [VIGIL, '--socket', this.socket(node), ...args], { encoding: 'utf8', timeout: 20_000 });
    return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  }

  /** Where the test OCF daemon of `resource` runs, by the pidfiles each node's resources keep. */
  runningOn(resource: string): string[] {
    return this.nodes.filter((n) => {
      const pid = this.resourcePid(n, resource);
      return pid !== undefined && isRunning(pid);
    });
  }

  resourcePid(node: string, resource: string): number | undefined {
    return pidInFile(join(this.rscTmp(node), `vigil-test-daemon-${resource}.pid`));
  }

  rscTmp(node: string): string { return join(this.stateDir(node), 'run'); }

  guardPid(node: string): number | undefined {
    return pidInFile(join(this.stateDir(node), 'guard.pid'));
  }

  async waitFor<T>(what: string, probe: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 20_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let lastError: unknown;
    for (;;) {
      try {
        const value = await probe();
        if (value !== undefined && value !== false) return value;
      } catch (e) { lastError = e; }
      if (Date.now() > deadline) {
        const logs = [...this.agents.values()].map((a) => `--- ${a.node} log tail:\n${a.log().split('\n').slice(-25).join('\n')}`).join('\n');
        throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}${lastError ? ` (last error: ${(lastError as Error).message})` : ''}\n${logs}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Stop every agent (SIGTERM, then SIGKILL), kill every resource process left, remove all files. */
  async dispose(): Promise<void> {
    for (const [node, agent] of this.agents) {
      agent.child.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const done = await Promise.race([agent.exited.then(() => true), new Promise<boolean>((r) => { timer = setTimeout(() => r(false), 10_000); })]);
      clearTimeout(timer); // a pending timer would hold the test file open for its full 10 s
      if (!done) { agent.child.kill('SIGKILL'); await agent.exited; }
      this.agents.delete(node);
    }
    const killed: number[] = [];
    // A killed agent's guard is still stopping its resources: let it finish, then make sure it is gone.
    const guards = this.nodes.map((n) => this.guardPid(n)).filter((p): p is number => p !== undefined);
    const guardDeadline = Date.now() + 10_000;
    while (guards.some(isRunning) && Date.now() < guardDeadline) await new Promise((r) => setTimeout(r, 20));
    for (const pid of guards.filter(isRunning)) { process.kill(pid, 'SIGKILL'); killed.push(pid); }
    for (const node of this.nodes) {
      const dir = this.rscTmp(node);
      if (!existsSync(dir)) continue;
      for (const file of readdirSync(dir).filter((f) => f.endsWith('.pid'))) {
        const pid = pidInFile(join(dir, file));
        if (pid === undefined) continue; // never 0: kill(-0) would be this test's own process group
        try { process.kill(-pid, 'SIGKILL'); } catch { /* already gone */ }
        try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
        killed.push(pid);
      }
    }
    // A killed process lingers until it is reaped: wait, so "nothing is left" holds when dispose returns.
    const deadline = Date.now() + 5000;
    while (killed.some(isRunning) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    // VIGIL_KEEP_TEST_DIRS=1 keeps the folder (configurations, agents' logs) to look into a failure.
    if (process.env['VIGIL_KEEP_TEST_DIRS'] === '1') process.stderr.write(`kept ${this.dir}\n`);
    else rmSync(this.dir, { recursive: true, force: true });
  }
}
