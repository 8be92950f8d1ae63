/**
 * The standby's side of mirroring: applies change records to the target tree. Every op is idempotent, so a
 * batch replayed after a crash (the journal re-sends what was not acknowledged) leaves the same tree. Nothing
 * ever leaves the root: paths are checked lexically and against symlinks, and files are opened O_NOFOLLOW.
 */
import { createHash } from 'node:crypto';
import { constants, readFileSync, type Stats } from 'node:fs';
import { chmod, lchown, link, lstat, lutimes, mkdir, open, readlink, realpath, rename, rm, stat as statFollowing, symlink, unlink, utimes, type FileHandle } from 'node:fs/promises';
import { dirname, resolve, sep } from 'node:path';
import { relativePathProblem, sameMtime, type ChangeRecord, type PutEntry, type PutsRecord, type WireRecord } from './records.js';
import { WriteThread, type PutFile } from './write-thread.js';
import { InlineWrites, type InlineWriteOptions, type InlineWriteStats } from './inline-writes.js';
import { WRITE_PIECE_BYTES, writePiece } from '../util/write-pieces.js';
import { HolePuncher } from './punch-hole.js';
import { matchXattrs, type ExtendedAttributes } from './xattrs.js';
import { childPath } from './tree.js';

export type ApplyErrorCode = 'VIGIL_BAD_PATH' | 'VIGIL_APPLY_FAILED' | 'VIGIL_HASH_MISMATCH' | 'VIGIL_APPLIER_CLOSED';

/** A record that could not be applied; the message names its op and path, `cause` holds the system error. */
export class ApplyError extends Error {
  constructor(readonly code: ApplyErrorCode, message: string, options?: { cause: unknown }) {
    super(message, options);
    this.name = 'ApplyError';
  }
}

export interface ApplierOptions {
  /** Apply uid/gid of meta records (only root may chown). */
  readonly applyOwner?: boolean;
  /** Bound of the cache of open files kept for positional writes. */
  readonly maxOpenFiles?: number;
  /** fsync what is applied (default true). False leaves it to the page cache: the caller must then resync after
   * a crash, since acknowledged records may be lost with the machine. */
  readonly durable?: boolean;
  /** Where whole small files (put records) are written; shared by a target's appliers. Default: one of its own. */
  readonly writeThread?: WriteThread;
  /**
   * Write records' bytes are written on this thread while that is fast and the root is on a local file system
   * (inline-writes.ts); false always goes through libuv's pool. Default: allowed, with the module's thresholds.
   */
  readonly inlineWrites?: false | Omit<InlineWriteOptions, 'allowed'>;
  /** A run of zeros over a file's bytes is a hole punched there (punch-hole.ts) where it can be; false writes zeros. Default true. */
  readonly punchHoles?: boolean;
  /** Sets xattrs records' attributes (xattrs.ts); without it such a record is refused. */
  readonly xattrs?: ExtendedAttributes;
  /** Told of each xattrs record the copy could not take (a file system that keeps none, say); it is counted besides. */
  readonly onXattrsNotSet?: (problem: XattrsNotSet) => void;
}

/** An xattrs record the copy could not take: its path, the errno's name and the system's message. */
export interface XattrsNotSet {
  readonly path: string;
  readonly code: string;
  readonly message: string;
}

/** What idempotence quietly absorbed, for the engine's counters. */
export interface ApplierStats {
  /** Renames whose source was already gone (a replay, or a divergence the next file-hash will catch). */
  renamesWithoutSource: number;
  /** Meta records for a path that was already gone (a replay: a later record renamed or deleted it). */
  metaWithoutPath: number;
  /** xattrs records the copy could not take whole: its file system keeps none (ENOTSUP), or refuses a namespace (EPERM). */
  xattrsNotSet: number;
}

const DEFAULT_MAX_OPEN_FILES = 64;
const WRITE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_NOFOLLOW;
const CREATE_NEW_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
/** How many running paths a folder's meta record scans for its entries' (runningUnder). */
const RUNNING_SCAN_LIMIT = 256;

let umask: number | undefined;
/**
 * The process's umask, read once from /proc (process.umask() without an argument is deprecated: it sets the mask
 * to read it). Where /proc has no answer, every bit counts as cut, so a new file's mode is always set again.
 */
function processUmask(): number {
  if (umask === undefined) {
    try {
      const line = /^Umask:\s*([0-7]+)$/m.exec(readFileSync('/proc/self/status', 'latin1'));
      umask = line === null ? 0o7777 : Number.parseInt(line[1]!, 8);
    } catch {
      umask = 0o7777;
    }
  }
  return umask;
}

interface OpenFile {
  readonly handle: FileHandle;
  dirty: boolean;
  /** Ops using the handle right now: an open file in use is never evicted from the cache. */
  users: number;
}

/**
 * Ops on one file's content or metadata commute with ops on other files: they may run at once, each after the
 * previous op on its own path (a puts record on each of its paths). Ops that change the tree's shape (mkdir,
 * symlink, rename, link, delete) run alone, after everything before them and before everything after. A meta record that
 * sets a time also waits for the ops running under its path: a folder's mtime moves with each entry made in it (see
 * runningUnder).
 */
function contentPaths(r: WireRecord): string | readonly string[] | undefined {
  if (r.op === 'puts') return r.files.map((f) => f.path);
  return r.op === 'write' || r.op === 'zeros' || r.op === 'truncate' || r.op === 'create' || r.op === 'meta' || r.op === 'xattrs' || r.op === 'file-hash' || r.op === 'put' ? r.path : undefined;
}

export class Applier {
  private readonly durable: boolean;
  readonly stats: ApplierStats = { renamesWithoutSource: 0, metaWithoutPath: 0, xattrsNotSet: 0 };
  private readonly root: string;
  private readonly applyOwner: boolean;
  private readonly maxOpenFiles: number;
  /** Open files by absolute path, least recently used first (Map keeps insertion order). */
  private readonly files = new Map<string, OpenFile>();
  /** Folders whose entries changed since the last sync, fsynced so creates, renames and deletes survive a crash. */
  private readonly dirtyDirs = new Set<string>();
  private realRoot: string | undefined;
  /** The root's device: only files on it are written inline (see the write op). */
  private rootDevice: number | undefined;
  /**
   * Folders already checked to resolve inside the root, and whether each lies on the root's file system: most
   * records land in a folder seen before, and checking again costs three system calls. Forgotten whenever a record
   * removes, renames or links anything, the only ops by which a checked folder could become something else.
   */
  private readonly checkedDirs = new Map<string, boolean>();
  /** Checks of folders under way, by folder (and whether missing ones are made): see resolve. */
  private readonly parentChecks = new Map<string, Promise<string | undefined>>();
  /** The last op that runs alone (a shape change, a sync, a close), settled. */
  private barrier: Promise<unknown> = Promise.resolve();
  /** Content ops started since that barrier, settled; and the last one of each path. */
  private readonly running = new Set<Promise<unknown>>();
  private readonly lastOfPath = new Map<string, Promise<unknown>>();
  private closed = false;
  /** Given by the caller (who closes it), or made at the first put and closed with the applier. */
  private writeThread: WriteThread | undefined;
  private readonly ownsWriteThread: boolean;
  private readonly inlineWriteOptions: false | Omit<InlineWriteOptions, 'allowed'>;
  /** Made at the first write record, once the root exists (its file system decides). */
  private inline: Promise<InlineWrites | undefined> | undefined;
  private inlineMade: InlineWrites | undefined;
  private readonly holes: HolePuncher | undefined;
  private readonly xattrs: ExtendedAttributes | undefined;
  private readonly onXattrsNotSet: (problem: XattrsNotSet) => void;

  constructor(root: string, options: ApplierOptions = {}) {
    // Normalized: a record's checked path extends it by concatenation (childPath).
    this.root = resolve(root);
    this.applyOwner = options.applyOwner ?? false;
    this.maxOpenFiles = Math.max(1, options.maxOpenFiles ?? DEFAULT_MAX_OPEN_FILES);
    this.durable = options.durable ?? true;
    this.xattrs = options.xattrs;
    this.onXattrsNotSet = options.onXattrsNotSet ?? (() => undefined);
    this.writeThread = options.writeThread;
    this.ownsWriteThread = options.writeThread === undefined;
    this.inlineWriteOptions = options.inlineWrites ?? {};
    this.holes = options.punchHoles === false ? undefined : new HolePuncher();
  }

  /** Pieces written inline, and slow ones among them; undefined before the first write record or when not allowed. */
  get inlineWriteStats(): Readonly<InlineWriteStats> | undefined {
    return this.inlineMade?.allowed === true ? this.inlineMade.stats : undefined;
  }

  private inlineWrites(): Promise<InlineWrites | undefined> {
    const options = this.inlineWriteOptions;
    if (options === false) return Promise.resolve(undefined);
    this.inline ??= this.ensureRoot().then((root) => InlineWrites.forFolder(root, options)).then((w) => (this.inlineMade = w));
    return this.inline;
  }

  /**
   * Apply one record. Calls may overlap: the tree then ends as if the records had been applied one by one in
   * call order (content ops on different files run at once; see contentPaths).
   */
  apply(r: WireRecord): Promise<void> {
    const under = r.op === 'meta' && r.mtimeMs !== undefined ? this.runningUnder(r.path) : [];
    return this.schedule(contentPaths(r), async () => {
      try {
        try {
          await this.applyNow(r);
        } catch (e) {
          // A checked folder removed behind our back (by hand, on the standby): check again, creating it anew.
          if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || this.checkedDirs.size === 0) throw e;
          this.checkedDirs.clear();
          this.parentChecks.clear();
          await this.applyNow(r);
        }
      } catch (e) {
        if (e instanceof ApplyError) throw e;
        const err = e as NodeJS.ErrnoException;
        throw new ApplyError('VIGIL_APPLY_FAILED', `${describe(r)}: ${err.code ?? err.message}`, { cause: e });
      }
    }, under);
  }

  /**
   * The ops running under `folder` (its entries'): a folder's mtime, sent after the records that changed its
   * entries, must land after them. Past RUNNING_SCAN_LIMIT paths at once, every running op, rather than a scan of
   * them all for each meta record.
   */
  private runningUnder(folder: string): Promise<unknown>[] {
    if (this.lastOfPath.size > RUNNING_SCAN_LIMIT) return [...this.running];
    const prefix = `${folder}/`;
    const under: Promise<unknown>[] = [];
    for (const [path, settled] of this.lastOfPath) if (path.startsWith(prefix)) under.push(settled);
    return under;
  }

  /**
   * A meta or xattrs record of the root itself (the mirrored folder, path ""): its mode, owner, time and attributes
   * made the source folder's, as `rsync -a src/ dst/` does (a shared folder's access is its root's ACL and mode as
   * much as its files'). After everything before it: its entries' changes move its time, and a mode that takes
   * the write bit away must not stop them. The root's other records are the caller's (MirrorTarget: a delete
   * empties it; it exists, so a mkdir is nothing).
   */
  applyToRoot(r: Extract<ChangeRecord, { op: 'meta' | 'xattrs' }>): Promise<void> {
    return this.schedule(undefined, async () => {
      const root = await this.ensureRoot();
      const own = { ...r, path: '' };
      if (own.op === 'meta') await this.metaOf(root, undefined, own);
      else await this.xattrsAt(root, own);
    });
  }

  /** fsync, unless the caller trades durability for speed (it then recovers from a crash by a resync). */
  private async fsync(handle: FileHandle): Promise<void> {
    if (this.durable) await handle.sync();
  }

  /** Make everything applied so far durable; call before acknowledging a batch. */
  sync(): Promise<void> {
    return this.schedule(undefined, () => this.syncNow());
  }

  /** Sync, then close every open file. Later calls are refused with VIGIL_APPLIER_CLOSED. */
  async close(): Promise<void> {
    if (this.closed) return;
    const done = this.schedule(undefined, async () => {
      try {
        await this.syncNow();
      } finally {
        await Promise.allSettled([...this.files.keys()].map((p) => this.closeFile(p, false)));
        if (this.ownsWriteThread) await this.writeThread?.close();
      }
    });
    this.closed = true;
    await done;
  }

  /**
   * Runs `task` after what it must follow: the previous op on its path or paths (and `alsoAfter`), or, for an op
   * that runs alone, everything.
   */
  private schedule<T>(path: string | readonly string[] | undefined, task: () => Promise<T>, alsoAfter: readonly Promise<unknown>[] = []): Promise<T> {
    if (this.closed) return Promise.reject(new ApplyError('VIGIL_APPLIER_CLOSED', 'the applier is closed'));
    if (path === undefined) {
      const run = Promise.all([this.barrier, ...this.running]).then(task, task);
      this.barrier = run.catch(() => undefined);
      this.running.clear();
      this.lastOfPath.clear();
      return run;
    }
    if (typeof path !== 'string') return this.scheduleMany(path, task);
    const last = this.lastOfPath.get(path) ?? this.barrier;
    // All of these are settled promises, which never reject.
    const after = alsoAfter.length === 0 ? last : Promise.all([last, ...alsoAfter]);
    const run = after.then(task, task);
    const settled = run.catch(() => undefined);
    this.running.add(settled);
    this.lastOfPath.set(path, settled);
    void settled.then(() => {
      this.running.delete(settled);
      if (this.lastOfPath.get(path) === settled) this.lastOfPath.delete(path);
    });
    return run;
  }

  /** As schedule, for an op on several paths (a puts record): after the previous op on each, before the next. */
  private scheduleMany<T>(paths: readonly string[], task: () => Promise<T>): Promise<T> {
    const before = new Set<Promise<unknown>>([this.barrier]);
    for (const path of paths) {
      const last = this.lastOfPath.get(path);
      if (last !== undefined) before.add(last);
    }
    const run = (before.size === 1 ? this.barrier : Promise.all(before)).then(task, task);
    const settled = run.catch(() => undefined);
    this.running.add(settled);
    for (const path of paths) this.lastOfPath.set(path, settled);
    void settled.then(() => {
      this.running.delete(settled);
      for (const path of paths) if (this.lastOfPath.get(path) === settled) this.lastOfPath.delete(path);
    });
    return run;
  }

  private async applyNow(r: WireRecord): Promise<void> {
    switch (r.op) {
      case 'write': {
        const path = await this.resolve(r.path, r, true);
        const file = await this.openForWrite(path);
        try {
          // Only on the root's file system, which inline-writes.ts judged: a network file system mounted inside
          // the tree (NFS, CIFS, FUSE) could hold the event loop, and the heartbeats on it, for seconds.
          const inline = this.checkedDirs.get(dirname(path)) === true ? this.inlineMade ?? (await this.inlineWrites()) : undefined;
          // Inline while that is allowed and fast (its loop checks before each piece); the rest through the pool.
          let written = inline?.write(file.handle.fd, r.data, r.offset) ?? 0;
          while (written < r.data.length) {
            const { bytesWritten } = await file.handle.write(r.data, written, writePiece(r.data.length - written), r.offset + written);
            written += bytesWritten;
          }
          file.dirty = true;
        } finally {
          file.users--;
        }
        return;
      }
      case 'zeros':
        return this.zeros(r);
      case 'truncate': {
        const file = await this.openForWrite(await this.resolve(r.path, r, true));
        try {
          await file.handle.truncate(r.size);
          file.dirty = true;
        } finally {
          file.users--;
        }
        return;
      }
      case 'create': {
        const path = await this.resolve(r.path, r, true);
        await this.closeFile(path, true);
        // Most creates (a full mirror, new files) find nothing there: O_EXCL says so without a stat, and a new
        // file has the mode open gave it, unless the umask cut bits of it.
        const createNew = (): Promise<FileHandle | undefined> => open(path, CREATE_NEW_FLAGS, r.mode).catch((e: NodeJS.ErrnoException) => {
          if (e.code === 'EEXIST') return undefined;
          throw e;
        });
        let handle = await createNew();
        // A name that shares its file with others (a hard link) is the source's new file now: the others keep theirs.
        const there = handle === undefined ? await lstatOrUndefined(path) : undefined;
        if (there?.isFile() === true && there.nlink > 1) {
          await unlink(path);
          handle = await createNew();
        }
        const modeSet = handle !== undefined && (r.mode & (processUmask() | 0o7000)) === 0;
        if (handle === undefined) {
          const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW;
          try {
            handle = await open(path, flags, r.mode);
          } catch (e) {
            // A folder (EISDIR) or a symlink (ELOOP) where the source now has a file: replace it.
            const code = (e as NodeJS.ErrnoException).code;
            const existing = code === 'EISDIR' || code === 'ELOOP' ? await lstatOrUndefined(path) : undefined;
            if (existing === undefined) throw e;
            await this.remove(path, existing);
            handle = await open(path, flags, r.mode);
          }
        }
        // The file stays open: the writes and the meta record that follow a create use the same handle.
        const file: OpenFile = { handle, dirty: true, users: 1 };
        try {
          await this.keepOpen(path, file);
          if (!modeSet) await handle.chmod(r.mode); // an existing file keeps its mode through open
        } finally {
          file.users--;
        }
        this.dirtyDirs.add(dirname(path));
        return;
      }
      case 'put':
        return this.put(await this.resolve(r.path, r, true), r);
      case 'puts':
        return this.putMany(r);
      case 'mkdir': {
        const path = await this.resolve(r.path, r, true);
        const existing = await lstatOrUndefined(path);
        if (existing !== undefined && !existing.isDirectory()) await this.remove(path, existing);
        if (existing === undefined || !existing.isDirectory()) {
          await mkdir(path, { mode: r.mode });
          this.dirtyDirs.add(dirname(path));
        }
        await chmod(path, r.mode);
        return;
      }
      case 'symlink': {
        const path = await this.resolve(r.path, r, true);
        const existing = await lstatOrUndefined(path);
        if (existing?.isSymbolicLink() && (await readlink(path)) === r.target) return;
        if (existing !== undefined) await this.remove(path, existing);
        this.checkedDirs.clear();
        await symlink(r.target, path);
        this.dirtyDirs.add(dirname(path));
        return;
      }
      case 'rename':
        return this.rename(r);
      case 'link':
        return this.link(r);
      case 'delete': {
        const path = await this.resolve(r.path, r, false);
        const existing = await lstatOrUndefined(path);
        if (existing === undefined) {
          await this.closeUnder(path);
          return;
        }
        await this.remove(path, existing);
        return;
      }
      case 'meta':
        return this.meta(r);
      case 'xattrs':
        return this.setXattrs(r);
      case 'file-hash':
        return this.checkHash(r);
    }
  }

  /**
   * Files whole, as put records one after the other. Every path is checked before any file is written, so a bad
   * one refuses the record with nothing of it applied (but folders made on the way to good ones). Files of
   * distinct paths are handed to the write thread at once (it writes them in order, a batch per message).
   */
  private async putMany(r: PutsRecord): Promise<void> {
    // Most files of a record share folders already checked: their paths need no promise each. A bad path throws
    // here, before any folder is looked at.
    const checked = r.files.map((file) => this.checkedPath(file.path, r));
    const resolving = checked.map((path, i) => path ?? this.resolve(r.files[i]!.path, r, true));
    const paths = resolving.every((p): p is string => typeof p === 'string') ? resolving : await Promise.all(resolving);
    if (new Set(paths).size === paths.length) {
      await Promise.all(r.files.map((file, i) => this.put(paths[i]!, file)));
      return;
    }
    // The same path twice: the later must land last, whatever the earlier met on its way.
    for (let i = 0; i < paths.length; i++) await this.put(paths[i]!, r.files[i]!);
  }

  /** A whole file at `path` (resolved), on the write thread: create (or empty), write, mode, owner and mtime in one trip. */
  private async put(path: string, r: PutEntry): Promise<void> {
    if (this.files.has(path)) await this.closeFile(path, true);
    this.writeThread ??= new WriteThread();
    const file: PutFile = {
      path, mode: r.mode, mtimeMs: r.mtimeMs, uid: this.applyOwner ? r.uid : undefined, gid: this.applyOwner ? r.gid : undefined,
      data: r.data, chmodNew: (r.mode & (processUmask() | 0o7000)) !== 0, durable: this.durable,
    };
    try {
      await this.writeThread.put(file);
    } catch (e) {
      // A folder (EISDIR) or a symlink (ELOOP) where the source now has a file: replace it.
      const code = (e as NodeJS.ErrnoException).code;
      const existing = code === 'EISDIR' || code === 'ELOOP' ? await lstatOrUndefined(path) : undefined;
      if (existing === undefined) throw e;
      await this.remove(path, existing);
      await this.writeThread.put(file);
    }
    this.dirtyDirs.add(dirname(path));
  }

  /**
   * A run of zeros: past the file's end it is a hole (the file grows by truncate, which allocates nothing); over
   * the file's bytes, a hole is punched, or where that cannot be, zeros are written where they are not zeros
   * already (so a replay leaves holes as they are).
   */
  private async zeros(r: Extract<ChangeRecord, { op: 'zeros' }>): Promise<void> {
    const path = await this.resolve(r.path, r, true);
    const file = await this.openForWrite(path);
    try {
      const { size } = await file.handle.stat();
      const end = r.offset + r.length;
      const within = Math.min(end, size);
      if (within > r.offset && (await this.holes?.punch(file.handle.fd, r.offset, within - r.offset)) !== true) await this.writeZeros(path, file, r.offset, within);
      if (end > size) await file.handle.truncate(end);
      file.dirty = true;
    } finally {
      file.users--;
    }
  }

  /** Zeros over `from` to `to` of the open file, where its bytes are not zeros already. */
  private async writeZeros(path: string, file: OpenFile, from: number, to: number): Promise<void> {
    // The handle writes only (a file may be write-only to us): its bytes are read through another. One that cannot
    // be read is written over.
    const reader = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW).catch(() => undefined);
    try {
      const there = Buffer.allocUnsafe(Math.min(ZERO_PIECE.length, to - from));
      for (let at = from; at < to;) {
        const length = Math.min(ZERO_PIECE.length, to - at);
        const read = reader === undefined ? 0 : (await reader.read(there, 0, length, at)).bytesRead;
        if (read === length && ZERO_PIECE.compare(there, 0, length, 0, length) === 0) {
          at += length;
          continue;
        }
        at += (await file.handle.write(ZERO_PIECE, 0, length, at)).bytesWritten;
      }
    } finally {
      await reader?.close();
    }
  }

  private async rename(r: Extract<ChangeRecord, { op: 'rename' }>): Promise<void> {
    const from = await this.resolve(r.from, r, false);
    const to = await this.resolve(r.to, r, false);
    if (from === to) return;
    this.checkedDirs.clear();
    await this.closeUnder(from);
    await this.closeUnder(to);
    const source = await lstatOrUndefined(from);
    if (source === undefined) {
      // Already applied before a crash (the destination holds it), or the source's history is missing here.
      if ((await lstatOrUndefined(to)) === undefined) this.stats.renamesWithoutSource++;
      return;
    }
    await this.resolve(r.to, r, true);
    try {
      await rename(from, to);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      // rename(2) replaces a file or an empty folder only; the record means "whatever is there".
      if (code !== 'EISDIR' && code !== 'ENOTEMPTY' && code !== 'ENOTDIR' && code !== 'EEXIST') throw e;
      await rm(to, { recursive: true, force: true });
      await rename(from, to);
    }
    this.dirtyDirs.add(dirname(from));
    this.dirtyDirs.add(dirname(to));
  }

  /** `path` made another name of `existing`'s file, replacing what it was (not when it already is that file). */
  private async link(r: Extract<ChangeRecord, { op: 'link' }>): Promise<void> {
    const existing = await this.resolve(r.existing, r, false);
    const path = await this.resolve(r.path, r, true);
    if (existing === path) return;
    const file = await lstatOrUndefined(existing);
    if (file === undefined || !file.isFile()) {
      throw new ApplyError('VIGIL_APPLY_FAILED', `${describe(r)}: ${r.existing} is ${file === undefined ? 'missing' : 'not a file'} in the copy`);
    }
    const there = await lstatOrUndefined(path);
    // Applied already (a record applied again after a reconnect).
    if (there !== undefined && there.ino === file.ino && there.dev === file.dev) return;
    if (there !== undefined) await this.remove(path, there);
    await link(existing, path);
    this.dirtyDirs.add(dirname(path));
  }

  /** Only what differs is changed: a meta record usually follows a write, and most of it is already so. */
  private async meta(r: Extract<ChangeRecord, { op: 'meta' }>): Promise<void> {
    const path = await this.resolve(r.path, r, false);
    // A file still open from its writes is the file at this path: renames and deletes close what they touch.
    const open = this.files.get(path);
    if (open !== undefined) open.users++;
    try {
      await this.metaOf(path, open?.handle, r);
    } finally {
      if (open !== undefined) open.users--;
    }
  }

  private async metaOf(path: string, handle: FileHandle | undefined, r: Extract<ChangeRecord, { op: 'meta' }>): Promise<void> {
    const stat = handle !== undefined ? await handle.stat() : await lstatOrUndefined(path);
    if (stat === undefined) {
      this.stats.metaWithoutPath++;
      return;
    }
    const link = stat.isSymbolicLink();
    // Linux cannot chmod a symlink, and chmod(2) would follow it out of the tree.
    if (r.mode !== undefined && !link && (stat.mode & 0o7777) !== r.mode) await (handle !== undefined ? handle.chmod(r.mode) : chmod(path, r.mode));
    if (this.applyOwner && (r.uid !== undefined || r.gid !== undefined)) {
      const uid = r.uid ?? stat.uid;
      const gid = r.gid ?? stat.gid;
      if (uid !== stat.uid || gid !== stat.gid) await (handle !== undefined ? handle.chown(uid, gid) : lchown(path, uid, gid));
    }
    if (r.mtimeMs !== undefined && !sameMtime(r.mtimeMs, stat.mtimeMs)) {
      // In seconds, not a Date: a Date keeps whole milliseconds, so the mtime never matched again and every later
      // meta record (20,000 after a restart) set it once more.
      const mtime = r.mtimeMs / 1000;
      if (handle !== undefined) await handle.utimes(stat.atime, mtime);
      else if (link) await lutimes(path, stat.atime, mtime);
      else await utimes(path, stat.atime, mtime);
    }
  }

  /**
   * The path's travelling attributes made the record's, through its name (never following a symlink). A copy on a
   * file system that keeps none, or that refuses a namespace to this process, is counted and told (onXattrsNotSet):
   * the record is not refused, since the source would send it again forever. verify lists what differs.
   */
  private async setXattrs(r: Extract<ChangeRecord, { op: 'xattrs' }>): Promise<void> {
    await this.xattrsAt(await this.resolve(r.path, r, false), r);
  }

  private async xattrsAt(path: string, r: Extract<ChangeRecord, { op: 'xattrs' }>): Promise<void> {
    if (this.xattrs === undefined) throw new ApplyError('VIGIL_APPLY_FAILED', `${describe(r)}: this node cannot set extended attributes`);
    try {
      matchXattrs(this.xattrs, path, r.xattrs);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? '';
      if (code === 'ENOENT' || code === 'ENOTDIR') {
        this.stats.metaWithoutPath++;
        return;
      }
      if (code !== 'ENOTSUP' && code !== 'EPERM' && code !== 'EACCES') throw new ApplyError('VIGIL_APPLY_FAILED', `${describe(r)}: ${(e as Error).message}`, { cause: e });
      this.stats.xattrsNotSet++;
      this.onXattrsNotSet({ path: r.path, code, message: (e as Error).message });
    }
  }

  private async checkHash(r: Extract<ChangeRecord, { op: 'file-hash' }>): Promise<void> {
    const path = await this.resolve(r.path, r, false);
    const stat = await lstatOrUndefined(path);
    if (stat === undefined || !stat.isFile()) {
      throw new ApplyError('VIGIL_HASH_MISMATCH', `${describe(r)}: ${stat === undefined ? 'missing' : 'not a regular file'} on the target`);
    }
    if (stat.size !== r.size) throw new ApplyError('VIGIL_HASH_MISMATCH', `${describe(r)}: ${stat.size} bytes on the target, ${r.size} on the source`);
    const hash = createHash('sha256');
    const handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      for await (const chunk of handle.createReadStream({ autoClose: false })) hash.update(chunk as Buffer);
    } finally {
      await handle.close();
    }
    const actual = hash.digest();
    if (!actual.equals(r.sha256)) {
      throw new ApplyError('VIGIL_HASH_MISMATCH', `${describe(r)}: sha256 ${actual.toString('hex')} on the target, ${r.sha256.toString('hex')} on the source`);
    }
  }

  /** The absolute path of `rel`, once its folder is checked (checkParent), or was since the last change of shape. */
  private async resolve(rel: string, r: WireRecord, makeParents: boolean): Promise<string> {
    const checked = this.checkedPath(rel, r);
    if (checked !== undefined) return checked;
    const path = childPath(this.root, rel);
    const parent = dirname(path);
    // Records for the files of a new folder arrive together and run at once: they share one check of it.
    const key = `${makeParents ? '+' : '-'}${parent}`;
    let check = this.parentChecks.get(key);
    if (check === undefined) {
      check = this.checkParent(parent, makeParents);
      this.parentChecks.set(key, check);
      const done = check;
      void done.then(() => undefined, () => undefined).then(() => { if (this.parentChecks.get(key) === done) this.parentChecks.delete(key); });
    }
    const escapesTo = await check;
    if (escapesTo !== undefined) {
      throw new ApplyError('VIGIL_BAD_PATH', `${describe(r)}: ${JSON.stringify(rel)} leads through a symlink out of the mirror root (to ${escapesTo})`);
    }
    return path;
  }

  /** As resolve, at once, where `rel`'s folder is checked already; undefined where it is not. Throws for a bad path. */
  private checkedPath(rel: string, r: WireRecord): string | undefined {
    const problem = relativePathProblem(rel);
    if (problem !== undefined) throw new ApplyError('VIGIL_BAD_PATH', `${describe(r)}: path ${JSON.stringify(rel)} ${problem}`);
    const path = childPath(this.root, rel);
    return this.checkedDirs.has(dirname(path)) ? path : undefined;
  }

  /**
   * Makes sure every existing folder on the way to `parent` resolves inside the root (a symlink in the tree may
   * point anywhere; it is mirrored, never followed out); with `makeParents`, creates the missing folders,
   * replacing a non-folder in the way as the source must have done before us. Answers where the way leads out
   * of the root, or undefined when it stays inside.
   */
  private async checkParent(parent: string, makeParents: boolean): Promise<string | undefined> {
    const realRoot = await this.ensureRoot();
    let existing = parent;
    let stat = await lstatOrUndefined(existing);
    while (stat === undefined) {
      existing = dirname(existing);
      stat = await lstatOrUndefined(existing);
    }
    const real = await realpath(existing);
    if (real !== realRoot && !real.startsWith(realRoot + sep)) return real;
    if (!makeParents) {
      if (existing === parent && stat.isDirectory()) this.checkedDirs.set(parent, stat.dev === this.rootDevice);
      return undefined;
    }
    if (!(await lstat(real)).isDirectory()) {
      await this.remove(real, await lstat(real));
      existing = dirname(existing);
    }
    if (existing !== parent) {
      await mkdir(parent, { recursive: true });
      for (let dir = parent; dir !== existing; dir = dirname(dir)) this.dirtyDirs.add(dirname(dir));
    }
    // Followed: the parent may be a link to a folder inside the root, on another file system.
    this.checkedDirs.set(parent, (await statFollowing(parent)).dev === this.rootDevice);
    return undefined;
  }

  private async ensureRoot(): Promise<string> {
    if (this.realRoot === undefined) {
      await mkdir(this.root, { recursive: true });
      const realRoot = await realpath(this.root);
      this.rootDevice = (await lstat(realRoot)).dev;
      this.realRoot = realRoot;
    }
    return this.realRoot;
  }

  /** The file open for writing, counted as in use: the caller must decrement `users` when done. */
  private async openForWrite(path: string): Promise<OpenFile> {
    const cached = this.files.get(path);
    if (cached !== undefined) {
      cached.users++;
      this.files.delete(path);
      this.files.set(path, cached);
      return cached;
    }
    // Whether open creates the file matters only for a durable applier (its folder must then be fsynced).
    const existed = !this.durable || (await lstatOrUndefined(path)) !== undefined;
    const file: OpenFile = { handle: await open(path, WRITE_FLAGS, 0o644), dirty: false, users: 1 };
    if (!existed) this.dirtyDirs.add(dirname(path));
    await this.keepOpen(path, file);
    return file;
  }

  /** Caches an open file, closing the least recently used ones not in use beyond the bound. */
  private async keepOpen(path: string, file: OpenFile): Promise<void> {
    this.files.set(path, file);
    while (this.files.size > this.maxOpenFiles) {
      let idle: string | undefined;
      for (const [p, f] of this.files) if (f.users === 0) { idle = p; break; }
      if (idle === undefined) return; // all in use: over the bound until they are done
      await this.closeFile(idle, true);
    }
  }

  /** Close one cached file; `flush` first fsyncs what was written through it, so sync() still covers it. */
  private async closeFile(path: string, flush: boolean): Promise<void> {
    const file = this.files.get(path);
    if (file === undefined) return;
    this.files.delete(path);
    try {
      if (flush && file.dirty) await this.fsync(file.handle);
    } finally {
      await file.handle.close();
    }
  }

  /** Close the cached files at or below `path` (a rename or delete of a folder moves or removes them). */
  private async closeUnder(path: string): Promise<void> {
    const prefix = path + sep;
    for (const open of [...this.files.keys()]) {
      if (open === path || open.startsWith(prefix)) await this.closeFile(open, true);
    }
  }

  private async remove(path: string, stat: Stats): Promise<void> {
    this.checkedDirs.clear();
    await this.closeUnder(path);
    // rm never follows symlinks: a link to a folder is unlinked, not emptied.
    if (stat.isDirectory()) await rm(path, { recursive: true, force: true });
    else await unlink(path).catch((e: NodeJS.ErrnoException) => { if (e.code !== 'ENOENT') throw e; });
    this.dirtyDirs.add(dirname(path));
  }

  private async syncNow(): Promise<void> {
    if (!this.durable) return;
    for (const file of this.files.values()) {
      if (!file.dirty) continue;
      await this.fsync(file.handle);
      file.dirty = false;
    }
    for (const dir of [...this.dirtyDirs]) {
      this.dirtyDirs.delete(dir);
      let handle: FileHandle;
      try {
        handle = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'ENOTDIR') continue; // replaced since: its parent is in the set
        throw e;
      }
      try {
        await this.fsync(handle);
      } finally {
        await handle.close();
      }
    }
  }
}

/** What a run of zeros over a file's bytes is written from. */
const ZERO_PIECE = Buffer.alloc(WRITE_PIECE_BYTES);

function describe(r: WireRecord): string {
  if (r.op === 'puts') return `puts of ${r.files.length} files from ${r.files[0]?.path ?? '(none)'}`;
  if (r.op === 'link') return `link ${r.path} -> ${r.existing}`;
  return r.op === 'rename' ? `rename ${r.from} -> ${r.to}` : `${r.op} ${r.path}`;
}

async function lstatOrUndefined(path: string): Promise<Stats | undefined> {
  try {
    return await lstat(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw e;
  }
}

