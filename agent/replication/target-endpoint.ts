/**
 * What the transport sees of a mirror's target: the MirrorTarget's apply, its lineage, and the calls a source
 * makes of it (a listing for a differential mirror, clear, reset, pause, resume, verify's manifests, features).
 */
import { randomBytes } from 'node:crypto';
import { BLOCK_HASHES, isBlockHashName, type BlockHashName } from './block-hash.js';
import { lineageText, parseLineage } from './lineage.js';
import { LISTING_ENTRY_BLOCKS, type MirrorTarget, type TargetFile } from './target.js';
import type { MirrorEndpoint } from './transport-types.js';

/**
 * Records a target applies at once: enough to keep libuv's four threads busy with the small-file system calls
 * (create, write, utimes) that otherwise run one after the other, each waiting for the last.
 */
const APPLY_CONCURRENCY = 32;
/**
 * Record ops beyond the first version's that this node applies as a target. A source asks ('features') before a
 * resync and sends only these; an older target answers UNKNOWN_METHOD, and gets the first version's ops.
 */
export const TARGET_RECORD_FEATURES: readonly string[] = ['put'];
/**
 * Calls beyond the first version's. 'list-page': the listing of a differential mirror in pages (ListingPages); a
 * whole listing in one answer ('list') stops at a call's 16 MiB, about 120,000 files or one file of 48 GiB.
 */
export const TARGET_CALL_FEATURES: readonly string[] = ['list-page'];

/**
 * A page of a paged listing ends once its JSON would pass this many bytes: it parses on the source in a few tens
 * of milliseconds (its event loop also carries the heartbeats) and fits a call whatever entry comes last.
 */
export const LISTING_PAGE_BYTES = 4 * 1024 * 1024;
/** Listings kept open between their pages; beyond that, and after LISTING_IDLE_MS unasked, the oldest is dropped. */
const OPEN_LISTINGS = 4;
const LISTING_IDLE_MS = 10 * 60_000;

export interface TargetEndpointOptions {
  /** Page and entry bounds of a paged listing (tests make them small). */
  readonly listingPageBytes?: number;
  readonly listingEntryBlocks?: number;
}

export function targetEndpoint(t: MirrorTarget, blockSize: number, options: TargetEndpointOptions = {}): MirrorEndpoint {
  const pages = new ListingPages(t, options.listingPageBytes ?? LISTING_PAGE_BYTES, options.listingEntryBlocks ?? LISTING_ENTRY_BLOCKS);
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
        case 'reset': t.resetStream(Number(params['lastApplied'])); return Buffer.alloc(0);
        case 'resync-done': t.resyncDone(params['lineage'] as { current: string; history: string[] }); return Buffer.alloc(0);
        case 'clear': await t.clear(); return Buffer.alloc(0);
        case 'list': return Buffer.from(JSON.stringify(await t.listing(Number(params['blockSize']) || blockSize, listingHash(params['blockHash']))));
        case 'list-page': return pages.next(params, () => ({ blockSize: Number(params['blockSize']) || blockSize, blockHash: listingHash(params['blockHash']) }));
        case 'manifest': return Buffer.from(await t.manifest(Number(params['folder'])));
        case 'pause': await t.pause(); return Buffer.alloc(0);
        case 'resume': await t.resume(); return Buffer.alloc(0);
        case 'features': return Buffer.from(JSON.stringify({ ops: TARGET_RECORD_FEATURES, calls: TARGET_CALL_FEATURES, blockHashes: BLOCK_HASHES }));
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

interface OpenListing {
  readonly entries: AsyncGenerator<TargetFile>;
  /** The entry that did not fit the last page: the first of the next. */
  held: TargetFile | undefined;
  busy: boolean;
  lastAsked: number;
}

/**
 * A differential mirror's listing, a page per call: the first call (no `session`) starts it, and each answer
 * names the session to ask for the next page, until one answers without it (the last). Answer:
 * {"files":[TargetFile...],"session":"..."}. The listing is made as it is asked for, so the target holds one
 * page of it, not all.
 */
class ListingPages {
  private readonly open = new Map<string, OpenListing>();

  constructor(private readonly t: MirrorTarget, private readonly pageBytes: number, private readonly entryBlocks: number) {}

  async next(params: Record<string, unknown>, asked: () => { blockSize: number; blockHash: BlockHashName }): Promise<Buffer> {
    const session = params['session'];
    let id: string;
    let listing: OpenListing | undefined;
    if (session === undefined) {
      const { blockSize, blockHash } = asked();
      await this.dropStale();
      id = randomBytes(12).toString('hex');
      listing = { entries: this.t.listingEntries(blockSize, blockHash, this.entryBlocks), held: undefined, busy: false, lastAsked: Date.now() };
      this.open.set(id, listing);
    } else {
      if (typeof session !== 'string') throw new Error(`list-page: session ${JSON.stringify(session)} is not a string`);
      id = session;
      listing = this.open.get(id);
      if (listing === undefined) throw new Error(`list-page: no listing ${JSON.stringify(id)} is open here (it ended, went idle, or newer ones replaced it): start again`);
    }
    if (listing.busy) throw new Error(`list-page: listing ${JSON.stringify(id)} is already being read`);
    listing.busy = true;
    listing.lastAsked = Date.now();
    try {
      const entries: string[] = [];
      let bytes = 0;
      for (;;) {
        const entry = listing.held ?? await listing.entries.next().then((step) => (step.done === true ? undefined : step.value));
        listing.held = undefined;
        if (entry === undefined) {
          this.open.delete(id);
          return Buffer.from(`{"files":[${entries.join(',')}]}`);
        }
        const json = JSON.stringify(entry);
        const length = Buffer.byteLength(json) + 1;
        if (entries.length > 0 && bytes + length > this.pageBytes) {
          listing.held = entry;
          return Buffer.from(`{"files":[${entries.join(',')}],"session":${JSON.stringify(id)}}`);
        }
        entries.push(json);
        bytes += length;
      }
    } catch (e) {
      this.open.delete(id);
      await listing.entries.return(undefined).catch(() => undefined);
      throw e;
    } finally {
      listing.busy = false;
    }
  }

  /** Listings nobody asked for in a while, and the oldest beyond the bound: their scans end. */
  private async dropStale(): Promise<void> {
    const now = Date.now();
    for (const [id, listing] of [...this.open]) {
      if (listing.busy) continue;
      if (now - listing.lastAsked > LISTING_IDLE_MS || this.open.size >= OPEN_LISTINGS) {
        this.open.delete(id);
        await listing.entries.return(undefined).catch(() => undefined);
      }
    }
  }
}
