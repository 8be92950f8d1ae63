/**
 * The agent's composition root: the one place that wires configuration, store, resource agents, heartbeat,
 * engine and control socket together. Everything else takes its dependencies as parameters.
 */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseConfig } from '../common/config/load.js';
import type { ClusterConfig } from '../common/config/schema.js';
import { ApiServer } from './api/api-server.js';
import { buildHandlers } from './api/handlers.js';
import { TopicHub } from './api/topic-hub.js';
import type { Authenticator } from './api/authenticator.js';
import { auditParams } from './api/audit-params.js';
import { MirrorStatusCache } from './api/mirror-status-cache.js';
import { AGENT_VERSION } from './version.js';
import type { ClusterSnapshot } from '../common/model/index.js';
import { Engine, type Membership } from './engine/engine.js';
import { GuardLink } from './guard/guard-link.js';
import { PublicNetworkMonitor } from './arbitration/public-network.js';
import { Heartbeat } from './heartbeat/heartbeat.js';
import { createPlatform } from './platform/index.js';
import { createResourceAgent } from './resources/index.js';
import type { ResourceAgent } from './resources/types.js';
import { loadClusterKey } from './security/cluster-key.js';
import { StateStore } from './store/state-store.js';
import { MirrorService } from './replication/service.js';
import { systemClock } from './util/clock.js';

export interface DaemonOptions {
  readonly configPath: string;
  readonly node: string;
  readonly stateDir: string;
  readonly socketPath: string;
  /** On SIGTERM, stop this node's groups so peers take over (default), or leave them running. */
  readonly releaseOnExit: boolean;
  readonly log: (line: string) => void;
}

export interface Daemon {
  readonly engine: Engine;
  readonly config: ClusterConfig;
  stop(): Promise<void>;
}

/** Until the PKI is configured, the network API is off and nothing but the local socket is served. */
const refuseAll: Authenticator = {
  fromCertificate: () => ({ ok: false, code: 'CERTIFICATE_REJECTED', message: 'no PKI configured' }),
  fromToken: () => ({ ok: false, code: 'BAD_CREDENTIALS', message: 'no tokens configured' }),
};

export async function startDaemon(options: DaemonOptions): Promise<Daemon> {
  const configPath = resolve(options.configPath);
  const config = parseConfig(readFileSync(configPath, 'utf8'), configPath);
  if (!config.nodes.some((n) => n.id === options.node)) {
    throw new Error(`--node ${options.node}: not a node of ${configPath} (nodes: ${config.nodes.map((n) => n.id).join(', ')})`);
  }
  const key = loadClusterKey(config, dirname(configPath));
  const store = StateStore.open(join(options.stateDir, 'state.db'));
  const platform = createPlatform();
  // The heartbeat reports to the engine, and the engine publishes through the heartbeat: tie the knot here.
  const wiring: { engine?: Engine } = {};
  const mirrors = new MirrorService({
    config, nodeId: options.node, stateDir: options.stateDir, key, runningAsRoot: process.getuid?.() === 0, log: options.log,
    onBehindChange: () => wiring.engine?.mirrorsChanged(),
  });
  const resources = new Map<string, ResourceAgent>();
  for (const group of config.groups) {
    for (const r of group.resources) resources.set(r.id, createResourceAgent(r, { stateDir: options.stateDir, platform, nodeId: options.node, mirrors }));
  }

  const startedAt = Date.now();
  const incarnation = store.nextIncarnation(startedAt);
  const heartbeat = new Heartbeat({
    config, localNode: options.node, key, incarnation, clock: systemClock,
    onChange: (change) => wiring.engine?.onMembershipChange(change),
  });
  // Release before any peer can take over: half the shortest dead time of our links.
  const releaseAfterMs = Math.floor(Math.min(...config.heartbeat.links.filter((l) => options.node in l.endpoints).map((l) => l.deadTime)) / 2);
  const guard = new GuardLink({
    configPath, node: options.node, stateDir: options.stateDir, log: options.log, releaseAfterMs,
    onGuardLost: () => wiring.engine?.reprobe('the guard went away'),
  });
  // Every status this node publishes also tells the guard what to stop should the agent die.
  const membership: Membership = {
    peers: () => heartbeat.peers(),
    linkStatuses: () => heartbeat.linkStatuses(),
    setStatus: (status) => { heartbeat.setStatus(status); guard.update(status); },
  };
  const running = new Engine({ config, localNode: options.node, clock: systemClock, store, resources, membership, incarnation, log: options.log, mirrorsBehind: () => mirrors.behind() });
  wiring.engine = running;
  const publicNetwork = new PublicNetworkMonitor(config.arbitration, platform.processRunner, systemClock, (state) => running.setPublicNetwork(state));
  const hub = new TopicHub({
    status: () => running.status(),
    mirrors: () => mirrorStatuses.current,
    inventory: () => null,
    alerts: () => [],
    config: () => ({ generation: 1, digest: running.status().nodes.find((n) => n.local)?.configDigest ?? '', author: 'installed', at: startedAt }),
  });
  const mirrorStatuses = new MirrorStatusCache(mirrors, () => hub.touch('mirrors'));
  running.onEvent((event) => { hub.pushEvent(event); hub.touch('status'); });
  const snapshot = (): ClusterSnapshot => ({
    node: options.node, agentVersion: AGENT_VERSION, startedAt, status: running.status(), events: store.queryEvents({ limit: 50 }),
    mirrors: mirrorStatuses.current, inventory: hub.current('inventory'), alerts: hub.current('alerts'), config: hub.current('config'),
  });
  const api = new ApiServer({
    session: {
      node: options.node, cluster: config.cluster.id, agentVersion: AGENT_VERSION, capabilities: ['events', 'snapshot', 'mirror', 'audit'],
      authenticator: refuseAll, hub, snapshot,
      handlers: buildHandlers({ engine: running, store, mirrors, snapshot, mirrorsChanged: () => void mirrorStatuses.refresh() }),
      audit: (r) => store.appendAudit({
        at: Date.now(), principal: r.principal?.name ?? '(unauthenticated)', role: r.principal?.role ?? 'none', via: r.principal?.via ?? '-',
        remote: r.remote, method: r.method, params: auditParams(r.params), result: r.result, durationMs: r.durationMs,
        ...(r.message === undefined ? {} : { message: r.message }),
      }),
    },
    socketPath: options.socketPath,
    routes: { health: () => ({ ok: true, detail: 'running' }), metrics: () => '', metricsPublic: false },
    log: options.log,
  });

  const release = async (): Promise<void> => {
    publicNetwork.stop();
    await guard.stop();
    await api.close();
    hub.dispose();
    mirrorStatuses.dispose();
    await heartbeat.close();
    await mirrors.close();
    for (const agent of resources.values()) agent.dispose();
    store.close();
  };
  try {
    guard.start();
    await mirrors.start();
    await heartbeat.start();
    await api.listen();
  } catch (e) {
    await release();
    throw e;
  }
  running.start();
  publicNetwork.start();
  options.log(`vigild ${options.node} of cluster ${config.cluster.id}: ${config.heartbeat.links.length} links, ${config.groups.length} groups, control socket ${options.socketPath}`);
  mirrorStatuses.start();

  // Long enough for every group to stop in order, plus a margin.
  const shutdownBudget = config.groups.reduce((sum, g) => sum + g.resources.reduce((s, r) => s + r.stopTimeout, 0), 0) + 5_000;
  return {
    engine: running,
    config,
    stop: async () => {
      await running.shutdown({ release: options.releaseOnExit, timeoutMs: shutdownBudget });
      // Give peers one more heartbeat with our final (stopped) state before the links close.
      await new Promise((r) => setTimeout(r, 50));
      await release();
    },
  };
}
