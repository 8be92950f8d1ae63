/**
 * The source's side of a target's listing that comes in pages (target-endpoint.ts's PagedAnswers): each page
 * checked, and a large file's block hashes, which may come in several entries, put back together.
 */
import { BLOCK_HASH_BYTES } from './block-index.js';
import type { TargetFile } from './target.js';

/** One page of a paged listing, checked: its files, and the session to ask for the next page (none: the last). */
export function parseListingPage(text: string, peer: string): { readonly files: readonly TargetFile[]; readonly session?: string } {
  const page = JSON.parse(text) as { files?: unknown; session?: unknown };
  if (!Array.isArray(page.files)) throw new Error(`${peer}'s listing page: "files" is not an array`);
  if (page.session !== undefined && typeof page.session !== 'string') throw new Error(`${peer}'s listing page: "session" is not a string`);
  return { files: page.files as TargetFile[], ...(page.session === undefined ? {} : { session: page.session }) };
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
