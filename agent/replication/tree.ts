/**
 * The entries of a mirror's data set, read from disk in a fixed order: what a full mirror sends, what verify
 * hashes. Symlinks are recorded, never followed. What cannot be mirrored (FIFOs, sockets, devices) or cannot be
 * read (a folder we may not list, a name that is not UTF-8) is listed in the scan's `problems`, never dropped.
 */
import { constants } from 'node:fs';
import { lstat, readdir, readlink, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { PathFilter } from './glob.js';

export type TreeEntryType = 'file' | 'dir' | 'symlink';

export interface TreeEntry {
  /** Relative to the root, posix separators (see checkRelativePath). */
  readonly path: string;
  readonly type: TreeEntryType;
  /** Bytes for a file, the target's length for a symlink, 0 for a folder. */
  readonly size: number;
  /** Permission bits with setuid, setgid and sticky (the type is in `type`). */
  readonly mode: number;
  readonly mtimeMs: number;
  readonly uid: number;
  readonly gid: number;
  readonly ino: number;
  /** Names the entry's file has (hard links), in the scanned tree or not. */
  readonly nlink: number;
  /** Its travelling extended attributes' digest, where the scan's lstat read them (EntryStats). */
  readonly xattrs?: string;
  /** A symlink's target exactly as stored (it may point anywhere, even outside the root). */
  readonly linkTarget?: string;
}

/**
 * `unsupported`: a FIFO, socket or device (code VIGIL_UNSUPPORTED_TYPE). `unreadable`: an entry or folder that
 * could not be read (code is the errno, e.g. EACCES, or VIGIL_BAD_NAME for a name that is not valid UTF-8).
 */
export interface TreeProblem {
  readonly path: string;
  readonly kind: 'unsupported' | 'unreadable';
  readonly code: string;
  readonly reason: string;
}

/** The entries, in comparePaths order. `problems` fills as the scan goes and is complete once iteration ends. */
export interface TreeScan extends AsyncIterable<TreeEntry> {
  readonly problems: readonly TreeProblem[];
}

export type TreeErrorCode = 'VIGIL_BAD_PATH' | 'VIGIL_BAD_ROOT';

export class TreeError extends Error {
  constructor(readonly code: TreeErrorCode, message: string) {
    super(message);
    this.name = 'TreeError';
  }
}

/**
 * Whether `p` may hold an empty segment (it needs "//" or a trailing "/", a leading one aside) or a dot segment (a
 * "." first or after a "/"). Most paths hold neither, and their validators need not split them.
 */
export function mayHoldOddSegment(p: string): boolean {
  return p.endsWith('/') || p.includes('//') || p.startsWith('.') || p.includes('/.');
}

/**
 * Returns `p` if it is a canonical path relative to a mirror root: not empty, no leading '/', no empty, '.' or
 * '..' segment (a '..' between backslashes is refused too, for a Windows peer), no NUL. Everything that arrives
 * from the network goes through here before it touches a disk.
 */
export function checkRelativePath(p: string): string {
  const bad = (why: string): never => { throw new TreeError('VIGIL_BAD_PATH', `path ${JSON.stringify(p)}: ${why}`); };
  if (typeof p !== 'string') bad(`is a ${typeof p}, not a string`);
  if (p === '') bad('is empty');
  if (p.startsWith('/')) bad("starts with '/'");
  if (p.includes('\0')) bad('contains a NUL character');
  // This runs per file: most paths need no split.
  if (!mayHoldOddSegment(p) && !p.includes('\\.')) return p;
  for (const segment of p.split('/')) {
    if (segment === '') bad('has an empty segment');
    if (segment === '.') bad("has a '.' segment");
    if (segment.split('\\').includes('..')) bad("has a '..' segment");
  }
  return p;
}

/** The scan's order: segment by segment, so a folder comes just before what it holds. */
export function comparePaths(a: string, b: string): number {
  const as = a.split('/');
  const bs = b.split('/');
  const n = Math.min(as.length, bs.length);
  for (let i = 0; i < n; i++) {
    const x = as[i]!;
    const y = bs[i]!;
    if (x !== y) return x < y ? -1 : 1;
  }
  return as.length - bs.length;
}

/** What a scan takes from an entry's lstat (an fs.Stats has it; `mode` with the type bits). */
export interface EntryStats {
  readonly mode: number;
  readonly size: number;
  readonly mtimeMs: number;
  readonly uid: number;
  readonly gid: number;
  readonly ino: number;
  readonly nlink: number;
  /**
   * The digest of a file's or folder's travelling extended attributes (xattrs.ts; NO_XATTRS for none), where the
   * lstat read them too (the read thread, for the source's reconcile): read there, they are not listed one path
   * at a time on the event loop.
   */
  readonly xattrs?: string;
}

/** lstat of a folder's entries at once; a failed one is an Error with the errno as `code`. */
export type LstatMany = (paths: readonly (string | Buffer)[]) => Promise<readonly (EntryStats | Error)[]>;

/**
 * Every entry below `root` that `filter` admits. A folder the filter does not admit itself but that holds
 * admitted entries is reported too, just before them, since the target needs it to hold them. `lstatMany`
 * replaces the thread pool's lstat (the source's engine passes its read thread: see read-thread.ts).
 */
export function scanTree(root: string, filter: PathFilter, lstatMany?: LstatMany): TreeScan {
  return new Scan(root, filter, lstatMany ?? lstatInPool);
}

/** STAT_BATCH at a time through libuv's thread pool. */
async function lstatInPool(paths: readonly (string | Buffer)[]): Promise<readonly (EntryStats | Error)[]> {
  const out: (EntryStats | Error)[] = [];
  for (let i = 0; i < paths.length; i += STAT_BATCH) {
    out.push(...await Promise.all(paths.slice(i, i + STAT_BATCH).map((p) => lstat(p).catch((e: unknown) => (e instanceof Error ? e : new Error(String(e)))))));
  }
  return out;
}

const typeOf = (s: EntryStats): number => s.mode & constants.S_IFMT;
const isDirectory = (s: EntryStats): boolean => typeOf(s) === constants.S_IFDIR;

/** The root folder itself as an entry (path ''); undefined when it cannot be read or is not a folder. */
export async function rootEntry(root: string, lstatMany: LstatMany = lstatInPool): Promise<TreeEntry | undefined> {
  const [stats] = await lstatMany([root]);
  return stats === undefined || stats instanceof Error || !isDirectory(stats) ? undefined : toEntry('', 'dir', stats);
}

/**
 * Subfolders of a folder whose listing (readdir and lstats) starts before the walk reaches them: a depth-first
 * walk that lists each folder only on arrival stood still at every folder for two round trips, and the reads
 * that a reconcile runs ahead of itself ran dry meanwhile (half the read thread's time idle over 200 folders).
 */
const FOLDERS_AHEAD = 4;

/**
 * Entry `name` (one segment, or several clean ones joined by "/") of folder `dir`, an absolute path without "."
 * or ".." segments or doubled slashes (`resolve` makes one so): path.join without its normalizing pass, which
 * allocated more per entry of a scan than anything else in it.
 */
export function childPath(dir: string, name: string): string {
  return dir.endsWith('/') ? dir + name : `${dir}/${name}`;
}

/** Entries whose lstat runs at once: enough to hide latency, few enough not to flood the threadpool. */
const STAT_BATCH = 32;
const utf8 = new TextDecoder('utf-8', { fatal: true });

interface Child { readonly name: string; readonly path: string; readonly stats: EntryStats }

class Scan implements TreeScan {
  private found: TreeProblem[] = [];

  constructor(private readonly root: string, private readonly filter: PathFilter, private readonly lstatMany: LstatMany) {}

  get problems(): readonly TreeProblem[] {
    return this.found;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<TreeEntry> {
    this.found = [];
    let rootStats: Awaited<ReturnType<typeof stat>>;
    try {
      rootStats = await stat(this.root);
    } catch (e) {
      throw new TreeError('VIGIL_BAD_ROOT', `mirror root ${this.root}: cannot be read (${errnoOf(e)})`);
    }
    if (!rootStats.isDirectory()) throw new TreeError('VIGIL_BAD_ROOT', `mirror root ${this.root}: not a folder`);
    yield* this.walk(resolve(this.root), '', []);
  }

  /**
   * `pending`: folders on the way here not admitted themselves, reported once something below them is.
   * `listed`: this folder's children, when its parent already started listing them (see FOLDERS_AHEAD).
   */
  private async *walk(dirAbs: string, dirRel: string, pending: TreeEntry[], listed?: Promise<Child[]>): AsyncGenerator<TreeEntry> {
    const children = await (listed ?? this.readChildren(dirAbs, dirRel));
    const subfolders = children.filter((c) => typeOf(c.stats) === constants.S_IFDIR && (this.filter.matches(c.path, true) || this.filter.mayContain(c.path)));
    const ahead = new Map<Child, Promise<Child[]>>();
    let nextAhead = 0;
    const listAhead = (): void => {
      for (; nextAhead < subfolders.length && ahead.size < FOLDERS_AHEAD; nextAhead++) {
        const folder = subfolders[nextAhead]!;
        const list = this.readChildren(childPath(dirAbs, folder.name), folder.path);
        list.catch(() => undefined); // awaited on arrival; a walk given up before that must not leave it unhandled
        ahead.set(folder, list);
      }
    };
    listAhead();
    for (const child of children) {
      const { stats, path } = child;
      const type = typeOf(stats);
      if (type === constants.S_IFDIR) {
        const list = ahead.get(child);
        if (list === undefined) continue; // neither admitted nor holding anything admitted
        ahead.delete(child);
        listAhead();
        const entry = toEntry(path, 'dir', stats);
        if (this.filter.matches(path, true)) {
          yield* flush(pending);
          yield entry;
          yield* this.walk(childPath(dirAbs, child.name), path, pending, list);
        } else {
          pending.push(entry);
          yield* this.walk(childPath(dirAbs, child.name), path, pending, list);
          if (pending[pending.length - 1] === entry) pending.pop();
        }
      } else if (!this.filter.matches(path, false)) {
        continue;
      } else if (type === constants.S_IFREG) {
        // Most entries: no generator made for an empty list.
        if (pending.length > 0) yield* flush(pending);
        yield toEntry(path, 'file', stats);
      } else if (type === constants.S_IFLNK) {
        const target = await this.readLink(childPath(dirAbs, child.name), path);
        if (target === undefined) continue;
        yield* flush(pending);
        yield { ...toEntry(path, 'symlink', stats), linkTarget: target };
      } else {
        this.found.push({ path, kind: 'unsupported', code: 'VIGIL_UNSUPPORTED_TYPE', reason: `${path}: ${describeSpecial(stats)} cannot be mirrored` });
      }
    }
  }

  private async readChildren(dirAbs: string, dirRel: string): Promise<Child[]> {
    let raw: Buffer[];
    try {
      raw = await readdir(dirAbs, { encoding: 'buffer' });
    } catch (e) {
      if (errnoOf(e) === 'ENOENT' && dirRel !== '') return []; // removed while we scanned: the journal reports that
      this.found.push({ path: dirRel, kind: 'unreadable', code: errnoOf(e), reason: `${dirRel || '.'}: cannot list (${messageOf(e)})` });
      return [];
    }
    const named: { name: string; path: string; abs: string | Buffer; badBytes?: Buffer }[] = [];
    for (const bytes of raw) {
      let name: string;
      let badBytes: Buffer | undefined;
      try {
        name = utf8.decode(bytes);
      } catch {
        name = bytes.toString('utf8');
        badBytes = bytes;
      }
      const path = dirRel === '' ? name : `${dirRel}/${name}`;
      const abs = badBytes === undefined ? childPath(dirAbs, name) : Buffer.concat([Buffer.from(childPath(dirAbs, '')), badBytes]);
      named.push(badBytes === undefined ? { name, path, abs } : { name, path, abs, badBytes });
    }
    named.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const children: Child[] = [];
    const stats = named.length === 0 ? [] : await this.lstatMany(named.map((c) => c.abs));
    named.forEach((c, k) => {
      const s = stats[k];
      if (s === undefined || s instanceof Error) {
        if (s !== undefined && errnoOf(s) === 'ENOENT') return; // removed while we scanned
        this.found.push({ path: c.path, kind: 'unreadable', code: s === undefined ? 'EIO' : errnoOf(s), reason: `${c.path}: cannot stat (${s?.message ?? 'no answer'})` });
      } else if (c.badBytes !== undefined) {
        // Judged by its name with the bad bytes replaced: the closest the filter can come to it.
        const isDir = isDirectory(s);
        if (this.filter.matches(c.path, isDir) || (isDir && this.filter.mayContain(c.path))) {
          this.found.push({ path: c.path, kind: 'unreadable', code: 'VIGIL_BAD_NAME', reason: `${c.path}: name is not valid UTF-8 (bytes ${c.badBytes.toString('hex')})` });
        }
      } else {
        children.push({ name: c.name, path: c.path, stats: s });
      }
    });
    return children;
  }

  private async readLink(abs: string, path: string): Promise<string | undefined> {
    try {
      return utf8.decode(await readlink(abs, { encoding: 'buffer' }));
    } catch (e) {
      if (errnoOf(e) === 'ENOENT') return undefined;
      const code = e instanceof TypeError ? 'VIGIL_BAD_NAME' : errnoOf(e);
      this.found.push({ path, kind: 'unreadable', code, reason: `${path}: cannot read the link target (${messageOf(e)})` });
      return undefined;
    }
  }
}

function* flush(pending: TreeEntry[]): Generator<TreeEntry> {
  const ancestors = pending.splice(0);
  yield* ancestors;
}

function toEntry(path: string, type: TreeEntryType, s: EntryStats): TreeEntry {
  const size = type === 'dir' ? 0 : s.size;
  // Two literals, not a spread: one shape each, as many entries as the tree holds.
  return s.xattrs === undefined
    ? { path, type, size, mode: s.mode & 0o7777, mtimeMs: s.mtimeMs, uid: s.uid, gid: s.gid, ino: s.ino, nlink: s.nlink }
    : { path, type, size, mode: s.mode & 0o7777, mtimeMs: s.mtimeMs, uid: s.uid, gid: s.gid, ino: s.ino, nlink: s.nlink, xattrs: s.xattrs };
}

function describeSpecial(s: EntryStats): string {
  const type = typeOf(s);
  if (type === constants.S_IFIFO) return 'a FIFO';
  if (type === constants.S_IFSOCK) return 'a socket';
  if (type === constants.S_IFBLK) return 'a block device';
  if (type === constants.S_IFCHR) return 'a character device';
  return `a file of unknown type (mode ${s.mode.toString(8)})`;
}

function errnoOf(e: unknown): string {
  return (e as NodeJS.ErrnoException).code ?? 'EIO';
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
