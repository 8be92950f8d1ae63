/**
 * bench:center: the monitoring center's core (ConnectionManager) watching many clusters. The clusters are simulated
 * in child processes (center-sim.ts: the agent's real ApiServer and TopicHub, real TLS, PKI and tokens, synthetic
 * statuses), so this process's event loop, memory and CPU are the center's alone. Measures the time until every
 * node is connected with its snapshot, then bursts: every node's status changes `--burst-events` times (with one
 * log entry each) and the time from the burst's start until the manager's views show every node's last change.
 * Each change also travels on as the page receives it: serialised to JSON (the web bridge's frame) and applied to
 * the console's store (renderer/state), timed apart, with the event loop's delay over the bursts (how responsive
 * the center stays). Prints JSON.
 *   node dist/scripts/bench/center.js [--clusters N] [--nodes N] [--burst-events K] [--bursts B] [--groups G]
 *     [--sim-procs P] [--timeout S]
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import type { CenterChange } from '../../common/ipc/contract.js';
import { ChangeCoalescer } from '../../main/core/change-coalescer.js';
import { ConnectionManager, type ManagerChange, type NodeView } from '../../main/core/connection-manager.js';
import { applyChange, createConsoleStore } from '../../renderer/state/store.js';
import { expectedRtt, expectedRunningOn, stepMessage, type SimClusterReady, type SimClusterSpec, type SimCommand, type SimReply } from './center-protocol.js';
import { summarize } from './stats.js';

function option(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  const value = at >= 0 ? Number(process.argv[at + 1]) : fallback;
  if (!Number.isInteger(value) || value <= 0) throw new Error(`--${name}: ${process.argv[at + 1]} is not a positive integer`);
  return value;
}

const clusters = option('clusters', 100);
const nodesPerCluster = option('nodes', 2);
const burstEvents = option('burst-events', 10);
const bursts = option('bursts', 10);
const groups = option('groups', 4);
const simProcs = Math.min(option('sim-procs', 1), clusters);
const timeoutS = option('timeout', 300);
const PAUSE_MS = 300;

const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-center-'));
const children: ChildProcess[] = [];
let manager: ConnectionManager | undefined;

async function cleanup(): Promise<void> {
  await manager?.dispose().catch(() => undefined);
  await Promise.all(children.map(async (child) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    if (child.connected) child.send({ type: 'stop' } satisfies SimCommand);
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }));
  rmSync(dir, { recursive: true, force: true });
}

// Bounded in time: past the limit everything is stopped and the bench fails.
const deadline = setTimeout(() => {
  process.stderr.write(`bench:center: timed out after ${timeoutS} s\n`);
  for (const child of children) child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
  process.exit(2);
}, timeoutS * 1000);
deadline.unref();

/** A simulator process and a way to wait for its next reply of a kind. */
class Simulator {
  private readonly waiters: { type: SimReply['type']; resolve: (r: SimReply) => void; reject: (e: Error) => void }[] = [];
  constructor(readonly child: ChildProcess) {
    child.on('message', (reply: SimReply) => {
      if (reply.type === 'error') { for (const w of this.waiters.splice(0)) w.reject(new Error(`simulator: ${reply.message}`)); return; }
      const at = this.waiters.findIndex((w) => w.type === reply.type);
      if (at >= 0) this.waiters.splice(at, 1)[0]!.resolve(reply);
    });
    child.once('exit', (code, signal) => { for (const w of this.waiters.splice(0)) w.reject(new Error(`simulator exited (${code ?? signal})`)); });
  }
  request<T extends SimReply['type']>(command: SimCommand, type: T): Promise<Extract<SimReply, { type: T }>> {
    return new Promise((resolve, reject) => {
      this.waiters.push({ type, resolve: resolve as (r: SimReply) => void, reject });
      this.child.send(command);
    });
  }
}

const mb = (bytes: number): number => Math.round((bytes / 1024 / 1024) * 10) / 10;
function memory(): { rss_MiB: number; heapUsed_MiB: number } {
  const m = process.memoryUsage();
  return { rss_MiB: mb(m.rss), heapUsed_MiB: mb(m.heapUsed) };
}

async function main(): Promise<Record<string, unknown>> {
  const specs: SimClusterSpec[] = Array.from({ length: clusters }, (_, c) => ({
    id: `c${String(c).padStart(3, '0')}`, nodes: Array.from({ length: nodesPerCluster }, (_, n) => `n${n}`),
  }));
  const sims: Simulator[] = [];
  for (let p = 0; p < simProcs; p++) {
    const child = fork(new URL('./center-sim.js', import.meta.url), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    children.push(child);
    sims.push(new Simulator(child));
  }
  const tSetup = performance.now();
  const ready = (await Promise.all(sims.map((sim, p) => sim.request({
    type: 'start', dir: join(dir, `sim${p}`), groups, clusters: specs.filter((_, c) => c % simProcs === p),
  }, 'ready')))).flatMap((r) => r.clusters);
  const setupMs = performance.now() - tSetup;

  manager = new ConnectionManager({ knownHostsFile: join(dir, 'known-hosts.json'), client: 'bench-center', timeoutMs: 30_000 });
  const byCluster = new Map<string, SimClusterReady>(ready.map((r) => [r.id, r]));
  const total = clusters * nodesPerCluster;

  // Connect: until every node is connected and its snapshot in.
  const connected = new Set<string>();
  let allConnected: () => void = () => undefined;
  const connectedAll = new Promise<void>((resolve) => { allConnected = resolve; });
  let onBurstChange: ((change: Extract<ManagerChange, { kind: 'node' }>) => void) | undefined;
  let reconnects = 0;
  // The page's side: each change as a JSON frame, parsed and applied to the console store.
  const consoleStore = createConsoleStore();
  const frameMs: number[] = [];
  const storeMs: number[] = [];
  let frameBytes = 0;
  let rawFrames = 0;
  let rawBytes = 0;
  // As center:web and the Electron shell send them: coalesced per node within 50 ms.
  const coalescer = new ChangeCoalescer((change) => {
    const t0 = performance.now();
    const frame = JSON.stringify({ channel: 'center.change', data: change });
    const t1 = performance.now();
    const parsed = (JSON.parse(frame) as { data: CenterChange }).data;
    consoleStore.setState((st) => applyChange(st, parsed));
    const t2 = performance.now();
    frameMs.push(t1 - t0);
    storeMs.push(t2 - t1);
    frameBytes += frame.length;
  });
  // What forwarding every change would send, measured on the warm-up burst only: serialising 40+ MB a burst for the
  // figure would otherwise weigh on the counted bursts.
  let countRaw = true;
  manager.on('change', (change) => {
    if (countRaw) {
      rawFrames++;
      rawBytes += JSON.stringify(change).length;
    }
    coalescer.push(change);
  });
  manager.on('change', (change) => {
    if (change.kind !== 'node') return;
    if (change.what === 'snapshot') {
      connected.add(`${change.cluster}/${change.node}`);
      if (connected.size === total) allConnected();
    }
    if (change.what === 'state' && change.view.state === 'reconnecting') reconnects++;
    onBurstChange?.(change);
  });
  const tConnect = performance.now();
  for (const spec of specs) {
    const sim = byCluster.get(spec.id)!;
    manager.add({
      id: spec.id, credentials: { ca: sim.trust, token: sim.token },
      nodes: spec.nodes.map((id) => ({ id, endpoint: { url: `wss://127.0.0.1:${sim.ports[id]}` } })),
    });
  }
  await connectedAll;
  const connectMs = performance.now() - tConnect;
  const afterConnect = memory();

  /** Whether a node's view shows the last change of `burst`: its last log entry, round trip and group move. */
  const done = (spec: SimClusterSpec, view: NodeView, burst: number): boolean => {
    const status = view.status;
    if (status === undefined || view.snapshot?.events[0]?.message !== stepMessage(burst, burstEvents)) return false;
    const peer = status.nodes.find((n) => !n.local);
    return status.groups[0]?.runningOn[0] === expectedRunningOn(spec.nodes, burst)
      && (peer === undefined || peer.links.every((l) => l.rttMs === expectedRtt(burst, burstEvents)));
  };
  const specOf = new Map(specs.map((s) => [s.id, s]));

  async function runBurst(burst: number): Promise<{ applyMs: number; sendMs: number; cpuMs: number; events: number }> {
    const pending = new Set(specs.flatMap((s) => s.nodes.map((n) => `${s.id}/${n}`)));
    let events = 0;
    let finished: () => void = () => undefined;
    const applied = new Promise<void>((resolve) => { finished = resolve; });
    onBurstChange = (change) => {
      if (change.what !== 'event') return;
      events++;
      const key = `${change.cluster}/${change.node}`;
      if (pending.has(key) && done(specOf.get(change.cluster)!, change.view, burst)) {
        pending.delete(key);
        if (pending.size === 0) finished();
      }
    };
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const sent = Promise.all(sims.map((sim) => sim.request({ type: 'burst', burst, steps: burstEvents }, 'burst-sent')));
    await applied;
    const applyMs = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const sendMs = Math.max(...(await sent).map((r) => r.ms));
    onBurstChange = undefined;
    return { applyMs, sendMs, cpuMs: (cpu.user + cpu.system) / 1000, events };
  }

  rawFrames = 0;
  rawBytes = 0;
  await runBurst(0); // warm-up: JIT, buffers
  countRaw = false;
  await new Promise((r) => setTimeout(r, PAUSE_MS));
  await new Promise((r) => setTimeout(r, 100)); // the coalescer's last window
  frameMs.length = 0;
  storeMs.length = 0;
  frameBytes = 0;
  const loopDelay = monitorEventLoopDelay({ resolution: 5 });
  loopDelay.enable();
  const applyMs: number[] = [];
  const sendMs: number[] = [];
  const cpuMs: number[] = [];
  const eventsPerSecond: number[] = [];
  let eventsPerBurst = 0;
  for (let b = 1; b <= bursts; b++) {
    const r = await runBurst(b);
    applyMs.push(r.applyMs);
    sendMs.push(r.sendMs);
    cpuMs.push(r.cpuMs);
    eventsPerSecond.push(r.events / (r.applyMs / 1000));
    eventsPerBurst = r.events;
    await new Promise((res) => setTimeout(res, PAUSE_MS));
  }
  loopDelay.disable();
  coalescer.dispose();
  const afterBursts = memory();
  const micro = (ms: readonly number[]): ReturnType<typeof summarize> => summarize(ms.map((x) => Math.round(x * 1000)));
  const consoleClusters = consoleStore.getState().clusterOrder.length;
  if (consoleClusters !== clusters) throw new Error(`the console store holds ${consoleClusters} clusters, not ${clusters}`);
  return {
    bench: 'center', node: process.version,
    parameters: { clusters, nodesPerCluster, connections: total, burstEvents, bursts, groups, simProcs },
    results: {
      simulator_setup_ms: Math.round(setupMs),
      connect_all_ms: Math.round(connectMs),
      burst_apply_ms: summarize(applyMs),
      burst_send_ms: summarize(sendMs),
      burst_center_cpu_ms: summarize(cpuMs),
      events_per_burst: eventsPerBurst,
      events_applied_per_s: summarize(eventsPerSecond.map(Math.round)),
      memory_after_connect: afterConnect,
      memory_after_bursts: afterBursts,
      reconnects,
      page_frame_serialize_us: micro(frameMs),
      page_store_apply_us: micro(storeMs),
      page_frames_per_burst: Math.round(frameMs.length / bursts),
      page_frame_kib_per_burst: Math.round(frameBytes / bursts / 1024),
      uncoalesced_frames_per_burst: rawFrames,
      uncoalesced_kib_per_burst: Math.round(rawBytes / 1024),
      event_loop_delay_ms: { p50: Math.round(loopDelay.percentile(50) / 1e4) / 100, p99: Math.round(loopDelay.percentile(99) / 1e4) / 100, max: Math.round(loopDelay.max / 1e4) / 100 },
    },
    notes: [
      'The simulated agents run in child processes (real ApiServer, TopicHub, TLS, PKI from initCluster, viewer tokens); this process runs only the ConnectionManager.',
      `A burst: every node's status changes ${burstEvents} times (link round trips; group g0 moves on the last) with one log entry each, i.e. 2 events per step per node.`,
      'burst_apply_ms: from the burst command until the manager\'s views show every node\'s last change (its change events); includes the simulators\' own time to produce the events (burst_send_ms).',
      'One warm-up burst is not counted; memory is process.memoryUsage() without a forced GC.',
      'page_*: the frames the page receives (changes coalesced per node within 50 ms, as center:web and the Electron shell send them): per frame, the JSON.stringify, and the page\'s JSON.parse + console store applyChange (renderer/state), both run in this process after the manager\'s own work; uncoalesced_*: what forwarding every change would send (counted on the warm-up burst).',
      'event_loop_delay_ms: the center\'s event-loop delay (perf_hooks, 5 ms resolution) over the counted bursts.',
    ],
  };
}

let code = 0;
try {
  const result = await main();
  process.stdout.write(JSON.stringify(result, null, 2) + '\n');
} catch (e) {
  process.stderr.write(`bench:center: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
  code = 1;
} finally {
  await cleanup();
  clearTimeout(deadline);
}
process.exitCode = code;
