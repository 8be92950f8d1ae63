/**
 * bench:floor: how fast the least a Node.js program can do copies bench:mirror's data set between the same two
 * network-namespace hosts, against rsync's daemon in the same run: the floor under the mirror engine's full mirror,
 * which tells how much of its distance to rsync is Node.js, TLS and the engine's shape (a read thread, block hashes),
 * and how much the engine itself (see docs/replication.md, "Twenty-fourth round").
 *
 * Contenders (floor-copier.ts), each onto an empty copy on a fresh ext4, in a turning order each round:
 *   rsync           `rsync -a` to an rsync daemon in beta (plain TCP);
 *   floor_tls       one connection with the replication transport's TLS, everything synchronous on each end's main
 *                   thread;
 *   floor_tls_read_thread  the same, reading on a worker thread that hashes every 64 KiB block, as the mirror's source;
 *   floor_tcp       as floor_tls over plain TCP, as rsync's daemon.
 * Every copy is compared with the source (content and mode) before it counts.
 *
 * Options: --size MiB (1024), --small-files N (20000), --large-files N (4), --rounds N (3), --seed TEXT.
 * JSON on stdout (medians and p99 per contender, ratios of rsync's medians over each), progress on stderr. Root only.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { compileGlobs } from '../../agent/replication/glob.js';
import { verifyTrees } from '../../agent/replication/verify.js';
import { planDataset, writeDataset } from '../../test/support/dataset.js';
import { TestNetwork, type HostProcess } from '../../test/support/netns.js';
import { cpuTime, reapedChildrenCpu } from './cpu-time.js';
import type { FloorResult } from './floor-copier.js';
import { freshExt4 } from './fresh-fs.js';
import { startRsyncDaemon } from './rsync-daemon.js';
import { settleMachine, syncDisks } from './machine.js';
import { summarize } from './stats.js';

const ADDRESS = { alpha: '198.51.100.1', beta: '198.51.100.2' } as const;
const RSYNC_PORT = 8730;
const FLOOR_PORT = 8740;
const COPIER = fileURLToPath(new URL('./floor-copier.js', import.meta.url));
const CONTENDERS = ['rsync', 'floor_tls', 'floor_tls_read_thread', 'floor_tcp'] as const;
type Contender = (typeof CONTENDERS)[number];

/** CPU of the sending side (alpha: rsync's client, the floor's sender) and of the receiving side (beta), and their sum. */
interface Sample { readonly seconds: number; readonly cpu_seconds: number; readonly sender_cpu_seconds: number; readonly receiver_cpu_seconds: number }

const progress = (line: string): void => void process.stderr.write(`${new Date().toISOString().slice(11, 23)} ${line}\n`);
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function usage(problem: string): never {
  process.stderr.write(`bench:floor: ${problem}\nusage: npm run bench:floor -- [--size MiB] [--small-files N] [--large-files N] [--rounds N] [--seed TEXT]\n`);
  process.exit(1);
}

function whole(text: string, name: string, min: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) usage(`--${name} wants a whole number of at least ${min}, not "${text}"`);
  return n;
}

function options(): { sizeMiB: number; smallFiles: number; largeFiles: number; rounds: number; seed: string } {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        size: { type: 'string', default: '1024' }, 'small-files': { type: 'string', default: '20000' },
        'large-files': { type: 'string', default: '4' }, rounds: { type: 'string', default: '3' }, seed: { type: 'string', default: 'vigil-bench' },
      },
      strict: true,
    }));
  } catch (e) {
    usage((e as Error).message);
  }
  return {
    sizeMiB: whole(values.size, 'size', 1), smallFiles: whole(values['small-files'], 'small-files', 0),
    largeFiles: whole(values['large-files'], 'large-files', 0), rounds: whole(values.rounds, 'rounds', 1), seed: values.seed,
  };
}

class FloorBench {
  private constructor(readonly net: TestNetwork, private readonly dispose: () => void, readonly source: string, readonly copy: string, private readonly rsyncd: HostProcess) {}

  static async create(sizeMiB: number): Promise<FloorBench> {
    const net = await TestNetwork.create({
      nets: [{ name: 'floor', subnet: '198.51.100.0/24' }],
      hosts: [{ name: 'alpha', addresses: { floor: `${ADDRESS.alpha}/24` } }, { name: 'beta', addresses: { floor: `${ADDRESS.beta}/24` } }],
    });
    // bench:mirror's room: on an ext4 twice the data set's size every contender was a third slower or more.
    const fs = freshExt4(net.tempDir, sizeMiB * 3 + 1024, progress);
    const dispose = (): void => fs?.dispose();
    try {
      const base = fs?.mountPoint ?? net.tempDir;
      const source = join(base, 'alpha-data');
      const copy = join(base, 'beta-copy');
      mkdirSync(copy, { recursive: true });
      const rsyncd = await startRsyncDaemon(net, {
        host: 'beta', client: 'alpha', address: ADDRESS.beta, port: RSYNC_PORT, module: 'copy', path: copy, purpose: "bench:floor: rsync's daemon in beta",
      });
      return new FloorBench(net, dispose, source, copy, rsyncd);
    } catch (e) {
      dispose();
      await net.destroy();
      throw e;
    }
  }

  async close(): Promise<void> {
    await this.net.kill(this.rsyncd).catch(() => undefined);
    this.dispose();
    await this.net.destroy();
  }

  emptyCopy(): void {
    rmSync(this.copy, { recursive: true, force: true });
    mkdirSync(this.copy);
  }

  async run(contender: Contender): Promise<Sample> {
    return contender === 'rsync' ? this.rsync() : this.floor(contender);
  }

  /** The client's CPU (this process's waited-for children) and the receiver's the daemon forked. */
  private async rsync(): Promise<Sample> {
    const before = { client: cpuTime(process.pid)!.children, server: cpuTime(this.rsyncd.pid)!.children };
    const started = performance.now();
    const r = this.net.run('alpha', ['rsync', '-a', `${this.source}/`, `rsync://${ADDRESS.beta}:${RSYNC_PORT}/copy/`], { timeoutMs: 600_000 });
    const seconds = (performance.now() - started) / 1000;
    if (r.code !== 0) throw new Error(`rsync failed (${r.timedOut ? 'timed out' : r.code}): ${r.stderr.slice(-2000)}`);
    const client = cpuTime(process.pid)!.children - before.client;
    const server = reapedChildrenCpu(this.rsyncd.pid) - before.server;
    return { seconds, cpu_seconds: client + server, sender_cpu_seconds: client, receiver_cpu_seconds: server };
  }

  /** From the sender's start to its exit, which waits for the receiver's last write. */
  private async floor(contender: Exclude<Contender, 'rsync'>): Promise<Sample> {
    const transport = contender === 'floor_tcp' ? 'tcp' : 'tls';
    const receiver = this.net.spawn('beta', [process.execPath, COPIER, 'receive', ADDRESS.beta, String(FLOOR_PORT), this.copy, transport]);
    try {
      for (let tries = 0; !readFileSync(receiver.logPath, 'utf8').includes('listening'); tries++) {
        if (tries > 250) throw new Error(`the floor's receiver did not start: ${readFileSync(receiver.logPath, 'utf8')}`);
        await sleep(20);
      }
      const reads = contender === 'floor_tls_read_thread' ? 'thread' : 'inline';
      const started = performance.now();
      const r = this.net.run('alpha', [process.execPath, COPIER, 'send', ADDRESS.beta, String(FLOOR_PORT), this.source, transport, reads], { timeoutMs: 600_000 });
      const seconds = (performance.now() - started) / 1000;
      if (r.code !== 0) throw new Error(`${contender}: the sender failed (${r.timedOut ? 'timed out' : r.code}): ${r.stderr.slice(-2000)}\nreceiver: ${readFileSync(receiver.logPath, 'utf8').slice(-2000)}`);
      const result = JSON.parse(r.stdout.trim().split('\n').pop()!) as FloorResult;
      await this.net.waitForExit(receiver, 10_000);
      const { sender_cpu_seconds, receiver_cpu_seconds } = result;
      return { seconds, cpu_seconds: sender_cpu_seconds + receiver_cpu_seconds, sender_cpu_seconds, receiver_cpu_seconds };
    } finally {
      await this.net.kill(receiver).catch(() => undefined);
    }
  }
}

const opts = options();
if (process.getuid?.() !== 0) usage('needs root (network namespaces, a loop-mounted file system)');
for (const tool of ['rsync', 'mkfs.ext4']) {
  if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) usage(`${tool} is not installed (npm run bench:floor installs it through scripts/bootstrap.sh)`);
}
const bench = await FloorBench.create(opts.sizeMiB);
try {
  const dataset = planDataset(bench.source, opts);
  writeDataset(dataset, opts.seed);
  syncDisks();
  progress(`data set: ${dataset.files.length} files, ${Math.round(dataset.bytes / 2 ** 20)} MiB`);
  const samples = new Map<Contender, Sample[]>(CONTENDERS.map((c) => [c, []]));
  for (let round = 0; round < opts.rounds; round++) {
    // The order turns each round, so that none always runs right after another's writeback or memory churn.
    const order = CONTENDERS.map((_, k) => CONTENDERS[(k + round) % CONTENDERS.length]!);
    for (const contender of order) {
      bench.emptyCopy();
      settleMachine(dataset.bytes, 'warm');
      const sample = await bench.run(contender);
      // Content and mode, as bench:mirror compares (rsync leaves a folder's time behind where its last file landed late).
      const report = await verifyTrees(bench.source, bench.copy, compileGlobs([], []));
      if (!report.equal) throw new Error(`${contender}: the copy differs from the source: ${JSON.stringify(report).slice(0, 600)}`);
      samples.get(contender)!.push(sample);
      progress(`[${contender}] ${sample.seconds.toFixed(3)} s, ${sample.cpu_seconds.toFixed(2)} CPU-s`);
    }
  }
  const summary = (c: Contender): Record<keyof Sample, ReturnType<typeof summarize>> => {
    const of = (field: keyof Sample): ReturnType<typeof summarize> => summarize(samples.get(c)!.map((s) => s[field]));
    return { seconds: of('seconds'), cpu_seconds: of('cpu_seconds'), sender_cpu_seconds: of('sender_cpu_seconds'), receiver_cpu_seconds: of('receiver_cpu_seconds') };
  };
  const rsync = summary('rsync');
  const ratio = (theirs: number, ours: number): number => Math.round((theirs / ours) * 100) / 100;
  const floors = CONTENDERS.filter((c) => c !== 'rsync');
  console.log(JSON.stringify({
    data_set: { files: dataset.files.length, bytes: dataset.bytes, small_files: opts.smallFiles, large_files: opts.largeFiles, folders: dataset.dirs },
    rounds: opts.rounds,
    ...Object.fromEntries(CONTENDERS.map((c) => [c, summary(c)])),
    ratios: Object.fromEntries(floors.flatMap((c) => [
      [`time_rsync_over_${c}`, ratio(rsync.seconds.median, summary(c).seconds.median)],
      [`cpu_rsync_over_${c}`, ratio(rsync.cpu_seconds.median, summary(c).cpu_seconds.median)],
    ])),
    notes: [
      'seconds: from the start of the client (rsync, or the floor\'s sender) to its exit, each onto an empty copy; the receivers were already listening.',
      'cpu_seconds: user plus system CPU of the client and of the receiving process (rsync: the receiver its daemon forks), every thread; sender_ and receiver_cpu_seconds each side\'s (compare bench:mirror\'s vigil.full.cpu_seconds.alpha and .beta).',
      'Above 1, rsync took longer (or more CPU) than that contender. Compare bench:mirror\'s full mirror, over the same data set and hosts.',
    ],
  }, null, 2));
} finally {
  await bench.close();
}
