/**
 * The target side of one mirror on one node: what a source's stream lands in.
 *
 * Records are applied to the node's folders in order; their effect is made durable (fsync of what was written,
 * then the mirror state with the last applied seq) before the transport acknowledges them, so an acknowledged
 * record is never lost by a crash of the target. While target writes are paused, records go to the spool (a
 * journal on disk) instead, leaving the copy frozen at a consistent point; resume applies the spool in order.
 *
 * A source is accepted only when its copy is the same generation as ours or newer (lineage.ts); an older or a
 * diverged source is refused with a reason, so a stale copy never overwrites a newer one.
 */
import { lstat, mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Applier, ApplyError, type XattrsNotSet } from './apply.js';
import { NO_XATTRS, xattrDigestOf, type ExtendedAttributes } from './xattrs.js';
import { WriteThread } from './write-thread.js';
import type { BlockHashName } from './block-hash.js';
import { BLOCK_HASH_BYTES, blockCount, keptMtime, type FileIndex } from './block-index.js';
import { ReadThread } from './read-thread.js';
import { ListingIndex, listedIndex, otherRoleIndex, type Indexer, type Listed } from './listing-index.js';
import { splitVirtualPath, virtualPath } from './changes.js';
import type { PathFilter } from './glob.js';
import { joinParts } from '../util/buffer-parts.js';
import { Journal } from './journal.js';
import { adoptLineage, compareLineage, type Lineage } from './lineage.js';
import { MirrorStateFile, type MirrorNodeState } from './mirror-state.js';
import { decodeRecordInPlace, relativePathProblem, sameMtime, type PutEntry, type WireRecord } from './records.js';
import { lookahead } from './lookahead.js';
import { rootEntry, scanTree, type LstatMany, type TreeEntry } from './tree.js';
import { treeManifest, encodeManifest, type Manifest } from './verify.js';

export interface TargetOptions {
  readonly id: string;
  readonly folders: readonly string[];
  readonly filter: PathFilter;
  readonly stateFile: string;
  readonly spoolDir: string;
  readonly spoolBytes: number;
  readonly applyOwner: boolean;
  readonly state: MirrorNodeState;
  readonly log: (line: string) => void;
  /**
   * Where a listing keeps the block hashes it made, by path with size, mtime and inode, so that the next one
   * hashes only the files changed since (absent: every listing hashes every file).
   */
  readonly listingIndexFile?: string;
  /**
   * This node's block index from when it was the mirror's source (MirrorSource's `index`): where the listing
   * index has nothing that still holds, a file unchanged since this node last read it as the source is listed from
   * it, not read again (the node that was the source, back as the target after a switchover).
   */
  readonly ownIndexFile?: string;
  /**
   * The block size and hash of this node's mirror configuration: with them, after a resync that wrote to the copy
   * (a full mirror leaves the listing index nothing), the target lists its copy in the background, so that this
   * node, should it become the source, compares from the index instead of reading the copy (absent: the next
   * listing a source asks for reads what changed).
   */
  readonly backgroundListing?: { readonly blockSize: number; readonly blockHash: BlockHashName };
  /** How long the background listing waits for the block hashes a source said would follow (default 30 s). */
  readonly seedWaitMs?: number;
  /** Extended attributes are applied and listed (xattrs.ts); absent, this target lists no 'xattrs' feature. */
  readonly xattrs?: ExtendedAttributes;
}

/** A refusal the source sees as the HELLO's error code. */
export class MirrorRefusal extends Error {
  constructor(readonly code: 'STALE_SOURCE' | 'DIVERGED' | 'NOT_TARGET' | 'INCONSISTENT', message: string) {
    super(message);
    this.name = 'MirrorRefusal';
  }
}

/** A file of the source's index, vouched for at a resync's end (see MirrorTarget.seedListing). */
export interface SeedFile {
  readonly path: string;
  readonly size: number;
  /** The source's mtime, which the records' meta set here. */
  readonly mtimeMs: number;
  /** The block hashes, concatenated, base64. */
  readonly blocks: string;
}

/** Files of a seed looked at together: their lstats go to libuv's threads at once. */
const SEED_BATCH = 64;
/** How long a background listing waits for the block hashes a source said would follow its resync-done. */
const SEED_WAIT_MS = 30_000;

/** One file of the target's listing for a differential mirror: enough for the source to compute what to send. */
export interface TargetFile {
  readonly path: string;
  readonly type: 'file' | 'dir' | 'symlink';
  readonly size: number;
  readonly mtimeMs: number;
  readonly linkTarget?: string;
  /**
   * The target's permission bits and owner (absent from targets before them): the source sends a file's metadata
   * only where it differs.
   */
  readonly mode?: number;
  readonly uid?: number;
  readonly gid?: number;
  readonly blockSize?: number;
  /**
   * The digest of the travelling extended attributes (xattrs.ts), absent where there are none or the target
   * applies none (see its 'xattrs' feature).
   */
  readonly xattrs?: string;
  /** The block hashes, concatenated, base64; only for files. */
  readonly blocks?: string;
  /**
   * The number of the first block in `blocks`, when a large file's hashes come in several entries (a paged
   * listing): the rest follow in order, right after the first entry (absent: 0). A whole listing never splits.
   */
  readonly firstBlock?: number;
  /**
   * Another name of an earlier file of the same folder (a hard link): that file's path (absent from targets
   * before hard links). A source must not write such a file in place unless its names are one file there too.
   */
  readonly linkedTo?: string;
}

/** One entry of a listing as walked: a file's index with it (absent: not a file, or gone meanwhile). */
interface WalkedEntry {
  readonly folder: number;
  readonly entry: TreeEntry;
  readonly listed: Listed | undefined;
}

const LISTING_LOOKAHEAD = 16;
/**
 * Block hashes per entry of a paged listing: 32,768 (2 GiB of a file at 64 KiB blocks) make about 700 KB of
 * base64, so an entry of any file fits in a page, and a page in a call's 16 MiB.
 */
export const LISTING_ENTRY_BLOCKS = 32_768;

export class MirrorTarget {
  private appliers: Applier[];
  private readonly listingIndex: ListingIndex;
  /** Whole small files (put records) are written on it, for every folder's applier. */
  private readonly writeThread = new WriteThread();
  private spool: Journal | undefined;
  private applyingSpool = false;
  private appliedBytes = 0;
  /** apply() calls not yet settled; and a folder being emptied, which later records wait for. */
  private readonly inFlight = new Set<Promise<unknown>>();
  private exclusive: Promise<unknown> | undefined;
  private readonly rate: { at: number; bytes: number }[] = [];
  /** The background listing while it runs (see backgroundListing; it never rejects), and the last one's progress. */
  private backgroundRun: Promise<void> | undefined;
  private backgroundProgress: { readonly startedAt: number; files: number; finishedAt?: number } | undefined;
  /** Aborts the background listing: its read thread is closed, so no file's hashing, however long, holds it up. */
  private backgroundAbort: AbortController | undefined;
  /** The source said its block hashes follow its resync-done (seedListing): the background listing waits for them, this long at most. */
  private seedWait: NodeJS.Timeout | undefined;
  /** Records received for the copy in this run (applied or spooled), and how many before the source's last reset. */
  private recordsApplied = 0;
  private recordsAtReset = 0;
  /** False while this node is the mirror's source: its own copy is live, nothing may be applied to it. */
  active = true;

  private readonly stateFile: MirrorStateFile;

  constructor(private readonly o: TargetOptions, private state: MirrorNodeState) {
    this.stateFile = new MirrorStateFile(o.stateFile);
    this.appliers = o.folders.map((f) => this.applier(f));
    this.listingIndex = new ListingIndex(o.listingIndexFile, o.log);
  }

  /**
   * Applied data is left to the page cache, not fsynced record by record: that is what makes the mirror as fast
   * as the disk allows. The price is paid only after a crash: the service then forgets the stream (see
   * forgetStream), and the source brings the copy level by a differential mirror.
   */
  private applier(root: string): Applier {
    return new Applier(root, {
      applyOwner: this.o.applyOwner, durable: false, writeThread: this.writeThread,
      ...(this.o.xattrs === undefined ? {} : { xattrs: this.o.xattrs, onXattrsNotSet: (problem: XattrsNotSet) => this.noteXattrsNotSet(root, problem) }),
    });
  }

  /** After a crash of this node: what was acknowledged may not have reached the disk; a resync must follow. */
  async forgetStream(): Promise<void> {
    await this.persist({ ...this.state, lastApplied: 0, streamOf: undefined });
  }

  async open(unclean = false): Promise<void> {
    for (const f of this.o.folders) await mkdir(f, { recursive: true });
    // After a crash the resync brings the copy level; spooled records from before it must not be replayed on top.
    if (unclean) await rm(this.o.spoolDir, { recursive: true, force: true });
    // Nor may a listing trust hashes of bytes the machine may have lost (an overwrite's data reaches the disk
    // after its mtime): neither its own nor those this node made as the source (the service has the source resync).
    if (unclean) {
      for (const file of [this.o.listingIndexFile, this.o.ownIndexFile]) if (file !== undefined) await rm(file, { force: true });
    }
    this.spool = await Journal.open(this.o.spoolDir, { maxBytes: this.o.spoolBytes, fsync: 'batch' });
    if (!this.state.pausedTarget) await this.drainSpool();
    // One the last run left unfinished carries on (what it hashed was saved).
    this.startBackgroundListing();
  }

  get current(): MirrorNodeState { return this.state; }

  /** The state takes effect at once; the promise settles when it is on disk. */
  private persist(next: MirrorNodeState): Promise<void> {
    this.state = next;
    return this.stateFile.save(next);
  }

  lastApplied(): number {
    return this.state.lastApplied;
  }

  /** Whether a source with this lineage may stream to us, and from where. */
  async hello(source: { node: string; lineage: Lineage }): Promise<void> {
    if (!this.active) throw new MirrorRefusal('NOT_TARGET', `mirror ${this.o.id}: this node is the source`);
    const verdict = compareLineage(this.state.lineage, source.lineage);
    if (verdict === 'mine-newer') {
      throw new MirrorRefusal('STALE_SOURCE', `mirror ${this.o.id}: ${source.node}'s copy (generation ${source.lineage.current}) is older than this node's (${this.state.lineage.current}); it must not overwrite it: move the group here and resync ${source.node}`);
    }
    if (verdict === 'diverged') {
      throw new MirrorRefusal('DIVERGED', `mirror ${this.o.id}: ${source.node} (generation ${source.lineage.current}) and this node (${this.state.lineage.current}) were both promoted apart; neither copy is overwritten: choose one with \`vigil mirror full ${this.o.id}\` on the node whose copy is to be kept`);
    }
    // A new stream (another source, or the same one after a promotion) counts its seqs afresh.
    const stream = `${source.node}`;
    if (this.state.streamOf !== stream) await this.persist({ ...this.state, streamOf: stream, lastApplied: 0 });
  }

  /** This node's copy becomes the source's, in a new generation. */
  async promote(lineage: { current: string; history: string[] }): Promise<void> {
    await this.persist({ ...this.state, lineage, streamOf: undefined, lastApplied: 0, promotedHere: true });
  }

  async setPausedSource(paused: boolean): Promise<void> {
    await this.persist({ ...this.state, pausedSource: paused });
  }

  /**
   * A full mirror starts from empty folders, and with no hashes of them: neither the listing index nor the index
   * this node made as the source describes the files it writes, whose inodes may be those of files it removed
   * (with the same size and mtime, an old index would vouch for them). Whenever this node is the source next, its
   * promotion's differential mirror takes the listing of what the full mirror wrote instead.
   */
  async clear(): Promise<void> {
    await this.persist({ ...this.state, consistent: false });
    await this.stopBackgroundListing();
    await this.listingIndex.replaced();
    if (this.o.ownIndexFile !== undefined) await rm(this.o.ownIndexFile, { force: true });
    for (let k = 0; k < this.o.folders.length; k++) await this.emptyFolder(k);
  }

  /** The source reset its stream (its journal no longer covers what we applied): a resync follows. */
  async resetStream(lastApplied: number): Promise<void> {
    this.recordsAtReset = this.recordsApplied;
    await this.persist({ ...this.state, lastApplied, consistent: false });
  }

  /** The resync the source ran is complete: our copy now holds its generation. */
  async resyncDone(source: Lineage, seeding = false): Promise<void> {
    const lineage = adoptLineage(source);
    // A pause of transmission was this node's as a source; the stream it paused is gone now that it follows another.
    const saved = this.persist({ ...this.state, consistent: true, lineage: { current: lineage.current, history: [...lineage.history] }, promotedHere: false, pausedSource: false });
    // A resync that wrote nothing (a level copy) leaves the listing index as its listing made it. Started before the
    // save settles, so that a close or promotion meanwhile finds it running and stops it.
    const marked = this.recordsApplied !== this.recordsAtReset ? this.listingIndex.markDue() : undefined;
    clearTimeout(this.seedWait);
    if (seeding) this.seedWait = setTimeout(() => this.startBackgroundListing(), this.o.seedWaitMs ?? SEED_WAIT_MS).unref();
    else this.startBackgroundListing();
    await saved;
    await marked;
  }

  /**
   * The block hashes of the source's index after a resync, every record of it applied: each file whose size and
   * mtime here are those the source's index has (its records end with the meta that set the mtime, and a later
   * change sets another) goes into the listing index with this node's inode and mtime, so that the background
   * listing finds it unchanged and reads nothing of it. It still looks at every file, and hashes what was not
   * taken. Only for the background listing's block size and hash. Answers how many files were taken. The `last`
   * call starts the background listing that resyncDone held back for them.
   */
  async seedListing(blockSize: number, blockHash: BlockHashName, files: readonly SeedFile[], last = true): Promise<number> {
    try {
      return await this.takeSeed(blockSize, blockHash, files);
    } finally {
      if (last && this.seedWait !== undefined) {
        clearTimeout(this.seedWait);
        this.seedWait = undefined;
        this.startBackgroundListing();
      }
    }
  }

  private async takeSeed(blockSize: number, blockHash: BlockHashName, files: readonly SeedFile[]): Promise<number> {
    const asked = this.o.backgroundListing;
    if (asked === undefined || asked.blockSize !== blockSize || asked.blockHash !== blockHash || !this.state.consistent) return 0;
    const store = await this.listingIndex.open(blockHash);
    if (store === undefined) return 0;
    let taken = 0;
    try {
      for (let i = 0; i < files.length; i += SEED_BATCH) {
        const batch = files.slice(i, i + SEED_BATCH);
        const stats = await Promise.all(batch.map((f) => {
          const { folder, rel } = splitVirtualPath(f.path);
          const root = this.o.folders[folder];
          return root === undefined || rel === '' ? undefined : lstat(join(root, rel)).catch(() => undefined);
        }));
        batch.forEach((f, k) => {
          const st = stats[k];
          if (st === undefined || !st.isFile() || st.size !== f.size || !sameMtime(st.mtimeMs, f.mtimeMs)) return;
          // The store refuses hashes that do not fit the size, naming the path.
          store.set(f.path, { size: st.size, blockSize, hashes: Buffer.from(f.blocks, 'base64'), mtimeMs: keptMtime(st.mtimeMs), ino: st.ino });
          taken++;
        });
      }
    } finally {
      await this.listingIndex.close();
    }
    return taken;
  }

  /**
   * After a resync wrote to the copy (a full mirror, or the first one onto an empty folder), list it in the
   * background into the listing index (nothing is sent): the next differential mirror's listing, or this node as
   * the source after a failover, then reads only the files changed since, where it would read what the resync
   * wrote. Records applied meanwhile are safe: a file is hashed after its fstat, and the records that change it
   * set its mtime last, so an entry made of a torn read no longer matches the file. Runs while this node is the
   * target of a consistent copy whose writes are not paused and the listing index is due (ListingIndex.due:
   * carried on at the next start); stopped by close(), a full mirror and a promotion.
   */
  startBackgroundListing(): void {
    const asked = this.o.backgroundListing;
    // While writes are paused the spool's records are still to land: resume() starts it after them.
    if (asked === undefined || this.backgroundRun !== undefined || !this.active || !this.state.consistent || this.state.pausedTarget || !this.listingIndex.due) return;
    const abort = new AbortController();
    this.backgroundAbort = abort;
    const progress: { readonly startedAt: number; files: number; finishedAt?: number } = { startedAt: Date.now(), files: 0 };
    this.backgroundProgress = progress;
    this.o.log(`mirror ${this.o.id}: listing the copy in the background (a resync wrote to it since the last listing)`);
    const describe = (files: number, hashed: number): string =>
      `listed the copy in the background: ${files} files, ${hashed} of them hashed, in ${((Date.now() - progress.startedAt) / 1000).toFixed(2)} s`;
    const run = (async () => {
      try {
        // Nothing to send: the walk only fills the listing index.
        for await (const walked of this.walk(asked.blockSize, asked.blockHash, false, describe, abort.signal)) {
          if (walked.listed !== undefined) progress.files++;
        }
      } catch (e) {
        // Stopped in the middle of a read, the thread's end is the stop, not a fault.
        if (!abort.signal.aborted) {
          this.o.log(`mirror ${this.o.id}: the background listing stopped (${(e as Error).message}): the next listing hashes what it did not`);
          return;
        }
      }
      // A stop that came after the walk completed (the due mark already gone) stopped nothing.
      if (abort.signal.aborted && this.listingIndex.due) this.o.log(`mirror ${this.o.id}: the background listing stopped after ${progress.files} files (what it hashed is kept; it carries on at the next start while due)`);
    })();
    this.backgroundRun = run.finally(() => {
      this.backgroundRun = undefined;
      progress.finishedAt = Date.now();
    });
  }

  /** The last background listing in this run: when it started, how many files it listed, when it ended (if it has). */
  get backgroundListing(): { readonly startedAt: number; readonly files: number; readonly finishedAt?: number } | undefined {
    return this.backgroundProgress === undefined ? undefined : { ...this.backgroundProgress };
  }

  /**
   * Ends a background listing now (a file being hashed is given up: a promotion must not wait for a large one),
   * what it hashed saved; resolves once it has.
   */
  async stopBackgroundListing(): Promise<void> {
    clearTimeout(this.seedWait);
    this.seedWait = undefined;
    this.backgroundAbort?.abort();
    await this.backgroundRun;
  }

  /**
   * Calls come in seq order and may overlap (the transport pipelines them): each record goes to the spool while
   * writes are paused, else to its folder's applier, which keeps overlapping records in order. Emptying a whole
   * folder replaces its applier, so that one waits for everything before it and holds back everything after.
   */
  apply(seq: number, payload: Buffer): Promise<void> {
    const run = this.applyInOrder(payload);
    const settled = run.catch(() => undefined);
    this.inFlight.add(settled);
    void settled.then(() => this.inFlight.delete(settled));
    return run.then(() => {
      this.appliedBytes += payload.length;
      this.noteRate(payload.length);
    });
  }

  /** Every record up to `seq` is applied: where a reconnecting source resumes (saved by flush and close). */
  appliedThrough(seq: number): void {
    // A record of the previous connection may land after a reset moved lastApplied ahead: never move it back.
    this.state = { ...this.state, lastApplied: Math.max(this.state.lastApplied, seq) };
  }

  /** Synchronous up to its first await: that is what keeps the calls' order. */
  private applyInOrder(payload: Buffer): Promise<void> {
    this.recordsApplied++;
    if (this.state.pausedTarget || this.applyingSpool) return this.spool!.append(payload).then(() => undefined);
    let record: WireRecord;
    try {
      // The payload is the transport's, received for this call alone and never written to.
      record = decodeRecordInPlace(payload);
    } catch (e) {
      return Promise.reject(e);
    }
    const after = this.exclusive ?? Promise.resolve();
    if (record.op === 'delete' && splitVirtualPath(record.path).rel === '') {
      const { folder } = splitVirtualPath(record.path);
      const run = Promise.all([after, ...this.inFlight]).then(() => this.emptyFolder(folder));
      const settled = run.catch(() => undefined);
      this.exclusive = settled;
      void settled.then(() => { if (this.exclusive === settled) this.exclusive = undefined; });
      return run;
    }
    return this.exclusive === undefined ? this.applyRecord(record) : after.then(() => this.applyRecord(record));
  }

  /**
   * Record what apply() did (the spool durably; the copy itself is left to the page cache, see applier()); the
   * transport acknowledges after this, so it must not wait: the apply loop stands still meanwhile.
   */
  async flush(): Promise<void> {
    if (this.state.pausedTarget || this.applyingSpool) await this.spool?.flush();
    // lastApplied is not saved here: it only matters after a clean stop (close() saves it), since after a crash
    // the stream is forgotten. A save here (a synchronous write and two fsyncs, once a second) stalled the agent,
    // heartbeats included, for up to a hundred milliseconds while the disk was busy.
  }

  private async applyRecord(record: WireRecord): Promise<void> {
    if (record.op === 'puts') return this.applyPuts(record.files);
    const { folder, rel } = splitVirtualPath(record.op === 'rename' ? record.from : record.path);
    const applier = this.appliers[folder];
    if (applier === undefined) throw new Error(`record for folder ${folder}, but mirror ${this.o.id} has ${this.appliers.length}`);
    if (rel === '') {
      // The folder itself: it exists; a delete of it empties it; its metadata and attributes are set after what
      // came before.
      if (record.op === 'delete') await this.emptyFolder(folder);
      else if (record.op === 'meta' || record.op === 'xattrs') await applier.applyToRoot(record);
      return;
    }
    const strip = (v: string): string => splitVirtualPath(v).rel;
    if (record.op === 'rename') await applier.apply({ op: 'rename', from: rel, to: strip(record.to) });
    else if (record.op === 'link') await applier.apply({ op: 'link', path: rel, existing: linkedWithin(record, folder) });
    else await applier.apply({ ...record, path: rel });
  }

  /**
   * A puts record's files, each run of one folder's files as a puts record to that folder's applier (a source
   * sends one folder's files per record, but the record does not promise it). All are handed over before the
   * first await, as applyRecord's one record is: the appliers keep the order of their calls.
   */
  private applyPuts(files: PutEntry[]): Promise<void> {
    const runs: { folder: number; files: PutEntry[] }[] = [];
    for (const file of files) {
      const { folder, rel } = splitVirtualPath(file.path);
      // A file where the folder itself is: as for a put of it, nothing (the folder exists).
      if (rel === '') continue;
      let run = runs[runs.length - 1];
      if (run?.folder !== folder) runs.push(run = { folder, files: [] });
      // The record was decoded for this call alone: its entries take their path within the folder in place.
      file.path = rel;
      run.files.push(file);
    }
    return Promise.all(runs.map(({ folder, files: run }) => {
      const applier = this.appliers[folder];
      if (applier === undefined) return Promise.reject(new Error(`record for folder ${folder}, but mirror ${this.o.id} has ${this.appliers.length}`));
      return run.length === 1 ? applier.apply({ op: 'put', ...run[0]! }) : applier.apply({ op: 'puts', files: run });
    })).then(() => undefined);
  }

  private async emptyFolder(folder: number): Promise<void> {
    const root = this.o.folders[folder]!;
    await this.appliers[folder]!.close();
    for (const name of await readdir(root)) await rm(join(root, name), { recursive: true, force: true });
    this.appliers[folder] = this.applier(root);
  }

  /** From now on records are spooled; the copy stands still once the records already being applied land. */
  async pause(): Promise<void> {
    await this.persist({ ...this.state, pausedTarget: true });
    await Promise.all([...this.inFlight]);
  }

  /** End a target pause: the spooled records are applied in order, then live ones again. */
  async resume(): Promise<void> {
    await this.persist({ ...this.state, pausedTarget: false });
    await this.drainSpool();
    this.startBackgroundListing();
  }

  private async drainSpool(): Promise<void> {
    const spool = this.spool!;
    if (spool.stats().records === 0) return;
    this.applyingSpool = true; // records arriving meanwhile queue behind the spool
    try {
      for (;;) {
        const { ackedSeq, lastSeq } = spool.stats();
        if (ackedSeq >= lastSeq || this.state.pausedTarget) break;
        const batch = await spool.read(ackedSeq + 1, 4 * 1024 * 1024);
        // A spool holds no memory-only records: each payload is one Buffer already, and joinParts copies none.
        for (const r of batch) await this.applyRecord(decodeRecordInPlace(joinParts(r.payload)));
        for (const a of this.appliers) await a.sync();
        await spool.ack(batch[batch.length - 1]!.seq);
      }
    } finally {
      this.applyingSpool = false;
    }
    this.o.log(`mirror ${this.o.id}: target spool applied`);
  }

  spoolStats(): { records: number; bytes: number } {
    const s = this.spool?.stats();
    return s === undefined ? { records: 0, bytes: 0 } : { records: s.records, bytes: s.bytes };
  }

  throughput(now: number): number {
    while (this.rate.length > 0 && this.rate[0]!.at < now - 5000) this.rate.shift();
    return Math.round(this.rate.reduce((n, r) => n + r.bytes, 0) / 5);
  }

  private noteRate(bytes: number): void {
    const now = Date.now();
    const last = this.rate[this.rate.length - 1];
    if (last !== undefined && now - last.at < 100) last.bytes += bytes;
    else this.rate.push({ at: now, bytes });
  }

  /**
   * The target's tree with block hashes, for a differential mirror, in the scan's order, with the source's block
   * size and hash. Files are hashed on a read thread, LISTING_LOOKAHEAD asked for ahead so that it never waits.
   */
  async listing(blockSize: number, blockHash: BlockHashName, fresh = false): Promise<TargetFile[]> {
    const out: TargetFile[] = [];
    for await (const entry of this.listingEntries(blockSize, blockHash, Number.POSITIVE_INFINITY, fresh)) out.push(entry);
    return out;
  }

  /**
   * The listing one entry at a time, for pages of bounded size: a file with more than `entryBlocks` blocks comes
   * as several entries (see TargetFile's firstBlock). `fresh`: every file is read again, none taken from the last
   * listing (whose hashes are made anew).
   */
  async *listingEntries(blockSize: number, blockHash: BlockHashName, entryBlocks = LISTING_ENTRY_BLOCKS, fresh = false): AsyncGenerator<TargetFile> {
    // A background listing does what this one would: it waits, and takes what that one hashed.
    await this.backgroundRun;
    const describe = (files: number, hashed: number, fromOwn: number): string =>
      `listed ${files} files, ${hashed} of them hashed (the others unchanged since the last listing${fromOwn === 0 ? '' : `; ${fromOwn} of those since this node sent them as the source`})`;
    // The first name listed of each file with several (hard links), by folder and inode.
    const firstNames = new Map<string, string>();
    for await (const { folder, entry: e, listed } of this.walk(blockSize, blockHash, fresh, describe)) {
      const path = virtualPath(folder, e.path);
      const xattrs = this.listedXattrs(folder, e);
      if (e.type !== 'file') {
        yield {
          path, type: e.type, size: e.size, mtimeMs: e.mtimeMs, mode: e.mode, uid: e.uid, gid: e.gid,
          ...(e.linkTarget === undefined ? {} : { linkTarget: e.linkTarget }), ...xattrs,
        };
        continue;
      }
      if (listed === undefined) continue;
      const { index } = listed;
      const linkedTo = e.nlink > 1 ? firstNames.get(`${folder}:${e.ino}`) : undefined;
      if (e.nlink > 1 && linkedTo === undefined) firstNames.set(`${folder}:${e.ino}`, path);
      const file = { path, type: 'file', size: index.size, mtimeMs: index.mtimeMs, mode: e.mode, uid: e.uid, gid: e.gid, blockSize, ...(linkedTo === undefined ? {} : { linkedTo }), ...xattrs } as const;
      // One entry (an empty file's too), or one per entryBlocks blocks.
      for (let first = 0; first === 0 || first < blockCount(index); first += entryBlocks) {
        const blocks = index.hashes.subarray(first * BLOCK_HASH_BYTES, (first + entryBlocks) * BLOCK_HASH_BYTES).toString('base64');
        yield first === 0 ? { ...file, blocks } : { ...file, blocks, firstBlock: first };
      }
    }
  }

  /**
   * A listed file's or folder's travelling attributes (the mirrored folder's own among them), as their digest
   * (none: no field), where this target applies them: the source then sends an xattrs record only where its own
   * differ. Not for symlinks (none travel), nor an entry gone meanwhile.
   */
  private listedXattrs(folder: number, e: TreeEntry): { xattrs?: string } {
    if (this.o.xattrs === undefined || e.type === 'symlink') return {};
    // As the scan's lstat read them (NO_XATTRS: none), else read now.
    const digest = e.xattrs !== undefined ? (e.xattrs === NO_XATTRS ? undefined : e.xattrs) : xattrDigestOf(this.o.xattrs, join(this.o.folders[folder]!, e.path));
    return digest === undefined ? {} : { xattrs: digest };
  }

  /**
   * The xattrs records this copy could not take since the agent started (its status says so, with the last), each
   * kind of failure logged once.
   */
  private readonly xattrsNotSet: { count: number; last?: string; logged: Set<string> } = { count: 0, logged: new Set() };

  private noteXattrsNotSet(root: string, problem: XattrsNotSet): void {
    this.xattrsNotSet.count++;
    this.xattrsNotSet.last = `${join(root, problem.path)}: ${problem.message}`;
    if (this.xattrsNotSet.logged.has(problem.code)) return;
    this.xattrsNotSet.logged.add(problem.code);
    this.o.log(`mirror ${this.o.id}: extended attributes of ${join(root, problem.path)} not set in the copy (${problem.message}); further ${problem.code} failures are counted in the status, not logged`);
  }

  /** How many xattrs records this copy could not take since the agent started, and the last one's path and error. */
  get xattrsNotSetCount(): { readonly count: number; readonly last?: string } {
    return this.xattrsNotSet.last === undefined ? { count: 0 } : { count: this.xattrsNotSet.count, last: this.xattrsNotSet.last };
  }

  /** Whether this target applies xattrs records (and lists its attributes): the source asks with 'features'. */
  get appliesXattrs(): boolean {
    return this.o.xattrs !== undefined;
  }

  /**
   * The copy's entries in the scan's order, each root first, files with their index (from the listing index, this
   * node's own as the source, or hashed now; see listedIndex), kept in the listing index. A walk that completes
   * drops the files it did not find from the listing index and logs `describe`; one that `stop` ends early (closing
   * its read thread, which fails what it was reading) keeps what it hashed.
   */
  private async *walk(blockSize: number, blockHash: BlockHashName, fresh: boolean, describe: (files: number, hashed: number, fromOwn: number) => string,
    stop?: AbortSignal): AsyncGenerator<WalkedEntry> {
    const known = await this.listingIndex.open(blockHash);
    // Loaded at the first file the listing index does not cover, if any.
    let own: Promise<ReadonlyMap<string, FileIndex> | undefined> | undefined;
    const ownIndex = fresh || this.o.ownIndexFile === undefined ? undefined : (): Promise<ReadonlyMap<string, FileIndex> | undefined> =>
      (own ??= otherRoleIndex(this.o.ownIndexFile, blockHash, (why) => this.o.log(`mirror ${this.o.id}: ${why}: the listing goes without this node's index as the source`)));
    const seen = new Set<string>();
    let hashed = 0;
    let fromOwn = 0;
    // The scan's lstats and the hashing run there, off the event loop that also answers heartbeats: one message
    // per folder's entries and per file, where the thread pool took a trip and a promise per entry and per chunk.
    const thread = new ReadThread();
    // With each entry's attributes where this target lists them (listedXattrs): read there, not on the event loop.
    const lstatMany: LstatMany = (paths) => thread.lstat(paths, this.o.xattrs !== undefined);
    const indexer: Indexer = (path) => thread.index(path, blockSize, blockHash);
    const closeThread = (): void => { void thread.close(); };
    // A call, not a property read: the compiler would take one check as true of every later one.
    const stopped = (): boolean => stop?.aborted === true;
    stop?.addEventListener('abort', closeThread, { once: true });
    try {
      for (let k = 0; k < this.o.folders.length; k++) {
        if (stopped()) return;
        const root = this.o.folders[k]!;
        // Gone meanwhile: undefined, and the source sends it again.
        const hash = (e: TreeEntry): Promise<Listed | undefined> => (e.type === 'file'
          ? listedIndex(known, virtualPath(k, e.path), join(root, e.path), e, blockSize, blockHash, fresh, indexer, ownIndex).catch(() => undefined)
          : Promise.resolve(undefined));
        // The root itself first: its mode, owner and time, so that a level root is not made and set again. A
        // source from before this takes the entry as a folder it knows, which it is.
        const rootDir = await rootEntry(root, lstatMany);
        if (rootDir !== undefined) yield { folder: k, entry: rootDir, listed: undefined };
        for await (const { item: e, result } of lookahead(scanTree(root, this.o.filter, lstatMany), LISTING_LOOKAHEAD, hash)) {
          if (stopped()) return;
          const listed = result.ok ? result.value : undefined;
          if (listed !== undefined) {
            if (listed.hashed) hashed++;
            if (listed.ownIndex) fromOwn++;
            seen.add(virtualPath(k, e.path));
          }
          yield { folder: k, entry: e, listed };
        }
      }
      // Complete: what it did not find is gone.
      if (known !== undefined) {
        await this.listingIndex.keepOnly(known, seen);
        this.o.log(`mirror ${this.o.id}: ${describe(seen.size, hashed, fromOwn)}`);
      }
    } finally {
      stop?.removeEventListener('abort', closeThread);
      await thread.close();
      if (known !== undefined) await this.listingIndex.close();
    }
  }

  /** The target's manifest (content hashes) for verify, one folder at a time. */
  async manifest(folder: number): Promise<string> {
    return encodeManifest(await this.folderManifest(folder));
  }

  /** The target's manifest of one folder, not encoded (paged answers encode it a page at a time). */
  async folderManifest(folder: number): Promise<Manifest> {
    const root = this.o.folders[folder];
    if (root === undefined) throw new Error(`mirror ${this.o.id} has no folder ${folder}`);
    return treeManifest(root, this.o.filter, this.o.xattrs);
  }

  async close(): Promise<void> {
    await this.stopBackgroundListing();
    await this.stateFile.save(this.state);
    for (const a of this.appliers) await a.close();
    await this.writeThread.close();
    await this.spool?.close();
  }
}

/** A link record's existing name within `folder`: the folders are separate trees on the target (maybe separate file systems). */
function linkedWithin(record: Extract<WireRecord, { op: 'link' }>, folder: number): string {
  const existing = splitVirtualPath(record.existing);
  if (existing.folder !== folder || existing.rel === '') {
    throw new ApplyError('VIGIL_BAD_PATH', `link ${record.path} -> ${record.existing}: a hard link must name a file in the same mirrored folder`);
  }
  return existing.rel;
}

/** A seed-listing call's files, checked: each names a path in a mirror folder, a size, an mtime and its blocks. */
export function seedFiles(value: unknown): SeedFile[] {
  if (!Array.isArray(value)) throw new Error('seed-listing: "files" is not an array');
  return value.map((f: unknown, i) => {
    const bad = (why: string): never => { throw new Error(`seed-listing: files[${i}]: ${why}`); };
    if (typeof f !== 'object' || f === null) bad('not an object');
    const { path, size, mtimeMs, blocks } = f as Record<string, unknown>;
    if (typeof path !== 'string' || relativePathProblem(path) !== undefined) bad(`path ${JSON.stringify(path)} is not a path in the mirror`);
    if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) bad(`size ${JSON.stringify(size)} is not a byte count`);
    if (typeof mtimeMs !== 'number' || !Number.isFinite(mtimeMs)) bad(`mtimeMs ${JSON.stringify(mtimeMs)} is not a time`);
    if (typeof blocks !== 'string') bad('blocks is not a string');
    return { path: path as string, size: size as number, mtimeMs: mtimeMs as number, blocks: blocks as string };
  });
}
