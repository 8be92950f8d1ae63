/** The agent's side of its guard: spawn it, keep it told what is active, say goodbye on a clean exit. */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { configDigest } from '../../common/config/digest.js';
import type { ClusterConfig, LinkConfig } from '../../common/config/schema.js';
import type { NodeId, NodeStatus } from '../../common/model/index.js';
import { activeResources, systemMonotonicMs, type GuardMessage } from './messages.js';

/**
 * How long the agent may stay silent before its guard releases what it runs. A peer can take over as early as
 * deadTime - interval after a freeze (the last beat left up to an interval before it), on the quickest of our
 * links; the guard releases at half that, which leaves the other half for the stops.
 */
export function guardReleaseAfter(links: readonly Pick<LinkConfig, 'endpoints' | 'interval' | 'deadTime'>[], node: NodeId): number {
  const takeover = Math.min(...links.filter((l) => node in l.endpoints).map((l) => l.deadTime - l.interval));
  return Number.isFinite(takeover) ? Math.floor(takeover / 2) : 0;
}

/** A guard loads in well under a second; this bounds a machine so starved that the agent had better not start. */
const GUARD_READY_TIMEOUT_MS = 30_000;

const GUARD_SCRIPT = fileURLToPath(new URL('./guard-process.js', import.meta.url));

/**
 * A guard that exits before it is ready (its configuration unreadable, node unable to load it) is started again
 * after a wait that doubles each time, up to a limit: replacing it at once spun a core on spawning node.
 */
const RESPAWN_FIRST_DELAY_MS = 500;
const RESPAWN_MAX_DELAY_MS = 30_000;

/** The wait before the next guard, after `failures` guards in a row exited before they were ready. */
export function guardRespawnDelay(failures: number): number {
  return failures <= 0 ? 0 : Math.min(RESPAWN_MAX_DELAY_MS, RESPAWN_FIRST_DELAY_MS * 2 ** (failures - 1));
}

export class GuardLink {
  private child: ChildProcess | undefined;
  private lastStatus: NodeStatus | undefined;
  private lastReport = '';
  private stopping = false;
  private ticker: NodeJS.Timeout | undefined;
  /** Guards in a row that exited before they were ready. */
  private failedStarts = 0;
  private respawnTimer: NodeJS.Timeout | undefined;
  private stopped: Promise<void> | undefined;

  constructor(private readonly options: {
    /** What the guard guards with: it is told, as its first line, and reads no configuration file. */
    config: ClusterConfig; node: string; stateDir: string; log: (line: string) => void;
    /** The guard releases everything when the agent is silent this long (0: only when it dies). */
    releaseAfterMs: number;
    /**
     * The guard went away (it released after a freeze, or was killed): what it guarded may be stopped now. `ready`
     * settles when its replacement is ready (or could not start).
     */
    onGuardLost: (ready: Promise<void>) => void;
  }) {}

  /**
   * Spawn the guard. Resolves once it is loaded and listening, which takes a few hundred milliseconds on a busy
   * machine: the agent starts no resource before, since a guard still loading would release a frozen agent's
   * resources only after a peer took them over. Rejects if the guard exits first or is not ready in time.
   */
  start(): Promise<void> {
    const { config, node, stateDir } = this.options;
    // The agent starts its guard before anything else writes to the state folder.
    mkdirSync(stateDir, { recursive: true });
    const out = openSync(join(stateDir, 'guard.log'), 'a');
    // Detached: a kill -9 of the agent (or of its process group) must leave the guard alive to act.
    const child = spawn(process.execPath, [GUARD_SCRIPT, '--node', node, '--state-dir', stateDir, '--release-after', String(this.options.releaseAfterMs), '--ready-fd', '3'], { stdio: ['pipe', out, out, 'pipe'], detached: true });
    closeSync(out);
    child.stdin!.write(JSON.stringify({ t: 'config', digest: configDigest(config), config } satisfies GuardMessage) + '\n');
    const spawnedAt = Date.now();
    this.child = child;
    writeFileSync(join(stateDir, 'guard.pid'), `${child.pid}\n`);
    child.stdin!.on('error', () => undefined);
    let wasReady = false;
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the guard (pid ${child.pid}) was not ready within ${GUARD_READY_TIMEOUT_MS} ms; see ${join(stateDir, 'guard.log')}`)), GUARD_READY_TIMEOUT_MS);
      timer.unref();
      const said = child.stdio[3] as Readable;
      said.setEncoding('utf8');
      said.on('error', () => undefined);
      said.on('data', (chunk: string) => {
        if (!chunk.includes('ready')) return;
        clearTimeout(timer);
        wasReady = true;
        this.failedStarts = 0;
        this.options.log(`guard ready (pid ${child.pid}, ${Date.now() - spawnedAt} ms)`);
        resolve();
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`the guard exited (${signal ?? code}) before it was ready; see ${join(stateDir, 'guard.log')}`));
      });
    });
    child.once('exit', (code, signal) => {
      if (this.child !== child || this.stopping) return;
      this.child = undefined;
      this.lastReport = '';
      if (wasReady) {
        // A guard that died is replaced at once: the node must never run without one. What it guarded may be
        // stopped now; the engine waits for the replacement.
        this.options.log(`guard exited (${signal ?? code}); starting a new one`);
        const replaced = this.start();
        replaced.catch((e: Error) => this.options.log(e.message));
        this.options.onGuardLost(replaced);
        return;
      }
      // It never guarded anything (the engine went on without it once its start failed): try again, later each time.
      const delay = guardRespawnDelay(++this.failedStarts);
      this.options.log(`guard exited (${signal ?? code}) before it was ready, ${this.failedStarts} in a row; starting a new one in ${delay} ms`);
      this.respawnTimer = setTimeout(() => {
        this.respawnTimer = undefined;
        if (!this.stopping) this.start().catch((e: Error) => this.options.log(e.message));
      }, delay);
      this.respawnTimer.unref();
    });
    child.unref();
    if (this.lastStatus) this.update(this.lastStatus);
    if (this.options.releaseAfterMs > 0 && !this.ticker) {
      // Four ticks per release period: one late tick never triggers a release, a frozen agent always does.
      this.ticker = setInterval(() => this.child?.stdin?.write(JSON.stringify({ t: 'tick', at: systemMonotonicMs() } satisfies GuardMessage) + '\n'), Math.max(10, Math.floor(this.options.releaseAfterMs / 4)));
      this.ticker.unref();
    }
    return ready;
  }

  update(status: NodeStatus): void {
    this.lastStatus = status;
    const report = JSON.stringify({ t: 'active', groups: activeResources(status) } satisfies GuardMessage);
    if (report === this.lastReport) return;
    this.lastReport = report;
    this.child?.stdin?.write(report + '\n');
  }

  /** A clean exit: the guard is told not to act, and goes. Once: a later call waits for the first. */
  stop(): Promise<void> {
    this.stopped ??= this.stopOnce();
    return this.stopped;
  }

  private async stopOnce(): Promise<void> {
    this.stopping = true;
    clearInterval(this.ticker);
    clearTimeout(this.respawnTimer);
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.stdin?.end(JSON.stringify({ t: 'bye' } satisfies GuardMessage) + '\n');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 2000))]);
  }
}
