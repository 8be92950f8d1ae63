/**
 * The node's mirror service: for every mirror of a group this node belongs to, a target that receives (always,
 * unless this node is the source) and, while the group runs here, a source that captures and sends. The mirror
 * resource of the group promotes and demotes through it (agent/resources/mirror.ts); operators reach it through
 * the control protocol (`vigil mirror ...`).
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mirrorFolderOn, type ClusterConfig, type MirrorResourceConfig } from '../../common/config/schema.js';
import type { MirrorAction, MirrorStatus, MirrorVerifyReport } from '../../common/model/index.js';
import type { Outcome } from '../resources/operation.js';
import type { MirrorRoles } from '../resources/mirror.js';
import { splitVirtualPath } from './changes.js';
import { compileGlobs, type PathFilter } from './glob.js';
import { nextGeneration } from './lineage.js';
import { loadMirrorState } from './mirror-state.js';
import { DirtySet } from './dirty-set.js';
import { DIRTY_FILE, MirrorSource, SOURCE_INDEX_FILE } from './source.js';
import { MirrorTarget } from './target.js';
import { ReplicationServer } from './transport.js';
import type { MirrorEndpoint } from './transport-types.js';
import { targetEndpoint } from './target-endpoint.js';
import { extendedAttributes, type ExtendedAttributes } from './xattrs.js';


/** In a mirror's folder: the block hashes of this node's last listing as the target. */
const LISTING_INDEX_FILE = 'target-listing.index';

/** `sync -f`: everything written to the file system holding `path` reaches its disk. Rejects on failure. */
function syncFileSystem(path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('sync', ['-f', path], { timeout: 60_000 }, (error) => (error ? reject(new Error(`sync -f ${path}: ${error.message}`)) : resolve()));
  });
}

export interface MirrorServiceOptions {
  readonly config: ClusterConfig;
  readonly nodeId: string;
  readonly stateDir: string;
  readonly key: Buffer;
  /** Further keys accepted from sources during a key rotation. */
  readonly acceptKeys?: readonly Buffer[];
  readonly runningAsRoot: boolean;
  readonly log: (line: string) => void;
  /** The set of mirrors whose target is behind changed (the engine republishes; a switchback may wait for it). */
  readonly onBehindChange?: () => void;
}

interface Mirror {
  /** Replaced by a configuration applied live (applyLiveConfig): only its bandwidth limit can differ then. */
  config: MirrorResourceConfig;
  readonly group: string;
  readonly peer: string;
  readonly folders: string[];
  readonly filter: PathFilter;
  readonly dir: string;
  readonly target: MirrorTarget;
  source: MirrorSource | undefined;
  /** The agent did not stop cleanly last time (its marker file was still there): resync before trusting the journal. */
  unclean: boolean;
  /** Why the last promotion or the stream was refused, if it was. */
  refusal: string | undefined;
}

/** A command the operator sent that cannot be done; the control server reports it with its code. */
export class MirrorCommandError extends Error {
  constructor(readonly code: 'NOT_FOUND' | 'CONFLICT', message: string) {
    super(message);
    this.name = 'MirrorCommandError';
  }
}

function splitHostPort(endpoint: string): { host: string; port: number } {
  const at = endpoint.lastIndexOf(':');
  return { host: endpoint.slice(0, at).replace(/^\[|\]$/g, ''), port: Number(endpoint.slice(at + 1)) };
}

/** A record's path ("0/docs/a", "0" for the folder itself) under the folders it names by number. */
function shownPath(folders: readonly string[]): (v: string) => string {
  return (v) => {
    const { folder, rel } = splitVirtualPath(v);
    const root = folders[folder] ?? `(folder ${folder})`;
    return rel === '' ? root : join(root, rel);
  };
}

export class MirrorService implements MirrorRoles {
  private readonly mirrors = new Map<string, Mirror>();
  private readonly servers: ReplicationServer[] = [];
  private behindNow: string[] = [];
  private readonly xattrsWarned = new Set<string>();
  private watch: NodeJS.Timeout | undefined;

  constructor(private readonly o: MirrorServiceOptions) {}

  get size(): number { return this.mirrors.size; }

  async start(): Promise<void> {
    const { config, nodeId } = this.o;
    const listen = new Map<string, string[]>();
    for (const group of config.groups) {
      const nodes = group.nodes ?? config.nodes.map((n) => n.id);
      if (!nodes.includes(nodeId)) continue;
      for (const r of group.resources) {
        if (r.kind !== 'mirror') continue;
        const peer = nodes.find((n) => n !== nodeId)!;
        const folders = r.folders.map((f) => mirrorFolderOn(f, nodeId)!);
        const filter = compileGlobs(r.include, r.exclude);
        const dir = join(this.o.stateDir, 'mirrors', r.id);
        const stateFile = join(dir, 'state.json');
        const state = loadMirrorState(stateFile);
        mkdirSync(dir, { recursive: true });
        const marker = join(dir, 'running');
        const unclean = existsSync(marker);
        writeFileSync(marker, `${process.pid}\n`);
        const target = new MirrorTarget({
          id: r.id, folders, filter, stateFile, spoolDir: join(dir, 'spool'), spoolBytes: r.journalSize,
          applyOwner: this.o.runningAsRoot && r.mirrorOwner, state, log: this.o.log, listingIndexFile: join(dir, LISTING_INDEX_FILE),
          ownIndexFile: join(dir, SOURCE_INDEX_FILE), backgroundListing: { blockSize: r.blockSize, blockHash: r.blockHash },
          ...this.xattrAccess(r.id, r.mirrorXattrs),
        }, state);
        await target.open(unclean);
        if (unclean) {
          this.o.log(`mirror ${r.id}: the agent did not stop cleanly: the copy is brought level by a differential mirror`);
          await target.forgetStream();
          // The target's open dropped the index this node made as the source; whenever it is the source next (in
          // this run or a later one), a differential mirror rebuilds it, rather than a journal made before the crash.
          // Everything dirty covers whatever the file listed, so it is not read (nor can a damaged one stop the start).
          rmSync(join(dir, DIRTY_FILE), { force: true });
          const dirty = await DirtySet.open(join(dir, DIRTY_FILE));
          dirty.markAll('the agent did not stop cleanly');
          await dirty.save();
        }
        this.mirrors.set(r.id, { config: r, group: group.id, peer, folders, filter, dir, target, source: undefined, refusal: undefined, unclean });
        const endpoint = r.endpoints[nodeId]!;
        listen.set(endpoint, [...(listen.get(endpoint) ?? []), r.id]);
      }
    }
    this.watch = setInterval(() => this.checkBehind(), 250);
    this.watch.unref();
    for (const endpoint of listen.keys()) {
      const { host, port } = splitHostPort(endpoint);
      this.servers.push(await ReplicationServer.listen({
        host, port, clusterId: config.cluster.id, nodeId, key: this.o.key, ...(this.o.acceptKeys === undefined ? {} : { acceptKeys: this.o.acceptKeys }),
        mirror: (name) => this.endpoint(name),
        onError: (e) => this.o.log(`mirror replication: ${e.message}`),
      }));
    }
  }

  /** Mirrors this node is the source of whose target is not level (MirrorSource.behind). */
  behind(): string[] {
    return this.behindNow;
  }

  private checkBehind(): void {
    const now = Date.now();
    const behind = [...this.mirrors.values()].filter((m) => m.source?.behind(now) === true).map((m) => m.config.id).sort();
    if (behind.join() !== this.behindNow.join()) {
      this.behindNow = behind;
      this.o.onBehindChange?.();
    }
  }

  /**
   * A configuration applied live (classifyChange: every other change to a mirror is a reload): each mirror's
   * bandwidth limit is taken by its running source at once, so that a resync under way goes on at the new pace.
   */
  applyLiveConfig(config: ClusterConfig): void {
    for (const r of config.groups.flatMap((g) => g.resources)) {
      if (r.kind !== 'mirror') continue;
      const m = this.mirrors.get(r.id);
      if (m === undefined) continue;
      const before = m.config.maxSendRate;
      m.config = r;
      if (r.maxSendRate === before) continue;
      m.source?.setMaxBytesPerSecond(r.maxSendRate);
      this.o.log(`mirror ${r.id}: bandwidth limit ${r.maxSendRate === undefined ? 'removed' : `now ${r.maxSendRate} bytes per second`}`);
    }
  }

  /**
   * This node's access to extended attributes for a mirror that wants them (`mirrorXattrs`), or nothing, said once
   * per mirror: a node without the addon mirrors mode, owner and times only.
   */
  private xattrAccess(id: string, wanted: boolean): { xattrs?: ExtendedAttributes } {
    if (!wanted) return {};
    const { access, why } = extendedAttributes();
    if (access !== undefined) return { xattrs: access };
    if (!this.xattrsWarned.has(id)) {
      this.xattrsWarned.add(id);
      this.o.log(`mirror ${id}: extended attributes and ACLs are not mirrored: ${why ?? 'no adapter'}`);
    }
    return {};
  }

  private mirror(id: string): Mirror {
    const m = this.mirrors.get(id);
    if (!m) throw new MirrorCommandError('NOT_FOUND', `no mirror "${id}" on this node (mirrors: ${[...this.mirrors.keys()].join(', ') || 'none'})`);
    return m;
  }

  /** What the transport sees of a mirror's target on this node. */
  private endpoint(name: string): MirrorEndpoint | undefined {
    const m = this.mirrors.get(name);
    return m === undefined ? undefined : targetEndpoint(m.target, m.config.blockSize);
  }

  // ---- the mirror resource's roles ----

  async promote(id: string): Promise<Outcome> {
    const m = this.mirrors.get(id);
    if (!m) return { rc: 6, message: `mirror ${id} is not configured for this node` };
    if (m.source) return { rc: 0, message: 'already the source' };
    const state = m.target.current;
    if (!state.consistent) {
      return { rc: 1, message: `this node's copy of ${id} is inconsistent (a resync from ${m.peer} was interrupted): it cannot become the source` };
    }
    // A copy that took its generation from the peer starts a new one; a copy whose generation began here (it was
    // the source, and nobody took over since, or the peer would hold a newer one and refuse us) carries on.
    const lineage = state.promotedHere ? state.lineage : nextGeneration(state.lineage);
    m.target.active = false;
    // What it hashed is saved for the source to compare from (the rest it reads).
    await m.target.stopBackgroundListing();
    await m.target.promote({ current: lineage.current, history: [...lineage.history] });
    const peer = splitHostPort(m.config.endpoints[m.peer]!);
    const source = new MirrorSource({
      id, folders: m.folders, filter: m.filter, dir: m.dir, journalBytes: m.config.journalSize, blockSize: m.config.blockSize,
      blockHash: m.config.blockHash, owner: this.o.runningAsRoot && m.config.mirrorOwner, peer: { node: m.peer, ...peer }, clusterId: this.o.config.cluster.id,
      nodeId: this.o.nodeId, key: this.o.key, lineage: () => m.target.current.lineage, paused: state.pausedSource, resyncOnStart: m.unclean,
      log: this.o.log, onRefused: (why) => { m.refusal = why; }, listingIndexFile: join(m.dir, LISTING_INDEX_FILE),
      ...(m.config.maxSendRate === undefined ? {} : { maxBytesPerSecond: m.config.maxSendRate }),
      ...this.xattrAccess(id, m.config.mirrorXattrs),
    });
    try {
      await source.start();
    } catch (e) {
      m.target.active = true;
      return { rc: 1, message: `mirror ${id}: ${(e as Error).message}` };
    }
    m.source = source;
    m.refusal = undefined;
    m.unclean = false;
    this.checkBehind();
    return { rc: 0, message: `this node's copy of ${id} is the source (generation ${lineage.current}); sending to ${m.peer}` };
  }

  async demote(id: string): Promise<Outcome> {
    const m = this.mirrors.get(id);
    if (!m) return { rc: 0, message: `mirror ${id} is not configured for this node` };
    const source = m.source;
    if (!source) return { rc: 0, message: 'not the source' };
    const budget = Math.max(0, m.config.stopTimeout - 2000);
    const drained = await source.stop(Date.now() + budget);
    m.source = undefined;
    m.target.active = true;
    m.target.startBackgroundListing();
    return { rc: 0, message: drained ? `sent everything to ${m.peer}; now a target` : `stopped with changes not yet at ${m.peer} (they stay in the journal and a resync follows)` };
  }

  check(id: string): Outcome {
    const m = this.mirrors.get(id);
    if (!m?.source) return { rc: 7, message: 'not the source' };
    if (m.refusal !== undefined) return { rc: 1, message: m.refusal };
    if (m.source.captureFailure !== undefined) return { rc: 1, message: `capture failed: ${m.source.captureFailure}` };
    return { rc: 0, message: 'source' };
  }

  // ---- operator commands and status ----

  async command(action: MirrorAction, name: string | undefined, options: { readonly thorough?: boolean } = {}): Promise<{ status: MirrorStatus[]; verify?: MirrorVerifyReport; message?: string }> {
    if (action === 'status') {
      const ids = name === undefined ? [...this.mirrors.keys()] : [this.mirror(name).config.id];
      return { status: await Promise.all(ids.map((id) => this.status(id))) };
    }
    const m = this.mirror(name!);
    const source = m.source;
    let message: string;
    switch (action) {
      case 'full':
      case 'diff':
        if (!source) throw new MirrorCommandError('CONFLICT', `${m.config.id}: this node is the target; run it on the source (the node running ${m.group})`);
        source.requestResync(action, options);
        message = `${action === 'full' ? 'full' : options.thorough === true ? 'thorough differential' : 'differential'} mirror of ${m.config.id} to ${m.peer} requested`;
        break;
      case 'pause-target':
        if (source) await source.callTarget('pause');
        else await m.target.pause();
        message = `${m.config.id}: target writes paused; what arrives is spooled on the target`;
        break;
      case 'pause-source':
        if (!source) throw new MirrorCommandError('CONFLICT', `${m.config.id}: this node is the target; run it on the source`);
        await source.pause();
        await m.target.setPausedSource(true);
        message = `${m.config.id}: transmission paused; changes are spooled in the source's journal`;
        break;
      case 'resume':
        if (source) {
          source.resume();
          await m.target.setPausedSource(false);
          try { await source.callTarget('resume'); } catch { /* not connected yet: the target resumes on its own command */ }
        } else {
          await m.target.resume();
        }
        message = `${m.config.id}: resumed`;
        break;
      case 'verify': {
        if (!source) throw new MirrorCommandError('CONFLICT', `${m.config.id}: verify runs on the source (the node running ${m.group})`);
        const r = await source.verify();
        // As the user knows them: a path under this node's folder, or the peer's for one only there.
        const here = shownPath(m.folders);
        const there = shownPath(m.config.folders.map((f) => mirrorFolderOn(f, m.peer)!));
        const verify = {
          id: m.config.id, equal: r.equal, missing: r.missing.map(here), extra: r.extra.map(there), contentDiffers: r.contentDiffers.map(here),
          metadataDiffers: r.metadataDiffers.map((d) => ({ path: here(d.path), fields: d.fields })),
        };
        return { status: [await this.status(m.config.id)], verify };
      }
    }
    return { status: [await this.status(m.config.id)], message };
  }

  async status(id: string): Promise<MirrorStatus> {
    const m = this.mirror(id);
    const now = Date.now();
    const state = m.target.current;
    const base = { id, group: m.group, node: this.o.nodeId, peer: m.peer, generation: state.lineage.current, pausedTarget: state.pausedTarget };
    if (m.source) {
      const s = m.source.status(now);
      let targetQueue: { records: number; bytes: number } | undefined;
      let pausedTarget = false;
      if (s.connected) {
        try {
          const t = JSON.parse((await m.source.callTarget('status')).toString('utf8')) as { spool: { records: number; bytes: number }; pausedTarget: boolean };
          targetQueue = t.spool;
          pausedTarget = t.pausedTarget;
        } catch { /* the target did not answer: shown as unknown */ }
      }
      const reasons = [...s.reasons, ...(m.refusal === undefined ? [] : [m.refusal])];
      const state2 = m.refusal !== undefined ? (/DIVERGED|both promoted/.test(m.refusal) ? 'diverged' : 'disconnected')
        : s.paused || pausedTarget ? 'paused' : !s.connected ? 'disconnected' : s.resyncing ? 'resyncing' : s.queue.records > 0 || s.scanning ? 'lagging' : 'in-sync';
      if (!s.connected && !s.paused) reasons.push(`${m.peer} is not reachable: changes queue in the journal`);
      return {
        ...base, role: 'source', state: state2, reasons, connected: s.connected, pausedSource: s.paused, pausedTarget,
        sourceQueue: s.queue, ...(targetQueue === undefined ? {} : { targetQueue }), dirtyFiles: s.dirtyFiles,
        lagBytes: s.lagBytes, lagSeconds: s.lagSeconds, throughput: s.throughput,
        ...(m.config.maxSendRate === undefined ? {} : { maxSendRate: m.config.maxSendRate }),
        ...(m.source.lastSync === undefined ? {} : { lastSync: m.source.lastSync }),
      };
    }
    const reasons: string[] = [];
    if (!state.consistent) reasons.push('this copy is mid-resync: it must not be promoted until the resync completes');
    const notSet = m.target.xattrsNotSetCount;
    if (notSet.last !== undefined) {
      reasons.push(`the extended attributes (ACLs) of ${notSet.count} paths could not be set in this copy, the last ${notSet.last}: \`vigil mirror verify\` lists what differs`);
    }
    const listing = m.target.backgroundListing;
    return {
      ...base, role: 'target', state: !state.consistent ? 'inconsistent' : state.pausedTarget ? 'paused' : 'in-sync', reasons,
      connected: false, pausedSource: state.pausedSource, targetQueue: m.target.spoolStats(), dirtyFiles: 0, lagBytes: 0, lagSeconds: 0,
      throughput: m.target.throughput(now),
      ...(listing === undefined ? {} : { backgroundListing: listing }),
    };
  }

  async close(): Promise<void> {
    if (this.watch) clearInterval(this.watch);
    for (const m of this.mirrors.values()) {
      await m.source?.stop();
      m.source = undefined;
      await m.target.close();
      // The journal and the copy are not fsynced as they go: make the disk hold them before saying "clean". Not
      // spawnSync: a busy disk can take seconds, and the agent must keep heartbeating meanwhile.
      try {
        for (const path of [m.dir, ...m.folders]) await syncFileSystem(path);
        rmSync(join(m.dir, 'running'), { force: true });
      } catch (e) {
        // The marker stays: the next start treats this stop as a crash and resyncs.
        this.o.log(`mirror ${m.config.id}: ${(e as Error).message}: not known to be on disk, the next start resyncs`);
      }
    }
    for (const s of this.servers) await s.close();
  }
}
