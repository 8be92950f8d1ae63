/**
 * The source's side of the answers a target gives in pages (target-endpoint.ts's PagedAnswers): every page asked
 * for in turn, and a listing's large files, whose block hashes may come in several entries, put back together.
 */
import { BLOCK_HASH_BYTES } from './block-index.js';
import type { TargetFile } from './target.js';

/**
 * Asks for each page of a paged answer, the first with `params` alone and the next ones with the session the last
 * answer named, and hands each page's `field` on in order, until an answer names no session (the last page).
 */
export async function readPages(call: (body: object) => Promise<Buffer>, params: object, field: string, where: string, onPage: (value: unknown, page: number) => void): Promise<void> {
  let session: string | undefined;
  for (let page = 0; ; page++) {
    const answer = JSON.parse((await call(session === undefined ? params : { ...params, session })).toString('utf8')) as Record<string, unknown>;
    const next = answer['session'];
    if (next !== undefined && typeof next !== 'string') throw new Error(`${where}, page ${page}: "session" is not a string`);
    onPage(answer[field], page);
    if (next === undefined) return;
    session = next;
  }
}

/** One page's files of a paged listing, checked to be a list. */
export function listingFiles(value: unknown, where: string): readonly TargetFile[] {
  if (!Array.isArray(value)) throw new Error(`${where}: "files" is not an array`);
  return value as TargetFile[];
}

/**
 * Puts a listing's entries together: a large file's block hashes may come in several entries, in order, right
 * after its first (TargetFile's firstBlock); anything else out of that order is refused, naming the path.
 */
export class ListingSeeder {
  private pending: { readonly file: TargetFile; readonly hashes: Buffer[]; blocks: number } | undefined;

  constructor(private readonly peer: string, private readonly seed: (f: TargetFile, hashes: Buffer) => void) {}

  add(f: TargetFile): void {
    const hashes = Buffer.from(f.blocks ?? '', 'base64');
    if (f.firstBlock !== undefined && f.firstBlock !== 0) {
      const pending = this.pending;
      if (pending?.file.path !== f.path || pending.blocks !== f.firstBlock) {
        throw new Error(`${this.peer}'s listing: blocks of ${JSON.stringify(f.path)} from ${f.firstBlock} do not follow ${pending === undefined ? 'an entry of that file' : `${JSON.stringify(pending.file.path)}'s first ${pending.blocks}`}`);
      }
      pending.hashes.push(hashes);
      pending.blocks += hashes.length / BLOCK_HASH_BYTES;
      return;
    }
    this.end();
    if (f.type === 'file') this.pending = { file: f, hashes: [hashes], blocks: hashes.length / BLOCK_HASH_BYTES };
    else this.seed(f, hashes);
  }

  /** The last file's entry, once no more of its blocks can follow. */
  end(): void {
    const pending = this.pending;
    this.pending = undefined;
    if (pending !== undefined) this.seed(pending.file, pending.hashes.length === 1 ? pending.hashes[0]! : Buffer.concat(pending.hashes));
  }
}
