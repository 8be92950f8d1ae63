/**
 * What the transport sees of a mirror's target: the MirrorTarget's apply, its lineage, and the calls a source
 * makes of it (a listing for a differential mirror, clear, reset, pause, resume, verify's manifests, features).
 */
import { BLOCK_HASHES, isBlockHashName, type BlockHashName } from './block-hash.js';
import { lineageText, parseLineage } from './lineage.js';
import type { MirrorTarget } from './target.js';
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

export function targetEndpoint(t: MirrorTarget, blockSize: number): MirrorEndpoint {
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
        case 'manifest': return Buffer.from(await t.manifest(Number(params['folder'])));
        case 'pause': await t.pause(); return Buffer.alloc(0);
        case 'resume': await t.resume(); return Buffer.alloc(0);
        case 'features': return Buffer.from(JSON.stringify({ ops: TARGET_RECORD_FEATURES, blockHashes: BLOCK_HASHES }));
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
