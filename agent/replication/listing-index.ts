/**
 * The block hashes a target's last listing made (a BlockIndexStore of its own, by path with size, mtime and
 * inode): a differential mirror's listing then hashes only the files changed since, where it read every byte of
 * the copy before. Open while listings run (two may overlap: a restarted source asks again while its first
 * session is still open), saved and let go by the last one, so it holds no memory between differential mirrors.
 */
import { rm } from 'node:fs/promises';
import type { BlockHashName } from './block-hash.js';
import { BlockIndexStore, NO_MTIME, RACY_MS, indexFile, type FileIndex } from './block-index.js';
import type { TreeEntry } from './tree.js';
import { TimeSlicer } from '../util/time-slice.js';

export interface Listed {
  readonly index: FileIndex;
  /** Read and hashed now, not taken from the last listing. */
  readonly hashed: boolean;
}

/**
 * The index of file `v` (at `path`) for a listing: the last listing's while size, mtime and inode are as then,
 * else hashed now and kept in `known` (as racy when made within RACY_MS of its mtime, as the source's index is).
 */
export async function listedIndex(known: BlockIndexStore | undefined, v: string, path: string, st: Pick<TreeEntry, 'size' | 'mtimeMs' | 'ino'>,
  blockSize: number, hash: BlockHashName): Promise<Listed> {
  const last = known?.entry(v);
  if (last !== undefined && last.blockSize === blockSize && last.size === st.size && last.mtimeMs === st.mtimeMs && last.ino === st.ino) {
    return { index: known!.get(v)!, hashed: false };
  }
  const index = await indexFile(path, blockSize, undefined, hash);
  known?.set(v, Date.now() - index.mtimeMs < RACY_MS ? { ...index, mtimeMs: NO_MTIME } : index);
  return { index, hashed: true };
}

export class ListingIndex {
  private opening: Promise<BlockIndexStore> | undefined;
  private users = 0;

  /** `file` absent: no listing keeps anything (open answers undefined). */
  constructor(private readonly file: string | undefined, private readonly log: (line: string) => void) {}

  /**
   * The store for a listing with `hash`, to give back with close(); undefined when there is no file, or while
   * listings with another hash use it (the store holds one hash; that listing hashes everything). A damaged
   * file is said and started afresh: it only ever saves reading.
   */
  async open(hash: BlockHashName): Promise<BlockIndexStore | undefined> {
    if (this.file === undefined) return undefined;
    const file = this.file;
    this.opening ??= BlockIndexStore.open(file, hash).catch(async (e: unknown) => {
      this.log(`${file}: ${(e as Error).message}: removed, the listing hashes every file`);
      await rm(file, { force: true });
      return BlockIndexStore.open(file, hash);
    });
    this.users++;
    let store: BlockIndexStore;
    try {
      store = await this.opening;
    } catch (e) {
      await this.close();
      throw e;
    }
    if (store.blockHash === hash) return store;
    if (this.users > 1) {
      await this.close();
      return undefined;
    }
    store.clear();
    store.useBlockHash(hash);
    return store;
  }

  /** After a complete listing: the files it did not find are gone, and so are their hashes. */
  async keepOnly(store: BlockIndexStore, seen: ReadonlySet<string>): Promise<void> {
    const slicer = new TimeSlicer();
    const gone: string[] = [];
    for (const path of store.paths()) {
      if (!seen.has(path)) gone.push(path);
      const pause = slicer.step();
      if (pause !== undefined) await pause;
    }
    for (const path of gone) store.delete(path);
  }

  /** A listing that open() gave the store is done with it (complete or not): the last one saves it and lets it go. */
  async close(): Promise<void> {
    if (--this.users > 0) return;
    const opening = this.opening;
    this.opening = undefined;
    const store = await opening?.catch(() => undefined);
    await store?.save();
  }
}
