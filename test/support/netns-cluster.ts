/**
 * A two-node Vigil cluster on real test hosts (network namespaces, see netns.ts), protecting a virtual IP and a
 * small web service for a client on the public network. Shared by the failover scenarios, `npm run bench:failover`
 * and `npm run demo` (as root).
 *
 *   alpha, beta  nodes: private nets priv1 (198.51.100.0/26) and priv2 (198.51.100.64/26), public net pub
 *                (203.0.113.0/24); heartbeats on both private nets and on the public one (role: public).
 *   client       203.0.113.10 on pub: it fetches http://VIP:8080/ and doubles as the nodes' ping target (the
 *                gateway of a real site), which is how a node knows it still has the public network.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { callAgent } from '../../agent/api/api-client.js';
import type { ClusterEvent, ClusterStatus, EventKind } from '../../common/model/index.js';
import { DIST_AGENT, type AgentProgram } from './agent-bundle.js';
import { TestNetwork, type HostProcess, type NetworkSpec } from './netns.js';

export const NODES = ['alpha', 'beta'] as const;
export type NodeName = (typeof NODES)[number];
export const PRIVATE_NETS = ['priv1', 'priv2'] as const;
export const VIP = '203.0.113.100';
export const SERVICE_PORT = 8080;
export const CLIENT = 'client';
export const CLIENT_ADDRESS = '203.0.113.10';
const GROUP = 'web';

/** Each node's address on every net, with the prefix length (the mirror fixture uses the private ones). */
export const ADDRESSES: Record<NodeName, Record<string, string>> = {
  alpha: { priv1: '198.51.100.1/26', priv2: '198.51.100.65/26', pub: '203.0.113.1/24' },
  beta: { priv1: '198.51.100.2/26', priv2: '198.51.100.66/26', pub: '203.0.113.2/24' },
};
/** A node's address on a net, without the prefix length. */
export const addressOf = (node: NodeName, net: string): string => ADDRESSES[node][net]!.split('/')[0]!;

export interface NetnsClusterOptions {
  readonly switchback?: 'auto' | 'manual';
  /** Heartbeat interval and dead time in ms (the defaults are Vigil's: 200 and 800). */
  readonly interval?: number;
  readonly deadTime?: number;
  /** Local restarts before the group leaves a node (migrationThreshold). */
  readonly migrationThreshold?: number;
  /**
   * The web service runs on both nodes all the time (startHotStandbyServices) and the group holds only the VIP:
   * the set-up keepalived users have, for a like-for-like comparison.
   */
  readonly hotStandby?: boolean;
}

export function clusterYaml(key: string, options: NetnsClusterOptions = {}): string {
  const timing = `${options.interval === undefined ? '' : `, interval: ${options.interval}ms`}${options.deadTime === undefined ? '' : `, deadTime: ${options.deadTime}ms`}`;
  const link = (net: string, port: number, role = ''): string =>
    `    - { name: ${net}, kind: udp${role}${timing}, endpoints: { ${NODES.map((n) => `${n}: "${addressOf(n, net)}:${port}"`).join(', ')} } }`;
  return `# A two-node cluster on network-namespace test hosts (test/support/netns-cluster.ts)
cluster: { id: netns, key: "${key}", startupGrace: 2s }
nodes: [{ id: alpha }, { id: beta }]
heartbeat:
  links:
${link('priv1', 7405)}
${link('priv2', 7406)}
${link('pub', 7407, ', role: public')}
arbitration: { pingTargets: ["${CLIENT_ADDRESS}"] }
groups:
  - id: ${GROUP}
    nodes: [alpha, beta]
    switchback: ${options.switchback ?? 'manual'}
    migrationThreshold: ${options.migrationThreshold ?? 3}
    resources:
${options.hotStandby === true ? '' : `      - id: web-svc
        kind: service
        name: web
        manager: process
        command: ["${process.execPath}", "${resolve('scripts/demo/web-service.mjs')}"]
        env: { DEMO_PORT: "${SERVICE_PORT}", DEMO_HOST: "0.0.0.0" }
        readyPort: ${SERVICE_PORT}
        monitorInterval: 500ms
`}      # The address comes up once the service answers, and is the first thing to go when the group stops.
      - { id: web-ip, kind: vip, address: "${VIP}/24", arpCount: 3, arpInterval: 100ms, monitorInterval: 500ms }
`;
}

/** The command line of a node's agent; its state dir survives restarts, as on a real server. */
/**
 * The address plan of the namespace fixtures: alpha and beta on two private networks and a public one, and one
 * more host (a client, the console) on the public network only.
 */
export function twoNodeNetwork(extra: { readonly name: string; readonly address: string }): NetworkSpec {
  return {
    nets: [
      { name: 'priv1', subnet: '198.51.100.0/26' },
      { name: 'priv2', subnet: '198.51.100.64/26' },
      { name: 'pub', subnet: '203.0.113.0/24' },
    ],
    hosts: [
      { name: 'alpha', addresses: ADDRESSES.alpha },
      { name: 'beta', addresses: ADDRESSES.beta },
      { name: extra.name, addresses: { pub: `${extra.address}/24` } },
    ],
  };
}

/**
 * Each node's agent runs, oldest first: start (again) with its state folder kept, as on a real server, and kill -9
 * of the newest. What an agent spawned dies with the network.
 */
export class AgentRuns {
  private readonly runs = new Map<NodeName, HostProcess[]>();
  constructor(private readonly net: TestNetwork, private readonly configPath: string, private readonly stateDir: (node: NodeName) => string,
    private readonly program: AgentProgram = DIST_AGENT) {}

  start(node: NodeName): HostProcess {
    mkdirSync(this.stateDir(node), { recursive: true });
    const p = this.net.spawn(node, vigildArgv(this.configPath, node, this.stateDir(node), this.program.script), { env: { ...this.program.env } });
    this.runs.set(node, [...this.of(node), p]);
    return p;
  }

  async kill(node: NodeName): Promise<void> {
    const p = this.of(node).at(-1);
    if (p !== undefined) await this.net.kill(p, 'SIGKILL');
  }

  of(node: NodeName): readonly HostProcess[] { return this.runs.get(node) ?? []; }
}

export function vigildArgv(configPath: string, node: NodeName, stateDir: string, script = DIST_AGENT.script): string[] {
  return [process.execPath, script, '--config', configPath, '--node', node, '--state-dir', stateDir];
}

/** What watchVip saw: the samples, and when the VIP was on two hosts at once (ISO times, to read beside the
 * agents' logs). */
export interface VipWatch {
  readonly samples: number;
  readonly overlaps: number;
  readonly overlapsAt: readonly string[];
  readonly holders: ReadonlySet<string>;
}

export class NetnsCluster {
  readonly agents = new Map<NodeName, HostProcess>();
  readonly configPath: string;

  private constructor(readonly net: TestNetwork, options: NetnsClusterOptions) {
    this.configPath = join(net.tempDir, 'cluster.yaml');
    writeFileSync(this.configPath, clusterYaml(randomBytes(32).toString('hex'), options), { mode: 0o600 });
  }

  static async create(options: NetnsClusterOptions = {}): Promise<NetnsCluster> {
    const net = await TestNetwork.create(twoNodeNetwork({ name: CLIENT, address: CLIENT_ADDRESS }));
    return new NetnsCluster(net, options);
  }

  stateDir(node: NodeName): string { return join(this.net.tempDir, `state-${node}`); }

  /** Start the node's agent (again); its state dir survives restarts, as on a real server. */
  start(node: NodeName): HostProcess {
    mkdirSync(this.stateDir(node), { recursive: true });
    const p = this.net.spawn(node, vigildArgv(this.configPath, node, this.stateDir(node)));
    this.agents.set(node, p);
    return p;
  }

  /** For hotStandby: the web service on every node, outside Vigil's control. */
  startHotStandbyServices(): void {
    for (const node of NODES) {
      this.net.spawn(node, [process.execPath, resolve('scripts/demo/web-service.mjs')],
        { env: { VIGIL_NODE: node, DEMO_PORT: String(SERVICE_PORT), DEMO_HOST: '0.0.0.0' } });
    }
  }

  agent(node: NodeName): HostProcess {
    const p = this.agents.get(node);
    if (!p) throw new Error(`${node}'s agent was never started`);
    return p;
  }

  /** What the agent wrote to its log so far (for failure messages). */
  agentLog(node: NodeName): string {
    try { return readFileSync(this.agent(node).logPath, 'utf8'); } catch { return ''; }
  }

  /** Unix sockets are files, not network: the agent's control socket is reachable from outside its host. */
  status(node: NodeName): Promise<ClusterStatus> {
    return callAgent(join(this.stateDir(node), 'vigild.sock'), 'status', {}, 5000);
  }

  /** A control command through the agent's socket, as `vigil` sends it. */
  switchover(node: NodeName, target?: NodeName): Promise<{ group: string; target: string }> {
    return callAgent(join(this.stateDir(node), 'vigild.sock'), 'switchover', { group: GROUP, ...(target ? { node: target } : {}) }, 10_000);
  }

  events(node: NodeName, kinds: EventKind[]): Promise<ClusterEvent[]> {
    return callAgent(join(this.stateDir(node), 'vigild.sock'), 'events', { kinds }, 5000);
  }

  switchback(node: NodeName): Promise<{ group: string; target: string }> {
    return callAgent(join(this.stateDir(node), 'vigild.sock'), 'switchback', { group: GROUP }, 10_000);
  }

  /** The group's placement as a node reports it; undefined while the agent does not answer. */
  async runningOn(node: NodeName): Promise<string[] | undefined> {
    try {
      return [...(await this.status(node)).groups.find((g) => g.id === GROUP)!.runningOn];
    } catch {
      return undefined;
    }
  }

  /** The node whose web service answers the client at the VIP, or undefined if nothing answers within 800 ms. */
  servedBy(): string | undefined {
    const r = this.net.run(CLIENT, [process.execPath, '-e',
      `require('http').get({ host: '${VIP}', port: ${SERVICE_PORT}, timeout: 800 }, (res) => { let b = ''; res.on('data', (d) => b += d); res.on('end', () => process.stdout.write(b)); }).on('error', () => process.exit(1)).on('timeout', () => process.exit(1));`],
    { timeoutMs: 3000 });
    return r.code === 0 ? /served by (\S+)/.exec(r.stdout)?.[1] : undefined;
  }

  /** The hosts that have the VIP on an interface right now. */
  vipHolders(): NodeName[] {
    return NODES.filter((n) => this.hosts().includes(n) && this.net.addresses(n).some((a) => a.address === VIP));
  }

  /** The nodes whose hosts still exist (removeHost takes one away). */
  hosts(): NodeName[] {
    return NODES.filter((n) => this.net.namespaces().some((ns) => ns === `${this.net.prefix}${n}`));
  }

  /** The node whose public MAC the client's ARP entry for the VIP names, if it has one. */
  clientArpOwner(): NodeName | undefined {
    const mac = this.net.neighbours(CLIENT).find((n) => n.address === VIP)?.mac;
    return mac === undefined ? undefined : this.hosts().find((n) => this.net.macOf(n, 'pub') === mac);
  }

  /** The pids of the protected web service inside a host. */
  servicePids(node: NodeName): number[] {
    const r = spawnSync('ip', ['netns', 'pids', this.net.namespaceOf(node)], { encoding: 'utf8', timeout: 10_000 });
    return r.stdout.split(/\s+/).filter((p) => p !== '').map(Number).filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').some((arg) => arg.endsWith('web-service.mjs'));
      } catch {
        return false; // it exited meanwhile
      }
    });
  }

  cutPrivate(node: NodeName, nets: readonly string[] = PRIVATE_NETS): void { for (const n of nets) this.net.cut(node, n); }
  restorePrivate(node: NodeName, nets: readonly string[] = PRIVATE_NETS): void { for (const n of nets) this.net.restore(node, n); }
  /**
   * `from` sends nothing to `to` while every cable stays in: a blackhole route on `from`'s host for each of `to`'s
   * addresses. One direction of the heartbeat is held up while the agents, the VIP and the client carry on.
   */
  blockSending(from: NodeName, to: NodeName): void {
    for (const net of Object.keys(ADDRESSES[to])) this.ipOn(from, ['route', 'add', 'blackhole', `${addressOf(to, net)}/32`]);
  }

  /** Undoes blockSending, and flushes `from`'s neighbour table: an entry that failed meanwhile would hold packets up
   * to a second while it resolves again. */
  unblockSending(from: NodeName, to: NodeName): void {
    for (const net of Object.keys(ADDRESSES[to])) this.ipOn(from, ['route', 'del', 'blackhole', `${addressOf(to, net)}/32`]);
    this.ipOn(from, ['neigh', 'flush', 'all']);
  }

  private ipOn(node: NodeName, args: readonly string[]): void {
    const r = this.net.run(node, ['ip', ...args]);
    if (r.code !== 0) throw new Error(`ip ${args.join(' ')} on ${node}: ${r.stderr.trim()}`);
  }

  /** Every cable of the node: both private nets and the public one. */
  isolate(node: NodeName): void { for (const n of [...PRIVATE_NETS, 'pub']) this.net.cut(node, n); }
  reconnect(node: NodeName): void { for (const n of [...PRIVATE_NETS, 'pub']) this.net.restore(node, n); }

  /**
   * Sample the VIP holders every `everyMs` until stop(): how many samples saw it on two hosts at once. This is the
   * split-brain check, run through a whole scenario.
   */
  watchVip(everyMs = 20): { stop(): Promise<VipWatch> } {
    let running = true;
    let samples = 0;
    const overlapsAt: string[] = [];
    const holders = new Set<string>();
    const loop = (async () => {
      while (running) {
        try {
          const h = this.vipHolders();
          samples++;
          if (h.length > 1) overlapsAt.push(new Date().toISOString());
          for (const x of h) holders.add(x);
        } catch { /* a host being removed */ }
        await new Promise((r) => setTimeout(r, everyMs));
      }
    })();
    // stop() may be called twice (by the scenario, then by its cleanup): the loop ends once.
    return { stop: async () => { running = false; await loop; return { samples, overlaps: overlapsAt.length, overlapsAt, holders }; } };
  }

  destroy(): Promise<void> { return this.net.destroy(); }
}
