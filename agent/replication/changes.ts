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
import { join } from 'node:path';
import { changedRanges, indexFile, readAndIndexFile, readIndexing, type BlockIndexStore, type FileIndex } from './block-index.js';
import type { PathFilter } from './glob.js';
import type { ChangeRecord } from './records.js';
import { lookahead } from './lookahead.js';
import { scanTree, type TreeEntry, type TreeEntryType } from './tree.js';

/** Bytes per write record: big enough for throughput, small enough to keep journal records and frames modest. */
export const WRITE_CHUNK = 1024 * 1024;
/** Files up to this size are read once, whole, and both indexed and sent from memory. */
const WHOLE_READ_BYTES = 1024 * 1024;
/** A reconcile reads this many paths ahead (at most this many small files, so 16 MiB, in memory). */
const RECONCILE_LOOKAHEAD = 16;

/** What the detector needs of a path's lstat; a reconcile takes it from the scan that found the path. */
type PathStat = Omit<TreeEntry, 'path' | 'type' | 'linkTarget'> & { readonly type: TreeEntryType | 'other' };

function pathStat(s: Stats): PathStat {
  const type = s.isFile() ? 'file' : s.isDirectory() ? 'dir' : s.isSymbolicLink() ? 'symlink' : 'other';
  return { type, size: s.size, mode: s.mode & 0o7777, mtimeMs: s.mtimeMs, uid: s.uid, gid: s.gid, ino: s.ino };
}

/** What a reconcile read ahead for one path: its lstat and, for a small file that changed, its content. */
interface Probe {
  readonly st: PathStat | undefined;
  /** The index the content was compared with: the read is good only while the index still holds this one. */
  readonly previous: FileIndex | undefined;
  readonly whole?: { readonly index: FileIndex; readonly content: Buffer };
}

/** As rsync, trust size and mtime (and the inode: a replaced file is another one). */
function unchanged(previous: FileIndex | undefined, st: PathStat): boolean {
  return previous !== undefined && st.size === previous.size && st.mtimeMs === previous.mtimeMs && st.ino === previous.ino;
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

export class ChangeDetector {
  /** Folders and symlinks the target has (files are in the index): what a delete must cover. */
  private readonly dirs = new Set<string>();
  private readonly links = new Map<string, string>();
  /** The metadata last sent per path: a reconcile that finds nothing new sends nothing. */
  private readonly sentMeta = new Map<string, string>();

  constructor(private readonly o: ChangeDetectorOptions) {}

  private abs(v: string): string {
    const { folder, rel } = splitVirtualPath(v);
    return join(this.o.folders[folder]!, rel);
  }

  private admitted(v: string, isDir: boolean): boolean {
    const { rel } = splitVirtualPath(v);
    return rel === '' || this.o.filter.matches(rel, isDir);
  }

  /** The records for the given paths, in an order that keeps renames recognisable: paths that exist first. */
  async *changes(paths: readonly string[]): AsyncGenerator<ChangeRecord> {
    const present: string[] = [];
    const gone: string[] = [];
    for (const v of new Set(paths)) ((await lstatOrUndefined(this.abs(v))) === undefined ? gone : present).push(v);
    for (const v of present) yield* this.path(v);
    for (const v of gone) yield* this.path(v);
  }

  /**
   * Reconciliation: everything that differs between the folders and what the target was last sent (after a
   * restart, a watcher overflow). With an empty index and `forget()` first, it sends everything: a full mirror.
   */
  async *reconcile(): AsyncGenerator<ChangeRecord> {
    const seen = new Set<string>();
    for (let k = 0; k < this.o.folders.length; k++) {
      const root = virtualPath(k, '');
      seen.add(root);
      yield* this.path(root, false);
      for await (const { item: entry, result } of lookahead(scanTree(this.o.folders[k]!, this.o.filter), RECONCILE_LOOKAHEAD, (e) => this.probe(virtualPath(k, e.path), e))) {
        const v = virtualPath(k, entry.path);
        seen.add(v);
        // A probe that failed (the file vanished or changed type meanwhile) is simply done again, now.
        yield* this.path(v, false, result.ok ? result.value : undefined);
      }
    }
    const vanished = [...this.o.index.paths(), ...this.dirs, ...this.links.keys()].filter((v) => !seen.has(v));
    // Deepest first is not needed (a delete takes a tree), but parents first avoids deleting twice.
    vanished.sort();
    for (const v of vanished) if (this.known(v)) yield* this.path(v, false);
  }

  /** Forget what the target was sent: the next reconcile sends everything. */
  forget(): void {
    for (const v of [...this.o.index.paths()]) this.o.index.delete(v);
    this.dirs.clear();
    this.links.clear();
    this.sentMeta.clear();
  }

  /** Remember a tree as already on the target (after a differential mirror made it so). */
  noteDir(v: string): void { this.dirs.add(v); }
  noteLink(v: string, target: string): void { this.links.set(v, target); }

  private known(v: string): boolean {
    return this.o.index.get(v) !== undefined || this.dirs.has(v) || this.links.has(v);
  }

  private forgetTree(v: string): void {
    this.o.index.delete(v);
    for (const d of [...this.dirs]) if (d === v || d.startsWith(`${v}/`)) this.dirs.delete(d);
    for (const l of [...this.links.keys()]) if (l === v || l.startsWith(`${v}/`)) this.links.delete(l);
    for (const m of [...this.sentMeta.keys()]) if (m === v || m.startsWith(`${v}/`)) this.sentMeta.delete(m);
  }

  /** A meta record, unless the target was already sent exactly this. */
  private *meta(record: Extract<ChangeRecord, { op: 'meta' }>): Generator<ChangeRecord> {
    const key = JSON.stringify([record.mode, record.mtimeMs, record.uid, record.gid]);
    if (this.sentMeta.get(record.path) === key) return;
    this.sentMeta.set(record.path, key);
    yield record;
  }

  /** The scan's lstat of the path and, for a small file that changed since it was last indexed, its content. */
  private async probe(v: string, st: PathStat): Promise<Probe> {
    const previous = this.o.index.get(v);
    if (st.type !== 'file' || st.size > WHOLE_READ_BYTES || unchanged(previous, st)) return { st, previous };
    const whole = await readAndIndexFile(this.abs(v), previous?.blockSize ?? this.o.blockSize, previous, WHOLE_READ_BYTES);
    return whole === undefined ? { st, previous } : { st, previous, whole };
  }

  /**
   * One path as it is now (or as `probe` found it a moment ago). `descend`: a new folder's contents follow (a
   * watcher may not report them).
   */
  private async *path(v: string, descend = true, probe?: Probe): AsyncGenerator<ChangeRecord> {
    const st = probe !== undefined ? probe.st : await lstatOrUndefined(this.abs(v));
    const isRoot = splitVirtualPath(v).rel === '';
    if (st === undefined || (!isRoot && !this.admitted(v, st.type === 'dir'))) {
      if (this.known(v)) {
        yield { op: 'delete', path: v };
        this.forgetTree(v);
      }
      return;
    }
    if (st.type === 'dir') yield* this.dir(v, st, descend);
    else if (st.type === 'symlink') yield* this.symlink(v);
    else if (st.type === 'file') yield* this.file(v, st, probe);
    // FIFOs, sockets and devices are not mirrored; the scan reports them.
  }

  private async *dir(v: string, st: PathStat, descend: boolean): AsyncGenerator<ChangeRecord> {
    if (this.o.index.get(v) !== undefined || this.links.has(v)) {
      yield { op: 'delete', path: v };
      this.forgetTree(v);
    }
    if (this.dirs.has(v)) {
      yield* this.meta({ op: 'meta', path: v, mode: st.mode, ...this.owner(st) });
      return;
    }
    yield { op: 'mkdir', path: v, mode: st.mode };
    yield* this.meta({ op: 'meta', path: v, mode: st.mode, ...this.owner(st) });
    this.dirs.add(v);
    if (!descend) return;
    const { folder, rel } = splitVirtualPath(v);
    const scan = scanTree(this.abs(v), { matches: (p, isDir) => this.o.filter.matches(rel === '' ? p : `${rel}/${p}`, isDir), mayContain: (p) => this.o.filter.mayContain(rel === '' ? p : `${rel}/${p}`) });
    for await (const entry of scan) yield* this.path(virtualPath(folder, rel === '' ? entry.path : `${rel}/${entry.path}`), false);
  }

  private async *symlink(v: string): AsyncGenerator<ChangeRecord> {
    const target = await readlink(this.abs(v));
    if (this.links.get(v) === target) return;
    if (this.dirs.has(v) || this.o.index.get(v) !== undefined) this.forgetTree(v);
    yield { op: 'symlink', path: v, target };
    this.links.set(v, target);
  }

  private async *file(v: string, st: PathStat, probe: Probe | undefined): AsyncGenerator<ChangeRecord> {
    if (this.dirs.has(v) || this.links.has(v)) {
      yield { op: 'delete', path: v };
      this.forgetTree(v);
    }
    let previous = this.o.index.get(v);
    if (previous === undefined) {
      // A rename: the inode we last saw under another path, which no longer holds it.
      const from = this.o.index.pathOfInode(st.ino);
      if (from !== undefined && from !== v) {
        const there = await lstatOrUndefined(this.abs(from));
        if (there === undefined || there.ino !== st.ino) {
          yield { op: 'rename', from, to: v };
          this.o.index.rename(from, v);
          previous = this.o.index.get(v);
        }
      }
    }
    if (previous === undefined) yield { op: 'create', path: v, mode: st.mode };
    let current: FileIndex;
    let content: Buffer | undefined;
    let sent = false;
    try {
      if (previous !== undefined && unchanged(previous, st)) {
        current = previous;
      } else if (previous === undefined && st.size > WHOLE_READ_BYTES) {
        // All of it goes: read it once, sending each chunk as it is indexed.
        const chunks = readIndexing(this.abs(v), this.o.blockSize, this.o.writeChunk ?? WRITE_CHUNK);
        let step = await chunks.next();
        for (; step.done !== true; step = await chunks.next()) yield { op: 'write', path: v, offset: step.value.offset, data: step.value.data };
        current = step.value;
        sent = true;
      } else if (probe?.whole !== undefined && probe.previous === previous) {
        ({ index: current, content } = probe.whole);
      } else {
        const blockSize = previous?.blockSize ?? this.o.blockSize;
        const whole = st.size <= WHOLE_READ_BYTES ? await readAndIndexFile(this.abs(v), blockSize, previous, WHOLE_READ_BYTES) : undefined;
        current = whole?.index ?? await indexFile(this.abs(v), blockSize, previous);
        content = whole?.content;
      }
    } catch (e) {
      // Gone or replaced while we looked: the watcher reports what it became. A create already sent is taken
      // back, or the target would keep an empty file that no later delete names (the index never had it).
      if (!['ENOENT', 'ELOOP', 'VIGIL_NOT_A_FILE'].includes((e as { code?: string }).code ?? '')) throw e;
      if (previous === undefined) yield { op: 'delete', path: v };
      return;
    }
    if (current !== previous) {
      const { ranges, truncateTo } = changedRanges(previous, current);
      if (truncateTo !== undefined) yield { op: 'truncate', path: v, size: truncateTo };
      if (ranges.length > 0 && !sent) yield* content === undefined ? this.read(v, ranges) : this.slice(v, content, ranges);
      this.o.index.set(v, current);
    }
    yield* this.meta({ op: 'meta', path: v, mode: st.mode, mtimeMs: current.mtimeMs, ...this.owner(st) });
  }

  /** Write records for `ranges` of a file already in memory. */
  private *slice(v: string, content: Buffer, ranges: readonly { offset: number; length: number }[]): Generator<ChangeRecord> {
    const chunk = this.o.writeChunk ?? WRITE_CHUNK;
    for (const range of ranges) {
      for (let at = range.offset; at < range.offset + range.length; at += chunk) {
        yield { op: 'write', path: v, offset: at, data: content.subarray(at, Math.min(at + chunk, range.offset + range.length)) };
      }
    }
  }

  private async *read(v: string, ranges: readonly { offset: number; length: number }[]): AsyncGenerator<ChangeRecord> {
    const handle = await open(this.abs(v), 'r');
    try {
      for (const range of ranges) {
        const chunk = this.o.writeChunk ?? WRITE_CHUNK;
        for (let at = range.offset; at < range.offset + range.length; at += chunk) {
          const length = Math.min(chunk, range.offset + range.length - at);
          const data = Buffer.allocUnsafe(length);
          const { bytesRead } = await handle.read(data, 0, length, at);
          if (bytesRead === 0) return; // it shrank meanwhile: the watcher reports the truncation
          yield { op: 'write', path: v, offset: at, data: data.subarray(0, bytesRead) };
        }
      }
    } finally {
      await handle.close();
    }
  }

  private owner(st: PathStat): { uid?: number; gid?: number } {
    return this.o.owner ? { uid: st.uid, gid: st.gid } : {};
  }
}
