/**
 * bench:mirror: Vigil's mirror against rsync and lsyncd, between two network-namespace hosts (test/support/netns.ts).
 *
 *   alpha 198.51.100.1, beta 198.51.100.2 on one switch; Vigil's heartbeat and replication, the rsync daemon and
 *   lsyncd's rsync all go through it. The folders are on this machine's disk, under the fixture's temp dir.
 *
 * Phases, in this order (each bounded in time):
 *   1. a generated data set on alpha (seeded AES-CTR keystream: deterministic, incompressible, fast), every tenth
 *      small file (--xattr-every) with a user attribute and an ACL, which both Vigil and rsync (-AX) carry;
 *   2. full mirror: `rsync -aAX` to an rsync daemon in beta, the same over ssh to beta's sshd (encrypted and
 *      authenticated, as Vigil's transport is, with the cipher Vigil's TLS uses: AES-128-GCM), then Vigil from
 *      agent start to an equal copy; then beta's listing of the copy in the background (which that mirror's end
 *      starts), and the group moved to beta and back (a failover right after the first mirror); then everything
 *      sent again on demand: `rsync -aAX --whole-file --ignore-times` to the daemon, and `vigil mirror full` on the
 *      running agents;
 *   3. differential: both agents stopped (SIGTERM), 1% of the 64 KiB blocks rewritten in place, both restarted
 *      (alpha reconciles against its persisted block index); then two explicit `mirror diff`s on the level copy (the
 *      second shows what the target's listing index and the source's own index save);
 *      `rsync -aAX --no-whole-file` of the same change onto its copies from phase 2 (daemon, then ssh);
 *   3b. a sparse file (a 64 KiB extent of data every 4 MiB, holes elsewhere) renamed into the data set, from the
 *      rename to an equal copy with Vigil's agents running, and `rsync -aAX --sparse` of it to the daemon;
 *   4. real-time lag: a writer in alpha appends timestamped 4 KiB records to a few files every 10 ms; a reader in
 *      beta polls the copies and records arrival - timestamp (the namespaces share the clock); the same with
 *      lsyncd (default.rsync, delay 0) in alpha feeding the rsync daemon.
 * Neither side gets a cold cache (dropping the page cache would disturb the whole machine): the source is read
 * from memory by both, and `sync` runs before every timed phase so no one pays for the previous one's writeback;
 * then free memory is put in the state --memory asks for (warm, the default, or idle: see MemoryState).
 *
 * Options: --size MiB (1024), --small-files N (20000), --large-files N (4), --lag-seconds S (20), --lag-files N (4),
 * --change-percent P (1), --seed TEXT, --journal MiB (Vigil's journalSize, 1024), --sparse MiB (the sparse file's size,
 * 2048; 0 skips phase 3b), --xattr-every N (10: attributes on every Nth small file; 0 on none), --skip-full, --skip-diff,
 * --skip-lag, --no-rsync, --no-ssh (no rsync over ssh), --no-lsyncd, --no-install (never apt-get), --logs DIR (copy the fixture's logs there), --same-disk (the folders on the
 * machine's own file system rather than a fresh ext4 image on it: see fresh-fs.ts), --agent bundle|dist (the agent the
 * installers ship, built by scripts/bundle-agent.mjs, which is the default; or tsc's build, one module a file, which
 * starts slower), --memory warm|idle (see MemoryState).
 * JSON on stdout, progress on stderr. Root only.
 */
import { spawnSync } from 'node:child_process';
import { cpuTime, reapedChildrenCpu } from './cpu-time.js';
import { randomBytes } from 'node:crypto';
import { closeSync, cpSync, existsSync, mkdirSync, openSync, readFileSync, readSync, renameSync, statSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { callAgent } from '../../agent/api/api-client.js';
import { compileGlobs } from '../../agent/replication/glob.js';
import { verifyTrees } from '../../agent/replication/verify.js';
import type { MirrorStatus } from '../../common/model/index.js';
import { addXattrs, keystream, planDataset, prng, writeDataset, type DataFile, type Dataset } from '../../test/support/dataset.js';
import { extendedAttributes } from '../../agent/replication/xattrs.js';
import { buildAgentBundle, DIST_AGENT, type AgentProgram } from '../../test/support/agent-bundle.js';
import { TestNetwork, type HostProcess } from '../../test/support/netns.js';
import { Sshd } from '../../test/support/sshd.js';
import { freshExt4, type FreshFileSystem } from './fresh-fs.js';
import { startRsyncDaemon } from './rsync-daemon.js';
import { MEMORY_RETURN_SECONDS, settleMachine, syncDisks, type MemoryState } from './machine.js';
import { summarize } from './stats.js';

const NODES = ['alpha', 'beta'] as const;

/** VIGIL_BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=DIR" and the like go to every agent's node, to find where time goes. */
function profileArgs(): string[] {
  return (process.env.VIGIL_BENCH_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
}
type NodeName = (typeof NODES)[number];
const ADDRESS: Record<NodeName, string> = { alpha: '198.51.100.1', beta: '198.51.100.2' };
const NET = 'lan';
const HEARTBEAT_PORT = 7405;
const REPLICATION_PORT = 7410;
const RSYNC_PORT = 8730;
const RSYNC_MODULE = 'bench';
/** What Vigil's replication TLS negotiates first (transport-tls.ts), for rsync over ssh to pay the same cipher. */
const SSH_CIPHER = 'aes128-gcm@openssh.com';
const MIRROR = 'data';
/** Archive mode with ACLs and extended attributes: what Vigil carries (mode, owner, times, attributes, ACLs). */
const RSYNC_FLAGS = ['-aAX'];
const BLOCK = 64 * 1024;
const MiB = 1024 * 1024;

const WRITER = fileURLToPath(new URL('../../../scripts/bench/mirror-lag-writer.mjs', import.meta.url));
const READER = fileURLToPath(new URL('../../../scripts/bench/mirror-lag-reader.mjs', import.meta.url));
const LAG_EVERY_MS = 10;
const LAG_RECORD = 4096;
const READER_POLL_MS = 2;
/**
 * The two write loads of the lag phase: records rewritten in place in files of a bounded size (LAG_RING records:
 * 1 MiB), and records appended to files that grow all along. A file-level mirror re-reads a changed file to find
 * what changed (the kernel says which file, not which bytes), so the second costs more the longer it runs.
 */
const LAG_RING = 256;
type LagWorkload = 'in_place' | 'append';
const LAG_WORKLOADS: readonly LagWorkload[] = ['in_place', 'append'];
/** After the writer stops, records still on their way get this long to arrive. */
const LAG_GRACE_MS = 15_000;
const STATUS_POLL_MS = 100;

// ---------------------------------------------------------------------------------------------------------------
// Options

function usage(problem: string): never {
  process.stderr.write(`bench:mirror: ${problem}\nusage: npm run bench:mirror -- [--size MiB] [--small-files N] [--large-files N] ` +
    '[--lag-seconds S] [--lag-files N] [--change-percent P] [--seed TEXT] [--journal MiB] [--sparse MiB] [--skip-full] [--skip-diff] [--skip-lag] ' +
    '[--no-rsync] [--no-ssh] [--no-lsyncd] [--no-install] [--logs DIR] [--same-disk] [--agent bundle|dist] [--memory warm|idle]\n');
  process.exit(1);
}

/** The agent's own addon sets the data set's attributes (no setfattr process per file). */
function xattrSetter(): (path: string, name: string, value: Buffer) => void {
  const { access, why } = extendedAttributes();
  if (access === undefined) usage(`--xattr-every needs the vigil-native addon (${why ?? 'not loaded'}); --xattr-every 0 runs without attributes`);
  return (path, name, value) => access.set(path, name, value);
}

function number(text: string, name: string, min: number): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n < min) usage(`--${name} wants a number of at least ${min}, not "${text}"`);
  return n;
}

interface BenchOptions {
  readonly sizeMiB: number;
  readonly smallFiles: number;
  readonly largeFiles: number;
  readonly lagSeconds: number;
  readonly lagFiles: number;
  readonly changePercent: number;
  readonly seed: string;
  readonly journalMiB: number;
  /** The sparse file of phase 3b, 0 for none. */
  readonly sparseMiB: number;
  /** Every Nth small file gets a user attribute and an ACL; 0: none. */
  readonly xattrEvery: number;
  readonly full: boolean;
  readonly diff: boolean;
  readonly lag: boolean;
  readonly rsync: boolean;
  readonly ssh: boolean;
  readonly lsyncd: boolean;
  readonly install: boolean;
  readonly logsDir: string | undefined;
  readonly freshFs: boolean;
  readonly agent: 'bundle' | 'dist';
  readonly memory: MemoryState;
}

function parseOptions(): BenchOptions {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        size: { type: 'string', default: '1024' },
        'small-files': { type: 'string', default: '20000' },
        'large-files': { type: 'string', default: '4' },
        'lag-seconds': { type: 'string', default: '20' },
        'lag-files': { type: 'string', default: '4' },
        'change-percent': { type: 'string', default: '1' },
        seed: { type: 'string', default: 'vigil-bench-mirror' },
        journal: { type: 'string', default: '1024' },
        sparse: { type: 'string', default: '2048' },
        'xattr-every': { type: 'string', default: '10' },
        'skip-full': { type: 'boolean', default: false },
        'skip-diff': { type: 'boolean', default: false },
        'skip-lag': { type: 'boolean', default: false },
        'no-rsync': { type: 'boolean', default: false },
        'no-ssh': { type: 'boolean', default: false },
        'no-lsyncd': { type: 'boolean', default: false },
        'no-install': { type: 'boolean', default: false },
        logs: { type: 'string' },
        'same-disk': { type: 'boolean', default: false },
        agent: { type: 'string', default: 'bundle' },
        memory: { type: 'string', default: 'warm' },
      },
      strict: true,
    }));
  } catch (err) {
    usage((err as Error).message);
  }
  const whole = (text: string, name: string, min: number): number => {
    const n = number(text, name, min);
    if (!Number.isInteger(n)) usage(`--${name} wants a whole number`);
    return n;
  };
  const agent = values.agent;
  if (agent !== 'bundle' && agent !== 'dist') usage(`--agent: "${agent}", expected bundle or dist`);
  const memory = values.memory;
  if (memory !== 'warm' && memory !== 'idle') usage(`--memory: "${memory}", expected warm or idle`);
  const changePercent = number(values['change-percent'], 'change-percent', 0.001);
  if (changePercent > 100) usage('--change-percent is at most 100');
  return {
    sizeMiB: number(values.size, 'size', 1),
    smallFiles: whole(values['small-files'], 'small-files', 0),
    largeFiles: whole(values['large-files'], 'large-files', 0),
    lagSeconds: number(values['lag-seconds'], 'lag-seconds', 1),
    lagFiles: whole(values['lag-files'], 'lag-files', 1),
    changePercent,
    seed: values.seed,
    journalMiB: whole(values.journal, 'journal', 16),
    sparseMiB: whole(values.sparse, 'sparse', 0),
    xattrEvery: whole(values['xattr-every'], 'xattr-every', 0),
    full: !values['skip-full'],
    diff: !values['skip-diff'],
    lag: !values['skip-lag'],
    rsync: !values['no-rsync'],
    ssh: !values['no-ssh'],
    lsyncd: !values['no-lsyncd'],
    install: !values['no-install'],
    logsDir: values.logs,
    freshFs: !values['same-disk'],
    agent,
    memory,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Small helpers

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, ms)));
const progress = (line: string): void => void process.stderr.write(`${new Date().toISOString().slice(11, 23)} ${line}\n`);
const round = (x: number, digits = 2): number => Math.round(x * 10 ** digits) / 10 ** digits;
const seconds = (ms: number): number => round(ms / 1000, 3);
const mbPerS = (bytes: number, ms: number): number => round(bytes / 1e6 / (ms / 1000));
const tail = (text: string, lines = 30): string => text.split('\n').slice(-lines).join('\n');
/** Theirs over ours: above 1, Vigil is faster (or sends less, or lags less). */
const ratio = (theirs: number | undefined, ours: number | undefined): number | null =>
  theirs === undefined || ours === undefined || !(ours > 0) || !Number.isFinite(theirs) ? null : round(theirs / ours);

async function waitFor<T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs: number, everyMs = STATUS_POLL_MS): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}`);
    await sleep(everyMs);
  }
}

function onPath(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

/** A command the bench runs, and the Debian package that brings it. */
interface Needed { readonly command: string; readonly debian: string }

function ensureInstalled(needed: readonly Needed[], allowed: boolean): void {
  const missing = [...new Set(needed.filter((n) => !onPath(n.command)).map((n) => n.debian))];
  if (missing.length === 0 || !allowed) return;
  progress(`installing ${missing.join(' ')} with apt-get (pass --no-install to skip)`);
  const r = spawnSync('sh', ['-c', `apt-get update -qq && apt-get install -y -qq --no-install-recommends ${missing.join(' ')}`],
    { stdio: ['ignore', 2, 2], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, timeout: 600_000 });
  if (r.status !== 0) progress(`apt-get failed (${r.status ?? r.signal}); going on without ${missing.join(' ')}`);
}

function version(argv: readonly string[], pattern: RegExp): string | undefined {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: 5000 });
  if (r.error) return undefined;
  return pattern.exec(`${r.stdout}${r.stderr}`)?.[0] ?? 'unknown version';
}

function logOf(p: HostProcess | undefined): string {
  if (p === undefined) return '';
  try { return readFileSync(p.logPath, 'utf8'); } catch { return ''; }
}

// ---------------------------------------------------------------------------------------------------------------
// Changing the data set (test/support/dataset.ts makes it)

interface Change { readonly ranges: readonly { path: string; offset: number; length: number }[]; readonly blocks: number; readonly totalBlocks: number; readonly bytes: number; readonly files: number; readonly largeFiles: number }

/**
 * Rewrite `percent` of all 64 KiB blocks in place with other bytes: every Nth block of the data set taken as one
 * list (files in order), so the change spreads evenly over the large files and touches one small file in N.
 */
function changeBlocks(d: Dataset, seed: string, percent: number): Change {
  const stride = Math.max(1, Math.round(100 / percent));
  let index = 0;
  let blocks = 0;
  let bytes = 0;
  let totalBlocks = 0;
  const touched = new Set<DataFile>();
  const ranges: { path: string; offset: number; length: number }[] = [];
  const first = Math.floor(prng(`${seed}\0change`)() * stride);
  for (const f of d.files) {
    const count = Math.ceil(f.size / BLOCK);
    totalBlocks += count;
    let fd: number | undefined;
    try {
      for (let b = 0; b < count; b++, index++) {
        if (index % stride !== first) continue;
        fd ??= openSync(join(d.root, f.path), 'r+');
        const length = Math.min(BLOCK, f.size - b * BLOCK);
        writeSync(fd, keystream(seed, 'change', f.stream, b * BLOCK, length), 0, length, b * BLOCK);
        ranges.push({ path: f.path, offset: b * BLOCK, length });
        blocks++;
        bytes += length;
        touched.add(f);
      }
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  }
  return { ranges, blocks, totalBlocks, bytes, files: touched.size, largeFiles: [...touched].filter((f) => f.path.startsWith('large')).length };
}

// ---------------------------------------------------------------------------------------------------------------
// The hosts, the agents and the baselines

interface Paths {
  readonly source: string;
  readonly vigilTarget: string;
  readonly rsyncTarget: string;
  readonly rsyncSshTarget: string;
  readonly state: Record<NodeName, string>;
  readonly config: string;
}

class Bench {
  readonly agents = new Map<NodeName, HostProcess>();
  readonly paths: Paths;
  private rsyncd: HostProcess | undefined;
  private sshd: Sshd | undefined;
  private sshKey: string | undefined;

  constructor(readonly net: TestNetwork, readonly options: BenchOptions, readonly fs: FreshFileSystem | undefined, readonly agent: AgentProgram) {
    const t = fs?.mountPoint ?? net.tempDir;
    this.paths = {
      source: join(t, 'alpha-data'), vigilTarget: join(t, 'beta-vigil'), rsyncTarget: join(t, 'beta-rsync'), rsyncSshTarget: join(t, 'beta-rsync-ssh'),
      state: { alpha: join(t, 'state-alpha'), beta: join(t, 'state-beta') }, config: join(t, 'cluster.yaml'),
    };
    for (const dir of [this.paths.source, this.paths.vigilTarget, this.paths.rsyncTarget, this.paths.rsyncSshTarget]) mkdirSync(dir, { recursive: true });
    writeFileSync(this.paths.config, this.clusterYaml(), { mode: 0o600 });
  }

  static async create(options: BenchOptions): Promise<Bench> {
    const net = await TestNetwork.create({
      nets: [{ name: NET, subnet: '198.51.100.0/24' }],
      hosts: NODES.map((n) => ({ name: n, addresses: { [NET]: `${ADDRESS[n]}/24` } })),
    });
    let fs: FreshFileSystem | undefined;
    try {
      // Source, two copies, the journal and the spool, with room to spare.
      fs = options.freshFs ? freshExt4(net.tempDir, options.sizeMiB * 3 + options.journalMiB * 1.5 + 1024, progress) : undefined;
      const agent = options.agent === 'bundle' ? buildAgentBundle(join(net.tempDir, 'agent-bundle')) : DIST_AGENT;
      return new Bench(net, options, fs, agent);
    } catch (err) {
      // Nothing may stay mounted or configured when the bench cannot start (a failed bundle build left a loop mount).
      fs?.dispose();
      await net.destroy();
      throw err;
    }
  }

  private clusterYaml(): string {
    const endpoints = (port: number): string => `{ ${NODES.map((n) => `${n}: "${ADDRESS[n]}:${port}"`).join(', ')} }`;
    return `# bench:mirror: two nodes on network-namespace hosts, one mirror (scripts/bench/mirror.ts)
cluster: { id: bench, key: "${randomBytes(32).toString('hex')}", startupGrace: 2s }
nodes: [{ id: alpha }, { id: beta }]
heartbeat:
  links:
    - { name: ${NET}, kind: udp, endpoints: ${endpoints(HEARTBEAT_PORT)} }
groups:
  - id: files
    nodes: [alpha, beta]
    switchback: manual
    resources:
      - id: ${MIRROR}
        kind: mirror
        folders: [{ alpha: "${this.paths.source}", beta: "${this.paths.vigilTarget}" }]
        endpoints: ${endpoints(REPLICATION_PORT)}
        journalSize: ${this.options.journalMiB}MiB
        blockSize: 64KiB
        monitorInterval: 1s
`;
  }

  // ---- Vigil ----

  /** Alpha first: it is the group's preferred node, so the source is alpha's copy. */
  startAgents(): void {
    for (const node of NODES) {
      mkdirSync(this.paths.state[node], { recursive: true });
      this.agents.set(node, this.net.spawn(node, [process.execPath, ...profileArgs(), this.agent.script,
        '--config', this.paths.config, '--node', node, '--state-dir', this.paths.state[node]], { env: { ...this.agent.env } }));
    }
  }

  agentPid(node: NodeName): number {
    const p = this.agents.get(node);
    if (p === undefined) throw new Error(`${node}'s agent is not running`);
    return p.pid;
  }

  /** SIGTERM, target first: the source keeps the group (nothing to fail over to) and stops with its journal drained. */
  async stopAgents(): Promise<void> {
    for (const node of ['beta', 'alpha'] as const) {
      const p = this.agents.get(node);
      if (p) await this.net.kill(p, 'SIGTERM', 60_000);
    }
  }

  async mirrorStatus(node: NodeName): Promise<MirrorStatus | undefined> {
    try {
      return (await callAgent(join(this.paths.state[node], 'vigild.sock'), 'mirror', { action: 'status', name: MIRROR }, 10_000)).status[0];
    } catch {
      return undefined;
    }
  }

  async mirrorCommand(action: 'full' | 'diff' | 'verify'): Promise<unknown> {
    return await callAgent(join(this.paths.state.alpha, 'vigild.sock'), 'mirror', { action, name: MIRROR }, 600_000);
  }

  /**
   * What the agents' guards did, one line each: a guard acts only when its agent died or stood still past the
   * release period (its event loop blocked), stopping what the node ran. None is expected in the bench.
   */
  guardReleases(): string[] {
    return NODES.flatMap((n) => {
      let log = '';
      try { log = readFileSync(join(this.paths.state[n], 'guard.log'), 'utf8'); } catch { /* no guard ever acted */ }
      // A guard also says which configuration it is ready with: that is not acting.
      return log.split('\n').filter((l) => l !== '' && !/ guard: ready for /.test(l)).map((l) => `${n}: ${l}`);
    });
  }

  agentLogs(): string {
    // The per-second monitor and probe lines say nothing here.
    const quiet = (log: string): string => log.split('\n').filter((l) => !/ (monitor|probe) files\/data \.\.\.$/.test(l)).join('\n');
    return NODES.map((n) => `--- ${n}'s agent ---\n${tail(quiet(logOf(this.agents.get(n))))}`).join('\n');
  }

  /** The agents' "... mirror done: N files, B bytes journaled in T ms" lines since `from` (a log offset). */
  doneLines(from: number): { kind: string; files: number; bytes: number; ms: number }[] {
    const log = logOf(this.agents.get('alpha')).slice(from);
    return [...log.matchAll(/(full|differential) mirror done: (\d+) files, (\d+) bytes journaled in (\d+) ms/g)]
      .map((m) => ({ kind: m[1]!, files: Number(m[2]), bytes: Number(m[3]), ms: Number(m[4]) }));
  }

  // ---- the wire ----

  /** Bytes through alpha's interface: what left for beta (tx) and came back (rx), heartbeats included. */
  wire(): { tx: number; rx: number } {
    const r = spawnSync('ip', ['-n', this.net.namespaceOf('alpha'), '-s', '-j', 'link', 'show', 'dev', NET], { encoding: 'utf8', timeout: 10_000 });
    const link = (JSON.parse(r.stdout) as { stats64?: { rx?: { bytes?: number }; tx?: { bytes?: number } } }[])[0];
    return { tx: link?.stats64?.tx?.bytes ?? NaN, rx: link?.stats64?.rx?.bytes ?? NaN };
  }

  // ---- rsync ----

  async startRsyncd(): Promise<void> {
    this.rsyncd = await startRsyncDaemon(this.net, {
      host: 'beta', client: 'alpha', address: ADDRESS.beta, port: RSYNC_PORT, module: RSYNC_MODULE, path: this.paths.rsyncTarget,
      purpose: 'bench:mirror: the target of rsync and lsyncd, inside beta', maxConnections: 8, logFile: join(this.net.tempDir, 'rsyncd.log'),
    });
  }

  get rsyncUrl(): string { return `rsync://${ADDRESS.beta}:${RSYNC_PORT}/${RSYNC_MODULE}/`; }

  /** The daemon as rsync's peer: what lsyncd feeds too. */
  get daemonPeer(): RsyncPeer {
    return { target: this.rsyncUrl, args: [], server: this.rsyncd!.pid, serverName: 'daemon', copy: this.paths.rsyncTarget };
  }

  /** beta's own sshd (test/support/sshd.ts), letting root in with a key made for this run. */
  async startSshd(): Promise<void> {
    const key = join(this.net.tempDir, 'bench_ed25519');
    const made = spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'vigil-bench', '-f', key], { encoding: 'utf8', timeout: 10_000 });
    if (made.status !== 0) throw new Error(`ssh-keygen failed: ${made.stderr}`);
    this.sshd = await Sshd.start(['root'], { namespace: this.net.namespaceOf('beta'), address: ADDRESS.beta, port: 22 });
    // sshd reads it at each login.
    writeFileSync(join(this.sshd.dir, 'authorized_keys'), readFileSync(`${key}.pub`), { mode: 0o600 });
    this.sshKey = key;
  }

  async stopSshd(): Promise<void> {
    await this.sshd?.stop();
    this.sshd = undefined;
  }

  /** beta's sshd as rsync's peer: rsync's own remote shell transport, the cipher pinned to Vigil's (SSH_CIPHER). */
  get sshPeer(): RsyncPeer {
    const ssh = ['ssh', '-i', this.sshKey!, '-c', SSH_CIPHER, '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=no',
      '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR'].join(' ');
    return { target: `root@${ADDRESS.beta}:${this.paths.rsyncSshTarget}/`, args: ['-e', ssh], server: this.sshd!.pid, serverName: 'sshd', copy: this.paths.rsyncSshTarget };
  }

  /**
   * One rsync run from alpha to `peer`, with the CPU it cost: the client's (a child this process waits for, with
   * its ssh) and the server's children's (the receiver the daemon or sshd forks per connection, counted once the
   * server has waited for it).
   */
  rsync(peer: RsyncPeer, extra: readonly string[]): { ms: number; stats: RsyncStats; wire: { tx: number; rx: number }; cpu: { client: number; server: number } } {
    const before = this.wire();
    const cpuBefore = { client: cpuTime(process.pid)!.children, server: cpuTime(peer.server)!.children };
    const started = Date.now();
    const r = this.net.run('alpha', ['rsync', ...RSYNC_FLAGS, '--stats', ...peer.args, ...extra, `${this.paths.source}/`, peer.target], { timeoutMs: 600_000 });
    const ms = Date.now() - started;
    // Read before any other child of this process (the interface counters' `ip`) adds to it.
    const client = round(cpuTime(process.pid)!.children - cpuBefore.client);
    const after = this.wire();
    if (r.code !== 0) throw new Error(`rsync ${[...peer.args, ...extra].join(' ')} failed (${r.timedOut ? 'timed out' : r.code}): ${tail(r.stderr, 10)}`);
    const cpu = { client, server: round(reapedChildrenCpu(peer.server) - cpuBefore.server) };
    return { ms, stats: parseRsyncStats(r.stdout), wire: { tx: after.tx - before.tx, rx: after.rx - before.rx }, cpu };
  }

  // ---- logs ----

  keepLogs(): void {
    if (this.options.logsDir === undefined) return;
    mkdirSync(this.options.logsDir, { recursive: true });
    cpSync(this.net.tempDir, this.options.logsDir, {
      recursive: true,
      // Logs and configs only: not the data, the journals or the sockets.
      filter: (src) => !/alpha-data|beta-vigil|beta-rsync|journal|spool|index|fs\.img|\.(db|sock|pid)$/.test(src.slice(this.net.tempDir.length)),
    });
  }
}

/** Where an rsync run goes: its destination argument, the options that reach it, the process its receivers are children of. */
interface RsyncPeer {
  readonly target: string;
  readonly args: readonly string[];
  readonly server: number;
  /** How the report names the server's share of the CPU. */
  readonly serverName: 'daemon' | 'sshd';
  readonly copy: string;
}

interface RsyncStats { readonly totalBytesSent?: number; readonly totalBytesReceived?: number; readonly literalData?: number; readonly matchedData?: number; readonly filesTransferred?: number }

function parseRsyncStats(text: string): RsyncStats {
  const get = (label: string): number | undefined => {
    const m = new RegExp(`^${label}: ([\\d,]+)`, 'm').exec(text);
    return m ? Number(m[1]!.replaceAll(',', '')) : undefined;
  };
  const out: Record<string, number> = {};
  const put = (key: string, value: number | undefined): void => { if (value !== undefined) out[key] = value; };
  put('totalBytesSent', get('Total bytes sent'));
  put('totalBytesReceived', get('Total bytes received'));
  put('literalData', get('Literal data'));
  put('matchedData', get('Matched data'));
  put('filesTransferred', get('Number of regular files transferred'));
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Vigil's phases

interface VigilSync {
  readonly seconds: number;
  /** Agent start until alpha reports itself the mirror's source: cluster formation, not mirroring. */
  readonly start_to_source_s: number;
  /** seconds minus start_to_source_s. */
  readonly sync_seconds: number;
  readonly states: readonly string[];
  readonly last_sync?: MirrorStatus['lastSync'];
  readonly done_lines: ReturnType<Bench['doneLines']>;
  readonly wire_tx_bytes: number;
  readonly wire_rx_bytes: number;
  /** CPU seconds of each agent's process (every thread) from its start until in-sync. */
  readonly cpu_seconds: { readonly alpha: number; readonly beta: number; readonly total: number };
  readonly verified_equal: boolean;
}

/** A record of the states the source went through, for the report: "seconds since start: state". */
class StateLog {
  readonly seen: string[] = [];
  private last = '';
  constructor(private readonly since: number) {}
  note(s: MirrorStatus | undefined): void {
    const text = s === undefined ? 'no answer' : `${s.role} ${s.state}${s.lastSync ? ` (${s.lastSync.kind}${s.lastSync.finishedAt !== undefined ? ' done' : ''})` : ''}`;
    if (text !== this.last) this.seen.push(`${seconds(Date.now() - this.since)} s: ${text}`);
    this.last = text;
  }
}

/** CPU seconds of each agent's process (every thread) so far. */
function agentCpu(b: Bench): { readonly alpha: number; readonly beta: number } {
  const cpu = (node: NodeName): number => cpuTime(b.agentPid(node))?.own ?? Number.NaN;
  return { alpha: cpu('alpha'), beta: cpu('beta') };
}

const agentsCpu = (b: Bench): number => {
  const { alpha, beta } = agentCpu(b);
  return alpha + beta;
};

/**
 * Until the source says in-sync and `ready` agrees (a resync begun after `since` has finished, or the changed
 * blocks read the same on both sides); then the whole trees are compared. The time (and the agents' CPU) is when
 * the status and `ready` first agreed, not when the comparison ended (a target may list its copy in the
 * background meanwhile); a comparison that finds a difference sends us polling on.
 */
async function untilLevel(b: Bench, since: number, timeoutMs: number, ready: (s: MirrorStatus) => boolean | Promise<boolean>, source: NodeName = 'alpha'):
  Promise<{ at: number; cpu: { readonly alpha: number; readonly beta: number }; status: MirrorStatus; sourceAt: number; states: string[] }> {
  let sourceAt = NaN;
  const states = new StateLog(since);
  for (;;) {
    const status = await waitFor('the mirror to be in sync', async () => {
      const s = await b.mirrorStatus(source);
      states.note(s);
      if (s?.role === 'source' && Number.isNaN(sourceAt)) sourceAt = Date.now();
      return s?.role === 'source' && s.state === 'in-sync' && await ready(s) ? s : undefined;
    }, Math.max(1000, since + timeoutMs - Date.now()));
    const at = Date.now();
    const cpu = agentCpu(b);
    const report = await verifyTrees(b.paths.source, b.paths.vigilTarget, compileGlobs([], []), { checkXattrs: true });
    if (report.equal) return { at, cpu, status, sourceAt, states: states.seen };
    progress(`[vigil] in-sync but not equal yet (missing ${report.missing.length}, extra ${report.extra.length}, content ${report.contentDiffers.length}, ` +
      `metadata ${report.metadataDiffers.length}, problems ${report.problems.length}): waiting on`);
    if (Date.now() > since + timeoutMs) throw new Error(`the copy is still not equal after ${Math.round(timeoutMs / 1000)} s (states: ${states.seen.join('; ')}): ${JSON.stringify(report).slice(0, 400)}`);
    await sleep(500);
  }
}

const resyncDoneSince = (since: number) => (s: MirrorStatus): boolean => s.lastSync?.finishedAt !== undefined && s.lastSync.startedAt >= since;

/** The changed blocks read the same on the target: cheap enough to poll (1% of the data). */
function changedBlocksArrived(b: Bench, change: Change): boolean {
  for (const { path, offset, length } of change.ranges) {
    const read = (root: string): Buffer | undefined => {
      let fd: number;
      try { fd = openSync(join(root, path), 'r'); } catch { return undefined; }
      try {
        const buf = Buffer.alloc(length);
        return buf.subarray(0, readSync(fd, buf, 0, length, offset));
      } finally {
        closeSync(fd);
      }
    };
    const theirs = read(b.paths.vigilTarget);
    if (theirs === undefined || !theirs.equals(read(b.paths.source)!)) return false;
  }
  return true;
}

/**
 * The target's listing of its copy in the background, which a resync that wrote to the copy starts (before the
 * source hears that the resync is done; the target's status shows the last one): waited for after every phase
 * that ends with a resync begun after `since`, so that no later phase pays for it. Its time is the agent's own,
 * start to end (it runs in part while the bench compares the copies, so the agents' CPU around it says nothing
 * of it); null if none ran.
 */
async function untilTargetListed(b: Bench, node: NodeName, since: number, timeoutMs: number): Promise<Record<string, unknown> | null> {
  const started = (await b.mirrorStatus(node))?.backgroundListing?.startedAt;
  if (started === undefined || started < since) return null;
  const done = await waitFor(`${node}'s background listing`, async () => {
    const listing = (await b.mirrorStatus(node))?.backgroundListing;
    return listing?.finishedAt === undefined ? undefined : { ...listing, finishedAt: listing.finishedAt };
  }, timeoutMs);
  return {
    seconds: seconds(done.finishedAt - done.startedAt),
    files: done.files,
    listed: [...logOf(b.agents.get(node)).matchAll(/listed the copy in the background[^\n]*/g)].at(-1)?.[0] ?? null,
  };
}

async function vigilSync(b: Bench, timeoutMs: number, ready: (started: number) => (s: MirrorStatus) => boolean | Promise<boolean>): Promise<VigilSync> {
  const before = b.wire();
  const started = Date.now();
  b.startAgents();
  const { at, cpu, status, sourceAt, states } = await untilLevel(b, started, timeoutMs, ready(started));
  const after = b.wire();
  const cpuSeconds = { alpha: round(cpu.alpha), beta: round(cpu.beta) };
  return {
    seconds: seconds(at - started),
    start_to_source_s: seconds(sourceAt - started),
    sync_seconds: seconds(at - sourceAt),
    states,
    ...(status.lastSync !== undefined ? { last_sync: status.lastSync } : {}),
    // Each start writes a new log, so every line in it belongs to this run.
    done_lines: b.doneLines(0),
    wire_tx_bytes: after.tx - before.tx,
    wire_rx_bytes: after.rx - before.rx,
    cpu_seconds: { ...cpuSeconds, total: round(cpuSeconds.alpha + cpuSeconds.beta) },
    verified_equal: true,
  };
}

/**
 * A switchover of the group to `to` on a level copy: the mirror reverses, a new generation starts, and the new
 * source brings the other copy level by a differential mirror. Timed from the command until the new source is in
 * sync with its resync done (the copies then compared); with what each side logged of the files it read.
 */
async function vigilSwitchover(b: Bench, to: NodeName, timeoutMs: number): Promise<Record<string, unknown>> {
  const from: NodeName = to === 'alpha' ? 'beta' : 'alpha';
  const cpuBefore = agentsCpu(b);
  const logAt = { alpha: logOf(b.agents.get('alpha')).length, beta: logOf(b.agents.get('beta')).length };
  const started = Date.now();
  await callAgent(join(b.paths.state[from], 'vigild.sock'), 'switchover', { group: 'files', node: to }, 120_000);
  const { at, cpu, status, states } = await untilLevel(b, started, timeoutMs, resyncDoneSince(started), to);
  const since = (node: NodeName): string => logOf(b.agents.get(node)).slice(logAt[node]);
  const line = (node: NodeName, pattern: RegExp): string | null => since(node).match(pattern)?.[0] ?? null;
  const moved = {
    seconds: seconds(at - started),
    cpu_seconds: round(cpu.alpha + cpu.beta - cpuBefore),
    bytes_sent: status.lastSync?.bytesSent ?? null,
    states,
    // What the new target hashed to list its copy, and how many files the new source took from an index of its own.
    target_listed: line(from, /listed \d+ files, \d+ of them hashed[^\n]*/),
    source_kept: line(to, /\d+ of the \d+ files \w+ lists hash as our index has them/),
    verified_equal: true,
  };
  return { ...moved, background_listing: await untilTargetListed(b, from, started, timeoutMs) };
}

/**
 * `mirror diff` or `mirror full` asked for on the running agents, timed from the command until the source is in sync
 * with the resync it started done (the copies then compared); then the target's background listing, if it ran one.
 * On a level copy a `diff` is what a differential pass costs when (almost) nothing differs.
 */
async function vigilExplicit(b: Bench, action: 'full' | 'diff', timeoutMs: number): Promise<{ seconds: number } & Record<string, unknown>> {
  const before = b.wire();
  const cpuBefore = agentsCpu(b);
  const lines = b.doneLines(0).length;
  const started = Date.now();
  await b.mirrorCommand(action);
  const { at, cpu, status, states } = await untilLevel(b, started, timeoutMs, resyncDoneSince(started));
  const after = b.wire();
  const done = {
    seconds: seconds(at - started),
    cpu_seconds: round(cpu.alpha + cpu.beta - cpuBefore),
    bytes_sent: status.lastSync?.bytesSent ?? null,
    ...(status.lastSync !== undefined ? { last_sync: status.lastSync } : {}),
    states,
    done_lines: b.doneLines(0).slice(lines),
    wire_tx_bytes: after.tx - before.tx,
    wire_rx_bytes: after.rx - before.rx,
    verified_equal: true,
  };
  return { ...done, background_listing: await untilTargetListed(b, 'beta', started, timeoutMs) };
}

// ---------------------------------------------------------------------------------------------------------------
// Lag: writer in alpha, reader in beta

interface LagReport {
  readonly median: number;
  readonly p99: number;
  readonly max: number;
  readonly min: number;
  readonly n: number;
  readonly written: number;
  readonly missing: number;
  readonly seconds: number;
  readonly writer: string;
  readonly reader_poll_ms: number;
}

async function measureLag(b: Bench, sourceDir: string, targetDir: string, lagSeconds: number, files: number, workload: LagWorkload): Promise<LagReport> {
  const ring = workload === 'in_place' ? LAG_RING : 0;
  const reader = b.net.spawn('beta', [process.execPath, READER, '--dir', targetDir, '--files', String(files), '--every', String(READER_POLL_MS),
    '--record', String(LAG_RECORD), '--duration', String(Math.ceil(lagSeconds + LAG_GRACE_MS / 1000 + 5)), '--ring', String(ring)]);
  const writer = b.net.spawn('alpha', [process.execPath, WRITER, '--dir', sourceDir, '--files', String(files), '--every', String(LAG_EVERY_MS),
    '--record', String(LAG_RECORD), '--duration', String(lagSeconds), '--ring', String(ring)]);
  try {
    await b.net.waitForExit(writer, lagSeconds * 1000 + 10_000);
    const summary = JSON.parse(logOf(writer).trim().split('\n').pop() ?? '{}') as { written?: number };
    const written = summary.written ?? NaN;
    const lags = (): number[] => logOf(reader).split('\n').filter((l) => l.startsWith('{')).map((l) => (JSON.parse(l) as { lag: number }).lag);
    await waitFor('the last records on the target', () => (lags().length >= written ? true : undefined), LAG_GRACE_MS, 100).catch(() => undefined);
    const samples = lags();
    const s = summarize(samples);
    return {
      median: round(s.median), p99: round(s.p99), max: round(s.max), min: round(s.min), n: s.n, written, missing: written - s.n,
      seconds: lagSeconds,
      writer: `${files} files, one ${LAG_RECORD}-byte record each every ${LAG_EVERY_MS} ms (${round(files * LAG_RECORD * (1000 / LAG_EVERY_MS) / 1e6)} MB/s), ` +
        (ring > 0 ? `open, write in place, close: files of ${ring} records (${round(ring * LAG_RECORD / MiB)} MiB) rewritten round` : 'open, append, close: files that grow all along'),
      reader_poll_ms: READER_POLL_MS,
    };
  } finally {
    await b.net.kill(writer).catch(() => undefined);
    await b.net.kill(reader).catch(() => undefined);
  }
}

/** in_place is the headline figure (lag_ms); append is reported beside it. */
function lagKey(workload: LagWorkload): string {
  return workload === 'in_place' ? 'lag_ms' : 'lag_append_ms';
}

// ---------------------------------------------------------------------------------------------------------------
// lsyncd

function lsyncdConfig(b: Bench, logFile: string, statusFile: string): string {
  return `-- bench:mirror: lsyncd in alpha, feeding the rsync daemon in beta at its smallest delay
settings {
  nodaemon = true,
  logfile = "${logFile}",
  statusFile = "${statusFile}",
  insist = true,
}
sync {
  default.rsync,
  source = "${b.paths.source}",
  target = "${b.rsyncUrl}",
  delay = 0,
  rsync = { archive = true },
}
`;
}

async function lsyncdLag(b: Bench, lagSeconds: number, files: number, workloads: readonly LagWorkload[]): Promise<Record<string, unknown>> {
  const logFile = join(b.net.tempDir, 'lsyncd.log');
  const config = join(b.net.tempDir, 'lsyncd.lua');
  writeFileSync(config, lsyncdConfig(b, logFile, join(b.net.tempDir, 'lsyncd.status')));
  const p = b.net.spawn('alpha', ['lsyncd', config]);
  try {
    // lsyncd first rsyncs the whole source; the load starts once that is done.
    const started = Date.now();
    await waitFor('lsyncd\'s start-up rsync', () => {
      if (p.child.exitCode !== null) throw new Error(`lsyncd exited (${p.child.exitCode}): ${tail(logOf(p), 10)} ${existsSync(logFile) ? tail(readFileSync(logFile, 'utf8'), 10) : ''}`);
      return existsSync(logFile) && /Startup of .* finished/.test(readFileSync(logFile, 'utf8')) ? true : undefined;
    }, 300_000, 100);
    progress(`[lsyncd] start-up rsync done in ${seconds(Date.now() - started)} s; measuring lag for ${lagSeconds} s`);
    const out: Record<string, unknown> = {};
    for (const workload of workloads) {
      out[lagKey(workload)] = await measureLag(b, join(b.paths.source, `lag-lsyncd-${workload}`), join(b.paths.rsyncTarget, `lag-lsyncd-${workload}`), lagSeconds, files, workload);
    }
    const rsyncRuns = (readFileSync(logFile, 'utf8').match(/Calling rsync/g) ?? []).length;
    return { ...out, rsync_runs: rsyncRuns, config: 'default.rsync, delay = 0, rsync = { archive = true }, maxProcesses 1 (default)' };
  } finally {
    await b.net.kill(p, 'SIGTERM', 10_000).catch(() => b.net.kill(p).catch(() => undefined));
  }
}

/** One timed rsync run onto `peer`'s copy, the copy compared with the source afterwards, as the report gives it. */
/**
 * `full`: onto an empty copy; `full_on_demand`: every file sent whole onto the level copy (`--ignore-times` skips
 * the quick check, `--whole-file` the delta algorithm rsync otherwise uses across a network); `diff`: the delta
 * algorithm onto the copy that misses a change; `sparse`: phase 3b's new sparse file, its holes left as holes.
 */
async function timedRsync(b: Bench, peer: RsyncPeer, label: string, kind: 'full' | 'full_on_demand' | 'diff' | 'sparse', datasetBytes: number): Promise<Record<string, unknown>> {
  progress(`[${label}] ${kind === 'full' ? 'full mirror' : kind === 'full_on_demand' ? 'every file again' : kind === 'diff' ? 'differential' : 'the sparse file (--sparse)'}`);
  const extra = kind === 'diff' ? ['--no-whole-file'] : kind === 'full_on_demand' ? ['--whole-file', '--ignore-times'] : kind === 'sparse' ? ['--sparse'] : [];
  const r = b.rsync(peer, extra);
  const equal = (await verifyTrees(b.paths.source, peer.copy, compileGlobs([], []), { checkXattrs: true })).equal;
  progress(`[${label}] ${kind}: ${seconds(r.ms)} s, ${r.stats.totalBytesSent} bytes sent`);
  const cpu = { client: r.cpu.client, [peer.serverName]: r.cpu.server, total: round(r.cpu.client + r.cpu.server) };
  const command = ['rsync', ...RSYNC_FLAGS, '--stats', ...peer.args.map((a) => (a.includes(' ') ? `"${a}"` : a)), ...extra, 'SRC/', peer.target].join(' ');
  const common = { seconds: seconds(r.ms), cpu_seconds: cpu, wire_tx_bytes: r.wire.tx, wire_rx_bytes: r.wire.rx, verified_equal: equal, command };
  if (kind === 'sparse') return { ...common, total_bytes_sent: r.stats.totalBytesSent ?? null };
  return kind !== 'diff'
    ? { ...common, mb_per_s: mbPerS(datasetBytes, r.ms), total_bytes_sent: r.stats.totalBytesSent ?? null }
    : { ...common, bytes_sent: r.stats.totalBytesSent ?? null, literal_bytes: r.stats.literalData ?? null, matched_bytes: r.stats.matchedData ?? null, files_transferred: r.stats.filesTransferred ?? null };
}

/** Where phase 3b's sparse file lands in the data set. */
const SPARSE_FILE = 'sparse/disk.img';
/** One extent of data in every SPARSE_STRIDE of the sparse file. */
const SPARSE_EXTENT = 64 * 1024;
const SPARSE_STRIDE = 4 * MiB;

/** What a file takes on disk (st_blocks), not its size. */
function allocatedBytes(path: string): number {
  return statSync(path).blocks * 512;
}

/**
 * A sparse file of `sizeMiB`, as a virtual machine's disk image is: a 64 KiB extent of random data in every 4 MiB
 * (at an offset that moves from stride to stride), holes elsewhere and at its end. Answers its bytes of data.
 */
function writeSparseFile(path: string, sizeMiB: number): number {
  const fd = openSync(path, 'w');
  let data = 0;
  try {
    for (let k = 0; k * SPARSE_STRIDE + SPARSE_STRIDE <= sizeMiB * MiB; k++) {
      const at = k * SPARSE_STRIDE + ((k * 37) % (SPARSE_STRIDE / SPARSE_EXTENT)) * SPARSE_EXTENT;
      writeSync(fd, randomBytes(SPARSE_EXTENT), 0, SPARSE_EXTENT, at);
      data += SPARSE_EXTENT;
    }
  } finally {
    closeSync(fd);
  }
  truncateSync(path, sizeMiB * MiB);
  return data;
}

/** Every byte of `path` read once, into the page cache. */
function readThrough(path: string): void {
  const fd = openSync(path, 'r');
  try {
    const buffer = Buffer.allocUnsafe(MiB);
    while (readSync(fd, buffer, 0, MiB, null) > 0);
  } finally {
    closeSync(fd);
  }
}

/**
 * Phase 3b with the agents running: the sparse file is written beside the data set, then renamed into it; timed
 * from the rename until the copy is equal (untilLevel, which compares the trees), the agents' CPU and alpha's
 * interface counters over the same. `settle`: what every timed phase starts with (settleMachine).
 */
async function vigilSparse(b: Bench, sizeMiB: number, timeoutMs: number, settle: () => void): Promise<Record<string, unknown>> {
  const staged = join(dirname(b.paths.source), 'sparse-staged.img');
  const data = writeSparseFile(staged, sizeMiB);
  syncDisks();
  // Read once, as the data set was just written: both contenders then read it from memory. Whoever read it first
  // would otherwise fill the page cache with the holes' zeros for the other (ext4 caches a hole's pages as it reads them).
  readThrough(staged);
  settle();
  progress(`[vigil] a sparse file of ${sizeMiB} MiB holding ${round(data / MiB)} MiB of data`);
  mkdirSync(join(b.paths.source, dirname(SPARSE_FILE)), { recursive: true });
  const before = b.wire();
  const cpuBefore = agentsCpu(b);
  const started = Date.now();
  renameSync(staged, join(b.paths.source, SPARSE_FILE));
  const size = sizeMiB * MiB;
  const copy = join(b.paths.vigilTarget, SPARSE_FILE);
  const { at, cpu } = await untilLevel(b, started, timeoutMs, () => existsSync(copy) && statSync(copy).size === size);
  const after = b.wire();
  progress(`[vigil] sparse: ${seconds(at - started)} s, ${after.tx - before.tx} bytes on the wire`);
  return {
    seconds: seconds(at - started), size_bytes: size, data_bytes: data, cpu_seconds: round(cpu.alpha + cpu.beta - cpuBefore),
    wire_tx_bytes: after.tx - before.tx, allocated_bytes: allocatedBytes(copy), source_allocated_bytes: allocatedBytes(join(b.paths.source, SPARSE_FILE)),
    verified_equal: true,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Main

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) {
    process.stderr.write('bench:mirror needs root: it builds network namespaces (try: sudo npm run bench:mirror)\n');
    process.exit(1);
  }
  const options = parseOptions();
  const started = Date.now();
  ensureInstalled([
    ...(options.rsync ? [{ command: 'rsync', debian: 'rsync' }] : []),
    ...(options.rsync && options.ssh ? [{ command: 'sshd', debian: 'openssh-server' }, { command: 'ssh', debian: 'openssh-client' }] : []),
    ...(options.lsyncd ? [{ command: 'lsyncd', debian: 'lsyncd' }] : []),
  ], options.install);
  const rsyncVersion = options.rsync ? version(['rsync', '--version'], /rsync\s+version \S+/) : undefined;
  const sshVersion = options.ssh && rsyncVersion !== undefined && onPath('sshd') ? version(['ssh', '-V'], /OpenSSH_\S+/) : undefined;
  const lsyncdVersion = options.lsyncd && rsyncVersion !== undefined ? version(['lsyncd', '--version'], /Version: \S+/) : undefined;
  const useRsync = rsyncVersion !== undefined;
  const useRsyncSsh = sshVersion !== undefined;
  const useLsyncd = lsyncdVersion !== undefined;
  // Scaled by the data set, generous: a phase that needs longer has failed.
  const syncTimeoutMs = 120_000 + options.sizeMiB * 400;

  const report: Record<string, unknown> = {};
  const vigil: Record<string, unknown> = {};
  const rsync: Record<string, unknown> = useRsync ? { version: rsyncVersion } : { status: options.rsync ? 'not installed' : 'skipped (--no-rsync)' };
  const rsyncSsh: Record<string, unknown> = useRsyncSsh ? { version: rsyncVersion, ssh: sshVersion, cipher: SSH_CIPHER }
    : { status: !options.ssh ? 'skipped (--no-ssh)' : !useRsync ? 'not run (needs rsync)' : 'not installed (openssh-server)' };
  const lsyncd: Record<string, unknown> = useLsyncd ? { version: lsyncdVersion }
    : { status: !options.lsyncd ? 'skipped (--no-lsyncd)' : useRsync ? 'not installed' : 'not run (needs rsync)' };
  const errors: string[] = [];

  const b = await Bench.create(options);
  try {
    // 1. The data set.
    const dataset = planDataset(b.paths.source, options);
    let t = Date.now();
    writeDataset(dataset, options.seed);
    const xattrFiles = options.xattrEvery === 0 ? 0 : addXattrs(dataset, options.xattrEvery, xattrSetter());
    syncDisks();
    report['memory'] = b.options.memory;
    report['agent'] = b.options.agent === 'bundle' ? `the bundle the installers ship (scripts/bundle-agent.mjs): ${b.agent.script}` : `tsc's build: ${b.agent.script}`;
    report['file_system'] = b.fs !== undefined ? 'a fresh ext4 image on this machine\'s disk, loop-mounted (scripts/bench/fresh-fs.ts)' : `this machine's own, under ${b.net.tempDir}`;
    report['dataset'] = {
      bytes: dataset.bytes, mib: round(dataset.bytes / MiB), files: dataset.files.length, small_files: options.smallFiles,
      small_file_bytes: '1-8 KiB', large_files: options.largeFiles, files_with_xattrs_and_acl: xattrFiles,
      large_file_bytes: options.largeFiles > 0 ? dataset.files[dataset.files.length - 1]!.size : 0, folders: dataset.dirs,
      content: 'AES-128-CTR keystream from the seed (incompressible, deterministic)', seed: options.seed, generate_s: seconds(Date.now() - t),
    };
    progress(`data set: ${dataset.files.length} files, ${round(dataset.bytes / MiB)} MiB in ${seconds(Date.now() - t)} s`);

    // 2. Full mirror: rsync first (its copy is the base of its differential run), then Vigil.
    if (useRsync) {
      await b.startRsyncd();
      if (useRsyncSsh) await b.startSshd();
      const peers: [Record<string, unknown>, RsyncPeer, string][] = [[rsync, b.daemonPeer, 'rsync'], ...(useRsyncSsh ? [[rsyncSsh, b.sshPeer, 'rsync over ssh'] as [Record<string, unknown>, RsyncPeer, string]] : [])];
      for (const [out, peer, label] of peers) {
        if (options.full) {
          settleMachine(dataset.bytes, options.memory);
          out['full'] = await timedRsync(b, peer, label, 'full', dataset.bytes);
        } else {
          // Its base copy without timing it.
          spawnSync('cp', ['-a', `${b.paths.source}/.`, peer.copy], { timeout: 600_000 });
        }
      }
    }
    settleMachine(dataset.bytes, options.memory);
    progress('[vigil] full mirror: starting both agents');
    try {
      const full = await vigilSync(b, syncTimeoutMs, resyncDoneSince);
      vigil['full'] = options.full ? { ...full, mb_per_s: mbPerS(dataset.bytes, full.seconds * 1000), mb_per_s_after_start: mbPerS(dataset.bytes, full.sync_seconds * 1000) }
        : { skipped: '--skip-full: run untimed, as the base of the differential run' };
      progress(`[vigil] full: ${full.seconds} s (${full.start_to_source_s} s until alpha was the source)`);
      const listed = await untilTargetListed(b, 'beta', started, syncTimeoutMs);
      vigil['background_listing_after_full'] = listed === null ? { ran: false } : {
        ...listed, note: 'beta lists the copy the first mirror wrote, in the background (the mirror is in sync meanwhile), so that it compares from it as the source',
      };
      progress('[vigil] switchover to beta right after the first mirror, then back to alpha');
      vigil['switchover_after_full'] = {
        ...(await vigilSwitchover(b, 'beta', syncTimeoutMs)),
        note: 'beta had been the target only through the first mirror: as the source it compares from its background listing, alpha lists from its index as the source',
      };
      vigil['switchback_after_full'] = { ...(await vigilSwitchover(b, 'alpha', syncTimeoutMs)), note: 'and back to alpha, the same way' };
    } catch (err) {
      throw new Error(`Vigil's full mirror: ${(err as Error).message}\n${b.agentLogs()}`, { cause: err });
    }

    // 2b. A full mirror asked for on running agents: everything sent again whatever the copy holds, rsync's daemon
    // first (every file whole, none skipped by its quick check), then `vigil mirror full`.
    if (options.full) {
      if (useRsync) {
        settleMachine(dataset.bytes, options.memory);
        rsync['full_on_demand'] = await timedRsync(b, b.daemonPeer, 'rsync', 'full_on_demand', dataset.bytes);
      }
      settleMachine(dataset.bytes, options.memory);
      progress('[vigil] `mirror full` on the running agents');
      try {
        const full = await vigilExplicit(b, 'full', syncTimeoutMs);
        vigil['full_on_demand'] = {
          ...full, mb_per_s: mbPerS(dataset.bytes, full.seconds * 1000),
          note: 'asked for on the running agents (no start-up): the target empties its copy, the source sends every file; the copy is then compared',
        };
        progress(`[vigil] mirror full: ${full.seconds} s`);
      } catch (err) {
        throw new Error(`Vigil's full mirror on demand: ${(err as Error).message}\n${b.agentLogs()}`, { cause: err });
      }
    }

    // 3. Differential.
    if (options.diff) {
      await b.stopAgents();
      t = Date.now();
      const change = changeBlocks(dataset, options.seed, options.changePercent);
      progress(`[change] ${change.blocks} of ${change.totalBlocks} blocks (${round(change.bytes / MiB)} MiB) in ${change.files} files in ${seconds(Date.now() - t)} s`);
      report['change'] = {
        percent: options.changePercent, block_bytes: BLOCK, blocks: change.blocks, of_blocks: change.totalBlocks, bytes: change.bytes,
        files: change.files, large_files: change.largeFiles, how: `every ${Math.round(100 / options.changePercent)}th block of the whole data set rewritten in place`,
      };
      settleMachine(dataset.bytes, options.memory);
      progress('[vigil] differential: restarting both agents');
      try {
        // Not a finished resync: a restarted source may bring the target level from its journal alone.
        const diff = await vigilSync(b, syncTimeoutMs, () => () => changedBlocksArrived(b, change));
        // Without a resync there is no lastSync: the restarted source sends what its persisted index says changed
        // through the journal, and the interface counter is the only measure of it.
        vigil['diff'] = {
          ...diff, bytes_sent: diff.last_sync?.bytesSent ?? diff.wire_tx_bytes,
          bytes_sent_from: diff.last_sync ? 'lastSync.bytesSent (journaled)' : 'wire_tx_bytes (no resync ran: the changes went through the journal)',
          changed_bytes: change.bytes,
        };
        progress(`[vigil] diff: ${diff.seconds} s, ${diff.wire_tx_bytes} bytes on the wire`);
        progress('[vigil] explicit `mirror diff` on the level copy');
        vigil['diff_explicit'] = { ...(await vigilExplicit(b, 'diff', syncTimeoutMs)), note: 'nothing changed since the copy was level: the cost of a differential pass itself' };
        progress('[vigil] explicit `mirror diff` again');
        vigil['diff_explicit_again'] = {
          ...(await vigilExplicit(b, 'diff', syncTimeoutMs)),
          note: 'a second one: the target hashes only the files changed since its last listing, the source only those changed since its index',
        };
        progress('[vigil] switchover to beta, then back to alpha');
        vigil['switchover'] = {
          ...(await vigilSwitchover(b, 'beta', syncTimeoutMs)),
          note: 'the group moved to beta on a level copy: beta, now the source, resyncs alpha differentially; each side reads only what its index from its other role does not vouch for',
        };
        vigil['switchback'] = { ...(await vigilSwitchover(b, 'alpha', syncTimeoutMs)), note: 'and back to alpha, the same way' };
      } catch (err) {
        throw new Error(`Vigil's differential mirror: ${(err as Error).message}\n${b.agentLogs()}`, { cause: err });
      }
      if (useRsync) {
        settleMachine(dataset.bytes, options.memory);
        rsync['diff'] = await timedRsync(b, b.daemonPeer, 'rsync', 'diff', dataset.bytes);
      }
      if (useRsyncSsh) {
        settleMachine(dataset.bytes, options.memory);
        rsyncSsh['diff'] = await timedRsync(b, b.sshPeer, 'rsync over ssh', 'diff', dataset.bytes);
      }
    }

    // 3b. A sparse file.
    if (options.sparseMiB > 0) {
      try {
        vigil['sparse'] = await vigilSparse(b, options.sparseMiB, syncTimeoutMs, () => settleMachine(dataset.bytes, options.memory));
      } catch (err) {
        throw new Error(`Vigil's sparse file: ${(err as Error).message}\n${b.agentLogs()}`, { cause: err });
      }
      if (useRsync) {
        settleMachine(dataset.bytes, options.memory);
        rsync['sparse'] = { ...(await timedRsync(b, b.daemonPeer, 'rsync', 'sparse', dataset.bytes)), allocated_bytes: allocatedBytes(join(b.daemonPeer.copy, SPARSE_FILE)) };
      }
    }

    // 4. Lag.
    if (options.lag) {
      for (const workload of LAG_WORKLOADS) {
        progress(`[vigil] lag (${workload}): ${options.lagSeconds} s of writes`);
        try {
          vigil[lagKey(workload)] = await measureLag(b, join(b.paths.source, `lag-vigil-${workload}`), join(b.paths.vigilTarget, `lag-vigil-${workload}`), options.lagSeconds, options.lagFiles, workload);
        } catch (err) {
          errors.push(`vigil lag (${workload}): ${(err as Error).message}`);
        }
      }
      const s = await b.mirrorStatus('alpha');
      if (s) vigil['status_after_lag'] = { state: s.state, lagSeconds: s.lagSeconds, sourceQueue: s.sourceQueue ?? null };
    }
    await b.stopAgents();
    vigil['guard_releases'] = b.guardReleases();
    if (options.lag && useLsyncd) {
      progress('[lsyncd] lag');
      try {
        Object.assign(lsyncd, await lsyncdLag(b, options.lagSeconds, options.lagFiles, LAG_WORKLOADS));
      } catch (err) {
        lsyncd['error'] = (err as Error).message;
        errors.push(`lsyncd: ${(err as Error).message}`);
      }
    }
  } catch (err) {
    errors.push((err as Error).message);
    progress(`stopped: ${(err as Error).message}`);
  } finally {
    b.keepLogs();
    await b.stopSshd();
    b.fs?.dispose();
    await b.net.destroy();
  }

  const v = <T>(o: Record<string, unknown>, key: string): T | undefined => o[key] as T | undefined;
  interface Cpu { readonly cpu_seconds?: { readonly total: number } }
  const vFull = v<{ seconds?: number; sync_seconds?: number } & Cpu>(vigil, 'full');
  const vDiff = v<{ seconds: number; sync_seconds?: number; wire_tx_bytes: number } & Cpu>(vigil, 'diff');
  const rFull = v<{ seconds: number } & Cpu>(rsync, 'full');
  const vFullOnDemand = v<{ seconds: number; cpu_seconds: number }>(vigil, 'full_on_demand');
  const rFullOnDemand = v<{ seconds: number } & Cpu>(rsync, 'full_on_demand');
  const rDiff = v<{ seconds: number; bytes_sent: number | null; wire_tx_bytes: number } & Cpu>(rsync, 'diff');
  const sFull = v<{ seconds: number } & Cpu>(rsyncSsh, 'full');
  const sDiff = v<{ seconds: number } & Cpu>(rsyncSsh, 'diff');
  const vSparse = v<{ seconds: number; wire_tx_bytes: number }>(vigil, 'sparse');
  const rSparse = v<{ seconds: number; wire_tx_bytes: number }>(rsync, 'sparse');
  const vLag = v<LagReport>(vigil, 'lag_ms');
  const lLag = v<LagReport>(lsyncd, 'lag_ms');
  const vLagAppend = v<LagReport>(vigil, 'lag_append_ms');
  const lLagAppend = v<LagReport>(lsyncd, 'lag_append_ms');
  const ratios = {
    full_time_rsync_over_vigil: ratio(rFull?.seconds, vFull?.seconds),
    full_time_rsync_over_vigil_after_start: ratio(rFull?.seconds, vFull?.sync_seconds),
    diff_time_rsync_over_vigil: ratio(rDiff?.seconds, vDiff?.seconds),
    diff_time_rsync_over_vigil_after_start: ratio(rDiff?.seconds, vDiff?.sync_seconds),
    diff_wire_bytes_rsync_over_vigil: ratio(rDiff?.wire_tx_bytes, vDiff?.wire_tx_bytes),
    full_cpu_rsync_over_vigil: ratio(rFull?.cpu_seconds?.total, vFull?.cpu_seconds?.total),
    full_on_demand_time_rsync_over_vigil: ratio(rFullOnDemand?.seconds, vFullOnDemand?.seconds),
    full_on_demand_cpu_rsync_over_vigil: ratio(rFullOnDemand?.cpu_seconds?.total, vFullOnDemand?.cpu_seconds),
    diff_cpu_rsync_over_vigil: ratio(rDiff?.cpu_seconds?.total, vDiff?.cpu_seconds?.total),
    sparse_time_rsync_over_vigil: ratio(rSparse?.seconds, vSparse?.seconds),
    sparse_wire_bytes_rsync_over_vigil: ratio(rSparse?.wire_tx_bytes, vSparse?.wire_tx_bytes),
    full_time_rsync_ssh_over_vigil: ratio(sFull?.seconds, vFull?.seconds),
    full_cpu_rsync_ssh_over_vigil: ratio(sFull?.cpu_seconds?.total, vFull?.cpu_seconds?.total),
    diff_time_rsync_ssh_over_vigil: ratio(sDiff?.seconds, vDiff?.seconds),
    diff_cpu_rsync_ssh_over_vigil: ratio(sDiff?.cpu_seconds?.total, vDiff?.cpu_seconds?.total),
    lag_median_lsyncd_over_vigil: ratio(lLag?.median, vLag?.median),
    lag_p99_lsyncd_over_vigil: ratio(lLag?.p99, vLag?.p99),
    lag_append_median_lsyncd_over_vigil: ratio(lLagAppend?.median, vLagAppend?.median),
    lag_append_p99_lsyncd_over_vigil: ratio(lLagAppend?.p99, vLagAppend?.p99),
  };
  const tenTimes = (median: number | null, p99: number | null): boolean | null => (median === null ? null : median >= 10 && (p99 ?? 0) >= 10);
  const atLeast = (x: number | null, bound: number): boolean | null => (x === null ? null : x >= bound);
  const output = {
    ...report,
    vigil,
    rsync,
    rsync_ssh: rsyncSsh,
    lsyncd,
    ratios,
    aim: {
      full_at_least_as_fast_as_rsync: atLeast(ratios.full_time_rsync_over_vigil, 1),
      full_on_demand_at_least_as_fast_as_rsync: atLeast(ratios.full_on_demand_time_rsync_over_vigil, 1),
      diff_at_least_as_fast_as_rsync: atLeast(ratios.diff_time_rsync_over_vigil, 1),
      lag_ten_times_lower_than_lsyncd: tenTimes(ratios.lag_median_lsyncd_over_vigil, ratios.lag_p99_lsyncd_over_vigil),
      lag_append_ten_times_lower_than_lsyncd: tenTimes(ratios.lag_append_median_lsyncd_over_vigil, ratios.lag_append_p99_lsyncd_over_vigil),
    },
    notes: [
      'Warm cache for every contender: the source was just written and is read from memory; `sync` runs before each timed phase. Dropping the page cache would disturb the whole machine, so no cold-cache figures.',
      b.options.memory === 'warm'
        ? '--memory warm: memory for the copy is touched before each timed phase (on a virtual machine the host takes back free guest memory about 2 s after it was freed, and refilling the page cache from it costs several times more). A copy that lasts longer than that pays for the rest of it; --memory idle puts every contender in that state for its whole copy.'
        : `--memory idle: ${MEMORY_RETURN_SECONDS} s of waiting after sync before each timed phase, no warm-up: every contender fills its page cache from memory the host took back.`,
      'vigil.full_on_demand and rsync.full_on_demand: the same data sent again on demand, by `vigil mirror full` on the running agents (its target empties the copy first, inside the timing) and by `rsync -aAX --whole-file --ignore-times` onto its level copy (each file written anew beside the old and renamed over it).',
      'vigil.full.seconds and vigil.diff.seconds run from agent start (including cluster formation, start_to_source_s) to the source reporting in-sync with, for full, its resync finished and, for diff, the changed blocks readable on the target; the whole trees are then compared (verified_equal) outside the timing.',
      'wire_*_bytes are alpha\'s interface counters (heartbeats and protocol included); rsync.diff.bytes_sent is rsync\'s "Total bytes sent".',
      'mb_per_s is 10^6 bytes per second of the data set size.',
      'dataset.files_with_xattrs_and_acl: small files with a user attribute and a POSIX ACL (--xattr-every); rsync runs with -AX so that both carry them, and every copy is compared with them.',
      'vigil.sparse and rsync.sparse: a sparse file renamed into the data set, mirrored by the running agents (from the rename to an equal copy) and by `rsync -aAX --sparse` onto the daemon\'s level copy; allocated_bytes is what the copy of it takes on the target\'s disk.',
      'vigil.guard_releases: what the agents\' guards did in the whole run, a line each; a guard acts only when its agent died or its event loop stood still past the release period. Expected empty.',
      'cpu_seconds: user plus system CPU from /proc. Vigil: both agents\' processes, every thread, from their start (loading the agent included) until in-sync. rsync: the client (with its ssh) and the receiver the daemon or sshd forks. Neither counts the kernel\'s own threads (writeback, the network\'s soft interrupts).',
      `The aim is set against rsync's daemon, which sends in the clear. Vigil's replication is TLS 1.3 with both ends authenticated, so rsync_ssh (${SSH_CIPHER}, the cipher Vigil's TLS picks) is the like-for-like peer; its ratios are given beside the aim's, not instead of them.`,
    ],
    ...(errors.length > 0 ? { errors } : {}),
    elapsed_s: Math.round((Date.now() - started) / 1000),
  };
  process.stdout.write(JSON.stringify(output, null, 2) + '\n');
}

await main();
