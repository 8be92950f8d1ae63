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
import type { ClusterSnapshot, ConfigVersionSummary } from '../common/model/index.js';
import { clusterAuthenticator } from './api/cluster-authenticator.js';
import { ConfigService } from './config-sync/service.js';
import { InventoryMonitor, createInventorySource } from './inventory/index.js';
import { counterKey, renderMetrics } from './observability/metrics.js';
import { loadAgentTls, pkiPaths } from './security/pki-files.js';
import { TokenStore } from './security/tokens.js';
import { AlertDispatcher } from './alerts/dispatcher.js';
import { alertsApi } from './alerts/api.js';
import { Engine, type Membership } from './engine/engine.js';
import { EarlyGuard } from './guard/early-guard.js';
import { GuardLink, guardReleaseAfter } from './guard/guard-link.js';
import { PublicNetworkMonitor } from './arbitration/public-network.js';
import { Heartbeat } from './heartbeat/heartbeat.js';
import { createPlatform } from './platform/index.js';
import { createResourceAgent } from './resources/index.js';
import type { ResourceAgent } from './resources/types.js';
import { loadAcceptedKeys } from './security/cluster-key.js';
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
  /** A committed configuration needs the agent's components rebuilt: stop (leaving resources running) and start
   * again. Without it, the change waits for the next start. */
  readonly onReload?: (why: string) => void;
}

export interface Daemon {
  readonly engine: Engine;
  readonly config: ClusterConfig;
  /** Stop; `release` overrides the daemon's releaseOnExit (a reload keeps resources running). */
  stop(release?: boolean): Promise<void>;
}

/** Until the PKI is configured, the network API is off and nothing but the local socket is served. */
const refuseAll: Authenticator = {
  fromCertificate: () => ({ ok: false, code: 'CERTIFICATE_REJECTED', message: 'no PKI configured' }),
  fromToken: () => ({ ok: false, code: 'BAD_CREDENTIALS', message: 'no tokens configured' }),
};

/** How long a starting agent waits for its peers' APIs to say whether it missed a configuration change. */
const STARTUP_CATCH_UP_MS = 3_000;

function splitHostPort(endpoint: string): { host: string; port: number } {
  const at = endpoint.lastIndexOf(':');
  return { host: endpoint.slice(0, at).replace(/^\[|\]$/g, ''), port: Number(endpoint.slice(at + 1)) };
}

/** Alerts per channel and outcome, as the metrics count them. */
function alertCounters(alerts: AlertDispatcher): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [channel, n] of Object.entries(alerts.stats().channels)) {
    out[counterKey(channel, 'ok')] = n.ok;
    out[counterKey(channel, 'failed')] = n.failed;
    out[counterKey(channel, 'dropped')] = n.dropped;
  }
  return out;
}

function nodeApi(config: ClusterConfig, node: string): string {
  const address = config.nodes.find((n) => n.id === node)?.api;
  if (address === undefined) throw new Error(`nodes[${node}].api: the API address is needed since the api section is present`);
  return address;
}

/** What the daemon's parts reach each other by once they are built. */
interface Wiring { engine?: Engine; heartbeat?: Heartbeat; hub?: TopicHub; alerts?: AlertDispatcher; mirrors?: MirrorService }

export async function startDaemon(options: DaemonOptions): Promise<Daemon> {
  const configPath = resolve(options.configPath);
  const fileText = readFileSync(configPath, 'utf8');
  const fileConfig = parseConfig(fileText, configPath);
  const wiring: Wiring = {};
  // Started first: it loads while the agent builds itself (see EarlyGuard).
  const guard = new EarlyGuard((config) => new GuardLink({
    config, node: options.node, stateDir: options.stateDir, log: options.log, releaseAfterMs: guardReleaseAfter(config.heartbeat.links, options.node),
    onGuardLost: (ready) => wiring.engine?.reprobe('the guard went away', ready),
  }), fileConfig);
  try {
    return await buildDaemon(options, { configPath, fileText, fileConfig }, wiring, guard);
  } catch (e) {
    await guard.dismiss();
    throw e;
  }
}

async function buildDaemon(options: DaemonOptions, file: { configPath: string; fileText: string; fileConfig: ClusterConfig }, wiring: Wiring, guard: EarlyGuard): Promise<Daemon> {
  const { configPath, fileText, fileConfig } = file;
  const platform = createPlatform();
  // Every commit rewrites the file, so the file and the history's current version agree unless someone edited
  // the file by hand while the agent was stopped.
  const apiTls = fileConfig.api === undefined ? undefined : loadAgentTls(resolve(dirname(configPath), fileConfig.api.pki), options.node);
  let building = true;
  const configService = new ConfigService({
    nodeId: options.node, configPath, historyPath: join(options.stateDir, 'config.db'), fileText, ocfRoot: platform.ocfRoot,
    ...(apiTls === undefined ? {} : { peerTls: apiTls }),
    aliveNodes: () => Object.entries(wiring.heartbeat?.peers() ?? {}).filter(([, p]) => p.alive).map(([node]) => node),
    onApplied: (next, change, version) => {
      if (building) return; // caught up before anything was built: the components are built from it below
      const needsReload = change.reload.length > 0;
      options.log(`configuration generation ${version.generation} by ${version.author} applied: live ${change.live.join(', ') || 'nothing'}; reload ${change.reload.join(', ') || 'nothing'}`);
      wiring.hub?.touch('config');
      // A reload closes the API and the peer connections: on the proposing node it waits until the proposal has
      // committed on the peers and answered its caller (the macrotask lets the answer be written first).
      if (needsReload) reloadSoon(`configuration generation ${version.generation}`);
      else {
        wiring.engine?.applyLiveConfig(next);
        wiring.alerts?.reconfigure(next.alerts);
        wiring.mirrors?.applyLiveConfig(next);
      }
    },
    log: options.log,
  }, new Map(fileConfig.nodes.filter((n) => n.api !== undefined).map((n) => [n.id, n.api as string])));
  /** Rebuild the agent from the current configuration once the service is idle (its answers written first). */
  function reloadSoon(why: string): void {
    void configService.idle().then(() => setImmediate(() => options.onReload?.(why)));
  }
  // Before anything runs, catch up with a peer that holds a newer configuration: a node that was down while the
  // cluster key changed would otherwise hear no peer and take their groups over. Bounded, for a cold start.
  await Promise.race([configService.catchUp(), new Promise((r) => setTimeout(r, STARTUP_CATCH_UP_MS).unref())]);
  const running0 = configService.current();
  // The service took a hand-edited file as the next generation, so the file is what this node runs unless a peer had
  // a newer one.
  const config = running0.text === fileText ? fileConfig : parseConfig(running0.text, `${configPath} (generation ${running0.generation})`);
  if (config !== fileConfig) guard.replace(config);
  if (!config.nodes.some((n) => n.id === options.node)) {
    throw new Error(`--node ${options.node}: not a node of ${configPath} (nodes: ${config.nodes.map((n) => n.id).join(', ')})`);
  }
  const [key, ...acceptKeys] = loadAcceptedKeys(config, dirname(configPath)) as [Buffer, ...Buffer[]];
  const store = StateStore.open(join(options.stateDir, 'state.db'));
  store.checkpointOnThread(options.log);
  const alerts = new AlertDispatcher(config.alerts, { clusterId: config.cluster.id, nodeId: options.node, stateDir: options.stateDir, log: options.log });
  wiring.alerts = alerts;
  const mirrors = new MirrorService({
    config, nodeId: options.node, stateDir: options.stateDir, key, acceptKeys, runningAsRoot: process.getuid?.() === 0, log: options.log,
    onBehindChange: () => wiring.engine?.mirrorsChanged(),
  });
  wiring.mirrors = mirrors;
  const resources = new Map<string, ResourceAgent>();
  for (const group of config.groups) {
    for (const r of group.resources) resources.set(r.id, createResourceAgent(r, { stateDir: options.stateDir, platform, nodeId: options.node, mirrors }));
  }

  const startedAt = Date.now();
  const incarnation = store.nextIncarnation(startedAt);
  const heartbeat = new Heartbeat({
    config, localNode: options.node, key, acceptKeys: [key, ...acceptKeys], incarnation, clock: systemClock,
    onChange: (change) => {
      wiring.engine?.onMembershipChange(change);
      // A peer that comes back may hold a newer configuration, or need ours: each side asks the other.
      if (change.kind === 'peer-alive') setTimeout(() => void configService.catchUp(), 200).unref();
    },
  });
  // Every status this node publishes also tells the guard what to stop should the agent die.
  const membership: Membership = {
    peers: () => heartbeat.peers(),
    linkStatuses: () => heartbeat.linkStatuses(),
    setStatus: (status) => { heartbeat.setStatus(status); guard.link.update(status); },
  };
  wiring.heartbeat = heartbeat;
  const running = new Engine({ config, localNode: options.node, clock: systemClock, store, resources, membership, incarnation, log: options.log, mirrorsBehind: () => mirrors.behind() });
  wiring.engine = running;
  const publicNetwork = new PublicNetworkMonitor(config.arbitration, platform.processRunner, systemClock, (state) => running.setPublicNetwork(state));
  const inventory = new InventoryMonitor({ node: options.node, source: createInventorySource(), log: options.log });
  const counters = { failovers: 0, switchovers: 0, apiRequests: {} as Record<string, number>, alertsSent: {} as Record<string, number> };
  const configSummary = (): ConfigVersionSummary => {
    const v = configService.current();
    return { generation: v.generation, digest: v.digest, author: v.author, at: v.at, ...(v.comment ? { comment: v.comment } : {}) };
  };
  const hub = new TopicHub({
    status: () => running.status(),
    mirrors: () => mirrorStatuses.current,
    inventory: () => inventory.current ?? null,
    alerts: () => alerts.recent(50),
    config: configSummary,
  });
  wiring.hub = hub;
  const mirrorStatuses: MirrorStatusCache = new MirrorStatusCache(mirrors, () => hub.touch('mirrors'), (): boolean => hub.watched('mirrors'));
  inventory.onChange(() => hub.touch('inventory'));
  alerts.onAlert(() => hub.touch('alerts'));
  running.onEvent((event) => {
    if (event.kind === 'failover') counters.failovers += 1;
    if (event.kind === 'switchover' || event.kind === 'switchback') counters.switchovers += 1;
    alerts.notify(event);
    hub.pushEvent(event);
    hub.touch('status');
  });
  const snapshot = (): ClusterSnapshot => ({
    node: options.node, agentVersion: AGENT_VERSION, startedAt, status: running.status(), events: store.queryEvents({ limit: 50 }),
    mirrors: mirrorStatuses.current, inventory: hub.current('inventory'), alerts: hub.current('alerts'), config: configSummary(),
  });
  const api = new ApiServer({
    session: {
      node: options.node, cluster: config.cluster.id, agentVersion: AGENT_VERSION,
      capabilities: ['events', 'snapshot', 'mirror', 'config', 'alerts', 'audit', 'metrics', ...(config.api?.webRoot === undefined ? [] : ['web' as const])],
      authenticator: apiTls === undefined ? refuseAll : clusterAuthenticator(config.cluster.id, TokenStore.open(pkiPaths(resolve(dirname(configPath), config.api?.pki ?? 'pki')).tokens), options.log),
      hub, snapshot,
      handlers: buildHandlers({ engine: running, store, mirrors, snapshot, config: configService.api(), alerts: alertsApi(alerts), mirrorsChanged: () => void mirrorStatuses.refresh() }),
      audit: (r) => store.appendAudit({
        at: Date.now(), principal: r.principal?.name ?? '(unauthenticated)', role: r.principal?.role ?? 'none', via: r.principal?.via ?? '-',
        remote: r.remote, method: r.method, params: auditParams(r.params), result: r.result, durationMs: r.durationMs,
        ...(r.message === undefined ? {} : { message: r.message }),
      }),
      count: (method, result) => { const k = counterKey(method, result); counters.apiRequests[k] = (counters.apiRequests[k] ?? 0) + 1; },
      ...(config.api === undefined ? {} : { limits: { requestsPerSecond: config.api.requestsPerSecond, requestBurst: config.api.requestBurst } }),
    },
    socketPath: options.socketPath,
    ...(apiTls === undefined || config.api === undefined ? {} : { tls: { ...splitHostPort(nodeApi(config, options.node)), ...apiTls } }),
    routes: {
      health: () => {
        const status = running.status();
        const faults = [...status.faults, ...configService.catchUpFaults()];
        return { ok: true, detail: faults.length === 0 ? 'running' : `running with faults: ${faults.join('; ')}` };
      },
      metrics: () => renderMetrics({
        status: running.status(), mirrors: mirrorStatuses.current, ...(inventory.current === undefined ? {} : { inventory: inventory.current }),
        counters: { ...counters, alertsSent: alertCounters(alerts) }, agent: { version: AGENT_VERSION, startedAt },
      }),
      metricsPublic: config.api?.metricsPublic ?? false,
      ...(config.api?.webRoot === undefined ? {} : { webRoot: resolve(dirname(configPath), config.api.webRoot) }),
    },
    log: options.log,
  });
  // Also soon after start: a node that was down may hold an old cluster key and hear no peer until it catches up.
  const catchUpTimer = setInterval(() => void configService.catchUp(), 15_000);
  catchUpTimer.unref();
  const firstCatchUp = setTimeout(() => void configService.catchUp(), 1_000);
  firstCatchUp.unref();

  const release = async (): Promise<void> => {
    publicNetwork.stop();
    await guard.link.stop();
    clearInterval(catchUpTimer);
    clearTimeout(firstCatchUp);
    await api.close();
    hub.dispose();
    mirrorStatuses.dispose();
    inventory.dispose();
    await configService.close();
    await alerts.close();
    await heartbeat.close();
    await mirrors.close();
    for (const agent of resources.values()) agent.dispose();
    store.close();
  };
  try {
    await mirrors.start();
    await heartbeat.start();
    await api.listen();
    // The engine, which starts resources, waits for the guard.
    const guardFailed = await guard.ready;
    if (guardFailed !== undefined) throw guardFailed;
  } catch (e) {
    await release();
    throw e;
  }
  building = false;
  guard.guarding();
  running.start();
  // A generation committed while the agent was being built (its API listens before the guard is ready) was not
  // applied to it: rebuild from it, as onApplied would have.
  const built = running0.generation;
  if (configService.current().generation !== built) {
    options.log(`configuration generation ${configService.current().generation} committed while the agent started from generation ${built}: reloading`);
    reloadSoon(`configuration generation ${configService.current().generation}`);
  }
  publicNetwork.start();
  options.log(`vigild ${options.node} of cluster ${config.cluster.id}: ${config.heartbeat.links.length} links, ${config.groups.length} groups, control socket ${options.socketPath}`);
  mirrorStatuses.start();
  inventory.start();

  // Long enough for every group to stop in order, plus a margin.
  const shutdownBudget = config.groups.reduce((sum, g) => sum + g.resources.reduce((s, r) => s + r.stopTimeout, 0), 0) + 5_000;
  return {
    engine: running,
    config,
    stop: async (releaseGroups = options.releaseOnExit) => {
      await running.shutdown({ release: releaseGroups, timeoutMs: shutdownBudget });
      // Give peers one more heartbeat with our final (stopped) state before the links close.
      await new Promise((r) => setTimeout(r, 50));
      await release();
    },
  };
}
