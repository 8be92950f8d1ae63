/**
 * Turns "this path changed" into the change records that bring a target level with it, sending only what
 * changed: the block-hash index of each file says which byte ranges differ (an append sends only the appended
 * bytes); a new path whose inode is that of a vanished one is a rename; gone paths are deletes.
 *
 * A mirror has one or more folders; in records, a path starts with the folder's index ("0/docs/a.txt"), so one
 * stream carries them all and the target maps each index to its own folder.
 *
 * Records are produced lazily (an async generator), reading at most one chunk of a file at a time, so a large
 * new file never sits in memory whole; the consumer appends them to the journal as they come.
 */
import { lstat, open, readlink } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { resolve } from 'node:path';
import { AppendReader } from './appends.js';
import { ReadThread } from './read-thread.js';
import { TimeSlicer } from '../util/time-slice.js';
import { BufferPool } from '../util/buffer-pool.js';
import { BLOCK_HASH_BYTES, NO_MTIME, RACY_MS, changedRanges, isRacy, readAndIndexFile, readIndexing, sameIndex, type BlockIndexStore, type FileIndex } from './block-index.js';
import type { PathFilter } from './glob.js';
import { sameMtime, type ChangeRecord } from './records.js';
import { DataRecords } from './zero-runs.js';
import { DEFAULT_ACL, NO_XATTRS, sameXattrs, travellingXattrs, xattrDigest, type ExtendedAttributes, type Xattr } from './xattrs.js';
import { lookahead, settle, type LookaheadBudget, type Started } from './lookahead.js';
import { childPath, scanTree, type LstatMany, type TreeEntry, type TreeEntryType } from './tree.js';

/** Bytes per write record: big enough for throughput, small enough to keep journal records and frames modest. */
export const WRITE_CHUNK = 1024 * 1024;
/** Files up to this size are read once, whole, and both indexed and sent from memory. */
const WHOLE_READ_BYTES = 1024 * 1024;
/** Reads of fewer bytes get fresh memory rather than a pooled 1 MiB buffer: they cost the collector little. */
const MIN_LENT_BYTES = 16 * 1024;
/**
 * A reconcile looks at this many paths ahead, reading at most RECONCILE_AHEAD_BYTES of files whole meanwhile. 64
 * small files ahead rather than 16 make the read thread's batches larger: 20,212 reads of a 20,000-file resync in
 * 980 messages instead of 3,590, that stage about a tenth quicker and cheaper (docs/replication.md, "Twenty-fourth
 * round"); the bytes keep the memory of 1 MiB files read ahead where it was with 16.
 */
const RECONCILE_LOOKAHEAD = 64;
const RECONCILE_AHEAD_BYTES = 16 * 1024 * 1024;
/** What a reconcile's probe of an entry may read into memory: a file small enough to be read whole (probe). */
const READ_AHEAD_BUDGET: LookaheadBudget<TreeEntry> = {
  weigh: (e) => (e.type === 'file' && e.size <= WHOLE_READ_BYTES ? e.size : 0),
  max: RECONCILE_AHEAD_BYTES,
};
/**
 * An append of up to this much to a file we indexed is read and sent alone, its older bytes trusted until
 * `suspectAppends` re-reads them (see `trusted`); a bigger growth is hashed whole as any change.
 */
const APPEND_FAST_BYTES = 4 * 1024 * 1024;

/** What the detector needs of a path's lstat; a reconcile takes it from the scan that found the path. */
type PathStat = Omit<TreeEntry, 'path' | 'type' | 'linkTarget'> & { readonly type: TreeEntryType | 'other' };

function pathStat(s: Stats): PathStat {
  const type = s.isFile() ? 'file' : s.isDirectory() ? 'dir' : s.isSymbolicLink() ? 'symlink' : 'other';
  return { type, size: s.size, mode: s.mode & 0o7777, mtimeMs: s.mtimeMs, uid: s.uid, gid: s.gid, ino: s.ino, nlink: s.nlink };
}

/** What a reconcile read ahead for one path: its lstat and, for a small file that changed, its content. */
interface Probe {
  readonly st: PathStat | undefined;
  /** The index the content was compared with: the read is good only while the index still holds this one. */
  readonly previous: FileIndex | undefined;
  readonly whole?: { readonly index: FileIndex; readonly content: Buffer };
  /** For a large file that changed (and does not look appended to), its new index. */
  readonly indexed?: FileIndex;
  /** That index while it is still being made: a reconcile takes the file up once the rest is done. */
  readonly indexing?: Promise<Started<FileIndex>>;
}

/** As rsync, trust size and mtime (and the inode: a replaced file is another one). */
function unchanged(previous: Pick<FileIndex, 'size' | 'mtimeMs' | 'ino'> | undefined, st: PathStat): boolean {
  return previous !== undefined && st.size === previous.size && st.mtimeMs === previous.mtimeMs && st.ino === previous.ino;
}

/**
 * What a look at a changed file takes on trust: `appends` (a watcher's event): an unchanged size, mtime and inode,
 * and a file that only seems appended to, whose new bytes alone are read (its older ones checked a second later);
 * `unchanged` (a resync): only the first, a grown file is hashed whole, so the copy is level when the pass ends;
 * `nothing` (a thorough look): every file is hashed whole.
 */
type Trust = 'appends' | 'unchanged' | 'nothing';

/** The same file, grown by little enough that only its new bytes are read first (see `appended`). */
function looksAppended(previous: FileIndex, st: PathStat): boolean {
  return st.ino === previous.ino && st.size > previous.size && st.size - previous.size <= APPEND_FAST_BYTES;
}

export interface ChangeDetectorOptions {
  /** Absolute folders, by index. */
  readonly folders: readonly string[];
  readonly filter: PathFilter;
  readonly index: BlockIndexStore;
  readonly blockSize: number;
  /** Send uid/gid (when the agent runs as root). */
  readonly owner: boolean;
  /** Bytes per write record (default WRITE_CHUNK); a small journal wants small records. */
  readonly writeChunk?: number;
  /** Reads the extended attributes that travel (xattrs.ts); absent, none are sent whatever the target takes. */
  readonly xattrs?: ExtendedAttributes;
}

/** The virtual path of the folder holding `v` ("0" for the root's entries); none for a root. */
function parentOf(v: string): string | undefined {
  const slash = v.lastIndexOf('/');
  return slash > 0 ? v.slice(0, slash) : undefined;
}

/** "0/docs/a.txt" <-> folder 0, "docs/a.txt". */
export function virtualPath(folder: number, rel: string): string {
  return rel === '' ? String(folder) : `${folder}/${rel}`;
}

export function splitVirtualPath(v: string): { folder: number; rel: string } {
  const slash = v.indexOf('/');
  const head = slash < 0 ? v : v.slice(0, slash);
  return { folder: Number(head), rel: slash < 0 ? '' : v.slice(slash + 1) };
}

async function lstatOrUndefined(path: string): Promise<PathStat | undefined> {
  try {
    return pathStat(await lstat(path));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
    throw e;
  }
}

/** The metadata a meta record carries: what sentMeta and the index remember a path was last sent with. */
export interface MetaFields { readonly mode?: number; readonly mtimeMs?: number; readonly uid?: number; readonly gid?: number }

/**
 * Field by field: a reconcile compares every file's (a JSON key per file cost a sixth of its main thread). An mtime
 * within what setting it can keep counts as the same (a differential mirror's listing reads the target's back).
 */
function sameMeta(a: MetaFields, b: MetaFields): boolean {
  return a.mode === b.mode && a.uid === b.uid && a.gid === b.gid
    && (a.mtimeMs === b.mtimeMs || (a.mtimeMs !== undefined && b.mtimeMs !== undefined && sameMtime(a.mtimeMs, b.mtimeMs)));
}

export class ChangeDetector {
  /** Folders and symlinks the target has (files are in the index): what a delete must cover. */
  private readonly dirs = new Set<string>();
  private readonly links = new Map<string, string>();
  /**
   * The metadata last sent per folder and symlink: a reconcile that finds nothing new sends nothing. A file's is
   * kept in its index entry instead, which outlives a restart.
   */
  private readonly sentMeta = new Map<string, MetaFields>();
  /**
   * Folders whose entries (or own times) changed since their mtime was last looked at. A folder's mtime moves
   * with each entry made, renamed or removed in it, on the target too: so it is sent after those records, once
   * per pass of changes (folderTimes), as rsync sets a folder's time after its contents.
   */
  private readonly touchedFolders = new Set<string>();
  /**
   * Folders whose entries this pass's records change on the target, which moves the target's time: theirs is
   * sent even when the source's is the one sent before (its entries were made before that look, their records
   * come now).
   */
  private readonly movedFolders = new Set<string>();
  /**
   * The mtime last sent per folder. No racy rule as for files (RACY_MS): an entry made in the same clock tick
   * as the look leaves the source's time as sent, but its record moves the folder (movedFolders).
   */
  private readonly sentFolderMtime = new Map<string, number>();
  /**
   * The lstat of the folders holding a pass's paths, taken with theirs at its start (their events came after the
   * changes they report, so these hold them): at its end only other folders wait for an lstat, and a pass of
   * appends, which moves no folder, sends its records without one more trip to the disk.
   */
  private folderStats = new Map<string, PathStat | undefined>();
  /**
   * Files that grew and of which only the new bytes were read (the kernel says a file changed, not where): their
   * older bytes are trusted unchanged until `suspectAppends` re-hashes them off the work queue. The number counts
   * the trusted appends, so a check that raced with another append does not clear it.
   */
  private readonly trusted = new Map<string, number>();
  private readonly appends: AppendReader;
  /** The reads a reconcile makes ahead of itself, and the checks of trusted appends, off the main thread. */
  private readonly readThread = new ReadThread();
  /**
   * Threads of their own for a reconcile's hashing of changed large files, taking turns. On the read thread, a
   * file's hashing held up the scan's lstats queued behind it (the main thread stood idle for half a second of
   * a differential pass). They start at their first file.
   */
  private readonly hashThreads = [new ReadThread(), new ReadThread()];
  private hashedAhead = 0;
  /**
   * A scan's lstats, a folder's at a time on the read thread, with the attributes' digests that the reconcile's
   * shortcut (asLastSent) compares where they travel.
   */
  private readonly lstatMany: LstatMany = (paths) => this.readThread.lstat(paths, this.xattrs && this.o.xattrs !== undefined);
  /** Without them: a new folder's scan, whose entries are each looked at anew (path), not by the shortcut. */
  private readonly plainLstatMany: LstatMany = (paths) => this.readThread.lstat(paths);
  /** Read buffers (of large files, of files read whole at a change, of appended tails), which the consumer
   * gives back (`done`) once the journal is done with their records (it holds a resync's until acknowledged). */
  private readonly chunks: BufferPool;
  /**
   * The target applies link records: another name of a file it has goes as a link, not as a copy. Set by the
   * source once the target lists the op among its features.
   */
  hardLinks = false;
  /**
   * The target applies zeros records: a run of 64 KiB of zeros or more goes as one small record, and leaves a hole
   * there past the file's end (zero-runs.ts). Set by the source once the target lists the op among its features.
   */
  holes = false;
  /**
   * The target's hard links, from a differential mirror's listing, by name: each name's group of names of one
   * file there. Until the pass that follows looks at a name, for it must not write in place a file the target
   * shares with names that are other files here.
   */
  private readonly targetGroups = new Map<string, Set<string>>();
  /** The pass that follows a differential mirror's listing (from a target that lists its hard links). */
  private afterListing = false;
  /**
   * The target applies xattrs records: a file's or folder's extended attributes travel where they differ from
   * those last sent. Set by the source once the target lists the op among its features (and this node reads them).
   */
  xattrs = false;
  /**
   * The digest of the attributes last sent per folder (a file's is in its index entry; NO_XATTRS for none sent
   * explicitly); never sent: no entry.
   */
  private readonly sentFolderXattrs = new Map<string, string>();
  /** Whether a folder here has a default ACL, as last read: cleared after each pass. */
  private defaultAcl = new Map<string, boolean>();

  /** The folders normalized, which `abs` then extends by concatenation (tree.ts's childPath). */
  private readonly roots: readonly string[];

  constructor(private readonly o: ChangeDetectorOptions) {
    this.roots = o.folders.map((f) => resolve(f));
    this.chunks = new BufferPool(o.writeChunk ?? WRITE_CHUNK, { minLentBytes: MIN_LENT_BYTES, shared: true });
    this.appends = new AppendReader(this.chunks);
  }

  /** Starts the read thread now: the first scan or reconcile, after the connection, need not wait for its load. */
  warm(): void {
    this.readThread.warm();
  }

  /** A write record's data will not be read again (its bytes are in the journal): its buffer may be reused. */
  done(data: Buffer): void {
    this.chunks.give(data);
  }

  private abs(v: string): string {
    const { folder, rel } = splitVirtualPath(v);
    const root = this.roots[folder]!;
    return rel === '' ? root : childPath(root, rel);
  }

  private admitted(v: string, isDir: boolean): boolean {
    const { rel } = splitVirtualPath(v);
    return rel === '' || this.o.filter.matches(rel, isDir);
  }

  /**
   * The records for the given paths, in an order that keeps renames recognisable: paths that exist first.
   * `thorough`: a grown file is hashed whole even when it only seems appended to.
   */
  changes(paths: readonly string[], thorough = false): AsyncGenerator<ChangeRecord> {
    return this.withFolderTimes(this.pathChanges(paths, thorough ? 'nothing' : 'appends'));
  }

  private async *pathChanges(paths: readonly string[], trust: Trust): AsyncGenerator<ChangeRecord> {
    const present: { v: string; st: PathStat }[] = [];
    const gone: string[] = [];
    const unique = [...new Set(paths)];
    // An entry made and removed again before this look (a temp file) leaves no record, but its folder's new time.
    const parents = [...new Set(unique.map(parentOf).filter((p): p is string => p !== undefined))];
    for (const p of parents) this.touchedFolders.add(p);
    // All at once: a batch of a few busy files waits for one trip to the disk, not one per file.
    const [stats, parentStats] = await Promise.all([
      Promise.all(unique.map((v) => lstatOrUndefined(this.abs(v)))),
      Promise.all(parents.map((p) => this.folderStat(p))),
    ]);
    parents.forEach((p, i) => this.folderStats.set(p, parentStats[i]));
    unique.forEach((v, i) => {
      const st = stats[i];
      if (st === undefined) gone.push(v);
      else present.push({ v, st });
    });
    // The stat just taken stands for the path (one trip to the disk less per change): what changes after it
    // has an event of its own.
    for (const { v, st } of present) yield* this.path(v, true, { st, previous: undefined }, trust);
    for (const v of gone) yield* this.path(v);
  }

  /** Whether some appended file still has older bytes that were trusted rather than read. */
  get hasTrustedAppends(): boolean {
    return this.trusted.size > 0;
  }

  /**
   * Re-hashes the files whose appends were trusted, and returns those whose older bytes no longer match what was
   * sent (the caller runs `changes(suspects, true)` on its work queue). Safe beside the queue: it only reads the
   * index; a file that matches is trusted no more, unless another append was trusted meanwhile.
   */
  async suspectAppends(): Promise<string[]> {
    const suspects: string[] = [];
    for (const [v, appends] of [...this.trusted]) {
      const before = this.o.index.get(v);
      if (before === undefined) {
        this.trusted.delete(v);
        continue;
      }
      let fresh: FileIndex | undefined;
      const readAt = Date.now();
      try {
        fresh = await this.readThread.index(this.abs(v), before.blockSize, this.o.index.blockHash);
      } catch {
        fresh = undefined; // gone or replaced: the thorough pass says what it became
      }
      const now = this.o.index.get(v);
      if (now === undefined) continue;
      // Blocks both saw whole; the tail may have grown since, and the next check covers it.
      const whole = Math.min(fresh === undefined ? 0 : Math.floor(fresh.size / now.blockSize), Math.floor(now.size / now.blockSize));
      let same = fresh !== undefined && fresh.size >= before.size;
      if (same) same = fresh!.hashes.compare(now.hashes, 0, whole * BLOCK_HASH_BYTES, 0, whole * BLOCK_HASH_BYTES) === 0;
      if (!same) suspects.push(v);
      // A match ends the trust only when the read began a clock tick after the indexed mtime: a write landing
      // later then has an mtime of its own, and its event is seen as a change.
      else if (this.trusted.get(v) === appends && readAt - now.mtimeMs >= RACY_MS) this.trusted.delete(v);
    }
    return suspects;
  }

  /**
   * Before the index is saved: a file whose older bytes were trusted gets an mtime that matches nothing, so the
   * reconcile after a restart hashes it whole.
   */
  distrustAppends(): void {
    for (const v of this.trusted.keys()) {
      const index = this.o.index.get(v);
      if (index !== undefined) this.o.index.set(v, { ...index, mtimeMs: NO_MTIME });
    }
    this.trusted.clear();
  }

  /**
   * Reconciliation: everything that differs between the folders and what the target was last sent (after a
   * restart, a watcher overflow). With an empty index and `forget()` first, it sends everything: a full mirror.
   * `puts`: a small file the target lacks goes as one put record (the target must take them: records.ts).
   * `resync`: a full or differential mirror, which ends with the copy level: a grown file is hashed whole, since
   * nothing saw it grow (its index may be the target's listing, from before a rewrite of its older bytes), and no
   * append is left on trust for a check after the pass.
   */
  reconcile(options: { readonly puts?: boolean; readonly resync?: boolean } = {}): AsyncGenerator<ChangeRecord> {
    return this.withFolderTimes(this.reconcileAll(options.puts === true, options.resync === true ? 'unchanged' : 'appends'));
  }

  private async *reconcileAll(puts: boolean, trust: Trust): AsyncGenerator<ChangeRecord> {
    const seen = new Set<string>();
    for (let k = 0; k < this.o.folders.length; k++) {
      const root = virtualPath(k, '');
      seen.add(root);
      yield* this.path(root, false);
      // Changed large files being hashed wait for the end of the folder's scan, which goes on meanwhile.
      const hashing: (Pick<Probe, 'st' | 'previous'> & { readonly v: string; readonly indexing: Promise<Started<FileIndex>> })[] = [];
      for await (const { item: entry, result } of lookahead(scanTree(this.o.folders[k]!, this.o.filter, this.lstatMany), RECONCILE_LOOKAHEAD, (e) => this.probe(virtualPath(k, e.path), e, trust), READ_AHEAD_BUDGET)) {
        const v = virtualPath(k, entry.path);
        seen.add(v);
        const probe = result.ok ? result.value : undefined;
        if (probe?.indexing !== undefined) {
          hashing.push({ v, st: probe.st, previous: probe.previous, indexing: probe.indexing });
          continue;
        }
        if (probe?.st !== undefined && this.asLastSent(v, probe.st) && !this.listedApart(v, probe.st)) continue;
        const put = puts && probe !== undefined ? this.plainNewFile(v, probe) : undefined;
        if (put !== undefined) {
          yield put;
          yield* this.xattrsOf(v, probe!.st);
          continue;
        }
        // A probe that failed (the file vanished or changed type meanwhile) is simply done again, now.
        yield* this.path(v, false, probe, trust, puts);
      }
      for (const { v, st, previous, indexing } of hashing) {
        const indexed = await indexing;
        yield* this.path(v, false, indexed.ok ? { st, previous, indexed: indexed.value } : undefined, trust, puts);
      }
    }
    const vanished: string[] = [];
    const slicer = new TimeSlicer();
    for (const known of [[...this.o.index.paths()], [...this.dirs], [...this.links.keys()]]) {
      for (const v of known) {
        if (!seen.has(v)) vanished.push(v);
        const pause = slicer.step();
        if (pause !== undefined) await pause;
      }
    }
    // Deepest first is not needed (a delete takes a tree), but parents first avoids deleting twice.
    vanished.sort();
    for (const v of vanished) if (this.known(v)) yield* this.path(v, false);
    // What the listing said holds for the pass after it only.
    this.targetGroups.clear();
    this.afterListing = false;
  }

  /**
   * A file new to the target, read whole by its probe, where nothing else was and whose inode the index knows by
   * no name (no rename, no other name to link): its put record, as `path` and `file` make it. Most of a first
   * mirror's files; going by `path` and `file`, two generators each, cost them more than their scan (a third of a
   * small-file resync's allocations). Undefined for any other case, which `path` takes.
   */
  private plainNewFile(v: string, probe: Probe): Extract<ChangeRecord, { op: 'put' }> | undefined {
    const { st, whole } = probe;
    // The scan admitted it (the same filter); `file` would look for a rename or another name by its inode.
    if (whole === undefined || probe.previous !== undefined || st?.type !== 'file') return undefined;
    if (this.o.index.get(v) !== undefined || this.dirs.has(v) || this.links.has(v) || this.o.index.pathsOfInode(st.ino).length > 0) return undefined;
    return this.put(v, st, whole);
  }

  /** A file new to the target and already read whole: create, data and meta as one record, remembered as sent. */
  private put(v: string, st: PathStat, whole: NonNullable<Probe['whole']>): Extract<ChangeRecord, { op: 'put' }> {
    const { index, content } = whole;
    this.trusted.delete(v);
    this.remember(v, index);
    const meta = { mode: st.mode, mtimeMs: index.mtimeMs, ...this.owner(st) };
    this.noteSent(v, meta);
    return { op: 'put', path: v, ...meta, data: content };
  }

  /**
   * Forget what the target was sent: the next reconcile sends everything. Returns the files' indexes as they were,
   * but for those whose appends are on trust (their older bytes are not known to hash so): a differential mirror
   * keeps each that the target's listing agrees with.
   */
  forget(): ReadonlyMap<string, FileIndex> {
    const held = this.o.index.clear();
    for (const v of this.trusted.keys()) held.delete(v);
    this.dirs.clear();
    this.links.clear();
    this.sentMeta.clear();
    this.sentFolderXattrs.clear();
    this.touchedFolders.clear();
    this.movedFolders.clear();
    this.sentFolderMtime.clear();
    this.folderStats.clear();
    this.trusted.clear();
    this.targetGroups.clear();
    this.afterListing = false;
    return held;
  }

  /** Release the files kept open for their appends and the read thread. */
  async close(): Promise<void> {
    await this.appends.close();
    await this.readThread.close();
    await Promise.all(this.hashThreads.map((t) => t.close()));
  }

  /**
   * Remember a folder or a symlink as on the target (a differential mirror's listing), with the metadata the
   * target has for it when the listing says so: a meta record then goes only where ours differs. A folder's
   * listed time counts as sent: any later change of it on the target comes from a record, whose pass sends the
   * folder's time again (movedFolders).
   */
  noteDir(v: string, meta?: MetaFields, listedMtimeMs?: number, listedXattrs?: string): void {
    this.dirs.add(v);
    if (meta !== undefined) this.sentMeta.set(v, meta);
    if (listedMtimeMs !== undefined) this.sentFolderMtime.set(v, listedMtimeMs);
    if (listedXattrs !== undefined) this.sentFolderXattrs.set(v, listedXattrs);
  }

  noteLink(v: string, target: string, meta?: MetaFields): void {
    this.links.set(v, target);
    if (meta !== undefined) this.sentMeta.set(v, meta);
  }

  /**
   * The index entries that say what the target has once every record sent is applied: not racy (the mtime tells
   * a later change), none whose older bytes were taken on trust (see `trusted`).
   */
  *vouchedIndex(): Generator<readonly [string, FileIndex]> {
    for (const v of this.o.index.paths()) {
      if (this.trusted.has(v)) continue;
      const index = this.o.index.get(v);
      if (index !== undefined && index.mtimeMs !== NO_MTIME) yield [v, index];
    }
  }

  /** A differential mirror's listing is being read: names it shows as files of their own may be linked (listedApart). */
  noteTargetListing(): void {
    this.afterListing = true;
  }

  /**
   * A name of a file with several here that the listing shows as a file of its own there (a copy an older agent
   * made): looked at, even when its entry agrees, so that it is linked to another name the target has.
   */
  private listedApart(v: string, st: PathStat): boolean {
    return this.afterListing && this.hardLinks && st.nlink > 1 && !this.targetGroups.has(v);
  }

  /** The target's listing says file `v` is another name of `existing`'s there (a hard link): see targetGroups. */
  noteTargetHardLink(v: string, existing: string): void {
    const group = this.targetGroups.get(existing) ?? new Set([existing]);
    group.add(v);
    this.targetGroups.set(existing, group);
    this.targetGroups.set(v, group);
  }

  private known(v: string): boolean {
    return this.o.index.get(v) !== undefined || this.dirs.has(v) || this.links.has(v);
  }

  private forgetTree(v: string): void {
    this.o.index.delete(v);
    this.appends.forget(this.abs(v));
    for (const t of [...this.trusted.keys()]) if (t === v || t.startsWith(`${v}/`)) this.trusted.delete(t);
    for (const d of [...this.dirs]) if (d === v || d.startsWith(`${v}/`)) this.dirs.delete(d);
    for (const l of [...this.links.keys()]) if (l === v || l.startsWith(`${v}/`)) this.links.delete(l);
    for (const m of [...this.sentMeta.keys()]) if (m === v || m.startsWith(`${v}/`)) this.sentMeta.delete(m);
    for (const m of [...this.sentFolderXattrs.keys()]) if (m === v || m.startsWith(`${v}/`)) this.sentFolderXattrs.delete(m);
    for (const f of [...this.sentFolderMtime.keys()]) if (f === v || f.startsWith(`${v}/`)) this.sentFolderMtime.delete(f);
  }

  /** The records of one pass, each folder whose entries they change noted, then those folders' mtimes. */
  private async *withFolderTimes(records: AsyncGenerator<ChangeRecord>): AsyncGenerator<ChangeRecord> {
    // A pass that failed left its stats: they are not this one's.
    this.folderStats = new Map();
    for await (const r of records) {
      switch (r.op) {
        case 'mkdir':
          this.movedFolders.add(r.path);
          this.moveParentOf(r.path);
          break;
        case 'create': case 'put': case 'symlink': case 'delete': case 'link':
          this.moveParentOf(r.path);
          break;
        case 'rename':
          this.moveParentOf(r.from);
          this.moveParentOf(r.to);
          break;
        default:
      }
      yield r;
    }
    yield* this.folderTimes();
  }

  /** A folder's lstat for its time; one that cannot be read is passed over (its own event says what it became). */
  private folderStat(v: string): Promise<PathStat | undefined> {
    return lstatOrUndefined(this.abs(v)).catch(() => undefined);
  }

  private moveParentOf(v: string): void {
    const parent = parentOf(v);
    if (parent !== undefined) this.movedFolders.add(parent);
  }

  /**
   * A meta record with the mtime of each touched folder the target has, where it differs from the one last sent.
   * After the pass's records, so after the entries whose changes moved it on the target (the applier orders a
   * folder's meta after the records running under it). A folder gone or replaced meanwhile has its own event.
   */
  private async *folderTimes(): AsyncGenerator<ChangeRecord> {
    const moved = new Set(this.movedFolders);
    const known = this.folderStats;
    const folders = [...new Set([...this.touchedFolders, ...moved])].filter((v) => this.dirs.has(v) || splitVirtualPath(v).rel === '');
    this.touchedFolders.clear();
    this.movedFolders.clear();
    this.folderStats = new Map();
    this.defaultAcl = new Map();
    if (folders.length === 0) return;
    const stats = await Promise.all(folders.map((v) => (known.has(v) ? known.get(v) : this.folderStat(v))));
    for (let i = 0; i < folders.length; i++) {
      const v = folders[i]!;
      const st = stats[i];
      const sent = this.sentFolderMtime.get(v);
      // Within sameMtime's tolerance: a listed time, set through utimes, comes back truncated to the microsecond.
      if (st?.type !== 'dir' || (sent !== undefined && sameMtime(sent, st.mtimeMs) && !moved.has(v))) continue;
      this.sentFolderMtime.set(v, st.mtimeMs);
      yield { op: 'meta', path: v, mtimeMs: st.mtimeMs };
    }
  }

  /**
   * Keep a file's index; one made too soon after the file's last change is kept as racy (see RACY_MS), unless
   * the file's appends are on trust: the check of those re-reads it whole anyway (and keeps the trust while the
   * file is racy), and a growing log must not be hashed whole at each of its close events.
   */
  private remember(v: string, index: FileIndex): void {
    const racy = isRacy(index.mtimeMs) && !this.trusted.has(v);
    this.o.index.set(v, racy ? { ...index, mtimeMs: NO_MTIME } : index);
  }

  /** A meta record, unless the target was already sent exactly this (in this run, or before a restart). */
  private *meta(record: Extract<ChangeRecord, { op: 'meta' }>): Generator<ChangeRecord> {
    const last = this.o.index.sentMeta(record.path) ?? this.sentMeta.get(record.path);
    if (last !== undefined && sameMeta(last, record)) return;
    this.noteSent(record.path, record);
    yield record;
  }

  /**
   * Remember what `v` was sent: a file's in its index entry, which the agent saves when it stops, so that a
   * restarted one does not send a meta record for each of its files again (20,000 of them, each an lstat on the
   * target); a folder's or a symlink's in memory.
   */
  private noteSent(v: string, meta: MetaFields): void {
    const { mode, mtimeMs, uid, gid } = meta;
    const kept = mode !== undefined && mtimeMs !== undefined
      && this.o.index.setSentMeta(v, { mode, mtimeMs, ...(uid === undefined ? {} : { uid }), ...(gid === undefined ? {} : { gid }) });
    if (!kept) this.sentMeta.set(v, meta);
  }

  /**
   * A file the scan found as the target last got it: same size, mtime and inode as indexed, and the metadata
   * last sent. Nothing is sent for it, and a reconcile skips the generators `path` steps through for each file
   * (most of its files; they cost it more than the scan itself).
   */
  private asLastSent(v: string, st: PathStat | undefined): boolean {
    if (st?.type !== 'file' || this.dirs.has(v) || this.links.has(v)) return false;
    const known = this.o.index.entry(v);
    if (known?.sent === undefined || !unchanged(known, st)) return false;
    return sameMeta(known.sent, { mode: st.mode, mtimeMs: known.mtimeMs, ...this.owner(st) }) && (!this.xattrs || this.xattrsAsSent(v, st));
  }

  /**
   * The path's travelling attributes, as they differ from those last sent: an xattrs record with all of them (none,
   * where some were sent and are gone). Changing them moves no mtime, only the ctime, so they are read at every look
   * (a list of names, microseconds; most files have none). A mirrored folder's own too. `st`: the look's stat,
   * whose digest (a reconcile's scan reads it on the read thread) spares a file's listing here when it says the
   * target has them already.
   */
  private *xattrsOf(v: string, st?: PathStat): Generator<ChangeRecord> {
    if (!this.xattrs || this.o.xattrs === undefined) return;
    if (st?.type === 'file' && st.xattrs !== undefined && this.digestAsSent(v, st.xattrs)) return;
    let set: Xattr[];
    try {
      set = travellingXattrs(this.o.xattrs, this.abs(v));
    } catch {
      return; // gone or replaced meanwhile: its event, or the reconcile's look, says what it became
    }
    // A folder's answer is kept for its entries' looks in this pass (inheritsAcl), none or one.
    if (set.some((x) => x.name === DEFAULT_ACL)) this.defaultAcl.set(v, true);
    else if (st?.type === 'dir') this.defaultAcl.set(v, false);
    else this.defaultAcl.delete(v);
    if (this.xattrsAsSentOf(v, set)) return;
    const digest = xattrDigest(set) ?? NO_XATTRS;
    if (!this.o.index.setSentXattrs(v, digest)) this.sentFolderXattrs.set(v, digest);
    yield { op: 'xattrs', path: v, xattrs: set };
  }

  private sentXattrsOf(v: string): string | undefined {
    return this.o.index.entry(v) !== undefined ? this.o.index.sentXattrs(v) : this.sentFolderXattrs.get(v);
  }

  /**
   * Whether the target has `set` as `v`'s attributes: those last sent, or, none ever sent, none (a new path there
   * has none), unless its folder has a default ACL, which gave a new path there an ACL of its own. A mirrored
   * folder is not new there: what it has is unknown until sent (or listed).
   */
  private xattrsAsSentOf(v: string, set: readonly Xattr[]): boolean {
    return this.digestAsSent(v, xattrDigest(set));
  }

  /** As xattrsAsSentOf, of a set's digest (undefined or NO_XATTRS: none). */
  private digestAsSent(v: string, digest: string | undefined): boolean {
    const sent = this.sentXattrsOf(v);
    if (sent !== undefined) return sameXattrs(sent, digest);
    return sameXattrs(digest, NO_XATTRS) && splitVirtualPath(v).rel !== '' && !this.inheritsAcl(v);
  }

  /**
   * Whether file `v`'s travelling attributes are those last sent: as the scan's lstat read them (the read thread),
   * else read now (gone meanwhile: no, and the look says what it is).
   */
  private xattrsAsSent(v: string, st: PathStat): boolean {
    if (st.xattrs !== undefined) return this.digestAsSent(v, st.xattrs);
    try {
      return this.xattrsAsSentOf(v, travellingXattrs(this.o.xattrs!, this.abs(v)));
    } catch {
      return false;
    }
  }

  /** Whether `v`'s folder here has a default ACL (read once per pass; a folder's own look updates it). */
  private inheritsAcl(v: string): boolean {
    const folder = parentOf(v) ?? virtualPath(splitVirtualPath(v).folder, '');
    let known = this.defaultAcl.get(folder);
    if (known === undefined) {
      try {
        known = travellingXattrs(this.o.xattrs!, this.abs(folder)).some((x) => x.name === DEFAULT_ACL);
      } catch {
        known = false;
      }
      this.defaultAcl.set(folder, known);
    }
    return known;
  }

  /** What `v` was sent no longer holds (its writes moved the target's mtime). */
  private forgetSent(v: string): void {
    this.sentMeta.delete(v);
    this.o.index.setSentMeta(v, undefined);
  }

  /**
   * The scan's lstat of the path and, for a small file that changed since it was last indexed, its content; for
   * a large one, its new index being made on a hash thread (`indexing`), which the reconcile awaits only after
   * the rest of the scan.
   */
  private async probe(v: string, st: PathStat, trust: Trust): Promise<Probe> {
    if (st.type !== 'file') return { st, previous: undefined };
    // Nothing is read of an unchanged file, so there is no index it was compared with.
    if (unchanged(this.o.index.entry(v), st)) return { st, previous: undefined };
    const previous = this.o.index.get(v);
    if (st.size > WHOLE_READ_BYTES) {
      // A new one is read and sent in one pass; one grown a little is read from its old end (but in a resync).
      if (previous === undefined || (trust === 'appends' && looksAppended(previous, st))) return { st, previous };
      const thread = this.hashThreads[this.hashedAhead++ % this.hashThreads.length]!;
      return { st, previous, indexing: settle(thread.index(this.abs(v), previous.blockSize, this.o.index.blockHash, previous)) };
    }
    const whole = await this.readThread.read(this.abs(v), previous?.blockSize ?? this.o.blockSize, this.o.index.blockHash, previous, WHOLE_READ_BYTES);
    return whole === undefined ? { st, previous } : { st, previous, whole };
  }

  /**
   * One path as it is now (or as `probe` found it a moment ago). `descend`: a new folder's contents follow (a
   * watcher may not report them).
   */
  private async *path(v: string, descend = true, probe?: Probe, trust: Trust = 'appends', puts = false): AsyncGenerator<ChangeRecord> {
    const st = probe !== undefined ? probe.st : await lstatOrUndefined(this.abs(v));
    const isRoot = splitVirtualPath(v).rel === '';
    // A mirrored folder that is gone (a volume not mounted, say) must not empty the target's copy: nothing is sent.
    if (isRoot && st?.type !== 'dir') {
      throw new Error(`the mirrored folder ${this.abs(v)} is ${st === undefined ? 'missing' : 'not a folder'}: nothing of it is sent or deleted until it is back`);
    }
    if (st === undefined || (!isRoot && !this.admitted(v, st.type === 'dir'))) {
      if (this.known(v)) {
        yield { op: 'delete', path: v };
        this.forgetTree(v);
      }
      return;
    }
    if (st.type === 'dir') yield* this.dir(v, st, descend);
    else if (st.type === 'symlink') yield* this.symlink(v, st);
    else if (st.type === 'file' && st.nlink > 1) yield* this.withOtherNames(v, st, this.file(v, st, probe, trust, puts));
    else if (st.type === 'file') yield* this.file(v, st, probe, trust, puts);
    // FIFOs, sockets and devices are not mirrored; the scan reports them.
  }

  private async *dir(v: string, st: PathStat, descend: boolean): AsyncGenerator<ChangeRecord> {
    // Its own event (a touch), or a reconcile's look at it: its mtime is looked at after the pass.
    this.touchedFolders.add(v);
    if (this.o.index.get(v) !== undefined || this.links.has(v)) {
      yield { op: 'delete', path: v };
      this.forgetTree(v);
    }
    if (this.dirs.has(v)) {
      yield* this.meta({ op: 'meta', path: v, mode: st.mode, ...this.owner(st) });
      yield* this.xattrsOf(v, st);
      return;
    }
    yield { op: 'mkdir', path: v, mode: st.mode };
    yield* this.meta({ op: 'meta', path: v, mode: st.mode, ...this.owner(st) });
    yield* this.xattrsOf(v, st);
    this.dirs.add(v);
    if (!descend) return;
    const { folder, rel } = splitVirtualPath(v);
    const scan = scanTree(this.abs(v), { matches: (p, isDir) => this.o.filter.matches(rel === '' ? p : `${rel}/${p}`, isDir), mayContain: (p) => this.o.filter.mayContain(rel === '' ? p : `${rel}/${p}`) }, this.plainLstatMany);
    for await (const entry of scan) yield* this.path(virtualPath(folder, rel === '' ? entry.path : `${rel}/${entry.path}`), false);
  }

  private async *symlink(v: string, st: PathStat): AsyncGenerator<ChangeRecord> {
    const target = await readlink(this.abs(v));
    if (this.links.get(v) !== target) {
      if (this.dirs.has(v) || this.o.index.get(v) !== undefined) this.forgetTree(v);
      yield { op: 'symlink', path: v, target };
      this.links.set(v, target);
      // The target's new link has the time it was made at.
      this.sentMeta.delete(v);
    }
    // Nothing made in a symlink moves its time: it is sent as it is. No mode: Linux has none to set on a link.
    yield* this.meta({ op: 'meta', path: v, mtimeMs: st.mtimeMs, ...this.owner(st) });
  }

  private async *file(v: string, st: PathStat, probe: Probe | undefined, trust: Trust, puts: boolean): AsyncGenerator<ChangeRecord> {
    if (this.dirs.has(v) || this.links.has(v)) {
      yield { op: 'delete', path: v };
      this.forgetTree(v);
    }
    // Taken before sameFilesAsOnTarget takes the name out of its group.
    const apart = this.listedApart(v, st);
    let previous = this.o.index.get(v);
    if (previous !== undefined && ((previous.ino !== st.ino && this.otherNames(v, previous.ino).length > 0)
      || (this.targetGroups.has(v) && !(await this.sameFilesAsOnTarget(v, st))))) {
      // Another file under this name now, where the one before had other names too (or the target's listing says
      // it has, and they are other files here): the target's copy may be linked to theirs, and writing it in
      // place there would change them. The name goes, and comes again anew (or by the rename that made it).
      yield { op: 'delete', path: v };
      this.forgetTree(v);
      previous = undefined;
    }
    if (previous === undefined) {
      // A rename: the inode we last saw under another path, which no longer holds it; only within one mirrored
      // folder, since the folders are separate trees on the target (and may be separate file systems, whose inode
      // numbers say nothing of each other's files: one freed in a folder may be taken by a new file in another).
      for (const from of this.otherNames(v, st.ino)) {
        const there = await lstatOrUndefined(this.abs(from));
        if (there !== undefined && there.ino === st.ino) continue; // another name of the file (a hard link)
        yield { op: 'rename', from, to: v };
        this.o.index.rename(from, v);
        const appends = this.trusted.get(from);
        this.trusted.delete(from);
        if (appends !== undefined) this.trusted.set(v, appends);
        previous = this.o.index.get(v);
        break;
      }
    }
    // Also a name whose entry came from a differential mirror's listing (inode 0), or that the listing shows as a
    // file of its own: the target's copy of it may be one, and a link (one small record) is right either way.
    if ((previous === undefined || previous.ino === 0 || apart) && st.nlink > 1 && this.hardLinks) {
      const existing = await this.sameFileAs(v, st);
      if (existing !== undefined) {
        if (probe?.whole !== undefined) this.chunks.give(probe.whole.content);
        if (this.o.index.entry(existing)?.mtimeMs !== NO_MTIME) {
          yield* this.linkTo(v, existing, st);
          return;
        }
        // The other name's entry is racy: the file may have changed since, through this very name (the event
        // looked at now, which no later one need follow). Linked, it is looked at as a changed file.
        yield* this.link(v, existing);
        previous = this.o.index.get(v);
        probe = undefined;
      }
    }
    if (previous === undefined && puts && probe?.whole !== undefined && probe.previous === undefined) {
      yield this.put(v, st, probe.whole);
      yield* this.xattrsOf(v, st);
      return;
    }
    if (previous === undefined) yield { op: 'create', path: v, mode: st.mode };
    let current: FileIndex;
    let content: Buffer | undefined;
    let sent = false;
    try {
      if (trust !== 'nothing' && previous !== undefined && unchanged(previous, st)) {
        current = previous;
      } else if (trust === 'appends' && previous !== undefined && looksAppended(previous, st) && (yield* this.appended(v, previous))) {
        return;
      } else if (previous === undefined && st.size > WHOLE_READ_BYTES) {
        // All of it goes: read it once, sending each chunk as it is indexed.
        // Read and hashed on the read thread where its chunks hold whole blocks, else here.
        const chunks = this.chunks.bufferBytes % this.o.blockSize === 0
          ? this.readThread.readChunks(this.abs(v), this.o.blockSize, this.o.index.blockHash, this.chunks)
          : readIndexing(this.abs(v), this.o.blockSize, this.o.index.blockHash, this.chunks.bufferBytes, this.chunks);
        const records = new DataRecords(v, this.chunks, this.holes);
        let step = await chunks.next();
        for (; step.done !== true; step = await chunks.next()) {
          try {
            yield* records.add(step.value.offset, step.value.data);
          } finally {
            this.chunks.give(step.value.data);
          }
        }
        yield* records.end();
        current = step.value;
        sent = true;
      } else if (probe?.whole !== undefined && sameIndex(probe.previous, previous)) {
        ({ index: current, content } = probe.whole);
      } else if (probe?.indexed !== undefined && sameIndex(probe.previous, previous)) {
        current = probe.indexed;
      } else {
        const blockSize = previous?.blockSize ?? this.o.blockSize;
        const whole = st.size <= WHOLE_READ_BYTES ? await readAndIndexFile(this.abs(v), blockSize, this.o.index.blockHash, previous, WHOLE_READ_BYTES, this.chunks) : undefined;
        current = whole?.index ?? await this.readThread.index(this.abs(v), blockSize, this.o.index.blockHash, previous);
        content = whole?.content;
      }
      // Read whole (not merely found unchanged): nothing of it is taken on trust any more.
      if (current !== previous) this.trusted.delete(v);
    } catch (e) {
      // Gone or replaced while we looked: the watcher reports what it became. A create already sent is taken
      // back, or the target would keep an empty file that no later delete names (the index never had it).
      if (!['ENOENT', 'ELOOP', 'VIGIL_NOT_A_FILE'].includes((e as { code?: string }).code ?? '')) throw e;
      if (previous === undefined) yield { op: 'delete', path: v };
      return;
    }
    try {
      if (current !== previous) {
        const { ranges, truncateTo } = changedRanges(previous, current);
        if (truncateTo !== undefined) yield { op: 'truncate', path: v, size: truncateTo };
        if (ranges.length > 0 && !sent) yield* content === undefined ? this.read(v, ranges) : this.slice(v, content, ranges);
        // Writing changed the target's mtime, even when the source's is the one last sent (a trusted append's).
        if (ranges.length > 0 || truncateTo !== undefined) this.forgetSent(v);
        this.remember(v, current);
      }
      yield* this.meta({ op: 'meta', path: v, mode: st.mode, mtimeMs: current.mtimeMs, ...this.owner(st) });
      yield* this.xattrsOf(v, st);
    } finally {
      // The reader's hold on a pooled buffer ends; the records made of it hold it until the journal has them.
      if (content !== undefined) this.chunks.give(content);
    }
  }

  /**
   * Whether the names the target's listing says share `v`'s file there are that file here too (or gone, or no
   * longer files: what they are now replaces them there). Looked at once per listing: `v` leaves its group.
   */
  private async sameFilesAsOnTarget(v: string, st: PathStat): Promise<boolean> {
    const group = this.targetGroups.get(v);
    if (group === undefined) return true;
    this.targetGroups.delete(v);
    group.delete(v);
    for (const w of group) {
      const there = await lstatOrUndefined(this.abs(w));
      if (there?.type === 'file' && there.ino !== st.ino) return false;
    }
    return true;
  }

  /** Paths in the index, in `v`'s mirrored folder, last seen with inode `ino`: `v`'s file's other names, or names it had. */
  private otherNames(v: string, ino: number): string[] {
    const folder = splitVirtualPath(v).folder;
    return this.o.index.pathsOfInode(ino).filter((u) => u !== v && splitVirtualPath(u).folder === folder);
  }

  /**
   * Another name of `v`'s file whose content the target has, as the file is now or, its entry racy, as it was
   * when indexed: then the caller looks at the file again once linked (what changed since may have been written
   * through `v`, whose event is the one being looked at).
   */
  private async sameFileAs(v: string, st: PathStat): Promise<string | undefined> {
    for (const u of this.otherNames(v, st.ino)) {
      const known = this.o.index.entry(u);
      if (known === undefined || known.size !== st.size || (known.mtimeMs !== st.mtimeMs && known.mtimeMs !== NO_MTIME)) continue;
      const there = await lstatOrUndefined(this.abs(u));
      if (there?.type === 'file' && there.ino === st.ino) return u;
    }
    return undefined;
  }

  /** `v` made another name of `existing`'s file on the target: one small record instead of its content. */
  private *linkTo(v: string, existing: string, st: PathStat): Generator<ChangeRecord> {
    yield* this.link(v, existing);
    yield* this.meta({ op: 'meta', path: v, mode: st.mode, mtimeMs: st.mtimeMs, ...this.owner(st) });
    yield* this.xattrsOf(v);
  }

  /** The link record alone: `v` takes `existing`'s index and metadata sent. */
  private *link(v: string, existing: string): Generator<ChangeRecord> {
    yield { op: 'link', path: v, existing };
    // One file there now: `existing`, when its turn comes in this pass, is not linked back to `v`.
    if (this.afterListing) this.noteTargetHardLink(v, existing);
    this.noteLinked(v, existing);
  }

  /** `name` is another name of `to`'s file on the target now: its index, and the metadata last sent, are `to`'s. */
  private noteLinked(name: string, to: string): void {
    this.trusted.delete(name);
    this.remember(name, this.o.index.get(to)!);
    const sent = this.o.index.sentMeta(to);
    if (sent !== undefined) this.o.index.setSentMeta(name, sent);
    // One inode there: its attributes are `to`'s.
    this.o.index.setSentXattrs(name, this.o.index.sentXattrs(to));
  }

  /**
   * A file with other names (hard links): after what it sent for `v`, its other names in the index still hold
   * what the file was before (a change through one name is reported for that name alone). With a target that
   * links, each is linked again to `v` (one small record, and right whether the target's copy was linked or not);
   * with an older one, each is brought level as any changed file.
   */
  private async *withOtherNames(v: string, st: PathStat, records: AsyncGenerator<ChangeRecord>): AsyncGenerator<ChangeRecord> {
    let changed = false;
    for await (const r of records) {
      if (r.op !== 'link') changed = true;
      yield r;
    }
    const current = this.o.index.get(v);
    if (!changed || current === undefined || current.ino !== st.ino) return;
    for (const u of this.otherNames(v, st.ino)) {
      const there = await lstatOrUndefined(this.abs(u));
      // A name that is another file now has its own event (or the reconcile's look).
      if (there?.type !== 'file' || there.ino !== st.ino) continue;
      if (this.hardLinks) {
        yield { op: 'link', path: u, existing: v };
        this.noteLinked(u, v);
      } else {
        yield* this.file(u, there, undefined, 'appends', false);
      }
    }
  }

  /**
   * A file that grew: only the bytes from its old last block on are read, and sent from the old end, when that
   * block still hashes as before. False (nothing yielded) when it does not look like an append after all.
   */
  private async *appended(v: string, previous: FileIndex): AsyncGenerator<ChangeRecord, boolean> {
    const read = await this.appends.read(this.abs(v), previous, this.o.index.blockHash);
    if (read === undefined) return false;
    try {
      const chunk = this.o.writeChunk ?? WRITE_CHUNK;
      const records = new DataRecords(v, this.chunks, this.holes);
      for (let at = previous.size; at < read.index.size; at += chunk) {
        const end = Math.min(at + chunk, read.index.size);
        yield* records.add(at, read.tail.subarray(at - read.tailStart, end - read.tailStart));
      }
      yield* records.end();
      this.trusted.set(v, (this.trusted.get(v) ?? 0) + 1);
      this.remember(v, read.index);
      // The writes moved the target's mtime, even when the source's is the one last sent (written within the same
      // clock tick as the last look).
      if (read.index.size > previous.size) this.forgetSent(v);
      yield* this.meta({ op: 'meta', path: v, mode: read.mode, mtimeMs: read.index.mtimeMs, ...this.owner(read) });
      yield* this.xattrsOf(v);
      return true;
    } finally {
      this.chunks.give(read.tail);
    }
  }

  /** Write (and zeros) records for `ranges` of a file already in memory; each write holds the pooled buffer it is a view of. */
  private *slice(v: string, content: Buffer, ranges: readonly { offset: number; length: number }[]): Generator<ChangeRecord> {
    const chunk = this.o.writeChunk ?? WRITE_CHUNK;
    const records = new DataRecords(v, this.chunks, this.holes);
    for (const range of ranges) {
      for (let at = range.offset; at < range.offset + range.length; at += chunk) {
        yield* records.add(at, content.subarray(at, Math.min(at + chunk, range.offset + range.length)));
      }
    }
    yield* records.end();
  }

  /** Write (and zeros) records for `ranges` of a file, read now; each write holds the pooled buffer it was read into, if any. */
  private async *read(v: string, ranges: readonly { offset: number; length: number }[]): AsyncGenerator<ChangeRecord> {
    const handle = await open(this.abs(v), 'r');
    const records = new DataRecords(v, this.chunks, this.holes);
    try {
      const chunk = this.o.writeChunk ?? WRITE_CHUNK;
      ranges: for (const range of ranges) {
        for (let at = range.offset; at < range.offset + range.length; at += chunk) {
          const length = Math.min(chunk, range.offset + range.length - at);
          const data = this.chunks.lend(length);
          try {
            const { bytesRead } = await handle.read(data, 0, length, at);
            if (bytesRead === 0) break ranges; // it shrank meanwhile: the watcher reports the truncation
            yield* records.add(at, data.subarray(0, bytesRead));
          } finally {
            this.chunks.give(data);
          }
        }
      }
      yield* records.end();
    } finally {
      await handle.close();
    }
  }

  private owner(st: { readonly uid: number; readonly gid: number }): { uid?: number; gid?: number } {
    return this.o.owner ? { uid: st.uid, gid: st.gid } : {};
  }
}
