/**
 * What the transport sees of a mirror's target: the MirrorTarget's apply, its lineage, and the calls a source
 * makes of it (a listing for a differential mirror, clear, reset, pause, resume, verify's manifests, features).
 */
import { randomBytes } from 'node:crypto';
import { BLOCK_HASHES, isBlockHashName, type BlockHashName } from './block-hash.js';
import { lineageText, parseLineage } from './lineage.js';
import { LISTING_ENTRY_BLOCKS, seedFiles, type MirrorTarget, type TargetFile } from './target.js';
import type { TreeProblem } from './tree.js';
import { encodeManifest, type Manifest, type ManifestEntry } from './verify.js';
import type { MirrorEndpoint } from './transport-types.js';

/**
 * Records a target applies at once: enough to keep libuv's four threads busy with the small-file system calls
 * (create, write, utimes) that otherwise run one after the other, each waiting for the last.
 */
const APPLY_CONCURRENCY = 32;
/**
 * Record ops beyond the first version's that this node applies as a target. A source asks ('features') before a
 * resync and sends only these; an older target answers UNKNOWN_METHOD, and gets the first version's ops. 'xattrs'
 * is listed besides where the target applies extended attributes (MirrorTarget.appliesXattrs).
 */
export const TARGET_RECORD_FEATURES: readonly string[] = ['put', 'puts', 'link', 'zeros'];
/**
 * Calls beyond the first version's: answered in pages (PagedAnswers), 'list-page', a differential mirror's listing,
 * and 'manifest-page', verify's (whole in one answer, 'list' and 'manifest' stop at a call's 16 MiB: about 120,000
 * files, or one file of 48 GiB, listed, 140,000 in a manifest); and 'seed-listing', the source's block hashes after
 * a resync (MirrorTarget.seedListing), sent in calls of a few MiB.
 */
export const TARGET_CALL_FEATURES: readonly string[] = ['list-page', 'manifest-page', 'seed-listing'];

/**
 * A page of a paged answer ends once its JSON would pass about this many bytes: it parses on the source in a few
 * tens of milliseconds (its event loop also carries the heartbeats) and fits a call whatever entry comes last.
 */
export const LISTING_PAGE_BYTES = 4 * 1024 * 1024;
/** Paged answers kept open between their pages; beyond that, and after PAGED_IDLE_MS unasked, the oldest is dropped. */
const OPEN_PAGED = 4;
const PAGED_IDLE_MS = 10 * 60_000;
/** A manifest entry's numbers and punctuation, at most, as encoded (verify.ts): for cutting pages by size. */
const MANIFEST_ENTRY_BYTES = 128;

export interface TargetEndpointOptions {
  /** Page bounds of paged answers (listings, manifests), and a listing entry's (tests make them small). */
  readonly listingPageBytes?: number;
  readonly listingEntryBlocks?: number;
}

export function targetEndpoint(t: MirrorTarget, blockSize: number, options: TargetEndpointOptions = {}): MirrorEndpoint {
  const pageBytes = options.listingPageBytes ?? LISTING_PAGE_BYTES;
  const entryBlocks = options.listingEntryBlocks ?? LISTING_ENTRY_BLOCKS;
  const paged = new PagedAnswers();
  return {
    lastApplied: () => t.lastApplied(),
    lineage: () => lineageText(t.current.lineage),
    onHello: (peer) => t.hello({ node: peer.node, lineage: parseLineage(peer.lineage) }),
    apply: (r) => t.apply(r.seq, r.payload),
    concurrency: APPLY_CONCURRENCY,
    appliedThrough: (seq) => t.appliedThrough(seq),
    flush: () => t.flush(),
    handle: async (method, body) => {
      const params = body.length === 0 ? {} : JSON.parse(body.toString('utf8')) as Record<string, unknown>;
      switch (method) {
        case 'reset': await t.resetStream(Number(params['lastApplied'])); return Buffer.alloc(0);
        case 'resync-done': await t.resyncDone(params['lineage'] as { current: string; history: string[] }, params['seeding'] === true); return Buffer.alloc(0);
        case 'clear': await t.clear(); return Buffer.alloc(0);
        case 'seed-listing': {
          const taken = await t.seedListing(Number(params['blockSize']), listingHash(params['blockHash']), seedFiles(params['files']), params['last'] !== false);
          return Buffer.from(JSON.stringify({ taken }));
        }
        case 'list': return Buffer.from(JSON.stringify(await t.listing(Number(params['blockSize']) || blockSize, listingHash(params['blockHash']), listingFresh(params['fresh']))));
        case 'list-page': return paged.next(method, 'files', params, () =>
          listingPages(t.listingEntries(Number(params['blockSize']) || blockSize, listingHash(params['blockHash']), entryBlocks, listingFresh(params['fresh'])), pageBytes));
        case 'manifest': return Buffer.from(await t.manifest(Number(params['folder'])));
        case 'manifest-page': return paged.next(method, 'manifest', params, () => manifestPages(t.folderManifest(Number(params['folder'])), pageBytes));
        case 'pause': await t.pause(); return Buffer.alloc(0);
        case 'resume': await t.resume(); return Buffer.alloc(0);
        case 'features': return Buffer.from(JSON.stringify({ ops: t.appliesXattrs ? [...TARGET_RECORD_FEATURES, 'xattrs'] : TARGET_RECORD_FEATURES, calls: TARGET_CALL_FEATURES, blockHashes: BLOCK_HASHES }));
        case 'status': return Buffer.from(JSON.stringify({ spool: t.spoolStats(), pausedTarget: t.current.pausedTarget, consistent: t.current.consistent }));
        default: throw Object.assign(new Error(`unknown method "${method}"`), { code: 'UNKNOWN_METHOD' });
      }
    },
  };
}

/** The hash a listing's blocks are made with: a source before block-hash.ts asks for none and compares SHA-256. */
function listingHash(asked: unknown): BlockHashName {
  if (asked === undefined) return 'sha256-128';
  if (isBlockHashName(asked)) return asked;
  throw new Error(`list: blockHash ${JSON.stringify(asked)} is not one of ${BLOCK_HASHES.join(', ')}`);
}

/** Whether a listing reads every file again, ignoring the last listing's hashes (a thorough differential mirror). */
function listingFresh(asked: unknown): boolean {
  if (asked === undefined || typeof asked === 'boolean') return asked === true;
  throw new Error(`list: fresh ${JSON.stringify(asked)} is not true or false`);
}

/** One page's answer: the JSON value of its field, and whether it is the last. */
interface Page { readonly value: string; readonly last: boolean }

interface OpenAnswer {
  readonly method: string;
  readonly pages: AsyncGenerator<Page>;
  busy: boolean;
  lastAsked: number;
}

/**
 * Answers too large for one call, a page per call: the first call (no `session`) starts one, and each answer names
 * the session to ask for the next page, until one answers without it (the last): {"FIELD":VALUE,"session":"..."}.
 * Pages are made as they are asked for, so the target holds one page of the answer, not all of it.
 */
class PagedAnswers {
  private readonly open = new Map<string, OpenAnswer>();

  async next(method: string, field: string, params: Record<string, unknown>, start: () => AsyncGenerator<Page>): Promise<Buffer> {
    const session = params['session'];
    let id: string;
    let answer: OpenAnswer | undefined;
    if (session === undefined) {
      await this.dropStale();
      // Started only now, with nothing awaited before its first page is asked: a failure there is this call's.
      const pages = start();
      id = randomBytes(12).toString('hex');
      answer = { method, pages, busy: false, lastAsked: Date.now() };
      this.open.set(id, answer);
    } else {
      if (typeof session !== 'string') throw new Error(`${method}: session ${JSON.stringify(session)} is not a string`);
      id = session;
      answer = this.open.get(id);
      if (answer?.method !== method) throw new Error(`${method}: session ${JSON.stringify(id)} is not open here (it ended, went idle, or newer ones replaced it): start again`);
    }
    if (answer.busy) throw new Error(`${method}: session ${JSON.stringify(id)} is already being read`);
    answer.busy = true;
    answer.lastAsked = Date.now();
    try {
      const step = await answer.pages.next();
      // Every pager yields its last page before it ends: past it, the session is already gone.
      const page = step.done === true ? { value: 'null', last: true } : step.value;
      if (page.last) this.open.delete(id);
      return Buffer.from(`{${JSON.stringify(field)}:${page.value}${page.last ? '' : `,"session":${JSON.stringify(id)}`}}`);
    } catch (e) {
      this.open.delete(id);
      await answer.pages.return(undefined).catch(() => undefined);
      throw e;
    } finally {
      answer.busy = false;
    }
  }

  /** Sessions nobody asked for in a while, and the oldest beyond the bound: what they hold is let go. */
  private async dropStale(): Promise<void> {
    const now = Date.now();
    for (const [id, answer] of [...this.open]) {
      if (answer.busy) continue;
      if (now - answer.lastAsked > PAGED_IDLE_MS || this.open.size >= OPEN_PAGED) {
        this.open.delete(id);
        await answer.pages.return(undefined).catch(() => undefined);
      }
    }
  }
}

/** A differential mirror's listing in pages of at most `pageBytes` of JSON (but at least one entry each). */
async function* listingPages(entries: AsyncGenerator<TargetFile>, pageBytes: number): AsyncGenerator<Page> {
  let page: string[] = [];
  let bytes = 0;
  for await (const entry of entries) {
    const json = JSON.stringify(entry);
    const length = Buffer.byteLength(json) + 1;
    if (page.length > 0 && bytes + length > pageBytes) {
      yield { value: `[${page.join(',')}]`, last: false };
      page = [];
      bytes = 0;
    }
    page.push(json);
    bytes += length;
  }
  yield { value: `[${page.join(',')}]`, last: true };
}

/**
 * A folder's manifest (verify) in pages: each an encoded manifest of its own (verify.ts), its entries first, then
 * its problems (each page holds one kind or both). Pages are cut by a bound of each item's encoded size: the
 * strings in it as JSON, and MANIFEST_ENTRY_BYTES for the numbers and punctuation. The folder itself goes with
 * the first page, counted as an entry.
 */
async function* manifestPages(manifest: Promise<Manifest>, pageBytes: number): AsyncGenerator<Page> {
  const { entries, problems, root } = await manifest;
  const json = (text: string): number => Buffer.byteLength(JSON.stringify(text));
  const items: { readonly entry?: ManifestEntry; readonly problem?: TreeProblem; readonly bytes: number }[] = [
    ...entries.map((entry) => ({ entry, bytes: json(entry.path) + json(entry.type === 'file' ? entry.hash ?? '' : entry.linkTarget ?? '') + MANIFEST_ENTRY_BYTES })),
    ...problems.map((problem) => ({ problem, bytes: json(problem.path) + json(problem.code) + json(problem.reason) + MANIFEST_ENTRY_BYTES })),
  ];
  const page = (from: number, to: number, last: boolean): Page => {
    const slice = items.slice(from, to);
    const part = { entries: slice.flatMap((i) => (i.entry ? [i.entry] : [])), problems: slice.flatMap((i) => (i.problem ? [i.problem] : [])) };
    return { value: encodeManifest(from === 0 && root !== undefined ? { ...part, root } : part), last };
  };
  let first = 0;
  let bytes = root === undefined ? 0 : MANIFEST_ENTRY_BYTES;
  for (let i = 0; i < items.length; i++) {
    if (i > first && bytes + items[i]!.bytes > pageBytes) {
      yield page(first, i, false);
      first = i;
      bytes = 0;
    }
    bytes += items[i]!.bytes;
  }
  yield page(first, items.length, true);
}
