/**
 * One mirror between two real test hosts (network namespaces, see netns.ts), for the mirror scenarios.
 *
 *   alpha, beta  private nets priv1 and priv2 (the address plan of netns-cluster.ts); heartbeats on both,
 *                replication on priv1 only, so cutting or slowing priv1 never looks like a dead peer.
 *   group files  one resource: the mirror `data` of data-alpha <-> data-beta (excluding *.tmp), alpha preferred.
 *
 * Agents are real vigild processes; they are driven through their control sockets (Unix sockets are files, so
 * the test process reaches them from outside the hosts). Their logs stay in the network's temp dir until the
 * test ends; a timed-out wait prints their tails.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { callAgent } from '../../agent/api/api-client.js';
import { compileGlobs } from '../../agent/replication/glob.js';
import { encodeManifest, treeManifest, verifyTrees, type VerifyReport } from '../../agent/replication/verify.js';
import type { MirrorAction, MirrorStatus } from '../../common/model/index.js';
import type { Method, Params, Results } from '../../common/protocol/api.js';
import type { AgentProgram } from './agent-bundle.js';
import { ADDRESSES, AgentRuns, NODES, PRIVATE_NETS, addressOf, type NodeName } from './netns-cluster.js';
import { TestNetwork, type HostProcess } from './netns.js';
import { until } from './process.js';

export { NODES, type NodeName } from './netns-cluster.js';

export const MIRROR = 'data';
export const REPLICATION_NET = 'priv1';
export const REPLICATION_PORT = 7420;
export const EXCLUDE = ['*.tmp'];
const FILTER = compileGlobs([], EXCLUDE);
/** Long enough for a resync of the test data set on a loaded 2-core machine; a wait that needs longer has failed. */
const WAIT_MS = 180_000;

/**
 * Two folders compared as the mirror must keep them: content hash, type, mode, owner (the agents run as root, where
 * mirrorOwner applies), mtime (of folders and symlinks too) and extended attributes, ACLs among them, excluded
 * files aside.
 */
export function equalTrees(a: string, b: string): Promise<VerifyReport> {
  return verifyTrees(a, b, FILTER, { checkMtime: true, checkOwner: true, checkXattrs: true });
}

export interface NetnsMirrorOptions {
  /** The mirror's journalSize (default 64MiB): small, it fills and the mirror goes dirty. */
  readonly journalSize?: string;
  readonly switchback?: 'auto' | 'manual';
  /** The vigild both hosts run (default dist/'s). */
  readonly agent?: AgentProgram;
}

export class NetnsMirror {
  /** Every run of each node's agent, the current one last. */
  private readonly runs: AgentRuns;
  /** What the last look at the two copies found different (in the error of a wait that timed out). */
  private lastDifference: VerifyReport | undefined;
  readonly configPath: string;
  /** The cluster key, hex: a test that speaks the replication protocol itself needs it. */
  readonly key = randomBytes(32).toString('hex');

  private constructor(readonly net: TestNetwork, options: NetnsMirrorOptions) {
    this.configPath = join(net.tempDir, 'cluster.yaml');
    this.runs = new AgentRuns(net, this.configPath, (node) => this.stateDir(node), options.agent);
    for (const node of NODES) mkdirSync(this.folder(node));
    writeFileSync(this.configPath, this.clusterYaml(options), { mode: 0o600 });
  }

  /** Build the hosts; the test's t.after tears them down (agents included) even when the test fails. */
  static async create(t: TestContext, options: NetnsMirrorOptions = {}): Promise<NetnsMirror> {
    const net = await TestNetwork.create({
      nets: PRIVATE_NETS.map((name) => ({ name, subnet: name === 'priv1' ? '198.51.100.0/26' : '198.51.100.64/26' })),
      hosts: NODES.map((name) => ({ name, addresses: Object.fromEntries(PRIVATE_NETS.map((n) => [n, ADDRESSES[name][n]!])) })),
    });
    t.after(() => net.destroy());
    return new NetnsMirror(net, options);
  }

  private clusterYaml(options: NetnsMirrorOptions): string {
    const endpoints = (net: string, port: number): string => `{ ${NODES.map((n) => `${n}: "${addressOf(n, net)}:${port}"`).join(', ')} }`;
    return `# One mirror on network-namespace test hosts (test/support/netns-mirror.ts)
cluster: { id: mirrors, key: "${this.key}", startupGrace: 2s }
nodes: [{ id: alpha }, { id: beta }]
heartbeat:
  links:
${PRIVATE_NETS.map((net, i) => `    - { name: ${net}, kind: udp, endpoints: ${endpoints(net, 7405 + i)} }`).join('\n')}
groups:
  - id: files
    nodes: [alpha, beta]
    switchback: ${options.switchback ?? 'manual'}
    resources:
      - id: ${MIRROR}
        kind: mirror
        folders: [{ alpha: "${this.folder('alpha')}", beta: "${this.folder('beta')}" }]
        exclude: [${EXCLUDE.map((g) => `"${g}"`).join(', ')}]
        endpoints: ${endpoints(REPLICATION_NET, REPLICATION_PORT)}
        journalSize: ${options.journalSize ?? '64MiB'}
        monitorInterval: 1s
`;
  }

  folder(node: NodeName): string { return join(this.net.tempDir, `data-${node}`); }
  stateDir(node: NodeName): string { return join(this.net.tempDir, `state-${node}`); }
  socket(node: NodeName): string { return join(this.stateDir(node), 'vigild.sock'); }

  start(node: NodeName): HostProcess { return this.runs.start(node); }

  /** kill -9 of the node's agent; returns once it is gone. What it spawned (inotifywait) dies with the network. */
  kill(node: NodeName): Promise<void> { return this.runs.kill(node); }

  /** A control request, as `vigil` sends it. */
  control<M extends Method>(node: NodeName, method: M, params: Params<M>, timeoutMs = 10_000): Promise<Results[M]> {
    return callAgent(this.socket(node), method, params, timeoutMs);
  }

  /** `vigil mirror ACTION data` on a node. */
  command(node: NodeName, action: Exclude<MirrorAction, 'status'>): Promise<Results['mirror']> {
    return this.control(node, 'mirror', { action, name: MIRROR }, 120_000);
  }

  /** The node's view of the mirror; undefined while its agent does not answer. */
  async status(node: NodeName): Promise<MirrorStatus | undefined> {
    try {
      return (await this.control(node, 'mirror', { action: 'status', name: MIRROR })).status[0];
    } catch {
      return undefined;
    }
  }

  async answers(node: NodeName): Promise<boolean> {
    return this.control(node, 'status', {}).then(() => true, () => false);
  }

  /** The two copies are equal by content hash (and type, mode, owner and mtime), excluded files aside. */
  async level(source: NodeName = 'alpha', target: NodeName = 'beta'): Promise<boolean> {
    const report = await equalTrees(this.folder(source), this.folder(target));
    this.lastDifference = report.equal ? undefined : report;
    return report.equal;
  }

  /** A node's copy as text (paths, types, sizes, hashes, modes, mtimes): to tell whether one copy changed at all. */
  async manifest(node: NodeName): Promise<string> {
    return encodeManifest(await treeManifest(this.folder(node), FILTER));
  }

  /** Wait for a condition; on timeout the error carries the agents' log tails. */
  async eventually(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = WAIT_MS): Promise<void> {
    try {
      await until(what, condition, timeoutMs, 200);
    } catch (err) {
      const views = await Promise.all(NODES.map(async (n) => `--- ${n}'s mirror status: ${JSON.stringify(await this.status(n))}`));
      const differs = this.lastDifference === undefined ? '' : `\n--- the copies' last difference: ${JSON.stringify(this.lastDifference).slice(0, 2000)}`;
      throw new Error(`${(err as Error).message}\n${views.join('\n')}${differs}\n${this.agentLogs()}`, { cause: err });
    }
  }

  /** `source` runs the mirror as its source, reports it in sync, and `target`'s copy is level with it. */
  inSync(source: NodeName = 'alpha', target: NodeName = source === 'alpha' ? 'beta' : 'alpha', timeoutMs = WAIT_MS): Promise<void> {
    return this.eventually(`${source} is the source, in sync, and ${target} is level with it`, async () => {
      const s = await this.status(source);
      return s?.role === 'source' && s.state === 'in-sync' && await this.level(source, target);
    }, timeoutMs);
  }

  /**
   * Limit what the replication net carries toward `node` (a token bucket on the switch port, e.g. "40mbit"), so
   * a transfer of a few MB lasts seconds whatever the machine's speed: long enough to act in the middle of it.
   */
  throttle(node: NodeName, rate: string): void {
    this.tc(['qdisc', 'replace', 'dev', node, 'root', 'tbf', 'rate', rate, 'burst', '64kb', 'latency', '1s']);
  }

  unthrottle(node: NodeName): void {
    this.tc(['qdisc', 'del', 'dev', node, 'root']);
  }

  private tc(args: readonly string[]): void {
    const sw = this.net.switchNamespaceOf(REPLICATION_NET);
    const r = spawnSync('tc', ['-n', sw, ...args], { encoding: 'utf8', timeout: 10_000 });
    if (r.status !== 0) throw new Error(`tc ${args.join(' ')} in ${sw}: ${r.stderr.trim() || r.error?.message}`);
  }

  /**
   * A relay inside `from`'s host to `to`'s replication port, which the test process reaches as a Unix socket
   * (the returned path): whatever a test sends into it crosses the replication net as `from`'s traffic.
   */
  async relayToReplicationPort(from: NodeName, to: NodeName): Promise<string> {
    const path = join(this.net.tempDir, `relay-${from}-${to}.sock`);
    this.net.spawn(from, ['socat', `UNIX-LISTEN:${path},fork`, `TCP:${addressOf(to, REPLICATION_NET)}:${REPLICATION_PORT}`]);
    await until(`the relay from ${from} to ${to} listens`, () => existsSync(path), 10_000);
    return path;
  }

  /** The last lines each node's agent logged, over all its runs, without the once-a-second monitor and probe lines. */
  agentLogs(lines = 60): string {
    const quiet = (log: string): string[] => log.split('\n').filter((l) => !/ (monitor|probe) files\/data \.\.\.$/.test(l));
    return NODES.map((n) => `--- ${n}'s agent:\n${quiet(this.agentLog(n)).slice(-lines).join('\n')}`).join('\n');
  }

  /** Everything the node's agent logged, each run after a line naming its log file. */
  agentLog(node: NodeName): string {
    return this.runs.of(node).map((p) => {
      let text = '';
      try { text = readFileSync(p.logPath, 'utf8'); } catch { /* not written yet */ }
      return `[${p.logPath}]\n${text}`;
    }).join('');
  }
}
