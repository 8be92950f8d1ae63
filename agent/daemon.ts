/**
 * The agent's composition root: the one place that wires configuration, store, resource agents, heartbeat,
 * engine and control socket together. Everything else takes its dependencies as parameters.
 */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseConfig } from '../common/config/load.js';
import type { ClusterConfig } from '../common/config/schema.js';
import { ProtocolError } from '../common/protocol/control.js';
import { ControlServer } from './control/control-server.js';
import { Engine, type Membership } from './engine/engine.js';
import { GuardLink } from './guard/guard-link.js';
import { PublicNetworkMonitor } from './arbitration/public-network.js';
import { Heartbeat } from './heartbeat/heartbeat.js';
import { createPlatform } from './platform/index.js';
import { createResourceAgent } from './resources/index.js';
import type { ResourceAgent } from './resources/types.js';
import { loadClusterKey } from './security/cluster-key.js';
import { StateStore } from './store/state-store.js';
import { MirrorCommandError, MirrorService } from './replication/service.js';
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

  const incarnation = store.nextIncarnation(Date.now());
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
  const control = new ControlServer(options.socketPath, {
    status: () => running.status(),
    switchover: (p) => running.switchover(p.group, p.node),
    switchback: (p) => running.switchback(p.group),
    maintenance: (p) => running.setMaintenance(p.on),
    cleanup: (p) => running.cleanup(p.group),
    events: (p) => store.queryEvents({
      ...(p.since === undefined ? {} : { since: p.since }), ...(p.until === undefined ? {} : { until: p.until }),
      ...(p.kinds === undefined ? {} : { kinds: p.kinds }), ...(p.group === undefined ? {} : { group: p.group }),
      ...(p.limit === undefined ? {} : { limit: p.limit }),
    }),
    mirror: async (p) => {
      try {
        return await mirrors.command(p.action, p.name);
      } catch (e) {
        if (e instanceof MirrorCommandError) throw new ProtocolError(e.code, e.message);
        throw e;
      }
    },
  });

  const release = async (): Promise<void> => {
    publicNetwork.stop();
    await guard.stop();
    await control.close();
    await heartbeat.close();
    await mirrors.close();
    for (const agent of resources.values()) agent.dispose();
    store.close();
  };
  try {
    guard.start();
    await mirrors.start();
    await heartbeat.start();
    await control.listen();
  } catch (e) {
    await release();
    throw e;
  }
  running.start();
  publicNetwork.start();
  options.log(`vigild ${options.node} of cluster ${config.cluster.id}: ${config.heartbeat.links.length} links, ${config.groups.length} groups, control socket ${options.socketPath}`);

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
