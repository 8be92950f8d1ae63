/**
 * bench:failover: the outage a client sees when the active node fails, on real test hosts (netns-cluster.ts).
 *
 * A probe inside the client (tcp-probe.mjs) opens a TCP connection to the VIP and GETs the web service every
 * 10 ms. Each trial fails the active node, either by kill -9 of its HA software ("kill") or by pulling all three
 * of its cables ("host_cut"), and the outage is the longest time the client received no answer. Where
 * Debian's keepalived is installed the same trials run against it (VRRPv3 at the same interval) for a baseline.
 * --stress instead loads both nodes' CPUs with stress-ng and counts failovers that nothing caused.
 *
 * Options: --trials N (10), --series kill,host_cut, --interval MS / --dead MS (Vigil's heartbeat, default 200/800;
 * keepalived's advert_int follows --interval), --hot-standby (the service runs on both nodes and Vigil moves only
 * the VIP, as in the keepalived set-up: the like-for-like comparison), --no-keepalived, --no-install (never
 * apt-get), --stress [SECONDS]
 * (60), --logs DIR (copy every fixture log there before teardown). JSON on stdout, progress on stderr. Root only.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, cpSync, fstatSync, mkdirSync, openSync, readFileSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { HostProcess } from '../../test/support/netns.js';
import { NODES, NetnsCluster, SERVICE_PORT, VIP, type NetnsClusterOptions, type NodeName } from '../../test/support/netns-cluster.js';
import { KeepalivedPair, keepalivedVersion, vrrpTiming } from './keepalived.js';
import { summarize } from './stats.js';

type SeriesKind = 'kill' | 'host_cut';
type SystemName = 'vigil' | 'keepalived';
const SERIES_KINDS: readonly SeriesKind[] = ['kill', 'host_cut'];

const PROBE_SCRIPT = fileURLToPath(new URL('../../../scripts/bench/tcp-probe.mjs', import.meta.url));
const PROBE_EVERY_MS = 10;
const PROBE_TIMEOUT_MS = 1000;
const VIP_SAMPLE_EVERY_MS = 20;
/** Generous bounds: a trial that needs longer has failed, and the series stops there. */
const TAKEOVER_TIMEOUT_MS = 30_000;
const SETTLE_TIMEOUT_MS = 60_000;
/** The failed node stays down at least this long after the client is served again, so the outage window also
 * shows that service stayed up; a cut cable stays out at least ISOLATION_MS, long enough for both sides to act. */
const HOLD_AFTER_TAKEOVER_MS = 500;
const ISOLATION_MS = 3000;
/** After settling, keep watching this long for a late move before the trial counts as over. */
const STEADY_MS = 1000;
/** Served steadily: every probe of this last stretch answered, and by the same node. */
const STEADY_PROBE_WINDOW_MS = 300;
const STRESS_AFTERMATH_MS = 5000;
const STRESSOR_ARGS = ['--cpu', '4', '--vm', '1', '--vm-bytes', '64M'];
const KEEPALIVED_KILL_NOTE = 'kill -9 leaves keepalived\'s VIP on the crashed host, where the web service still runs, so the client ' +
  'keeps being answered there until the standby\'s gratuitous ARP: almost no outage, but a split brain in every trial. ' +
  'takeover_ms (failure to the first answer by the standby) is the like-for-like figure; see takeover_ratio.';

// ---------------------------------------------------------------------------------------------------------------
// Options

function usage(problem: string): never {
  process.stderr.write(`bench:failover: ${problem}\nusage: npm run bench:failover -- [--trials N] [--series kill,host_cut] ` +
    '[--interval MS] [--dead MS] [--hot-standby] [--no-keepalived] [--no-install] [--stress [SECONDS]] [--logs DIR]\n');
  process.exit(1);
}

function positive(text: string | undefined, name: string): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) usage(`--${name} wants a positive number, not "${text}"`);
  return n;
}

interface BenchOptions {
  readonly trials: number;
  readonly series: readonly SeriesKind[];
  readonly heartbeat: NetnsClusterOptions;
  readonly intervalMs: number;
  readonly deadTimeMs: number;
  readonly keepalived: boolean;
  readonly install: boolean;
  readonly stressSeconds: number | undefined;
  readonly logsDir: string | undefined;
}

function parseOptions(): BenchOptions {
  const args = process.argv.slice(2);
  // A bare --stress means the default duration; parseArgs wants a value for a string option.
  const stressAt = args.indexOf('--stress');
  if (stressAt >= 0 && (args[stressAt + 1] === undefined || args[stressAt + 1]!.startsWith('--'))) args.splice(stressAt + 1, 0, '60');
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        trials: { type: 'string', default: '10' },
        series: { type: 'string', default: SERIES_KINDS.join(',') },
        interval: { type: 'string' },
        dead: { type: 'string' },
        'no-keepalived': { type: 'boolean', default: false },
        'hot-standby': { type: 'boolean', default: false },
        'no-install': { type: 'boolean', default: false },
        stress: { type: 'string' },
        logs: { type: 'string' },
      },
      strict: true,
    }));
  } catch (err) {
    usage((err as Error).message);
  }
  const trials = positive(values.trials, 'trials')!;
  if (!Number.isInteger(trials)) usage('--trials wants a whole number');
  const series = values.series.split(',').map((s) => s.trim()).filter((s) => s !== '');
  const unknown = series.filter((s) => !(SERIES_KINDS as readonly string[]).includes(s));
  if (unknown.length > 0 || series.length === 0) usage(`--series takes ${SERIES_KINDS.join(', ')}, not "${values.series}"`);
  const interval = positive(values.interval, 'interval');
  const dead = positive(values.dead, 'dead');
  return {
    trials,
    series: series as SeriesKind[],
    // Only what was asked for goes into the cluster config, so a plain run measures Vigil's own defaults.
    heartbeat: {
      ...(interval !== undefined ? { interval } : {}), ...(dead !== undefined ? { deadTime: dead } : {}),
      ...(values['hot-standby'] ? { hotStandby: true } : {}),
    },
    intervalMs: interval ?? 200,
    deadTimeMs: dead ?? 800,
    keepalived: !values['no-keepalived'],
    install: !values['no-install'],
    stressSeconds: positive(values.stress, 'stress'),
    logsDir: values.logs,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Small helpers

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, ms)));
const otherNode = (node: NodeName): NodeName => (node === 'alpha' ? 'beta' : 'alpha');
const progress = (line: string): void => void process.stderr.write(`${new Date().toISOString().slice(11, 23)} ${line}\n`);
const round2 = (x: number): number => Math.round(x * 100) / 100;
const tail = (log: string): string => log.split('\n').slice(-40).join('\n');

/** Poll until `check` yields a value; throws with `what` after timeoutMs. */
async function waitFor<T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs: number, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

function onPath(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

/** keepalived and stress-ng from Debian when missing (the package names are the commands). */
function ensureInstalled(commands: readonly string[], allowed: boolean): void {
  const missing = commands.filter((c) => !onPath(c));
  if (missing.length === 0 || !allowed) return;
  progress(`installing ${missing.join(' ')} with apt-get (pass --no-install to skip)`);
  const r = spawnSync('sh', ['-c', 'apt-get update -qq && apt-get install -y -qq --no-install-recommends keepalived stress-ng'],
    { stdio: ['ignore', 2, 2], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, timeout: 600_000 });
  if (r.status !== 0) progress(`apt-get failed (${r.status ?? r.signal}); going on without ${missing.join(' ')}`);
}

// ---------------------------------------------------------------------------------------------------------------
// The client's probe and its log

interface ProbeRecord {
  /** When the probe started and when it ended (answer, error or timeout), epoch ms on the client's clock, which
   * is this machine's. */
  readonly t: number;
  readonly end: number;
  readonly ok: boolean;
  readonly by?: string;
}

function parseProbeLine(line: string): ProbeRecord | undefined {
  let value: unknown;
  try { value = JSON.parse(line); } catch { return undefined; }
  if (typeof value !== 'object' || value === null) return undefined;
  const { t, ok, by, ms } = value as Record<string, unknown>;
  if (typeof t !== 'number' || typeof ok !== 'boolean' || typeof ms !== 'number') return undefined;
  return { t, end: t + ms, ok, ...(typeof by === 'string' ? { by } : {}) };
}

/** Start the probe in the client; it exits by itself after `seconds`. */
function startProbe(cluster: NetnsCluster, seconds: number): ProbeLog {
  return new ProbeLog(cluster.net.spawn('client', [process.execPath, PROBE_SCRIPT, '--host', VIP, '--port', String(SERVICE_PORT),
    '--every', String(PROBE_EVERY_MS), '--timeout', String(PROBE_TIMEOUT_MS), '--duration', String(Math.ceil(seconds))]));
}

/**
 * The probe's log, read as it grows. Successes are placed by when their answer arrived, not when they started: a
 * probe started while nobody holds the VIP can wait in the client's ARP queue and be answered up to its timeout
 * later, and counting it at its start would split one outage into two shorter ones.
 */
class ProbeLog {
  private readonly records: ProbeRecord[] = [];
  private offset = 0;
  private partial = '';

  constructor(readonly probe: HostProcess) {}

  refresh(): void {
    let fd: number;
    try { fd = openSync(this.probe.logPath, 'r'); } catch { return; }
    try {
      const size = fstatSync(fd).size;
      if (size <= this.offset) return;
      const chunk = Buffer.alloc(size - this.offset);
      const read = readSync(fd, chunk, 0, chunk.length, this.offset);
      this.offset += read;
      const lines = (this.partial + chunk.subarray(0, read).toString('utf8')).split('\n');
      this.partial = lines.pop() ?? '';
      for (const line of lines) {
        const record = parseProbeLine(line);
        if (record) this.records.push(record);
      }
    } finally {
      closeSync(fd);
    }
  }

  /** Successful probes answered in [from, to], in the order of their answers. */
  successes(from: number, to: number): ProbeRecord[] {
    return this.records.filter((r) => r.ok && r.end >= from && r.end <= to).sort((a, b) => a.end - b.end);
  }

  failures(from: number, to: number): number {
    return this.records.filter((r) => !r.ok && r.t >= from && r.t <= to).length;
  }

  /** The last answer before `t`. */
  lastSuccessBefore(t: number): ProbeRecord | undefined {
    let best: ProbeRecord | undefined;
    for (const r of this.records) if (r.ok && r.end < t && (best === undefined || r.end > best.end)) best = r;
    return best;
  }

  /** The first answer from `node` after `after`. */
  firstSuccessBy(node: NodeName, after: number): ProbeRecord | undefined {
    this.refresh();
    let first: ProbeRecord | undefined;
    for (const r of this.records) if (r.ok && r.by === node && r.end >= after && (first === undefined || r.end < first.end)) first = r;
    return first;
  }

  /** Every probe that started in the last stretch and has ended answered, and all from `node`. */
  servingSteadily(node: NodeName): boolean {
    this.refresh();
    const recent = this.records.filter((r) => r.t >= Date.now() - STEADY_PROBE_WINDOW_MS);
    return recent.length >= STEADY_PROBE_WINDOW_MS / PROBE_EVERY_MS / 2 && recent.every((r) => r.ok && r.by === node);
  }
}

/** The longest time between consecutive answers (successes in answer order): the outage, at the probes' 10 ms
 * resolution. */
function longestGap(successes: readonly ProbeRecord[]): number {
  let gap = 0;
  for (let i = 1; i < successes.length; i++) gap = Math.max(gap, successes[i]!.end - successes[i - 1]!.end);
  return gap;
}

/** How often the node that answered the client changed. */
function servedByChanges(successes: readonly ProbeRecord[]): number {
  let changes = 0;
  for (let i = 1; i < successes.length; i++) if (successes[i]!.by !== successes[i - 1]!.by) changes++;
  return changes;
}

// ---------------------------------------------------------------------------------------------------------------
// Who holds the VIP, sampled all through a series

interface VipSample { readonly t: number; readonly holders: readonly NodeName[] }

class VipSampler {
  private readonly samples: VipSample[] = [];
  private running = true;
  private readonly loop: Promise<void>;

  constructor(cluster: NetnsCluster) {
    this.loop = (async () => {
      while (this.running) {
        try { this.samples.push({ t: Date.now(), holders: cluster.vipHolders() }); } catch { /* the fixture is going away */ }
        await sleep(VIP_SAMPLE_EVERY_MS);
      }
    })();
  }

  between(from: number, to: number): VipSample[] { return this.samples.filter((s) => s.t >= from && s.t <= to); }

  stop(): Promise<void> { this.running = false; return this.loop; }
}

// ---------------------------------------------------------------------------------------------------------------
// The two systems under test, behind one shape so the trials are the same for both

interface SystemUnderTest {
  readonly name: SystemName;
  readonly cluster: NetnsCluster;
  start(): Promise<void>;
  /** The node the group is settled on: both nodes up and agreeing, the VIP on it alone; undefined otherwise. */
  settledOn(): Promise<NodeName | undefined>;
  /** kill -9 of the node's HA software. */
  crash(node: NodeName): Promise<void>;
  /** Bring the crashed node's HA software back. */
  recover(node: NodeName): Promise<void>;
  /** When `node` declared its peer lost, first time after `after`, by its own log; undefined where the system does
   * not log that with millisecond timestamps (keepalived's console log has whole seconds). */
  peerLostAt(node: NodeName, after: number): number | undefined;
  /** Count, in the system's own terms, how often the group moves until stop(). */
  countMoves(): { stop(): Promise<Record<string, number>> };
  /** Logs worth reading when something went wrong. */
  logs(): string;
}

function vigil(cluster: NetnsCluster, hotStandby: boolean): SystemUnderTest {
  async function placement(): Promise<NodeName | undefined> {
    const statuses = await Promise.all(NODES.map((n) => cluster.status(n).catch(() => undefined)));
    let on: NodeName | undefined;
    for (const status of statuses) {
      const group = status?.groups[0];
      if (!status || !group || !status.nodes.every((n) => n.alive)) return undefined;
      const here = group.runningOn[0] as NodeName | undefined;
      if (group.runningOn.length !== 1 || group.target !== here || (on !== undefined && on !== here)) return undefined;
      on = here;
      // The other node must have probed its copy and found it stopped: a restarted agent has looked.
      if (!group.resources.every((r) => NODES.every((n) => r.states[n] === (n === here ? 'running' : 'stopped')))) return undefined;
    }
    return on;
  }
  return {
    name: 'vigil',
    cluster,
    async start() {
      if (hotStandby) cluster.startHotStandbyServices();
      for (const n of NODES) cluster.start(n);
    },
    async settledOn() {
      const on = await placement();
      const holders = cluster.vipHolders();
      return on !== undefined && holders.length === 1 && holders[0] === on ? on : undefined;
    },
    crash: (node) => cluster.net.kill(cluster.agent(node)),
    async recover(node) { cluster.start(node); },
    peerLostAt(node, after) {
      for (const line of cluster.agentLog(node).split('\n')) {
        const at = Date.parse(/^(\S+) \[critical\] peer-lost:/.exec(line)?.[1] ?? '');
        if (at >= after) return at;
      }
      return undefined;
    },
    countMoves() {
      // Each node's view, polled: a move is a change of the node the group runs on alone (the steps of a hand-over
      // in between are counted apart), and a node that sees its peer dead is the seed of a false failover.
      // A release by the guard (it took a stalled agent for a frozen one) is an outage without a move: counted
      // from the guard's log, with the restarts of resources that follow it in the agent's.
      const guardLog = (n: NodeName): string => { try { return readFileSync(join(cluster.stateDir(n), 'guard.log'), 'utf8'); } catch { return ''; } };
      const logFrom = new Map(NODES.map((n) => [n, { guard: guardLog(n).length, agent: cluster.agentLog(n).length }]));
      const placedOn = new Map<NodeName, string>();
      const moves = new Map<NodeName, number>(NODES.map((n) => [n, 0]));
      const counts = { peer_seen_dead: 0, in_transition: 0, status_unanswered: 0 };
      let running = true;
      const loop = (async () => {
        while (running) {
          await Promise.all(NODES.map(async (n) => {
            const status = await cluster.status(n).catch(() => undefined);
            if (!status) { counts.status_unanswered++; return; }
            if (!status.nodes.every((x) => x.alive)) counts.peer_seen_dead++;
            const runningOn = status.groups[0]?.runningOn ?? [];
            if (runningOn.length !== 1) { counts.in_transition++; return; }
            if (placedOn.has(n) && placedOn.get(n) !== runningOn[0]) moves.set(n, moves.get(n)! + 1);
            placedOn.set(n, runningOn[0]!);
          }));
          await sleep(200);
        }
      })();
      return {
        async stop() {
          running = false;
          await loop;
          const sinceStart = (n: NodeName, log: string, key: 'guard' | 'agent'): string => log.slice(logFrom.get(n)![key]);
          return {
            placement_changes: Math.max(...moves.values()),
            ...counts,
            // Every time a guard took its agent for frozen, and the times it then stopped something.
            guard_frozen_verdicts: NODES.reduce((sum, n) => sum + (sinceStart(n, guardLog(n), 'guard').match(/the agent is frozen/g)?.length ?? 0), 0),
            guard_releases: NODES.reduce((sum, n) => sum + (sinceStart(n, guardLog(n), 'guard').match(/stopping what it ran \((?!nothing\))/g)?.length ?? 0), 0),
            resource_restarts: NODES.reduce((sum, n) => sum + (sinceStart(n, cluster.agentLog(n), 'agent').match(/resource-started:/g)?.length ?? 0), 0),
          };
        },
      };
    },
    logs: () => NODES.map((n) => `--- ${n}'s agent (last lines)\n${tail(cluster.agentLog(n))}`).join('\n'),
  };
}

function keepalived(cluster: NetnsCluster, advertIntervalMs: number): SystemUnderTest {
  const pair = new KeepalivedPair(cluster, advertIntervalMs);
  return {
    name: 'keepalived',
    cluster,
    async start() {
      pair.startServices();
      // One after the other, so they do not both time out as BACKUP and race for MASTER.
      pair.start('alpha');
      await waitFor('keepalived MASTER on alpha', () => (pair.state('alpha') === 'MASTER' ? true : undefined), 15_000);
      pair.start('beta');
    },
    async settledOn() {
      if (!NODES.every((n) => pair.running(n) && pair.upFor(n) > pair.masterDownMs + 500)) return undefined;
      const masters = NODES.filter((n) => pair.state(n) === 'MASTER');
      const master = masters[0];
      if (masters.length !== 1 || master === undefined || pair.state(otherNode(master)) !== 'BACKUP') return undefined;
      const holders = cluster.vipHolders();
      return holders.length === 1 && holders[0] === master ? master : undefined;
    },
    crash: (node) => pair.crash(node),
    async recover(node) { pair.recover(node); },
    peerLostAt: () => undefined,
    countMoves() {
      const from = new Map(NODES.map((n) => [n, pair.logSize(n)]));
      return {
        async stop() {
          return { master_transitions: NODES.reduce((sum, n) => sum + pair.masterEntriesSince(n, from.get(n)!), 0) };
        },
      };
    },
    logs: () => NODES.map((n) => `--- ${n}'s keepalived (last lines)\n${tail(pair.log(n))}`).join('\n'),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Failover trials

interface TrialResult {
  readonly outageMs: number;
  /** From the failure to the first answer by the standby: detection plus takeover, whatever the old node did. */
  readonly takeoverMs: number;
  /** Where the system logs it: from the failure until the standby declared the peer lost. */
  readonly detectionMs?: number;
  /** The longest gap while the failed node came back (restart, or cables back in). */
  readonly rejoinGapMs: number;
  readonly servedBefore: NodeName;
  readonly servedAfter: NodeName;
  readonly falseFailovers: number;
  /** VIP samples with two holders while both hosts had the public network, and while one was cut off. */
  readonly overlapsConnected: number;
  readonly overlapsIsolated: number;
}

/** Settled on one node, and the client served steadily by it. */
function settledAndServing(system: SystemUnderTest, probe: ProbeLog, what: string): Promise<NodeName> {
  return waitFor(what, async () => {
    const on = await system.settledOn();
    return on !== undefined && probe.servingSteadily(on) ? on : undefined;
  }, SETTLE_TIMEOUT_MS, 100);
}

/** One failure of the active node and the way back; `since` is where the previous trial's window ended. */
async function runTrial(kind: SeriesKind, system: SystemUnderTest, probe: ProbeLog, sampler: VipSampler,
  since: number): Promise<TrialResult & { end: number }> {
  const { cluster } = system;
  const active = await settledAndServing(system, probe, `${system.name} to be settled before the trial`);
  const standby = otherNode(active);
  const failedAt = Date.now();
  let isolated: { from: number; until: number } | undefined;
  if (kind === 'kill') {
    await system.crash(active);
  } else {
    cluster.isolate(active);
    isolated = { from: Date.now(), until: Infinity };
  }
  const recovered = await waitFor(`the client to be served by ${standby}`, () => probe.firstSuccessBy(standby, failedAt), TAKEOVER_TIMEOUT_MS, 10);
  await sleep(Math.max(recovered.end + HOLD_AFTER_TAKEOVER_MS, kind === 'host_cut' ? failedAt + ISOLATION_MS : 0) - Date.now());
  const rejoinAt = Date.now();
  if (kind === 'kill') {
    await system.recover(active);
  } else {
    cluster.reconnect(active);
    isolated = { from: isolated!.from, until: Date.now() };
  }
  const settledOn = await settledAndServing(system, probe, `${system.name} to settle after ${active} came back`);
  const end = Date.now() + STEADY_MS;
  // Every probe started before `end` must have ended before the window is read.
  await sleep(end + PROBE_TIMEOUT_MS + 100 - Date.now());
  probe.refresh();

  const lastBefore = probe.lastSuccessBefore(failedAt)?.end ?? failedAt;
  const lastBeforeRejoin = probe.lastSuccessBefore(rejoinAt)?.end ?? rejoinAt;
  // From the end of the previous trial, so that a move between trials counts too.
  const changes = servedByChanges(probe.successes(Math.min(since, lastBefore), end));
  const detectedAt = system.peerLostAt(standby, failedAt);
  const samples = sampler.between(since, end);
  const overlapping = (s: VipSample): boolean => s.holders.length > 1;
  const duringIsolation = (s: VipSample): boolean => isolated !== undefined && s.t >= isolated.from && s.t < isolated.until;
  return {
    outageMs: longestGap(probe.successes(lastBefore, rejoinAt)),
    takeoverMs: recovered.end - failedAt,
    ...(detectedAt !== undefined ? { detectionMs: detectedAt - failedAt } : {}),
    rejoinGapMs: longestGap(probe.successes(lastBeforeRejoin, end)),
    servedBefore: active,
    servedAfter: settledOn,
    // One change (to the standby) is the failover asked for; any other, or ending elsewhere, was not.
    falseFailovers: Math.max(changes - 1, settledOn === standby ? 0 : 1),
    overlapsConnected: samples.filter((s) => overlapping(s) && !duringIsolation(s)).length,
    overlapsIsolated: samples.filter((s) => overlapping(s) && duringIsolation(s)).length,
    end,
  };
}

interface SeriesReport {
  readonly trials: number;
  readonly planned?: number;
  readonly median_ms: number;
  readonly p99_ms: number;
  readonly max_ms: number;
  readonly min_ms: number;
  readonly takeover_median_ms: number;
  readonly takeover_max_ms: number;
  /** Takeover split into detection (failure to the standby's peer-lost) and the rest (starts until served). */
  readonly detection_median_ms?: number;
  readonly start_median_ms?: number;
  readonly false_failovers: number;
  readonly split_brain: number;
  readonly vip_overlap_samples: number;
  readonly vip_overlap_samples_while_isolated?: number;
  readonly rejoin_max_gap_ms: number;
  readonly outages_ms: readonly number[];
  readonly takeovers_ms: readonly number[];
  readonly served_after: readonly string[];
  readonly error?: string;
}

function seriesReport(kind: SeriesKind, planned: number, trials: readonly TrialResult[], error: string | undefined): SeriesReport {
  const outages = summarize(trials.map((t) => t.outageMs));
  const takeovers = summarize(trials.map((t) => t.takeoverMs));
  const detected = trials.filter((t) => t.detectionMs !== undefined);
  const breakdown = detected.length === 0 ? {} : {
    detection_median_ms: summarize(detected.map((t) => t.detectionMs!)).median,
    start_median_ms: summarize(detected.map((t) => t.takeoverMs - t.detectionMs!)).median,
  };
  return {
    trials: trials.length,
    ...(trials.length < planned ? { planned } : {}),
    median_ms: outages.median,
    p99_ms: outages.p99,
    max_ms: outages.max,
    min_ms: outages.min,
    takeover_median_ms: takeovers.median,
    takeover_max_ms: takeovers.max,
    ...breakdown,
    false_failovers: trials.reduce((sum, t) => sum + t.falseFailovers, 0),
    split_brain: trials.filter((t) => t.overlapsConnected > 0).length,
    vip_overlap_samples: trials.reduce((sum, t) => sum + t.overlapsConnected, 0),
    ...(kind === 'host_cut' ? { vip_overlap_samples_while_isolated: trials.reduce((sum, t) => sum + t.overlapsIsolated, 0) } : {}),
    rejoin_max_gap_ms: Math.max(0, ...trials.map((t) => t.rejoinGapMs)),
    outages_ms: trials.map((t) => t.outageMs),
    takeovers_ms: trials.map((t) => t.takeoverMs),
    served_after: trials.map((t) => t.servedAfter),
    ...(error !== undefined ? { error } : {}),
  };
}

/** A fresh cluster for each series, torn down whatever happens. */
async function withSystem<T>(name: SystemName, options: BenchOptions, label: string,
  body: (system: SystemUnderTest) => Promise<T>): Promise<T> {
  const cluster = await NetnsCluster.create(name === 'vigil' ? options.heartbeat : {});
  try {
    return await body(name === 'vigil' ? vigil(cluster, options.heartbeat.hotStandby === true) : keepalived(cluster, options.intervalMs));
  } finally {
    if (options.logsDir !== undefined) {
      const dir = join(options.logsDir, label);
      mkdirSync(dir, { recursive: true });
      cpSync(cluster.net.tempDir, dir, { recursive: true, filter: (src) => !/\.(db|sock|pid)/.test(src) });
    }
    await cluster.destroy();
  }
}

async function runSeries(name: SystemName, kind: SeriesKind, options: BenchOptions): Promise<SeriesReport> {
  const label = `${name} ${kind}`;
  return withSystem(name, options, `${name}-${kind}`, async (system) => {
    const trials: TrialResult[] = [];
    let error: string | undefined;
    // Bounded by a generous allowance per trial; destroy() ends it sooner.
    const probe = startProbe(system.cluster, 120 + options.trials * 90);
    const sampler = new VipSampler(system.cluster);
    try {
      await system.start();
      await settledAndServing(system, probe, `${name} to settle after start`);
      let since = Date.now();
      for (let i = 1; i <= options.trials; i++) {
        const trial = await runTrial(kind, system, probe, sampler, since);
        trials.push(trial);
        progress(`[${label}] trial ${i}/${options.trials}: outage ${trial.outageMs} ms (${trial.servedBefore} -> ${trial.servedAfter}), ` +
          `rejoin gap ${trial.rejoinGapMs} ms, false failovers ${trial.falseFailovers}, VIP overlaps ${trial.overlapsConnected}` +
          (kind === 'host_cut' ? ` (+${trial.overlapsIsolated} while isolated)` : '') +
          (trial.detectionMs !== undefined ? `; detection ${trial.detectionMs} ms` : ''));
        since = trial.end;
      }
    } catch (err) {
      error = (err as Error).message;
      progress(`[${label}] stopped: ${error}\n${system.logs()}`);
    } finally {
      await sampler.stop();
    }
    return seriesReport(kind, options.trials, trials, error);
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Stress: nothing fails, the nodes are only busy; every move is a false failover

interface StressReport {
  readonly seconds: number;
  readonly stressor: string;
  readonly false_failovers: number;
  /** The group stopped and started again where it was: an outage without a move (Vigil's guard, see moves). */
  readonly false_releases?: number;
  readonly split_brain: number;
  readonly served_by_changes: number;
  readonly failed_probes: number;
  readonly max_gap_ms: number;
  readonly served_before: string;
  readonly served_after: string | null;
  readonly moves: Record<string, number>;
  readonly error?: string;
}

async function runStress(name: SystemName, seconds: number, options: BenchOptions): Promise<StressReport> {
  return withSystem(name, options, `${name}-stress`, async (system) => {
    const { cluster } = system;
    const probe = startProbe(cluster, seconds + 180);
    const sampler = new VipSampler(cluster);
    let error: string | undefined;
    let before: NodeName | undefined;
    let from = Date.now();
    let to = from;
    let moves: Record<string, number> = {};
    try {
      await system.start();
      before = await settledAndServing(system, probe, `${name} to settle after start`);
      const counter = system.countMoves();
      from = Date.now();
      progress(`[${name} stress] stress-ng ${STRESSOR_ARGS.join(' ')} on both nodes for ${seconds} s`);
      const stressors = NODES.map((n) => cluster.net.spawn(n, ['stress-ng', ...STRESSOR_ARGS, '--timeout', `${seconds}s`]));
      try {
        await Promise.all(stressors.map((p) => cluster.net.waitForExit(p, seconds * 1000 + 30_000)));
      } finally {
        for (const p of stressors) await cluster.net.kill(p).catch(() => undefined);
      }
      await sleep(STRESS_AFTERMATH_MS);
      to = Date.now();
      moves = await counter.stop();
      await sleep(PROBE_TIMEOUT_MS + 100);
      probe.refresh();
    } catch (err) {
      error = (err as Error).message;
      progress(`[${name} stress] stopped: ${error}\n${system.logs()}`);
    } finally {
      await sampler.stop();
    }
    const anchor = probe.lastSuccessBefore(from)?.end ?? from;
    const served = probe.successes(anchor, to);
    const changes = servedByChanges(served);
    const overlaps = sampler.between(from, to).filter((s) => s.holders.length > 1).length;
    const holders = cluster.vipHolders();
    return {
      seconds,
      stressor: `stress-ng ${STRESSOR_ARGS.join(' ')} in each node`,
      // What the client saw, or what the system itself reports if that is more.
      false_failovers: Math.max(changes, moves.placement_changes ?? 0, moves.master_transitions ?? 0),
      ...(moves.guard_releases !== undefined ? { false_releases: moves.guard_releases } : {}),
      split_brain: overlaps,
      served_by_changes: changes,
      failed_probes: probe.failures(from, to),
      max_gap_ms: longestGap(served),
      served_before: before ?? 'never settled',
      served_after: holders.length === 1 ? holders[0]! : null,
      moves,
      ...(error !== undefined ? { error } : {}),
    };
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Main

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) {
    process.stderr.write('bench:failover needs root: it builds network namespaces and moves addresses (try: sudo npm run bench:failover)\n');
    process.exit(1);
  }
  const options = parseOptions();
  const started = Date.now();
  const heartbeat = { interval_ms: options.intervalMs, dead_time_ms: options.deadTimeMs };
  const wanted = [...(options.keepalived ? ['keepalived'] : []), ...(options.stressSeconds !== undefined ? ['stress-ng'] : [])];
  ensureInstalled(wanted, options.install);
  const version = options.keepalived ? keepalivedVersion() : undefined;
  const baseline = !options.keepalived ? 'skipped (--no-keepalived)' : version === undefined ? 'not installed' : undefined;
  let report: Record<string, unknown>;

  if (options.stressSeconds !== undefined) {
    if (!onPath('stress-ng')) {
      process.stderr.write('bench:failover --stress needs stress-ng (apt-get install stress-ng)\n');
      process.exit(1);
    }
    const seconds = options.stressSeconds;
    const vigilStress = await runStress('vigil', seconds, options);
    const keepalivedStress = baseline ?? await runStress('keepalived', seconds, options);
    report = {
      mode: 'stress',
      false_failovers: vigilStress.false_failovers,
      false_releases: vigilStress.false_releases ?? null,
      split_brain: vigilStress.split_brain,
      heartbeat,
      stress: { vigil: vigilStress, keepalived: keepalivedStress },
      ...(version !== undefined ? { keepalived_version: version, keepalived_timing: vrrpTiming(options.intervalMs) } : {}),
    };
  } else {
    const vigilSeries: Partial<Record<SeriesKind, SeriesReport>> = {};
    for (const kind of options.series) vigilSeries[kind] = await runSeries('vigil', kind, options);
    const baselineSeries: Partial<Record<SeriesKind, SeriesReport>> = {};
    if (baseline === undefined) for (const kind of options.series) baselineSeries[kind] = await runSeries('keepalived', kind, options);
    // keepalived's median over ours: above 1, Vigil is faster.
    const ratio: Partial<Record<SeriesKind, number | null>> = {};
    const takeoverRatio: Partial<Record<SeriesKind, number | null>> = {};
    const quotient = (theirs: number, ours: number): number | null => (ours > 0 && Number.isFinite(theirs) ? round2(theirs / ours) : null);
    if (baseline === undefined) {
      for (const kind of options.series) {
        ratio[kind] = quotient(baselineSeries[kind]!.median_ms, vigilSeries[kind]!.median_ms);
        takeoverRatio[kind] = quotient(baselineSeries[kind]!.takeover_median_ms, vigilSeries[kind]!.takeover_median_ms);
      }
    }
    const atLeastOne = (r: Partial<Record<SeriesKind, number | null>>): boolean => Object.values(r).every((x) => x !== null && x >= 1);
    // The issue's headline figures are the kill series' (or the first series run).
    const headline = vigilSeries.kill ?? vigilSeries[options.series[0]!]!;
    report = {
      trials: headline.trials,
      median_ms: headline.median_ms,
      p99_ms: headline.p99_ms,
      max_ms: headline.max_ms,
      false_failovers: headline.false_failovers,
      split_brain: headline.split_brain,
      headline_series: vigilSeries.kill ? 'kill' : options.series[0],
      heartbeat,
      probe: { every_ms: PROBE_EVERY_MS, timeout_ms: PROBE_TIMEOUT_MS, vip_sample_every_ms: VIP_SAMPLE_EVERY_MS },
      vigil: vigilSeries,
      keepalived: baseline ?? {
        version, ...vrrpTiming(options.intervalMs), ...baselineSeries,
        ...(baselineSeries.kill ? { note: KEEPALIVED_KILL_NOTE } : {}),
      },
      ratio: baseline === undefined ? ratio : null,
      takeover_ratio: baseline === undefined ? takeoverRatio : null,
      aim: {
        median_under_1s: headline.median_ms < 1000,
        ...(baseline === undefined ? { no_worse_than_keepalived: atLeastOne(ratio), takeover_no_slower_than_keepalived: atLeastOne(takeoverRatio) } : {}),
      },
    };
  }
  report = { ...report, elapsed_s: Math.round((Date.now() - started) / 1000) };
  process.stdout.write(JSON.stringify(report, null, 2) + '\n');
}

await main();
