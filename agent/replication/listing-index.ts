/**
 * The block hashes a target's last listing made (a BlockIndexStore of its own, by path with size, mtime and
 * inode): a differential mirror's listing then hashes only the files changed since, where it read every byte of
 * the copy before. Open while listings run (two may overlap: a restarted source asks again while its first
 * session is still open), saved and let go by the last one, so it holds no memory between differential mirrors.
 */
import { existsSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import type { BlockHashName } from './block-hash.js';
import { BlockIndexStore, NO_MTIME, indexFile, isRacy, type FileIndex } from './block-index.js';
import type { TreeEntry } from './tree.js';
import { TimeSlicer } from '../util/time-slice.js';

/** A file's index made from its whole content (default: indexFile, here; the target passes its read thread's). */
export type Indexer = (path: string) => Promise<FileIndex>;

export interface Listed {
  readonly index: FileIndex;
  /** Read and hashed now, not taken from the last listing. */
  readonly hashed: boolean;
  /** Taken from this node's index as the source (see listedIndex). */
  readonly ownIndex: boolean;
}

/**
 * The index of file `v` (at `path`) for a listing: the last listing's while size, mtime and inode are as then
 * (unless `fresh`); else this node's own index of the file from when it was the source (what `own` resolves to,
 * hashed with the listing's hash), on the same terms, and then kept in `known`; else made now by `index` and kept in `known` (as
 * racy when made within RACY_MS of its mtime, as the source's index is).
 */
export async function listedIndex(known: BlockIndexStore | undefined, v: string, path: string, st: Pick<TreeEntry, 'size' | 'mtimeMs' | 'ino'>,
  blockSize: number, hash: BlockHashName, fresh = false, index: Indexer = (p) => indexFile(p, blockSize, undefined, hash),
  own?: () => Promise<ReadonlyMap<string, FileIndex> | undefined>): Promise<Listed> {
  if (!fresh) {
    const last = known?.entry(v);
    if (last !== undefined && stillIndexes(last, st, blockSize)) return { index: known!.get(v)!, hashed: false, ownIndex: false };
    // Asked for only now: a listing its own index covers never loads the other.
    const sent = (await own?.())?.get(v);
    if (sent !== undefined && stillIndexes(sent, st, blockSize)) {
      known?.set(v, sent);
      return { index: sent, hashed: false, ownIndex: true };
    }
  }
  const made = await index(path);
  known?.set(v, isRacy(made.mtimeMs) ? { ...made, mtimeMs: NO_MTIME } : made);
  return { index: made, hashed: true, ownIndex: false };
}

/** An index made earlier still says what the file holds: same block size, and size, mtime and inode as then. */
function stillIndexes(made: Pick<FileIndex, 'blockSize' | 'size' | 'mtimeMs' | 'ino'>, st: Pick<TreeEntry, 'size' | 'mtimeMs' | 'ino'>, blockSize: number): boolean {
  return made.blockSize === blockSize && made.size === st.size && made.mtimeMs === st.mtimeMs && made.ino === st.ino;
}

/**
 * The index this node made of its copy in its other role of the mirror (a target's listing reads the source's
 * `index`, a source the target's last listing): its files if it hashed with `hash`, else undefined, as when there
 * is none or it cannot be read (said to `log`: it only ever saves reading). Read as it is, never written.
 */
export async function otherRoleIndex(file: string | undefined, hash: BlockHashName, log: (why: string) => void): Promise<ReadonlyMap<string, FileIndex> | undefined> {
  if (file === undefined) return undefined;
  try {
    const snapshot = await BlockIndexStore.snapshot(file);
    return snapshot?.hash === hash ? snapshot.files : undefined;
  } catch (e) {
    log((e as Error).message);
    return undefined;
  }
}

export class ListingIndex {
  private opening: Promise<BlockIndexStore | undefined> | undefined;
  private users = 0;
  /** A listing of the whole copy completed while the store was open: close() ends the due mark once it saved. */
  private completed = false;
  /** Due since markDue, whether or not its file is written yet. */
  private markedDue = false;
  /** markDue's calls: a listing that completed before the last of them does not end the mark. */
  private marks = 0;
  private marksAtCompletion = 0;
  /** The mark's file written or removed, one after the other. */
  private marking: Promise<void> = Promise.resolve();

  /** `file` absent: no listing keeps anything (open answers undefined). */
  constructor(private readonly file: string | undefined, private readonly log: (line: string) => void) {}

  /**
   * The mark, beside the file, that a resync wrote to the copy and no listing has read all of it since: kept in a
   * file of its own, not in the mirror's state, which agents before it refuse with a key they do not know.
   */
  private get dueFile(): string | undefined {
    return this.file === undefined ? undefined : `${this.file}.due`;
  }

  /** Whether a listing of the whole copy is due (see markDue). */
  get due(): boolean {
    const due = this.dueFile;
    return this.markedDue || (due !== undefined && existsSync(due));
  }

  /**
   * The copy changed beyond what the index holds (a resync wrote to it): due until a listing reads it through.
   * Due at once; the file is created on libuv's threads: right after a resync wrote a gigabyte, creating a file
   * can wait for ext4's journal (while a commit locks its transaction, or for room in it), and the event loop
   * must not (see "The state file" in docs/replication.md). The promise settles once it is written (or it could
   * not be: logged).
   */
  markDue(): Promise<void> {
    const due = this.dueFile;
    if (due === undefined) return Promise.resolve();
    this.markedDue = true;
    this.marks++;
    // An empty file, written at most once per resync, after any removal under way.
    this.marking = this.marking.then(() => writeFile(due, '')).catch((e: unknown) => {
      this.log(`${due}: not written (${(e as Error).message}): a restart before the background listing ends does not carry it on`);
    });
    return this.marking;
  }

  /**
   * A full mirror empties the copy: the hashes kept describe files that are gone (whose inodes new ones may take),
   * so they go, and a listing is due.
   */
  async replaced(): Promise<void> {
    if (this.file === undefined) return;
    (await this.opening)?.clear();
    await rm(this.file, { force: true });
    await this.markDue();
  }

  /**
   * The store for a listing with `hash`, to give back with close(); undefined when there is no file, or while
   * listings with another hash use it (the store holds one hash; that listing hashes everything), or when it
   * cannot be read (see load): it only ever saves reading.
   */
  async open(hash: BlockHashName): Promise<BlockIndexStore | undefined> {
    if (this.file === undefined) return undefined;
    this.opening ??= this.load(this.file, hash);
    this.users++;
    const store = await this.opening;
    if (store === undefined || (store.blockHash !== hash && this.users > 1)) {
      await this.close();
      return undefined;
    }
    if (store.blockHash === hash) return store;
    store.clear();
    store.useBlockHash(hash);
    return store;
  }

  /** Damaged, it is removed and made again; unreadable or not removable, listings go without it. */
  private async load(file: string, hash: BlockHashName): Promise<BlockIndexStore | undefined> {
    let refused: Error;
    try {
      return await BlockIndexStore.open(file, hash);
    } catch (e) {
      refused = e as Error;
    }
    try {
      await rm(file, { force: true });
      const store = await BlockIndexStore.open(file, hash);
      this.log(`${file}: ${refused.message}: removed, the listing hashes every file`);
      return store;
    } catch (e) {
      this.log(`${file}: ${refused.message} (${(e as Error).message}): the listing goes without it`);
      return undefined;
    }
  }

  /** After a complete listing: the files it did not find are gone, and so are their hashes; a due listing is done. */
  async keepOnly(store: BlockIndexStore, seen: ReadonlySet<string>): Promise<void> {
    const slicer = new TimeSlicer();
    const gone: string[] = [];
    for (const path of store.paths()) {
      if (!seen.has(path)) gone.push(path);
      const pause = slicer.step();
      if (pause !== undefined) await pause;
    }
    for (const path of gone) store.delete(path);
    this.completed = true;
    this.marksAtCompletion = this.marks;
  }

  /** A listing that open() gave the store is done with it (complete or not): the last one saves it and lets it go. */
  async close(): Promise<void> {
    if (--this.users > 0) return;
    const opening = this.opening;
    this.opening = undefined;
    const store = await opening;
    const completed = this.completed;
    this.completed = false;
    // Only ever a saving of reads: a listing does not fail for it.
    const saved = await store?.save().then(() => true, (e: unknown) => {
      this.log(`${this.file ?? ''}: not saved (${(e as Error).message}): the next listing hashes what it cannot find there`);
      return false;
    });
    const due = this.dueFile;
    if (saved !== true || !completed || due === undefined || this.marks !== this.marksAtCompletion) return;
    this.markedDue = false;
    this.marking = this.marking.then(() => rm(due, { force: true })).catch((e: unknown) => {
      this.log(`${due}: not removed (${(e as Error).message}): the next start lists the copy again`);
    });
    await this.marking;
  }
}
