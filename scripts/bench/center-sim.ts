/**
 * The simulated clusters of bench:center, run in a child process (forked by center.ts) so that the center's event
 * loop is not the simulators'. Each node is the agent's real ApiServer (TLS on 127.0.0.1, a real PKI from
 * initCluster, real tokens) and a real TopicHub over synthetic sources; a `burst` command changes every node's
 * status `steps` times (link round trips, and a group moving on the last step) and pushes one log entry per step.
 * Protocol over the IPC channel: see SimCommand and SimReply.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ApiServer } from '../../agent/api/api-server.js';
import { clusterAuthenticator } from '../../agent/api/cluster-authenticator.js';
import type { Handlers } from '../../agent/api/session.js';
import { TopicHub } from '../../agent/api/topic-hub.js';
import { initCluster, loadAgentTls, pkiPaths } from '../../agent/security/pki.js';
import { TokenStore } from '../../agent/security/tokens.js';
import type { ClusterEvent, ClusterStatus, GroupSummary, LinkStatus, MirrorStatus, NodeSummary } from '../../common/model/index.js';
import type { ClusterSnapshot, ConfigVersionSummary } from '../../common/model/api.js';
import { ProtocolError } from '../../common/protocol/api.js';
import { expectedRtt, expectedRunningOn, stepMessage, type SimClusterReady, type SimClusterSpec, type SimCommand, type SimReply } from './center-protocol.js';


const STARTED_AT = Date.now();
const CONFIG: ConfigVersionSummary = { generation: 1, digest: 'sha256:bench', author: 'bench', at: STARTED_AT };

class SimNode {
  readonly hub: TopicHub;
  readonly server: ApiServer;
  private status: ClusterStatus;
  private readonly events: ClusterEvent[] = [];
  private readonly mirrors: MirrorStatus[];
  private nextEventId = 1;

  constructor(private readonly cluster: SimClusterSpec, private readonly node: string, groups: number, pkiDir: string) {
    this.status = this.initialStatus(groups);
    this.mirrors = this.status.groups.slice(0, 2).map((g, i) => mirror(`${g.id}-data`, g.id, node, cluster.nodes.find((n) => n !== node) ?? node, i === 0 ? 'source' : 'target'));
    this.hub = new TopicHub({
      status: () => this.status, mirrors: () => this.mirrors, inventory: () => null, alerts: () => [], config: () => CONFIG,
    });
    const snapshot = (): ClusterSnapshot => ({
      node, agentVersion: 'bench', startedAt: STARTED_AT, status: { ...this.status, at: Date.now() }, events: this.events.slice(0, 50),
      mirrors: this.mirrors, inventory: null, alerts: [], config: CONFIG,
    });
    const unavailable = new Proxy({}, { get: () => () => { throw new ProtocolError('UNAVAILABLE', 'not simulated'); } }) as Handlers;
    this.server = new ApiServer({
      session: {
        node, cluster: cluster.id, agentVersion: 'bench', capabilities: ['events', 'snapshot', 'mirror', 'config', 'alerts'],
        authenticator: clusterAuthenticator(cluster.id, TokenStore.open(pkiPaths(pkiDir).tokens), () => undefined),
        handlers: { ...unavailable, snapshot } as Handlers, hub: this.hub, snapshot, audit: () => undefined,
      },
      tls: { host: '127.0.0.1', port: 0, ...loadAgentTls(pkiDir, node) },
      routes: { health: () => ({ ok: true, detail: 'simulated' }), metrics: () => '', metricsPublic: false },
      log: () => undefined,
    });
  }

  private initialStatus(groups: number): ClusterStatus {
    const nodes = this.cluster.nodes;
    return {
      cluster: this.cluster.id, reportedBy: this.node, at: Date.now(), maintenance: false, faults: [],
      nodes: nodes.map((id): NodeSummary => ({
        id, local: id === this.node, alive: true, incarnation: STARTED_AT, configDigest: CONFIG.digest,
        links: id === this.node ? [] : links(id, 0.2),
      })),
      groups: Array.from({ length: groups }, (_, g): GroupSummary => group(`g${g}`, nodes, nodes[g % nodes.length]!)),
    };
  }

  /** One step of a burst: a log entry, and a new status (round trips; on the last step, group g0 moves). */
  step(burst: number, step: number, last: boolean): void {
    const nodes = this.cluster.nodes;
    const rtt = expectedRtt(burst, step);
    const moved = expectedRunningOn(nodes, burst);
    this.status = {
      ...this.status, at: Date.now(),
      nodes: this.status.nodes.map((n) => ({ ...n, links: n.id === this.node ? [] : links(n.id, rtt) })),
      groups: last ? this.status.groups.map((g, i) => (i === 0 ? group(g.id, nodes, moved) : g)) : this.status.groups,
    };
    const event: ClusterEvent = {
      id: this.nextEventId++, at: Date.now(), kind: last ? 'switchover' : 'link-up', severity: 'info', node: this.node,
      ...(last ? { group: 'g0' } : {}), message: stepMessage(burst, step),
    };
    this.events.unshift(event);
    this.events.length = Math.min(this.events.length, 50);
    this.hub.pushEvent(event);
    this.hub.touch('status');
  }
}

function links(peer: string, rttMs: number): LinkStatus[] {
  return (['udp', 'tcp'] as const).map((kind) => ({
    link: `lan-${kind}`, kind, peer, up: true, lastSeenAt: Date.now(), lossPercent: 0, rttMs,
    rejected: { badMac: 0, replay: 0, foreign: 0, malformed: 0 },
  }));
}

function group(id: string, nodes: readonly string[], on: string): GroupSummary {
  return {
    id, target: on, reasons: [], runningOn: [on], switchback: 'manual', failures: {},
    resources: ['vip', 'fs', 'app'].map((r) => ({
      id: `${id}-${r}`, kind: 'ocf', states: Object.fromEntries(nodes.map((n) => [n, n === on ? 'running' as const : 'stopped' as const])),
    })),
  };
}

function mirror(id: string, groupId: string, node: string, peer: string, role: 'source' | 'target'): MirrorStatus {
  return {
    id, group: groupId, node, peer, role, state: 'in-sync', reasons: [], generation: '1', connected: true,
    pausedSource: false, pausedTarget: false, dirtyFiles: 0, lagBytes: 0, lagSeconds: 0, throughput: 0,
  };
}

const nodes: SimNode[] = [];
let dir = '';

function reply(message: SimReply): void {
  process.send?.(message);
}

async function start(command: Extract<SimCommand, { type: 'start' }>): Promise<void> {
  dir = command.dir;
  const ready: SimClusterReady[] = [];
  for (const cluster of command.clusters) {
    const pkiDir = join(dir, cluster.id);
    mkdirSync(dir, { recursive: true });
    await initCluster({ dir: pkiDir, clusterId: cluster.id, nodes: cluster.nodes.map((id) => ({ id, hosts: ['127.0.0.1'] })) });
    const token = TokenStore.open(pkiPaths(pkiDir).tokens).create({ name: 'center', role: 'viewer' }).token;
    const ports: Record<string, number> = {};
    for (const id of cluster.nodes) {
      const node = new SimNode(cluster, id, command.groups, pkiDir);
      await node.server.listen();
      nodes.push(node);
      ports[id] = node.server.port!;
    }
    ready.push({ id: cluster.id, trust: loadAgentTls(pkiDir, cluster.nodes[0]!).ca, token, ports });
  }
  reply({ type: 'ready', clusters: ready });
}

async function burst(command: Extract<SimCommand, { type: 'burst' }>): Promise<void> {
  const t0 = performance.now();
  for (let s = 1; s <= command.steps; s++) {
    for (const node of nodes) node.step(command.burst, s, s === command.steps);
    // Each hub reads its status on the next turn (touches in one turn coalesce): one status event per step.
    await new Promise((resolve) => setImmediate(resolve));
  }
  reply({ type: 'burst-sent', burst: command.burst, ms: performance.now() - t0 });
}

async function stop(): Promise<void> {
  await Promise.all(nodes.map(async (n) => { n.hub.dispose(); await n.server.close(); }));
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
  reply({ type: 'stopped' });
  process.disconnect?.();
}

// The bench gone (killed, crashed): nothing is left behind.
process.on('disconnect', () => {
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
  process.exit(0);
});
process.on('message', (command: SimCommand) => {
  const run = command.type === 'start' ? start(command) : command.type === 'burst' ? burst(command) : stop();
  run.catch((e: unknown) => reply({ type: 'error', message: e instanceof Error ? e.stack ?? e.message : String(e) }));
});
