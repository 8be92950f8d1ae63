// A mirror's source and target on loopback (the real MirrorSource, transport and MirrorTarget, without the agent):
// how small files travel to a target that takes put records, and to one of a version before them; which block
// hash a differential mirror compares with a target of each version; the target's listing page by page.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, closeSync, existsSync, linkSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, renameSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { compileGlobs } from '../../../agent/replication/glob.js';
import { INITIAL_STATE } from '../../../agent/replication/mirror-state.js';
import { decodeRecord, encodeRecord, type ChangeOp } from '../../../agent/replication/records.js';
import { ListingSeeder, readPages } from '../../../agent/replication/listing-pages.js';
import { PACER_ALLOWANCE_MS } from '../../../agent/replication/send-pacer.js';
import { MirrorSource } from '../../../agent/replication/source.js';
import { MirrorTarget, type TargetFile } from '../../../agent/replication/target.js';
import { blockHash, type BlockHashName } from '../../../agent/replication/block-hash.js';
import { BlockIndexStore } from '../../../agent/replication/block-index.js';
import { targetEndpoint, type TargetEndpointOptions } from '../../../agent/replication/target-endpoint.js';
import { ReplicationServer, type MirrorEndpoint } from '../../../agent/replication/transport.js';
import { decodeManifest, decodeManifestValue, verifyTrees } from '../../../agent/replication/verify.js';
import { CLUSTER, KEY, MIRROR, until } from './transport-helpers.js';
import { extendedAttributes, xattrDigestOf, type ExtendedAttributes } from '../../../agent/replication/xattrs.js';

const SMALL_FILES = 60;

function xattrAccess(): ExtendedAttributes {
  const { access, why } = extendedAttributes();
  assert.ok(access !== undefined, `the xattrs addon loads here: ${why ?? ''}`);
  return access;
}

/** An endpoint as a target from before put records answers: no 'features' call, and no op it does not know. */
function olderTarget(endpoint: MirrorEndpoint): MirrorEndpoint {
  return {
    ...endpoint,
    apply: (r) => {
      if (decodeRecord(r.payload).op === 'put') return Promise.reject(new Error('change record: op at byte 1: unknown op code 10'));
      return endpoint.apply(r);
    },
    handle: (method, body) => {
      if (method === 'features') return Promise.reject(Object.assign(new Error(`unknown method "${method}"`), { code: 'UNKNOWN_METHOD' }));
      return endpoint.handle!(method, body);
    },
  };
}

/** An endpoint as a target that takes put records but not puts (several files in one) answers. */
function targetBeforePutBatches(endpoint: MirrorEndpoint): MirrorEndpoint {
  return {
    ...endpoint,
    apply: (r) => {
      if (decodeRecord(r.payload).op === 'puts') return Promise.reject(new Error('change record: op at byte 1: unknown op code 11'));
      return endpoint.apply(r);
    },
    handle: async (method, body) => {
      if (method === 'features') {
        const features = JSON.parse((await endpoint.handle!(method, body)).toString('utf8')) as { ops: string[] };
        return Buffer.from(JSON.stringify({ ...features, ops: features.ops.filter((op) => op !== 'puts') }));
      }
      return endpoint.handle!(method, body);
    },
  };
}

/**
 * An endpoint as a target from before block-hash.ts answers: no block hashes among its features, and a listing
 * asked without one (its agent read no such field), so hashed with SHA-256.
 */
function targetBeforeBlockHashes(endpoint: MirrorEndpoint): MirrorEndpoint {
  return {
    ...endpoint,
    handle: async (method, body) => {
      if (method === 'features') return Buffer.from(JSON.stringify({ ops: ['put'] }));
      if (method !== 'list') return endpoint.handle!(method, body);
      const { blockHash: _ignored, ...asked } = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
      return endpoint.handle!(method, Buffer.from(JSON.stringify(asked)));
    },
  };
}

interface MirrorRun {
  readonly ops: Map<ChangeOp, number>;
  /** Bytes of write and put records (and of the files of puts records), by path. */
  readonly written: Map<string, number>;
  /** Files that came whole, in put or puts records. */
  readonly filesPut: { count: number };
  /** Paths of the meta records applied, in order, with "+mode" when the record sets a mode. */
  readonly metas: string[];
  /** Calls the source made of the target, by method. */
  readonly calls: Map<string, number>;
  readonly log: string[];
  readonly source: MirrorSource;
  readonly src: string;
  readonly dst: string;
  /** Stops the source and starts another over its folder, as the agent does after a clean stop or a crash. */
  readonly restart: (afterCrash: boolean) => Promise<MirrorSource>;
  /** Stops the source cleanly (its index saved), starting none: its node is about to be the target. */
  readonly stopSource: () => Promise<void>;
  /** The test's folder: the source's state is in `source`, the target's listing index (if kept) where it was asked. */
  readonly base: string;
}

/** `older`: the target's version; `prepare`: given the source's and the target's folders before either starts. */
async function mirrorOnce(
  t: TestContext, older: false | 'before puts' | 'before put batches' | 'before block hashes', prepare?: (src: string, dst: string) => void,
  options: {
    readonly applyDelayMs?: number; readonly endpoint?: TargetEndpointOptions; readonly callTimeoutMs?: number; readonly slowScanMs?: number;
    /** Where the target keeps its last listing's hashes (absent: none kept). */
    readonly listingIndexFile?: (base: string) => string;
    /** The target lists its copy in the background after a resync wrote to it (the agent's setting). */
    readonly backgroundListing?: boolean;
    /** The mirror's maxSendRate. */
    readonly maxBytesPerSecond?: number;
    /** While on, the target is one from before `op` (downgraded): it lists no such op and cannot read one. */
    readonly refused?: { on: boolean; readonly op: ChangeOp };
    /** Which sides read and set extended attributes (the agent's mirrorXattrs, where the addon loads). */
    readonly xattrs?: { readonly source: boolean; readonly target: boolean };
  } = {},
): Promise<MirrorRun> {
  const base = mkdtempSync(join(tmpdir(), 'vigil-source-target-'));
  // Undone last first: the source stops (writing its journal's state) before its folder goes.
  const undo: (() => unknown)[] = [() => rmSync(base, { recursive: true, force: true })];
  t.after(async () => { for (const step of undo.reverse()) await step(); });
  const src = join(base, 'src');
  const dst = join(base, 'dst');
  mkdirSync(join(src, 'docs'), { recursive: true });
  for (let i = 0; i < SMALL_FILES; i++) writeFileSync(join(src, 'docs', `f${i}`), `small file ${i}\n`.repeat(1 + i * 7));
  writeFileSync(join(src, 'large.bin'), Buffer.alloc(3 * 1024 * 1024 + 5, 0x41));
  mkdirSync(dst);
  prepare?.(src, dst);
  const filter = compileGlobs([], []);
  const log: string[] = [];
  const target = new MirrorTarget({
    id: MIRROR, folders: [dst], filter, stateFile: join(base, 'target-state.json'), spoolDir: join(base, 'spool'), spoolBytes: 64 * 1024 * 1024,
    applyOwner: false, state: INITIAL_STATE, log: (line) => log.push(line),
    ...(options.listingIndexFile === undefined ? {} : { listingIndexFile: options.listingIndexFile(base) }),
    ...(options.backgroundListing === true ? { backgroundListing: { blockSize: 64 * 1024, blockHash: 'xxh3-128' } as const } : {}),
    ...(options.xattrs?.target === true ? { xattrs: xattrAccess() } : {}),
  }, INITIAL_STATE);
  await target.open();
  undo.push(() => target.close());
  const ops = new Map<ChangeOp, number>();
  const written = new Map<string, number>();
  const filesPut = { count: 0 };
  const metas: string[] = [];
  const real = targetEndpoint(target, 64 * 1024, options.endpoint);
  const calls = new Map<string, number>();
  const counted: MirrorEndpoint = {
    ...real,
    handle: async (method, body) => {
      calls.set(method, (calls.get(method) ?? 0) + 1);
      // A target hashing a large tree: its listings and manifests take a while.
      if (options.slowScanMs !== undefined && /^(list|manifest)/.test(method)) await new Promise((resolve) => setTimeout(resolve, options.slowScanMs));
      return real.handle!(method, body);
    },
    apply: async (r) => {
      const record = decodeRecord(r.payload);
      ops.set(record.op, (ops.get(record.op) ?? 0) + 1);
      if (record.op === 'write' || record.op === 'put') written.set(record.path, (written.get(record.path) ?? 0) + record.data.length);
      if (record.op === 'put') filesPut.count++;
      if (record.op === 'puts') {
        filesPut.count += record.files.length;
        for (const file of record.files) written.set(file.path, (written.get(file.path) ?? 0) + file.data.length);
      }
      if (record.op === 'meta') metas.push(`${record.path}${record.mode === undefined ? '' : '+mode'}`);
      // Every record alike, so that those applied at once (the endpoint's concurrency) still start in order.
      if (options.applyDelayMs !== undefined) await new Promise((resolve) => setTimeout(resolve, options.applyDelayMs));
      return real.apply(r);
    },
  };
  const refused = options.refused;
  const linking: MirrorEndpoint = refused === undefined ? counted : {
    ...counted,
    apply: (r) => {
      const code = r.payload[1]!;
      if (refused.on && decodeRecord(r.payload).op === refused.op) return Promise.reject(Object.assign(new Error(`change record: op at byte 1: unknown op code ${code}`), { code: 'VIGIL_BAD_RECORD' }));
      return counted.apply(r);
    },
    handle: async (method, body) => {
      const answer = await counted.handle!(method, body);
      if (!refused.on || method !== 'features') return answer;
      const features = JSON.parse(answer.toString('utf8')) as { ops: string[] };
      return Buffer.from(JSON.stringify({ ...features, ops: features.ops.filter((op) => op !== refused.op) }));
    },
  };
  const endpoint = older === 'before puts' ? olderTarget(linking) : older === 'before put batches' ? targetBeforePutBatches(linking)
    : older === 'before block hashes' ? targetBeforeBlockHashes(linking) : linking;
  const server = await ReplicationServer.listen({ host: '127.0.0.1', port: 0, clusterId: CLUSTER, nodeId: 'beta', key: KEY, mirror: (name) => (name === MIRROR ? endpoint : undefined) });
  undo.push(() => server.close());
  const startSource = async (resyncOnStart: boolean): Promise<MirrorSource> => {
    const started = new MirrorSource({
      id: MIRROR, folders: [src], filter, dir: join(base, 'source'), journalBytes: 64 * 1024 * 1024, blockSize: 64 * 1024, blockHash: 'xxh3-128', owner: false,
      peer: { node: 'beta', host: '127.0.0.1', port: server.port }, clusterId: CLUSTER, nodeId: 'alpha', key: KEY,
      lineage: () => ({ current: 'a1', history: ['0'] }), paused: false, resyncOnStart, log: (line) => log.push(line),
      ...(options.callTimeoutMs === undefined ? {} : { callTimeoutMs: options.callTimeoutMs }),
      ...(options.maxBytesPerSecond === undefined ? {} : { maxBytesPerSecond: options.maxBytesPerSecond }),
      ...(options.xattrs?.source === true ? { xattrs: xattrAccess() } : {}),
    });
    await started.start();
    current = started;
    return started;
  };
  let current: MirrorSource | undefined;
  undo.push(() => current?.stop());
  const source = await startSource(false);
  await until('the resync is done', () => source.lastSync?.finishedAt !== undefined || source.lastSync?.error !== undefined, 30_000).catch((e: Error) => { throw new Error(`${e.message}\n${log.join('\n')}`); });
  assert.equal(source.lastSync?.error, undefined, log.join('\n'));
  // Read and sent is not yet applied: a slow target is still taking the last records.
  await until('every record is acknowledged', () => source.status(Date.now()).queue.records === 0, 60_000);
  // Folders' times too: each is sent after the entries made in it.
  const report = await verifyTrees(src, dst, filter, { checkMtime: true });
  assert.deepEqual([report.missing, report.extra, report.contentDiffers, report.metadataDiffers, report.problems], [[], [], [], [], []], JSON.stringify(report));
  // Stops the source if it runs (stopSource may have), and starts it again.
  const restart = async (afterCrash: boolean): Promise<MirrorSource> => {
    await current?.stop();
    current = undefined;
    return startSource(afterCrash);
  };
  const stopSource = async (): Promise<void> => {
    await current?.stop();
    current = undefined;
  };
  return { ops, written, filesPut, metas, calls, log, source, src, dst, restart, stopSource, base };
}

test('a resync holds its read chunks in the journal until acknowledged: with a slow target, none is read into again before it left', async (t) => {
  // 36 MiB of distinct bytes in 1 MiB chunks, more than the journal holds in memory (24 MiB): the source reads on
  // while the target takes its time, so a chunk given back to the pool before its record left would be overwritten
  // by a later one, and the copy would differ.
  const { written } = await mirrorOnce(t, false, (src) => {
    for (const name of ['a.bin', 'b.bin', 'c.bin']) writeFileSync(join(src, name), randomBytes(12 * 1024 * 1024));
  }, { applyDelayMs: 5 });
  assert.equal(written.get('0/b.bin'), 12 * 1024 * 1024);
});

test('a mirror with a bandwidth limit sends no faster than it: the first mirror of 3 MiB at 1 MiB/s takes two seconds at least', async (t) => {
  const rate = 1024 * 1024;
  const started = performance.now();
  const { source } = await mirrorOnce(t, false, undefined, { maxBytesPerSecond: rate });
  const seconds = (performance.now() - started) / 1000;
  // A lower bound, which a slow machine only makes longer: all but the last record (at most a 1 MiB chunk and its
  // framing) paid for at the rate, less the pacer's allowance (send-pacer.ts).
  const sent = (source as unknown as { client: { stats(): { sentBytes: number } } }).client.stats().sentBytes;
  assert.ok(sent > 3 * 1024 * 1024, `${sent} bytes sent`);
  const atLeast = (sent - (1024 * 1024 + 1024)) / rate - PACER_ALLOWANCE_MS / 1000;
  t.diagnostic(`${sent} bytes in ${seconds.toFixed(2)} s; at least ${atLeast.toFixed(2)} s at ${rate} bytes/s`);
  assert.ok(seconds >= atLeast, `${sent} bytes sent in ${seconds.toFixed(2)} s: faster than ${rate} bytes/s allows (${atLeast.toFixed(2)} s)`);
});

/** The hash of the source's block index (private: what its next comparisons use). */
function storeHash(source: MirrorSource): string {
  return (source as unknown as { index: { blockHash: string } }).index.blockHash;
}

test('a resync sends the small files the target lacks whole, the run of one folder in one puts record; the copy equals the source, times included', async (t) => {
  const { ops, filesPut, written } = await mirrorOnce(t, false);
  // The 60 files of docs/ in one record (the large file at the root is created and written apart).
  assert.equal(ops.get('puts'), 1, JSON.stringify([...ops]));
  assert.equal(ops.get('put'), undefined, JSON.stringify([...ops]));
  assert.equal(filesPut.count, SMALL_FILES);
  assert.equal(written.get('0/docs/f59'), `small file 59\n`.length * (1 + 59 * 7));
  assert.equal(ops.get('create'), 1, 'only the large file is created apart');
});

test('a target applies the files of a puts record in the folders they name, and a later record of one of them after them', async (t) => {
  const { target, folders } = await targetAlone(t, ['zero', 'one']);
  const file = (path: string, text: string): { path: string; mode: number; mtimeMs: number; data: Buffer } => ({ path, mode: 0o640, mtimeMs: 1_600_000_000_000, data: Buffer.from(text) });
  // Folder 0, then 1, then 0 again, and the folder itself (nothing: it exists); then a write into one of them.
  const applied = [
    target.apply(1, encodeRecord({ op: 'puts', files: [file('0/a', 'a0'), file('0/sub/b', 'b0'), file('1/a', 'a1'), file('0/c', 'c0'), file('1', 'ignored')] })),
    target.apply(2, encodeRecord({ op: 'write', path: '1/a', offset: 2, data: Buffer.from('!') })),
  ];
  await Promise.all(applied);
  assert.deepEqual(readdirSync(folders[0]!).sort(), ['a', 'c', 'sub']);
  assert.equal(readFileSync(join(folders[0]!, 'sub', 'b'), 'utf8'), 'b0');
  assert.equal(readFileSync(join(folders[0]!, 'c'), 'utf8'), 'c0');
  assert.deepEqual(readdirSync(folders[1]!), ['a']);
  assert.equal(readFileSync(join(folders[1]!, 'a'), 'utf8'), 'a1!');
});

test('a puts record that arrives while the target\'s writes are paused waits in its spool, and lands on resume', async (t) => {
  const { target, folders } = await targetAlone(t, ['zero']);
  await target.pause();
  const files = [0, 1, 2].map((i) => ({ path: `0/d/f${i}`, mode: 0o600, mtimeMs: 1_600_000_000_000 + i, data: Buffer.from(`file ${i}`) }));
  await target.apply(1, encodeRecord({ op: 'puts', files }));
  await target.flush();
  assert.deepEqual(readdirSync(folders[0]!), [], 'the copy stands still while paused');
  await target.resume();
  assert.deepEqual(readdirSync(join(folders[0]!, 'd')).sort(), ['f0', 'f1', 'f2']);
  assert.equal(readFileSync(join(folders[0]!, 'd', 'f2'), 'utf8'), 'file 2');
});

test('to a target that takes put records but not puts records, each small file goes as one put record', async (t) => {
  const { ops, filesPut } = await mirrorOnce(t, 'before put batches');
  assert.equal(ops.get('put'), SMALL_FILES, JSON.stringify([...ops]));
  assert.equal(ops.get('puts'), undefined, JSON.stringify([...ops]));
  assert.equal(filesPut.count, SMALL_FILES);
});

test('to a target from before put records, small files go as create, write and meta, and the copy converges the same', async (t) => {
  const { ops, log } = await mirrorOnce(t, 'before puts');
  assert.equal(ops.get('put'), undefined, JSON.stringify([...ops]));
  assert.equal(ops.get('create'), SMALL_FILES + 1);
  assert.ok(log.some((line) => /runs an older version: small files go as three records each/.test(line)), log.join('\n'));
});

test('the status counts a record as done once the target acknowledges it, before the journal takes note', async (t) => {
  const { source, src, dst } = await mirrorOnce(t, false);
  // Private: the journal notes acknowledgements on a timer (a state file rewrite each time), by design later.
  const journal = (source as unknown as { journal: { stats(): { records: number } } }).journal;
  await until('the resync\'s records are acknowledged and noted', () => source.status(Date.now()).queue.records === 0 && journal.stats().records === 0, 30_000);
  writeFileSync(join(src, 'late.txt'), 'written after the resync\n');
  let seen: { status: number; journal: number } | undefined;
  let queued = false;
  // On every turn of the event loop: the journal's note comes on a timer, some turns after the ack's own.
  for (const start = Date.now(); seen === undefined && Date.now() - start < 30_000; await new Promise((r) => setImmediate(r))) {
    const { records, bytes } = source.status(Date.now()).queue;
    if (records > 0) queued = true;
    else if (queued) seen = { status: records + bytes, journal: journal.stats().records };
  }
  assert.ok(seen !== undefined, 'the change was queued, then acknowledged');
  assert.equal(readFileSync(join(dst, 'late.txt'), 'utf8'), 'written after the resync\n', 'acknowledged means applied');
  assert.equal(seen.status, 0, 'no record and no byte left in the status');
  assert.ok(seen.journal > 0, 'the journal still counted the record when the status no longer did');
});

/** The target already holds large.bin with one byte changed in its second block. */
function oneBlockDiffers(src: string, dst: string): void {
  const copy = readFileSync(join(src, 'large.bin'));
  copy[64 * 1024 + 10] = copy[64 * 1024 + 10]! ^ 0xff;
  writeFileSync(join(dst, 'large.bin'), copy);
}

test('a differential mirror compares XXH3 block hashes with a target that lists them: only the changed block travels', async (t) => {
  const { written, source, log } = await mirrorOnce(t, false, oneBlockDiffers);
  assert.equal(written.get('0/large.bin'), 64 * 1024, JSON.stringify([...written]));
  assert.equal(storeHash(source), 'xxh3-128');
  assert.ok(!log.some((line) => /cannot hash blocks/.test(line)), log.join('\n'));
});

test('to a target from before block hashes, a differential mirror compares SHA-256, says so, and still sends one block', async (t) => {
  const { written, source, log } = await mirrorOnce(t, 'before block hashes', oneBlockDiffers);
  assert.equal(written.get('0/large.bin'), 64 * 1024, JSON.stringify([...written]));
  assert.equal(storeHash(source), 'sha256-128', 'the index now compares with what that target lists');
  assert.ok(log.some((line) => /beta cannot hash blocks with xxh3-128: this differential mirror compares sha256-128/.test(line)), log.join('\n'));
});

test('a differential mirror reads the listing page by page, a large file\'s hashes in several entries: only the changed block travels', async (t) => {
  // Pages of 512 bytes and 4 blocks an entry: large.bin's 49 blocks come in 13 entries over several pages.
  const { written, calls } = await mirrorOnce(t, false, oneBlockDiffers, { endpoint: { listingPageBytes: 512, listingEntryBlocks: 4 } });
  assert.equal(written.get('0/large.bin'), 64 * 1024, JSON.stringify([...written]));
  assert.ok((calls.get('list-page') ?? 0) >= 5, JSON.stringify([...calls]));
  assert.equal(calls.get('list'), undefined, 'no whole listing asked');
});

test('a target listing larger than a call can carry (16 MiB) still makes a differential mirror: nothing already there travels', async (t) => {
  // 9,000 empty files under a 2 KB folder path: about 20 MB of listing, which one answer cannot hold.
  const deep = Array.from({ length: 8 }, (_, i) => `${String(i)}${'d'.repeat(239)}`).join('/');
  const { written, calls } = await mirrorOnce(t, false, (src, dst) => {
    for (const root of [src, dst]) {
      mkdirSync(join(root, deep), { recursive: true });
      for (let i = 0; i < 9000; i++) writeFileSync(join(root, deep, `${String(i).padStart(5, '0')}${'f'.repeat(190)}`), '');
    }
    oneBlockDiffers(src, dst);
  });
  assert.ok((calls.get('list-page') ?? 0) >= 5, JSON.stringify([...calls]));
  assert.deepEqual([...written.keys()].filter((path) => path.includes('ffff')), [], 'the files the target had stay as they are');
  assert.equal(written.get('0/large.bin'), 64 * 1024);
});

test('a differential mirror keeps its own index where the target lists the same hashes: only files changed since are read', async (t) => {
  // An old mtime: the first resync's index of f5 is not racy, so size, mtime and inode alone say "unchanged".
  const old = new Date('2020-01-02T03:04:05Z');
  const run = await mirrorOnce(t, false, (src) => {
    utimesSync(join(src, 'docs', 'f5'), old, old);
    symlinkSync('docs/f1', join(src, 'link'));
  });
  const { source, src, dst, written, metas, log } = run;
  // Behind the mirror, on the target: one block of large.bin, a whole small file, and a file's mode.
  oneBlockDiffers(src, dst);
  writeFileSync(join(dst, 'docs', 'f3'), 'changed on the target\n');
  chmodSync(join(dst, 'docs', 'f9'), 0o600);
  // On the source, bytes changed with size, mtime and inode as they were: a change that no stat can see. Taken on
  // trust, as at a restart and by rsync's quick check; had the source read its files again, it would travel.
  const f5 = join(src, 'docs', 'f5');
  writeFileSync(f5, readFileSync(f5).reverse());
  utimesSync(f5, old, old);
  written.clear();
  metas.length = 0;
  const before = source.lastSync!.startedAt;
  source.requestResync('diff');
  await untilDiffDone(source, before, log);
  assert.deepEqual([...written].sort(), [['0/docs/f3', readFileSync(join(src, 'docs', 'f3')).length], ['0/large.bin', 64 * 1024]]);
  assert.ok(log.some((line) => line.includes(`${SMALL_FILES - 1} of the ${SMALL_FILES + 1} files beta lists hash as our index has them`)), log.join('\n'));
  // The listing says each entry's mode, owner and mtime: metadata goes only to the files written and to f9; the
  // folder's mode and the symlink's time are as listed (the folder's time is sent after its entries, as always).
  assert.deepEqual(metas.filter((path) => path.startsWith('0/docs/f') || path === '0/large.bin+mode').sort(), ['0/docs/f3+mode', '0/docs/f9+mode', '0/large.bin+mode']);
  assert.deepEqual(metas.filter((path) => path === '0/docs+mode' || path.startsWith('0/link')), []);
  const report = await verifyTrees(src, dst, compileGlobs([], []), { checkMtime: true });
  assert.deepEqual([report.missing, report.extra, report.contentDiffers, report.metadataDiffers], [[], [], ['docs/f5'], []], JSON.stringify(report));
  // A thorough one reads every file on the source again, and finds f5.
  written.clear();
  const level = source.lastSync!.startedAt;
  source.requestResync('diff', { thorough: true });
  await untilDiffDone(source, level, log);
  assert.deepEqual([...written.keys()], ['0/docs/f5']);
  assert.ok(log.some((line) => line.includes('thorough differential mirror to beta started')), log.join('\n'));
  assert.equal((await verifyTrees(src, dst, compileGlobs([], []))).equal, true);
});

test('a differential mirror of a level copy sends no record: folders\' times too are taken as listed', async (t) => {
  const { source, ops, metas, log, src, dst } = await mirrorOnce(t, false, (from) => mkdirSync(join(from, 'docs', 'empty')));
  ops.clear();
  metas.length = 0;
  const before = source.lastSync!.startedAt;
  source.requestResync('diff');
  await untilDiffDone(source, before, log);
  assert.deepEqual([...ops], [], `records sent: ${JSON.stringify([...ops])}, metas ${JSON.stringify(metas)}`);
  // A folder's time changed on the target behind the mirror's back is set again, and only that one.
  const old = new Date('2001-02-03T04:05:06Z');
  utimesSync(join(dst, 'docs', 'empty'), old, old);
  const level = source.lastSync!.startedAt;
  source.requestResync('diff');
  await untilDiffDone(source, level, log);
  assert.deepEqual(metas, ['0/docs/empty']);
  const report = await verifyTrees(src, dst, compileGlobs([], []), { checkMtime: true });
  assert.deepEqual(report.metadataDiffers, [], JSON.stringify(report));
});

test('a differential mirror whose source folder is missing (a volume not mounted) fails, saying so, and deletes nothing on the target', async (t) => {
  const { source, ops, log, src, dst } = await mirrorOnce(t, false);
  const files = readdirSync(join(dst, 'docs')).length;
  renameSync(src, `${src}.away`);
  ops.clear();
  const before = source.lastSync!.startedAt;
  source.requestResync('diff');
  await until('the differential mirror failed', () => (source.lastSync?.startedAt ?? 0) > before && source.lastSync!.error !== undefined, 30_000);
  assert.match(source.lastSync!.error!, new RegExp(`the mirrored folder ${src} is missing: nothing of it is sent or deleted until it is back`));
  assert.deepEqual([...ops], [], 'no record went out');
  assert.equal(readdirSync(join(dst, 'docs')).length, files, 'the target keeps its copy');
  // Back, the next one brings the copy level.
  renameSync(`${src}.away`, src);
  const failed = source.lastSync!.startedAt;
  source.requestResync('diff');
  await untilDiffDone(source, failed, log);
  assert.equal((await verifyTrees(src, dst, compileGlobs([], []))).equal, true);
});

/** The differential mirror a source runs (asked for, or at its start after a crash) is done and acknowledged. */
async function untilDiffDone(source: MirrorSource, after: number, log: readonly string[]): Promise<void> {
  await until('the differential mirror is done', () => (source.lastSync?.startedAt ?? 0) > after && (source.lastSync!.finishedAt !== undefined || source.lastSync!.error !== undefined), 30_000).catch((e: Error) => { throw new Error(`${e.message}\n${log.join('\n')}`); });
  assert.equal(source.lastSync!.error, undefined, log.join('\n'));
  await until('every record is acknowledged', () => source.status(Date.now()).queue.records === 0, 30_000);
}

/**
 * Transmission paused, `change` is journaled for the target as it is; then the target is downgraded to a version
 * before `refused.op` (op code `code`) and transmission resumes: the target refuses the first such record, none is
 * applied, and a differential mirror follows.
 */
async function journaledThenDowngraded(run: MirrorRun, refused: { on: boolean; readonly op: ChangeOp }, code: number, change: () => void): Promise<void> {
  await run.source.pause();
  change();
  await until('the change is journaled', () => run.source.status(Date.now()).queue.records > 0, 10_000);
  refused.on = true;
  const before = Date.now();
  run.source.resume();
  await untilDiffDone(run.source, before, run.log);
  assert.ok(run.log.some((line) => line.includes(`change record: op at byte 1: unknown op code ${code}`)), run.log.join('\n'));
  assert.equal(run.ops.get(refused.op), undefined, `no ${refused.op} record was applied`);
}

test('hard links: the first mirror sends a file once and links its other names; after a crash, a differential mirror splits a name that is another file here, leaving the rest', async (t) => {
  const { ops, written, src, dst, log, restart } = await mirrorOnce(t, false, (dir) => {
    linkSync(join(dir, 'large.bin'), join(dir, 'docs/large-again.bin'));
    linkSync(join(dir, 'docs/f1'), join(dir, 'docs/f1-again'));
  });
  assert.equal(ops.get('link'), 2, JSON.stringify([...ops]));
  assert.equal(written.get('0/docs/large-again.bin'), 3 * 1024 * 1024 + 5, 'the large file\'s first name in the scan');
  assert.equal(written.get('0/large.bin'), undefined, 'its second name is a link');
  const ino = (path: string): number => statSync(join(dst, path)).ino;
  assert.equal(ino('large.bin'), ino('docs/large-again.bin'));
  assert.equal(ino('docs/f1'), ino('docs/f1-again'));

  // While the source is down (after a crash: its index is not trusted, the target's listing seeds it), the
  // second name of the large file becomes a file of its own of the same size. Written in place on the target,
  // its blocks would reach large.bin there too.
  const before = Date.now();
  rmSync(join(src, 'docs/large-again.bin'));
  writeFileSync(join(src, 'docs/large-again.bin'), Buffer.alloc(3 * 1024 * 1024 + 5, 0x42));
  const source = await restart(true);
  await untilDiffDone(source, before, log);
  const report = await verifyTrees(src, dst, compileGlobs([], []), { checkMtime: true });
  assert.ok(report.equal, JSON.stringify(report));
  assert.notEqual(ino('large.bin'), ino('docs/large-again.bin'));
  assert.equal(ino('docs/f1'), ino('docs/f1-again'), 'the other file keeps its two names');
});

test('link records journaled for a target that is then downgraded: it refuses them, and a differential mirror sends each name as a copy; upgraded again, a differential mirror links them', async (t) => {
  const refused = { on: false, op: 'link' as const };
  const run = await mirrorOnce(t, false, undefined, { refused });
  const { src, dst, log, source, ops } = run;
  // The new name is journaled as a link.
  await journaledThenDowngraded(run, refused, 12, () => linkSync(join(src, 'docs/f2'), join(src, 'docs/f2-again')));
  const report = await verifyTrees(src, dst, compileGlobs([], []), { checkMtime: true });
  assert.deepEqual(report, { equal: false, missing: [], extra: [], contentDiffers: [], metadataDiffers: [{ path: 'docs/f2-again', fields: ['linkedTo'] }], problems: [] });

  // Upgraded again: a differential mirror links the copy, though the source's own index agrees with the listing.
  refused.on = false;
  const again = Date.now();
  source.requestResync('diff');
  await untilDiffDone(source, again, log);
  assert.equal(ops.get('link'), 1, JSON.stringify([...ops]));
  assert.ok((await verifyTrees(src, dst, compileGlobs([], []), { checkMtime: true })).equal);
  assert.equal(statSync(join(dst, 'docs/f2-again')).ino, statSync(join(dst, 'docs/f2')).ino);
});

const MiB = 1024 * 1024;

/**
 * A sparse file of 80 MiB: 1 MiB of random bytes at its start, 500 KiB at 40 MiB + 100 KiB, holes elsewhere (its
 * end too). Answers the bytes of data in it.
 */
function sparseFile(path: string): number {
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, randomBytes(MiB), 0, MiB, 0);
    writeSync(fd, randomBytes(500 * 1024), 0, 500 * 1024, 40 * MiB + 100 * 1024);
  } finally {
    closeSync(fd);
  }
  execFileSync('truncate', ['-s', String(80 * MiB), path]);
  return MiB + 500 * 1024;
}

test('a sparse file travels as its data and its runs of zeros: the copy is equal and as sparse; a change to zeros travels as one record', async (t) => {
  let data = 0;
  const { src, dst, ops, written, source } = await mirrorOnce(t, false, (from) => { data = sparseFile(join(from, 'disk.img')); });
  assert.equal(written.get('0/disk.img'), data, 'only the data was written');
  // Two runs: from the end of the first MiB to the second piece of data (many chunks, one record), and from its end on.
  assert.equal(ops.get('zeros'), 2, JSON.stringify([...ops]));
  const allocated = statSync(join(dst, 'disk.img')).blocks * 512;
  assert.ok(allocated < 8 * MiB, `${allocated} bytes allocated on the target for ${data} bytes of data in 80 MiB`);

  // Live: the first MiB zeroed (written over), a MiB of data at 10 MiB.
  const fd = openSync(join(src, 'disk.img'), 'r+');
  try {
    writeSync(fd, Buffer.alloc(MiB), 0, MiB, 0);
    writeSync(fd, randomBytes(MiB), 0, MiB, 10 * MiB);
  } finally {
    closeSync(fd);
  }
  await until('the change is applied', () => source.status(Date.now()).queue.records === 0 && readFileSync(join(dst, 'disk.img')).equals(readFileSync(join(src, 'disk.img'))), 20_000);
  assert.equal(written.get('0/disk.img'), data + MiB, 'only the new data was written');
  assert.equal(ops.get('zeros'), 3, 'the zeroed MiB went as one record');
  assert.ok((await verifyTrees(src, dst, compileGlobs([], []), { checkMtime: true })).equal);
});

test('to a target from before zeros records, a sparse file goes byte by byte, and the copy is equal', async (t) => {
  const { dst, ops, written } = await mirrorOnce(t, false, (from) => { sparseFile(join(from, 'disk.img')); }, { refused: { on: true, op: 'zeros' } });
  assert.equal(ops.get('zeros'), undefined);
  assert.equal(written.get('0/disk.img'), 80 * MiB);
  assert.equal(statSync(join(dst, 'disk.img')).size, 80 * MiB);
});

test('zeros records journaled for a target that is then downgraded: it refuses them, and a differential mirror sends the file byte by byte', async (t) => {
  const refused = { on: false, op: 'zeros' as const };
  const run = await mirrorOnce(t, false, undefined, { refused });
  const { src, dst, written } = run;
  // The sparse file is journaled, its holes as zeros records.
  await journaledThenDowngraded(run, refused, 13, () => sparseFile(join(src, 'disk.img')));
  // The file's last hole at least (records after a refused one may still have landed: the target applies several
  // at once) went as bytes.
  const lastHole = 80 * MiB - (40 * MiB + 600 * 1024);
  assert.ok((written.get('0/disk.img') ?? 0) >= lastHole, `${written.get('0/disk.img')} bytes written`);
  assert.ok((await verifyTrees(src, dst, compileGlobs([], []), { checkMtime: true })).equal);
});

test('after a resync that wrote to the copy, the source sends its block hashes: the target takes every file\'s, and its background listing hashes none', async (t) => {
  const old = new Date('2020-01-02T03:04:05Z');
  const { log } = await mirrorOnce(t, false, (src) => {
    for (const name of readdirSync(join(src, 'docs'))) utimesSync(join(src, 'docs', name), old, old);
    utimesSync(join(src, 'large.bin'), old, old);
  }, { listingIndexFile: (base) => join(base, 'target-listing.index'), backgroundListing: true });
  const files = SMALL_FILES + 1;
  await until('the hashes were sent', () => log.some((l) => l.includes('took the block hashes')), 10_000);
  assert.ok(log.some((l) => l.endsWith(`beta took the block hashes of ${files} of the ${files} files sent: its background listing reads none of them`)), log.join('\n'));
  // The listing waited for them.
  await until('the background listing is done', () => log.some((l) => /listed the copy in the background/.test(l)), 30_000);
  assert.ok(log.some((l) => l.includes(`listed the copy in the background: ${files} files, 0 of them hashed`)), log.join('\n'));
});

test('a differential mirror asked for while another runs gets a pass of its own: a thorough one asked during a plain one reads every file', async (t) => {
  const old = new Date('2020-01-02T03:04:05Z');
  // Each listing page takes 300 ms: the plain pass is still listing when the thorough one is asked for.
  const { source, src, dst, written, log } = await mirrorOnce(t, false, (from) => utimesSync(join(from, 'docs', 'f5'), old, old), { slowScanMs: 300 });
  const f5 = join(src, 'docs', 'f5');
  writeFileSync(f5, readFileSync(f5).reverse());
  utimesSync(f5, old, old);
  written.clear();
  const from = log.length;
  const started = (what: RegExp): boolean => log.slice(from).some((line) => what.test(line));
  source.requestResync('diff');
  await until('the plain pass started', () => started(/: differential mirror to beta started/), 10_000);
  source.requestResync('diff', { thorough: true });
  await until('the thorough pass started', () => started(/: thorough differential mirror to beta started/), 30_000);
  await until('the thorough pass is done', () => source.lastSync?.finishedAt !== undefined && source.status(Date.now()).queue.records === 0, 30_000);
  assert.ok(written.has('0/docs/f5'), 'f5 travelled');
  assert.equal((await verifyTrees(src, dst, compileGlobs([], []))).equal, true);
});

/** Ten bytes of mirrorOnce's large.bin (3 MiB + 5) rewritten near its start, and 100 appended: grown a little. */
function rewriteNearStartAndGrow(file: string): void {
  const fd = openSync(file, 'r+');
  try {
    writeSync(fd, Buffer.alloc(10, 0x5a), 0, 10, 10);
    writeSync(fd, Buffer.alloc(100, 0x5b), 0, 100, 3 * 1024 * 1024 + 5);
  } finally {
    closeSync(fd);
  }
}

test('a source restarted after a file grew and was rewritten near its start unwatched checks the append its reconcile took on trust: the rewrite travels', async (t) => {
  const { src, dst, log, restart, stopSource } = await mirrorOnce(t, false);
  await stopSource();
  rewriteNearStartAndGrow(join(src, 'large.bin'));
  // No resync (the journal covers the target): the start's reconcile sends the grown bytes, the rest on trust.
  await restart(false);
  const filter = compileGlobs([], []);
  await until('the rewrite reached the target', async () => (await verifyTrees(src, dst, filter)).equal, 15_000, 200);
  assert.ok(log.some((line) => /1 appended file\(s\) also changed before their old end \(0\/large\.bin\)/.test(line)), log.join('\n'));
});

test('a source restarted over changes made unwatched does not call the copy level until its reconcile has journaled them and the target applied them', async (t) => {
  const { src, dst, log, restart, stopSource } = await mirrorOnce(t, false);
  await stopSource();
  for (let i = 0; i < SMALL_FILES; i++) writeFileSync(join(src, 'docs', `f${i}`), `changed while no agent watched ${i}\n`);
  // The journal covers the target (no resync): only the start's reconcile finds these.
  const source = await restart(false);
  const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
  for (const end = Date.now() + 15_000; !source.status(Date.now()).connected; await turn()) {
    if (Date.now() > end) throw new Error(`never connected\n${log.join('\n')}`);
  }
  const connected = source.status(Date.now());
  assert.equal(connected.resyncing, false, 'no resync: the reconcile is what finds the changes');
  assert.equal(connected.scanning, true, 'connected, with the reconcile not yet done, the copy is not known level');
  assert.ok(connected.reasons.some((r) => r === `scanning ${src} for changes no watcher reported`), connected.reasons.join('; '));
  assert.equal(source.behind(Date.now()), true, 'an automatic switchback waits');
  for (const end = Date.now() + 15_000; source.behind(Date.now()); await turn()) {
    if (Date.now() > end) throw new Error(`never level: ${JSON.stringify(source.status(Date.now()))}\n${log.join('\n')}`);
  }
  // The moment the source no longer calls the target behind, the target has every change.
  const report = await verifyTrees(src, dst, compileGlobs([], []));
  assert.deepEqual([report.missing, report.extra, report.contentDiffers], [[], [], []], JSON.stringify(report));
});

test('after a crash of the source, its first differential mirror reads every file: the machine may have lost bytes it had hashed', async (t) => {
  const old = new Date('2020-01-02T03:04:05Z');
  const { src, dst, written, log, restart } = await mirrorOnce(t, false, (dir) => utimesSync(join(dir, 'docs', 'f5'), old, old));
  const f5 = join(src, 'docs', 'f5');
  const changeUnseen = (): void => {
    writeFileSync(f5, readFileSync(f5).reverse());
    utimesSync(f5, old, old);
  };
  // A clean restart, then a differential mirror: the index is kept where the target agrees, and f5 stays as it was.
  const before = Date.now();
  changeUnseen();
  const clean = await restart(false);
  written.clear();
  clean.requestResync('diff');
  await untilDiffDone(clean, before, log);
  assert.deepEqual([...written.keys()], []);
  // After a crash, the differential mirror at the start reads f5 and finds it differs.
  const crashed = await restart(true);
  await untilDiffDone(crashed, before, log);
  assert.deepEqual([...written.keys()], ['0/docs/f5']);
  assert.equal(readFileSync(join(dst, 'docs', 'f5'), 'utf8'), readFileSync(f5, 'utf8'));
});

test('a target\'s listing hashes only the files changed since its last one; the hashes of files gone are dropped', async (t) => {
  let indexFile = '';
  const old = new Date('2020-01-02T03:04:05Z');
  const { source, src, dst, written, log } = await mirrorOnce(t, false, (from) => utimesSync(join(from, 'docs', 'f5'), old, old), {
    listingIndexFile: (base) => (indexFile = join(base, 'target-listing.index')),
  });
  const diff = async (thorough = false): Promise<void> => {
    written.clear();
    const before = Date.now();
    source.requestResync('diff', { thorough });
    await untilDiffDone(source, before - 1, log);
  };
  const listed = (): string | undefined => log.filter((line) => /listed \d+ files/.test(line)).at(-1);
  await diff();
  assert.match(listed() ?? '', new RegExp(`listed ${SMALL_FILES + 1} files, ${SMALL_FILES + 1} of them hashed`));
  // Behind the mirror, on the target: a block of large.bin rewritten in place, a small file replaced, and f5's
  // bytes changed with its size, mtime and inode kept. On the source: f7 deleted (its delete travels at once).
  oneBlockDiffers(src, dst);
  writeFileSync(join(dst, 'docs', 'f3'), 'changed on the target\n');
  const f5 = join(dst, 'docs', 'f5');
  writeFileSync(f5, readFileSync(f5).reverse());
  utimesSync(f5, old, old);
  rmSync(join(src, 'docs', 'f7'));
  await until('f7 is deleted on the target', () => !existsSync(join(dst, 'docs', 'f7')), 10_000);
  await diff();
  assert.match(listed() ?? '', new RegExp(`listed ${SMALL_FILES} files, 2 of them hashed`));
  assert.deepEqual([...written].sort(), [['0/docs/f3', readFileSync(join(src, 'docs', 'f3')).length], ['0/large.bin', 64 * 1024]]);
  // f5 was taken as last listed, as rsync's quick check would: verify compares whole files and lists it.
  assert.deepEqual((await verifyTrees(src, dst, compileGlobs([], []))).contentDiffers, ['docs/f5']);
  const kept = await BlockIndexStore.open(indexFile);
  assert.equal(kept.size, SMALL_FILES);
  assert.equal(kept.entry('0/docs/f7'), undefined, 'a file gone is dropped');
  // The two files the last differential mirror wrote changed since the listing: hashed again, and level now.
  await diff();
  assert.match(listed() ?? '', new RegExp(`listed ${SMALL_FILES} files, 2 of them hashed`));
  assert.deepEqual([...written], []);
  // A thorough one reads every file on the target again, and finds f5.
  await diff(true);
  assert.match(listed() ?? '', new RegExp(`listed ${SMALL_FILES} files, ${SMALL_FILES} of them hashed`));
  assert.deepEqual([...written.keys()], ['0/docs/f5']);
  assert.equal((await verifyTrees(src, dst, compileGlobs([], []))).equal, true);
});

test('a target that did not stop cleanly drops its last listing\'s hashes; a damaged file of them is said, removed and made again', async (t) => {
  const base = mkdtempSync(join(tmpdir(), 'vigil-listing-index-'));
  t.after(() => rmSync(base, { recursive: true, force: true }));
  const dst = join(base, 'dst');
  mkdirSync(dst);
  writeFileSync(join(dst, 'a'), 'a file\n');
  const file = join(base, 'target-listing.index');
  const log: string[] = [];
  const openTarget = async (unclean: boolean, listingIndexFile = file): Promise<MirrorTarget> => {
    const target = new MirrorTarget({
      id: MIRROR, folders: [dst], filter: compileGlobs([], []), stateFile: join(base, 'state.json'), spoolDir: join(base, 'spool'), spoolBytes: 1024 * 1024,
      applyOwner: false, state: INITIAL_STATE, log: (line) => log.push(line), listingIndexFile,
    }, INITIAL_STATE);
    await target.open(unclean);
    return target;
  };
  const listOnce = async (target: MirrorTarget): Promise<void> => {
    await target.listing(64 * 1024, 'xxh3-128');
    await target.close();
  };
  await listOnce(await openTarget(false));
  assert.ok(existsSync(file));
  const crashed = await openTarget(true);
  assert.equal(existsSync(file), false, 'gone at the open after a crash');
  await listOnce(crashed);
  writeFileSync(file, 'not an index');
  await listOnce(await openTarget(false));
  assert.ok(log.some((line) => line.startsWith(`${file}: `) && line.endsWith('removed, the listing hashes every file')), log.join('\n'));
  assert.equal((await BlockIndexStore.open(file)).size, 1);
  // Where it can be neither read nor made (its folder is a file), listings go without it, and still list.
  const blocked = join(base, 'blocked');
  writeFileSync(blocked, '');
  const target = await openTarget(false, join(blocked, 'index'));
  assert.deepEqual((await target.listing(64 * 1024, 'xxh3-128')).map((f) => f.path), ['0', '0/a'], 'the root first, then its entries');
  await target.close();
  assert.ok(log.some((line) => line.startsWith(`${join(blocked, 'index')}: `) && line.endsWith('the listing goes without it')), log.join('\n'));
});

/** A target alone over new folders of these names, which `fill` prepares; closed and removed after the test. */
async function targetAlone(t: TestContext, names: readonly string[], fill: (folders: readonly string[]) => void = () => undefined, xattrs?: ExtendedAttributes): Promise<{ target: MirrorTarget; folders: readonly string[] }> {
  const base = mkdtempSync(join(tmpdir(), 'vigil-target-alone-'));
  const folders = names.map((name) => join(base, name));
  for (const folder of folders) mkdirSync(folder);
  fill(folders);
  const target = new MirrorTarget({
    id: MIRROR, folders, filter: compileGlobs([], []), stateFile: join(base, 'state.json'), spoolDir: join(base, 'spool'), spoolBytes: 1024 * 1024,
    applyOwner: false, state: INITIAL_STATE, log: () => undefined, ...(xattrs === undefined ? {} : { xattrs }),
  }, INITIAL_STATE);
  await target.open();
  // One hook: node runs them in the order they were added, and the target writes its state as it closes.
  t.after(async () => {
    await target.close();
    rmSync(base, { recursive: true, force: true });
  });
  return { target, folders };
}

/** A target alone over a folder that `fill` prepares; its endpoint as the transport sees it. */
async function targetOver(t: TestContext, fill: (dst: string) => void, endpointOptions?: TargetEndpointOptions): Promise<MirrorEndpoint> {
  const { target } = await targetAlone(t, ['dst'], ([dst]) => fill(dst!));
  return targetEndpoint(target, 4096, endpointOptions);
}

test('a target lists blocks with the hash asked, SHA-256 when none is asked, and refuses one it does not know', async (t) => {
  const content = Buffer.alloc(5000, 7);
  const endpoint = await targetOver(t, (dst) => writeFileSync(join(dst, 'f'), content));
  const list = async (params: object): Promise<TargetFile[]> => JSON.parse((await endpoint.handle!('list', Buffer.from(JSON.stringify(params)))).toString('utf8')) as TargetFile[];
  const blocksOf = (files: TargetFile[]): string => files.find((f) => f.path === '0/f')!.blocks!;
  const expected = (hash: BlockHashName): string => Buffer.concat([blockHash(content.subarray(0, 4096), hash), blockHash(content.subarray(4096), hash)]).toString('base64');
  assert.equal(blocksOf(await list({ blockSize: 4096, blockHash: 'xxh3-128' })), expected('xxh3-128'));
  assert.equal(blocksOf(await list({ blockSize: 4096 })), expected('sha256-128'), 'a source before block hashes compares SHA-256');
  await assert.rejects(list({ blockSize: 4096, blockHash: 'md5' }), /list: blockHash "md5" is not one of xxh3-128, sha256-128/);
  const features = JSON.parse((await endpoint.handle!('features', Buffer.alloc(0))).toString('utf8')) as { blockHashes: string[] };
  assert.deepEqual(features.blockHashes, ['xxh3-128', 'sha256-128']);
});

test('a paged listing holds the same entries as the whole one, a large file\'s hashes split in order; a session not open is refused by name', async (t) => {
  const endpoint = await targetOver(t, (dst) => {
    mkdirSync(join(dst, 'docs'));
    for (let i = 0; i < 40; i++) writeFileSync(join(dst, 'docs', `f${i}`), `file ${i}\n`.repeat(i));
    writeFileSync(join(dst, 'large.bin'), randomBytes(50 * 4096 + 7));
  }, { listingPageBytes: 600, listingEntryBlocks: 16 });
  const call = async (method: string, params: object): Promise<unknown> => JSON.parse((await endpoint.handle!(method, Buffer.from(JSON.stringify(params)))).toString('utf8'));
  const asked = { blockSize: 4096, blockHash: 'xxh3-128' };
  const whole = await call('list', asked) as TargetFile[];
  const paged: TargetFile[] = [];
  let pages = 0;
  for (let session: string | undefined, first = true; first || session !== undefined; first = false) {
    const page = await call('list-page', session === undefined ? asked : { ...asked, session }) as { files: TargetFile[]; session?: string };
    pages++;
    paged.push(...page.files);
    session = page.session;
  }
  assert.ok(pages > 10, `${pages} pages`);
  // large.bin's 51 blocks: entries from blocks 0, 16, 32 and 48, one after the other.
  const large = paged.filter((f) => f.path === '0/large.bin');
  assert.deepEqual(large.map((f) => f.firstBlock), [undefined, 16, 32, 48]);
  const joined = paged.filter((f) => f.firstBlock === undefined).map((f) => (f.path === '0/large.bin' ? { ...f, blocks: Buffer.concat(large.map((l) => Buffer.from(l.blocks!, 'base64'))).toString('base64') } : f));
  assert.deepEqual(joined, whole);

  await assert.rejects(call('list-page', { ...asked, session: 'gone' }), /list-page: session "gone" is not open here \(it ended, went idle, or newer ones replaced it\): start again/);
  await assert.rejects(call('list-page', { ...asked, session: 7 }), /list-page: session 7 is not a string/);
  // A session is one method's: a listing's is not asked for a manifest's pages.
  const opened = await call('list-page', asked) as { session: string };
  await assert.rejects(call('manifest-page', { folder: 0, session: opened.session }), /manifest-page: session "[0-9a-f]+" is not open here/);
  const features = await call('features', {}) as { calls: string[] };
  assert.deepEqual(features.calls, ['list-page', 'manifest-page', 'seed-listing']);
});

test('the source puts a split file\'s hashes back together, and refuses blocks that do not follow their file', () => {
  const seeded: { path: string; blocks: number }[] = [];
  const seeder = new ListingSeeder('beta', (f, hashes) => seeded.push({ path: f.path, blocks: hashes.length / 16 }));
  const hashes = (n: number): string => Buffer.alloc(16 * n, n).toString('base64');
  const file = { type: 'file', size: 5 * 4096, mtimeMs: 1, blockSize: 4096 } as const;
  seeder.add({ path: '0/d', type: 'dir', size: 0, mtimeMs: 1 });
  seeder.add({ ...file, path: '0/a', blocks: hashes(2) });
  seeder.add({ ...file, path: '0/a', blocks: hashes(2), firstBlock: 2 });
  seeder.add({ ...file, path: '0/a', blocks: hashes(1), firstBlock: 4 });
  seeder.add({ ...file, path: '0/b', blocks: hashes(1) });
  seeder.end();
  assert.deepEqual(seeded, [{ path: '0/d', blocks: 0 }, { path: '0/a', blocks: 5 }, { path: '0/b', blocks: 1 }]);

  const strict = new ListingSeeder('beta', () => undefined);
  assert.throws(() => strict.add({ ...file, path: '0/a', blocks: hashes(1), firstBlock: 2 }), /beta's listing: blocks of "0\/a" from 2 do not follow an entry of that file/);
  strict.add({ ...file, path: '0/a', blocks: hashes(2) });
  assert.throws(() => strict.add({ ...file, path: '0/a', blocks: hashes(1), firstBlock: 3 }), /blocks of "0\/a" from 3 do not follow "0\/a"'s first 2/);
  assert.throws(() => strict.add({ ...file, path: '0/c', blocks: hashes(1), firstBlock: 2 }), /blocks of "0\/c" from 2 do not follow "0\/a"'s first 2/);
});

test('verify reads the target\'s manifest page by page, and from a target before paged answers whole; both list a change made behind the mirror', async (t) => {
  for (const older of [false, 'before block hashes'] as const) {
    const { source, calls, dst } = await mirrorOnce(t, older, undefined, { endpoint: { listingPageBytes: 1024 } });
    assert.equal((await source.verify()).equal, true);
    writeFileSync(join(dst, 'docs', 'f7'), 'changed on the target\n');
    const report = await source.verify();
    assert.deepEqual([report.equal, report.contentDiffers], [false, ['0/docs/f7']]);
    if (older === false) {
      assert.ok((calls.get('manifest-page') ?? 0) >= 6, JSON.stringify([...calls]));
      assert.equal(calls.get('manifest'), undefined);
    } else {
      assert.equal(calls.get('manifest-page'), undefined, JSON.stringify([...calls]));
      assert.equal(calls.get('manifest'), 2);
    }
  }
});

test('verify of a folder whose manifest is larger than a call can carry (16 MiB)', async (t) => {
  // 4,300 symlinks whose targets are 4,000 bytes long: about 17 MB of manifest, which one answer cannot hold.
  const { source, calls } = await mirrorOnce(t, false, (src, dst) => {
    for (const root of [src, dst]) {
      mkdirSync(join(root, 'links'));
      for (let i = 0; i < 4300; i++) symlinkSync(`${String(i).padStart(4, '0')}${'t'.repeat(3996)}`, join(root, 'links', `l${i}`));
    }
  });
  const report = await source.verify();
  assert.equal(report.equal, true, JSON.stringify(report).slice(0, 500));
  assert.ok((calls.get('manifest-page') ?? 0) >= 4, JSON.stringify([...calls]));
});

test('listings and manifests may take longer than a quick call: a slow target still makes a differential mirror and a verify', async (t) => {
  // Quick calls time out after 300 ms here; the target takes 600 ms for each listing or manifest page.
  for (const older of [false, 'before block hashes'] as const) {
    const { source, written } = await mirrorOnce(t, older, oneBlockDiffers, { callTimeoutMs: 300, slowScanMs: 600 });
    assert.equal(written.get('0/large.bin'), 64 * 1024);
    assert.equal((await source.verify()).equal, true);
  }
});

test('a paged manifest holds the same entries and problems as the whole one, the problems paged too', async (t) => {
  const endpoint = await targetOver(t, (dst) => {
    mkdirSync(join(dst, 'docs'));
    for (let i = 0; i < 30; i++) writeFileSync(join(dst, 'docs', `f${i}`), `file ${i}\n`);
    // Named pipes cannot be mirrored: each is a problem of the manifest.
    for (let i = 0; i < 30; i++) execFileSync('mkfifo', [join(dst, 'docs', `pipe${i}`)]);
  }, { listingPageBytes: 700 });
  const whole = decodeManifest((await endpoint.handle!('manifest', Buffer.from('{"folder":0}'))).toString('utf8'));
  assert.equal(whole.problems.length, 30);
  const entries: unknown[] = [];
  const problems: unknown[] = [];
  const roots: unknown[] = [];
  let pages = 0;
  let pagesWithProblems = 0;
  for (let session: string | undefined, first = true; first || session !== undefined; first = false) {
    const answer = JSON.parse((await endpoint.handle!('manifest-page', Buffer.from(JSON.stringify(session === undefined ? { folder: 0 } : { folder: 0, session })))).toString('utf8')) as { manifest: unknown; session?: string };
    const part = decodeManifestValue(answer.manifest);
    entries.push(...part.entries);
    problems.push(...part.problems);
    if (part.root !== undefined) roots.push(pages, part.root);
    if (part.problems.length > 0) pagesWithProblems++;
    pages++;
    session = answer.session;
  }
  assert.ok(pages > 8, `${pages} pages`);
  assert.ok(pagesWithProblems > 1, `the problems came in ${pagesWithProblems} page(s)`);
  assert.deepEqual({ entries, problems }, { entries: whole.entries, problems: whole.problems });
  assert.ok(whole.root !== undefined);
  assert.deepEqual(roots, [0, whole.root], 'the folder itself, with the first page only');
});

test('the source asks for every page of a paged answer with the session the last one named, and refuses a session that is not a string', async () => {
  const asked: object[] = [];
  const answers = ['{"files":[1,2],"session":"s1"}', '{"files":[3],"session":"s2"}', '{"files":[]}'];
  const seen: unknown[] = [];
  await readPages(async (body) => { asked.push(body); return Buffer.from(answers[asked.length - 1]!); }, { blockSize: 4096 }, 'files', 'beta\'s listing', (value, page) => seen.push([page, value]));
  assert.deepEqual(asked, [{ blockSize: 4096 }, { blockSize: 4096, session: 's1' }, { blockSize: 4096, session: 's2' }]);
  assert.deepEqual(seen, [[0, [1, 2]], [1, [3]], [2, []]]);
  await assert.rejects(readPages(async () => Buffer.from('{"files":[],"session":7}'), {}, 'files', 'beta\'s listing', () => undefined), /beta's listing, page 0: "session" is not a string/);
});

/**
 * A switchover and back on loopback: alpha mirrored `src` to beta's `dst` (and beta listed its copy once, in a
 * differential mirror), then the roles change: beta is the source of `dst`, alpha the target over `src`. Files
 * changed meanwhile: f3 on beta (the new source), f4 on alpha (as if written there before the switchover and never
 * sent). Returns what the differential mirror to alpha logged and wrote.
 */
async function failback(t: TestContext, o: { readonly alphaUnclean?: boolean; readonly betaAfterCrash?: boolean; readonly betaListsInBackground?: boolean } = {}):
  Promise<{ log: string[]; written: Map<string, number>; src: string; dst: string }> {
  const old = new Date('2020-01-02T03:04:05Z');
  // Old mtimes: no index made here is racy, so size, mtime and inode alone can say "unchanged".
  const first = await mirrorOnce(t, false, (src) => {
    for (const name of readdirSync(join(src, 'docs'))) utimesSync(join(src, 'docs', name), old, old);
    utimesSync(join(src, 'large.bin'), old, old);
  }, { listingIndexFile: (base) => join(base, 'target-listing.index'), backgroundListing: o.betaListsInBackground === true });
  const { src, dst, base } = first;
  if (o.betaListsInBackground === true) {
    // The first mirror wrote the whole copy (its listing found an empty folder): beta lists it on its own (with the
    // hashes alpha sent after it: how many it still hashed depends on which came first).
    const line = `mirror ${MIRROR}: listed the copy in the background: ${SMALL_FILES + 1} files, `;
    await until('beta listed its copy in the background', () => first.log.some((l) => l.startsWith(line)), 30_000);
  } else {
    // Beta lists its copy once (a differential mirror after a reconnect, say): its listing index has every file.
    const before = Date.now();
    first.source.requestResync('diff');
    await untilDiffDone(first.source, before - 1, first.log);
    assert.match(first.log.filter((line) => /listed \d+ files/.test(line)).at(-1) ?? '', new RegExp(`listed ${SMALL_FILES + 1} files, ${SMALL_FILES + 1} of them hashed`));
  }
  await first.stopSource();
  writeFileSync(join(dst, 'docs', 'f3'), 'changed on beta, the new source\n');
  // Rewritten near its start and grown a little, with no agent watching: as the new source, beta must not take
  // the growth for an append on trust (its older bytes are not those the index it keeps was made of).
  rewriteNearStartAndGrow(join(dst, 'large.bin'));
  writeFileSync(join(src, 'docs', 'f4'), 'changed on alpha, never sent\n');
  const log: string[] = [];
  const filter = compileGlobs([], []);
  const alpha = new MirrorTarget({
    id: MIRROR, folders: [src], filter, stateFile: join(base, 'alpha-target-state.json'), spoolDir: join(base, 'alpha-spool'), spoolBytes: 64 * 1024 * 1024,
    applyOwner: false, state: INITIAL_STATE, log: (line) => log.push(`alpha: ${line}`),
    listingIndexFile: join(base, 'alpha-listing.index'), ownIndexFile: join(base, 'source', 'index'),
  }, INITIAL_STATE);
  await alpha.open(o.alphaUnclean === true);
  // Stopped here, in this order, before mirrorOnce's own clean-up removes the folders they write in.
  const stops: (() => Promise<unknown>)[] = [() => alpha.close()];
  try {
    const written = new Map<string, number>();
    const real = targetEndpoint(alpha, 64 * 1024);
    const endpoint: MirrorEndpoint = {
      ...real,
      apply: (r) => {
        const record = decodeRecord(r.payload);
        if (record.op === 'write' || record.op === 'put') written.set(record.path, (written.get(record.path) ?? 0) + record.data.length);
        return real.apply(r);
      },
    };
    const server = await ReplicationServer.listen({ host: '127.0.0.1', port: 0, clusterId: CLUSTER, nodeId: 'alpha', key: KEY, mirror: (name) => (name === MIRROR ? endpoint : undefined) });
    stops.push(() => server.close());
    const beta = new MirrorSource({
      id: MIRROR, folders: [dst], filter, dir: join(base, 'beta-source'), journalBytes: 64 * 1024 * 1024, blockSize: 64 * 1024, blockHash: 'xxh3-128', owner: false,
      peer: { node: 'alpha', host: '127.0.0.1', port: server.port }, clusterId: CLUSTER, nodeId: 'beta', key: KEY,
      lineage: () => ({ current: 'b2', history: ['0', 'a1'] }), paused: false, resyncOnStart: o.betaAfterCrash === true, log: (line) => log.push(`beta: ${line}`),
      listingIndexFile: join(base, 'target-listing.index'),
    });
    await beta.start();
    stops.push(() => beta.stop());
    await until('the differential mirror to alpha is done', () => beta.lastSync?.finishedAt !== undefined || beta.lastSync?.error !== undefined, 30_000);
    assert.equal(beta.lastSync?.error, undefined, log.join('\n'));
    await until('every record is acknowledged', () => beta.status(Date.now()).queue.records === 0, 30_000);
    const report = await verifyTrees(dst, src, filter);
    assert.deepEqual([report.missing, report.extra, report.contentDiffers], [[], [], []], JSON.stringify(report));
    return { log, written, src, dst };
  } finally {
    for (const stop of stops.reverse()) await stop();
  }
}

/**
 * What beta sends: its new f3, and its f4 over alpha's (a file of one block, so whole); of large.bin, the first
 * block (rewritten) and the 100 bytes it grew by (the 5 before them in its last block hash as before).
 */
const changedOnEitherSide = (dst: string): [string, number][] => [
  ...['f3', 'f4'].map((name): [string, number] => [`0/docs/${name}`, readFileSync(join(dst, 'docs', name)).length]),
  ['0/large.bin', 64 * 1024 + 100] as [string, number],
].sort(([a], [b]) => (a < b ? -1 : 1));

test('after a switchover, each node lists or compares from the index it made in its other role: only files changed since are read', async (t) => {
  const { log, written, dst } = await failback(t);
  // Alpha, back as the target, reads only f4 (changed since it sent it); the rest comes from its index as the source.
  assert.ok(log.some((line) => line.includes(`alpha: mirror ${MIRROR}: listed ${SMALL_FILES + 1} files, 1 of them hashed (the others unchanged since the last listing; ${SMALL_FILES} of those since this node sent them as the source)`)), log.join('\n'));
  // Beta, the source now, takes its last listing as the target for every file but f4 (alpha's differs); of those, it
  // reads only f3, changed here since.
  assert.ok(log.some((line) => line.includes(`beta: mirror ${MIRROR}: ${SMALL_FILES} of the ${SMALL_FILES + 1} files alpha lists hash as our index has them`)), log.join('\n'));
  assert.deepEqual([...written].sort(), changedOnEitherSide(dst));
});

test('a node that was the target only through the mirror that wrote its copy compares from its background listing as the source', async (t) => {
  const { log, written, dst } = await failback(t, { betaListsInBackground: true });
  // As after a listing asked for: beta reads only f3, changed here since; f4 differs on alpha.
  assert.ok(log.some((line) => line.includes(`beta: mirror ${MIRROR}: ${SMALL_FILES} of the ${SMALL_FILES + 1} files alpha lists hash as our index has them`)), log.join('\n'));
  assert.deepEqual([...written].sort(), changedOnEitherSide(dst));
});

test('after a crash, neither node trusts the index it made in its other role: a target that did not stop cleanly hashes its whole copy', async (t) => {
  const { log, written, dst } = await failback(t, { alphaUnclean: true });
  assert.ok(log.some((line) => line.includes(`alpha: mirror ${MIRROR}: listed ${SMALL_FILES + 1} files, ${SMALL_FILES + 1} of them hashed`)), log.join('\n'));
  assert.deepEqual([...written].sort(), changedOnEitherSide(dst));
});

test('after a crash, neither node trusts the index it made in its other role: a source after a crash reads its whole copy', async (t) => {
  const { log, written, dst } = await failback(t, { betaAfterCrash: true });
  assert.ok(log.some((line) => line.includes(`beta: mirror ${MIRROR}: 0 of the ${SMALL_FILES + 1} files alpha lists hash as our index has them`)), log.join('\n'));
  assert.deepEqual([...written].sort(), changedOnEitherSide(dst));
});

test('a source whose dirty set is damaged does not start, names the file, and leaves no watcher running', async (t) => {
  const base = mkdtempSync(join(tmpdir(), 'vigil-source-refused-'));
  t.after(() => rmSync(base, { recursive: true, force: true }));
  const src = join(base, 'src');
  mkdirSync(src);
  writeFileSync(join(src, 'f'), 'data\n');
  const dir = join(base, 'source');
  mkdirSync(dir);
  writeFileSync(join(dir, 'dirty.json'), '{"version": 1, "paths": [');
  const log: string[] = [];
  const source = new MirrorSource({
    id: MIRROR, folders: [src], filter: compileGlobs([], []), dir, journalBytes: 1024 * 1024, blockSize: 64 * 1024, blockHash: 'xxh3-128', owner: false,
    peer: { node: 'beta', host: '127.0.0.1', port: 9 }, clusterId: CLUSTER, nodeId: 'alpha', key: KEY,
    lineage: () => ({ current: 'a1', history: ['0'] }), paused: false, resyncOnStart: false, log: (line) => log.push(line),
  });
  const watchers = (): string => execFileSync('pgrep', ['-a', '-f', `inotifywait.*${src}`], { encoding: 'utf8' }).trim();
  await assert.rejects(source.start(), (e: Error) => e.message.includes(join(dir, 'dirty.json')));
  // The watcher starts beside the stores: it was stopped with the start that failed.
  assert.throws(() => watchers(), (e: { status?: number }) => e.status === 1, 'no inotifywait left watching the folder');
  writeFileSync(join(src, 'g'), 'after\n');
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(log.filter((l) => /capture|reconcile/.test(l)), [], 'nothing reported after the failed start ran');
});

test('extended attributes and ACLs: the first mirror carries them, a change follows, verify lists what differs, and a differential mirror sends only those', async (t) => {
  const { ops, source, src, dst, log } = await mirrorOnce(t, false, (from) => {
    execFileSync('setfattr', ['-n', 'user.label', '-v', 'finance', join(from, 'docs', 'f1')]);
    execFileSync('setfacl', ['-m', 'u:4242:rw-', join(from, 'large.bin')]);
    execFileSync('setfacl', ['-d', '-m', 'g:4243:r-x', join(from, 'docs')]);
  }, { xattrs: { source: true, target: true } });
  const filter = compileGlobs([], []);
  const level = async (): Promise<void> => {
    const report = await verifyTrees(src, dst, filter, { checkXattrs: true });
    assert.ok(report.equal, JSON.stringify(report));
  };
  // The three sets, and none explicitly for the 59 other files of docs: its default ACL came after them here, and
  // gives each an ACL of its own there (the test fails so when the source takes none for granted).
  assert.equal(ops.get('xattrs'), 3 + SMALL_FILES - 1, JSON.stringify([...ops]));
  // Each file's xattrs record follows the puts record its file is in, rather than cut it short: docs' 60 files
  // still go as one puts record (it fails so when the records go in the order the detector yields them).
  assert.deepEqual([ops.get('puts'), ops.get('put')], [1, undefined], JSON.stringify([...ops]));
  await level();
  assert.equal(execFileSync('getfacl', ['-cp', join(dst, 'docs', 'f9')], { encoding: 'utf8' }), execFileSync('getfacl', ['-cp', join(src, 'docs', 'f9')], { encoding: 'utf8' }));
  assert.equal(execFileSync('getfacl', ['-cp', join(dst, 'large.bin')], { encoding: 'utf8' }), execFileSync('getfacl', ['-cp', join(src, 'large.bin')], { encoding: 'utf8' }));
  // Live: a new attribute travels as the watcher reports it.
  execFileSync('setfattr', ['-n', 'user.label', '-v', 'hr', join(src, 'docs', 'f2')]);
  const sets = ops.get('xattrs')!;
  await until('the new attribute is applied', () => ops.get('xattrs') === sets + 1 && source.status(Date.now()).queue.records === 0, 10_000);
  await level();
  // Changed on the target behind the mirror: verify names both, by the field.
  execFileSync('setfattr', ['-x', 'user.label', join(dst, 'docs', 'f1')]);
  execFileSync('setfattr', ['-n', 'user.extra', '-v', '1', join(dst, 'docs', 'f3')]);
  const report = await source.verify();
  assert.deepEqual(report.metadataDiffers, [{ path: '0/docs/f1', fields: ['xattrs'] }, { path: '0/docs/f3', fields: ['xattrs'] }]);
  // The target lists its attributes' digests: only those two paths travel, each as one record.
  ops.clear();
  const before = source.lastSync!.startedAt;
  source.requestResync('diff');
  await untilDiffDone(source, before, log);
  assert.deepEqual([...ops], [['xattrs', 2]]);
  await level();
  assert.equal((await source.verify()).equal, true);
});

test('the mirrored folder itself: its mode, ACLs and attributes travel, first and live; verify names it when changed behind the mirror, and a differential mirror sends only it', async (t) => {
  const { ops, source, src, dst, log } = await mirrorOnce(t, false, (from) => {
    chmodSync(from, 0o2750);
    execFileSync('setfacl', ['-m', 'g:4244:r-x', '-d', '-m', 'g:4244:r-x', from]);
    execFileSync('setfattr', ['-n', 'user.share', '-v', 'finance', from]);
  }, { xattrs: { source: true, target: true } });
  const filter = compileGlobs([], []);
  const level = async (): Promise<void> => {
    const report = await verifyTrees(src, dst, filter, { checkXattrs: true });
    assert.ok(report.equal, JSON.stringify(report));
  };
  const acl = (path: string): string => execFileSync('getfacl', ['-cp', path], { encoding: 'utf8' });
  await level();
  assert.equal(statSync(dst).mode & 0o7777, 0o2750);
  assert.equal(acl(dst), acl(src));
  // The files the target made under the default ACL it was given have none of their own, as here.
  assert.equal(acl(join(dst, 'large.bin')), acl(join(src, 'large.bin')));
  // Live, as the watcher reports the folder itself.
  chmodSync(src, 0o2770);
  execFileSync('setfattr', ['-n', 'user.share', '-v', 'legal', src]);
  await until('the folder\'s new mode and attribute are applied', () => (statSync(dst).mode & 0o7777) === 0o2770
    && execFileSync('getfattr', ['--only-values', '-n', 'user.share', dst], { encoding: 'utf8' }) === 'legal', 10_000);
  await level();
  // Changed on the target behind the mirror: verify names the folder ("0"), by the fields.
  chmodSync(dst, 0o700);
  execFileSync('setfacl', ['-b', dst]);
  assert.deepEqual((await source.verify()).metadataDiffers, [{ path: '0', fields: ['mode', 'xattrs'] }]);
  // The target lists its own mode and attributes: a differential mirror sends those two records alone.
  ops.clear();
  const before = source.lastSync!.startedAt;
  source.requestResync('diff');
  await untilDiffDone(source, before, log);
  assert.deepEqual([...ops].sort(), [['meta', 1], ['xattrs', 1]]);
  await level();
  assert.equal((await source.verify()).equal, true);
  // Level: the next sends nothing (the listing carries the folder's own attributes too).
  ops.clear();
  const again = source.lastSync!.startedAt;
  source.requestResync('diff');
  await untilDiffDone(source, again, log);
  assert.deepEqual([...ops], []);
});

test('a target\'s listing gives each path\'s attributes as its scan read them on the read thread: none listed on the event loop', async (t) => {
  const access = xattrAccess();
  const listed: string[] = [];
  const counting: ExtendedAttributes = { ...access, list: (path) => { listed.push(path); return access.list(path); } };
  const { target, folders } = await targetAlone(t, ['dst'], ([dst]) => {
    mkdirSync(join(dst!, 'docs'));
    for (let i = 0; i < 30; i++) writeFileSync(join(dst!, 'docs', `f${i}`), `file ${i}\n`);
    execFileSync('setfattr', ['-n', 'user.label', '-v', 'finance', join(dst!, 'docs', 'f3')]);
    execFileSync('setfacl', ['-d', '-m', 'g:4243:r-x', join(dst!, 'docs')]);
    execFileSync('setfattr', ['-n', 'user.share', '-v', 'x', dst!]);
  }, counting);
  const entries = await target.listing(64 * 1024, 'xxh3-128');
  const [dst] = folders;
  const digests = new Map(entries.filter((e) => e.xattrs !== undefined).map((e) => [e.path, e.xattrs]));
  assert.deepEqual(digests, new Map([['0', xattrDigestOf(access, dst!)], ['0/docs', xattrDigestOf(access, join(dst!, 'docs'))], ['0/docs/f3', xattrDigestOf(access, join(dst!, 'docs', 'f3'))]]));
  assert.deepEqual(listed, []);
});

test('to a target that sets no extended attributes, none are sent, and the source says so once', async (t) => {
  const { ops, log } = await mirrorOnce(t, false, (from) => execFileSync('setfattr', ['-n', 'user.label', '-v', 'x', join(from, 'docs', 'f1')]), { xattrs: { source: true, target: false } });
  assert.equal(ops.get('xattrs'), undefined);
  assert.equal(log.filter((line) => /beta takes no extended attributes: none are mirrored/.test(line)).length, 1, log.join('\n'));
});
