/**
 * The source side of one mirror: the node that runs the mirror's group captures every change of its folders,
 * turns it into change records (changes.ts), queues them in the journal on disk and streams them to the target.
 *
 * All work that reads the folders and appends to the journal runs in one queue, one task at a time, so a
 * record read later is also appended later: a resync and live changes of the same file never reorder.
 *
 * When the target cannot resume from our journal (it is another node than the one that acknowledged, its copy is
 * of an older generation, or it was mid-resync), the stream is reset and a differential mirror runs: the target
 * lists its files with their block hashes, and only the blocks that differ travel. When the journal fills up,
 * nothing is dropped: the mirror is marked dirty and the same differential mirror runs once the queue drains.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { isBlockHashName, type BlockHashName } from './block-hash.js';
import { BlockIndexStore, type FileIndex } from './block-index.js';
import { Capture } from './capture.js';
import { ChangeDetector, WRITE_CHUNK, splitVirtualPath, virtualPath } from './changes.js';
import { DirtySet } from './dirty-set.js';
import type { PathFilter } from './glob.js';
import { partsLength } from '../util/buffer-parts.js';
import { Journal, JournalError, type JournalPayload } from './journal.js';
import { lineageText, parseLineage, type Lineage } from './lineage.js';
import { otherRoleIndex } from './listing-index.js';
import { ListingSeeder, listingFiles, readPages } from './listing-pages.js';
import { encodeRecordParts, relativePathProblem, type ChangeRecord, type WireRecord } from './records.js';
import { PutBatcher } from './put-batcher.js';
import type { SeedFile, TargetFile } from './target.js';
import { ReplicationClient, ReplicationError } from './transport.js';
import type { OutgoingRecord } from './transport-types.js';
import type { MirrorSyncSummary } from '../../common/model/index.js';
import { compareManifests, decodeManifest, decodeManifestValue, treeManifest, type Manifest, type ManifestEntry, type VerifyReport } from './verify.js';
import { comparePaths, type TreeProblem } from './tree.js';
import { NO_XATTRS, type ExtendedAttributes } from './xattrs.js';

export interface SourceOptions {
  readonly id: string;
  readonly folders: readonly string[];
  readonly filter: PathFilter;
  readonly dir: string;
  readonly journalBytes: number;
  readonly blockSize: number;
  /** The block hash wanted: a store keeps the one it was made with until a full or differential mirror. */
  readonly blockHash: BlockHashName;
  readonly owner: boolean;
  /** Reads the extended attributes that travel (xattrs.ts): they are sent to a target that takes them. */
  readonly xattrs?: ExtendedAttributes;
  readonly peer: { readonly node: string; readonly host: string; readonly port: number };
  readonly clusterId: string;
  readonly nodeId: string;
  readonly key: Buffer;
  readonly lineage: () => Lineage;
  readonly paused: boolean;
  /** The agent did not stop cleanly last time: bring the target level by a differential mirror first. */
  readonly resyncOnStart: boolean;
  readonly log: (line: string) => void;
  /** The target refused our copy (older than its own, or diverged): we must not be the source. */
  readonly onRefused?: (why: string) => void;
  /**
   * This node's listing index from when it was the mirror's target (MirrorTarget's `listingIndexFile`): a
   * differential mirror takes a file from it where our own index has nothing the target agrees with (the node that
   * was the target, the source after a switchover, reads only what changed since it last listed).
   */
  readonly listingIndexFile?: string;
  /** How long a quick call (reset, features, pause...) may take; default the transport's. */
  readonly callTimeoutMs?: number;
  /** The mirror's bandwidth limit (maxSendRate), in bytes per second; none when absent. */
  readonly maxBytesPerSecond?: number;
}

/**
 * How long a call may take whose work grows with the data (a listing, a manifest: the target hashes its files
 * first): a day, not the 10 s of quick calls, which a verify of a few tens of GB already overran. A target that goes
 * silent fails them sooner, with the connection (its keepalive: 5 s).
 */
const SCAN_CALL_TIMEOUT_MS = 24 * 3600_000;
/** A listed attributes' digest (xattrs.ts): anything else from the wire counts as none listed. */
const LISTED_XATTRS = /^[0-9a-f]{32}$/;
/** A seed-listing call carries about this much: the hashes of tens of thousands of small files, or of one file of 12 GiB (blocks of 64 KiB). */
const SEED_CALL_BYTES = 4 * 1024 * 1024;
/** A seed entry's JSON besides its path and blocks. */
const SEED_ENTRY_BYTES = 80;

/**
 * Why a resync ended early: stop() asked. Waiting for it instead held an agent's stop (or a switchover) until the
 * whole data set had reached the target, which at a bandwidth limit or over a slow link can take hours.
 */
const RESYNC_STOPPED = 'the mirror stopped during the resync: a differential mirror follows when it is the source again';

interface TargetFeatures {
  /** From before the 'features' call. */
  readonly older: boolean;
  /** Takes put records (a whole small file in one). */
  readonly puts: boolean;
  /** Takes puts records (several small files in one). */
  readonly putBatches: boolean;
  /** Lists its files page by page ('list-page'), and sends verify's manifests so ('manifest-page'). */
  readonly listingPages: boolean;
  readonly manifestPages: boolean;
  readonly blockHashes: readonly BlockHashName[];
  /** Takes link records (another name of a file it has: a hard link). */
  readonly links: boolean;
  /** Takes zeros records (a run of zero bytes, left a hole where it can be). */
  readonly holes: boolean;
  /** Takes xattrs records (a path's extended attributes, POSIX ACLs among them), and lists its own. */
  readonly xattrs: boolean;
  /** Takes the index's block hashes after a resync, for its listing index ('seed-listing'). */
  readonly seedListing: boolean;
}

/** In the source's folder: its block index (read, as a target, by this node's listings: MirrorTarget's ownIndexFile). */
export const SOURCE_INDEX_FILE = 'index';
/** In the source's folder: the files (or all of them) that a differential mirror must bring level. */
export const DIRTY_FILE = 'dirty.json';

/** Journal payloads are appended in batches of about this size. */
const BATCH_BYTES = 4 * 1024 * 1024;
/**
 * How long after an append taken on trust (changes.ts, `appended`) the file is re-hashed whole, off the work
 * queue: the bound on how late a rewrite that came along with an append reaches the target.
 */
const APPEND_CHECK_MS = 1000;
/** How long acknowledgements gather before the journal is told (its state file rewritten); in a resync, and not. */
const ACK_MS = 100;
const RESYNC_ACK_MS = 5;

export class MirrorSource {
  private journal!: Journal;
  private index!: BlockIndexStore;
  private dirty!: DirtySet;
  private detector!: ChangeDetector;
  private capture: Capture | undefined;
  private client: ReplicationClient | undefined;
  private queue: Promise<void> = Promise.resolve();
  private closed = false;
  private paused: boolean;
  /** Set once the target's copy is known to need a resync before it can follow the journal. */
  private resyncNeeded: 'full' | 'diff' | undefined;
  /** The target refused a journaled record (an op it does not know): the journal is not sent until the reset. */
  private journalRefused = false;
  private resyncing = false;
  /** Whether the last target's features had it take this node's extended attributes (undefined: not asked yet). */
  private xattrsNoted: boolean | undefined;
  /** Who waits in untilConnected for the target's HELLO_OK. */
  private readonly helloWaiters = new Set<() => void>();
  private reconciled = false;
  /** Reconciles queued or running: until they end, what changed unwatched may not be in the journal yet. */
  private reconciles = 0;
  private initialReconcile: NodeJS.Timeout | undefined;
  private appendCheck: NodeJS.Timeout | undefined;
  private appendChecking: Promise<void> = Promise.resolve();
  /** The target asked for records the journal no longer holds: the running resync must start over. */
  private targetBehind = false;
  private ackTimer: NodeJS.Timeout | undefined;
  private pendingAck = 0;
  /** When each not-yet-acknowledged seq was appended, for the lag in seconds (coarse: one entry per batch). */
  private readonly appendedAt: { seq: number; at: number }[] = [];
  private readonly sentRate: { at: number; bytes: number }[] = [];
  private lastSentBytes = 0;
  lastSync: MirrorSyncSummary | undefined;
  captureFailure: string | undefined;
  /**
   * The index was saved before a crash of this node: the machine may have lost file bytes that it had hashed (an
   * overwrite's data reaches the disk after its mtime), so the first differential mirror reads every file.
   */
  private indexBeforeCrash: boolean;
  /** A thorough differential mirror was asked for (requestResync) and has not started yet. */
  private thoroughResync = false;
  /** Operators' requests so far (requestResync): one made during a resync is not taken as served by it. */
  private resyncAsks = 0;

  /** The bandwidth limit now (the configuration's, or one applied live since). */
  private maxBytesPerSecond: number | undefined;
  /** stop() was called: a resync under way gives up (RESYNC_STOPPED) instead of holding the stop until it ends. */
  private stopping = false;

  constructor(private readonly o: SourceOptions) {
    this.paused = o.paused;
    this.indexBeforeCrash = o.resyncOnStart;
    this.maxBytesPerSecond = o.maxBytesPerSecond;
  }

  /** A new bandwidth limit (undefined: none), taken from the next record sent, without a reconnect. */
  setMaxBytesPerSecond(rate: number | undefined): void {
    this.client?.setMaxBytesPerSecond(rate);
    this.maxBytesPerSecond = rate;
  }

  async start(): Promise<void> {
    // The journal is not fsynced: its records are the page cache's until the target has them. A crash of this
    // node is known by the service's marker file, and then the journal is discarded and a differential mirror
    // runs instead, so nothing depends on what a crash left of it (fsyncs here cost most of the throughput).
    const journalDir = join(this.o.dir, 'journal');
    if (this.o.resyncOnStart) await rm(journalDir, { recursive: true, force: true });
    // The watcher (a process of its own that walks the tree) starts while the journal, the index and the dirty set
    // load: it must watch before the first scan, not before they are open. What it reports meanwhile waits in the
    // queue behind them.
    const opening = this.openStores(journalDir);
    this.queue = opening.then(() => undefined, () => undefined);
    this.capture = new Capture({
      roots: this.o.folders,
      filter: (p, isDir) => this.o.filter.matches(p, isDir) || (isDir && this.o.filter.mayContain(p)),
      onEvents: (events) => {
        const paths = events.map((e) => virtualPath(this.o.folders.indexOf(e.root), e.path));
        return this.enqueue('capture', async () => {
          await this.emit(this.detector.changes(paths));
          this.scheduleAppendCheck();
        });
      },
      onOverflow: (root, reason) => {
        this.o.log(`mirror ${this.o.id}: the watcher of ${root} lost track (${reason}): scanning again`);
        this.reconcile();
      },
    });
    const [opened, watching] = await Promise.allSettled([opening, this.capture.start()]);
    if (opened.status === 'rejected') {
      // Nothing queued runs: what the watcher reported has nothing to go to.
      this.closed = true;
      await this.capture.close();
      throw opened.reason;
    }
    if (watching.status === 'rejected') throw watching.reason;
    if (this.o.resyncOnStart || this.dirty.all !== undefined || this.dirty.size > 0) this.resyncNeeded = 'diff';
    // Whatever changed while no agent watched (or was captured but not journaled before a crash) is found by a
    // reconcile; but when the target turns out to need a resync, that resync is the reconcile: one pass, not two.
    // Without an answer from the target soon, reconcile anyway: the changes must reach the journal.
    this.initialReconcile = setTimeout(() => this.reconcileOnce(), 2000);
    if (!this.paused) this.connect();
  }

  private async openStores(journalDir: string): Promise<void> {
    this.journal = await Journal.open(journalDir, { maxBytes: this.o.journalBytes, fsync: 'never' });
    if (this.journal.recovery.truncatedBytes > 0) this.o.log(`mirror ${this.o.id}: journal recovery: ${this.journal.recovery.reason ?? `${this.journal.recovery.truncatedBytes} bytes cut`}`);
    this.index = await BlockIndexStore.open(join(this.o.dir, SOURCE_INDEX_FILE), this.o.blockHash);
    this.dirty = await DirtySet.open(join(this.o.dir, DIRTY_FILE));
    this.detector = new ChangeDetector({
      folders: this.o.folders, filter: this.o.filter, index: this.index, blockSize: this.o.blockSize, owner: this.o.owner,
      ...(this.o.xattrs === undefined ? {} : { xattrs: this.o.xattrs }),
      writeChunk: Math.max(4096, Math.min(WRITE_CHUNK, Math.floor(this.o.journalBytes / 8))),
    });
    this.detector.warm();
  }

  // ---- appends taken on trust ----

  private scheduleAppendCheck(): void {
    if (this.appendCheck !== undefined || this.closed || !this.detector.hasTrustedAppends) return;
    this.appendCheck = setTimeout(() => {
      this.appendChecking = this.checkAppends();
    }, APPEND_CHECK_MS);
  }

  /** Re-hash the appended files beside the queue; only those whose older bytes changed take a turn in it. */
  private async checkAppends(): Promise<void> {
    let suspects: string[] = [];
    try {
      suspects = await this.detector.suspectAppends();
    } catch (e) {
      this.o.log(`mirror ${this.o.id}: checking appended files: ${(e as Error).message}`);
    }
    this.appendCheck = undefined;
    if (suspects.length > 0) {
      this.o.log(`mirror ${this.o.id}: ${suspects.length} appended file(s) also changed before their old end (${suspects.slice(0, 3).join(', ')}): sending what differs`);
      await this.enqueue('capture', async () => { await this.emit(this.detector.changes(suspects, true)); });
    }
    this.scheduleAppendCheck();
  }

  // ---- the work queue ----

  private enqueue(what: string, task: () => Promise<void>): Promise<void> {
    const run = this.queue.then(async () => {
      if (this.closed) return;
      try {
        await task();
      } catch (e) {
        const failure = `${what}: ${(e as Error).message}`;
        this.o.log(`mirror ${this.o.id}: ${failure}`);
        // A failed resync is tried again (on the next connection, or once the queue drains); a failed capture
        // means this copy is no longer followed, which the resource's monitor reports.
        if (what === 'capture' || what === 'reconcile') this.captureFailure = failure;
      }
    });
    this.queue = run;
    return run;
  }

  /**
   * Append what the generator yields, in batches; on a full journal, fall back to a dirty mark and a resync.
   * One batch is being appended while the next is gathered: reading the folders and writing the journal overlap.
   * `putBatches`: consecutive put records go as puts records (put-batcher.ts).
   */
  private async emit(records: AsyncGenerator<ChangeRecord>, memoryOnly = false, putBatches = false): Promise<number> {
    let batch: JournalPayload[] = [];
    let bytes = 0;
    let written = 0;
    let appending: Promise<boolean> = Promise.resolve(true);
    /** Sends the batch gathered so far on its way; resolves with whether the one before it found room. */
    const flush = async (): Promise<boolean> => {
      const previousFit = await appending;
      if (batch.length > 0) {
        const size = bytes;
        const payloads = batch;
        // The read buffers may be used again once the journal is done with them: at once if it copied them, once
        // acknowledged if it holds them (a resync's), or here if they did not fit (the resync sends them again).
        const release = (): void => {
          for (const payload of payloads) if (!Buffer.isBuffer(payload)) this.detector.done(payload[1]!);
        };
        appending = this.appendBatch(payloads, memoryOnly, release).then((fit) => {
          if (fit) written += size;
          else release();
          return fit;
        });
        batch = [];
        bytes = 0;
      }
      return previousFit;
    };
    const add = async (record: WireRecord): Promise<void> => {
      const payload = encodeRecordParts(record);
      // A puts record holds a copy of its files' bytes.
      if (record.op === 'puts') for (const file of record.files) this.detector.done(file.data);
      batch.push(payload);
      bytes += Buffer.isBuffer(payload) ? payload.length : payload[0].length + payload[1].length;
      if (bytes >= Math.min(BATCH_BYTES, this.o.journalBytes / 4)) await flush();
    };
    const puts = putBatches ? new PutBatcher() : undefined;
    /**
     * The xattrs records of files gathered (each follows its put): they go right after the puts record, which
     * they would otherwise cut in two, so that a tenth of the files with ACLs does not make puts of ten files.
     */
    let heldXattrs: WireRecord[] = [];
    const addAfterPuts = async (gathered: WireRecord | undefined): Promise<void> => {
      if (gathered !== undefined) await add(gathered);
      const held = heldXattrs;
      heldXattrs = [];
      for (const record of held) await add(record);
    };
    /** The puts gathered so far, before a record that is not a put (and at the end): the order holds. */
    const addGathered = (): Promise<void> => addAfterPuts(puts?.take());
    try {
      for await (const record of records) {
        if (this.stopping && this.resyncing) throw new Error(RESYNC_STOPPED);
        if (this.dirty.all !== undefined && !this.resyncing) continue; // the resync will carry it
        if (puts !== undefined && record.op === 'put') {
          const ready = puts.add(record);
          if (ready !== undefined) await addAfterPuts(ready);
          continue;
        }
        if (puts !== undefined && record.op === 'xattrs' && puts.lastPath === record.path) {
          heldXattrs.push(record);
          continue;
        }
        await addGathered();
        await add(record);
      }
      await addGathered();
      await flush();
      await appending;
    } finally {
      // When reading failed, the append in flight still ends (or fails) before the error goes up.
      await appending.catch(() => false);
    }
    return written;
  }

  /** False when the journal was full (or the batch could never fit): nothing is dropped, the files are resent later. */
  private async appendBatch(batch: readonly JournalPayload[], memoryOnly: boolean, release: () => void): Promise<boolean> {
    try {
      const seq = await this.appendWhenRoom(batch, memoryOnly, release);
      this.appendedAt.push({ seq, at: Date.now() });
    } catch (e) {
      if (!(e instanceof JournalError && (e.code === 'VIGIL_JOURNAL_FULL' || e.code === 'VIGIL_JOURNAL_TOO_LARGE'))) throw e;
      if (this.dirty.all === undefined) {
        this.o.log(`mirror ${this.o.id}: the journal is full (${this.o.journalBytes} bytes unacknowledged): changes are marked dirty and a differential mirror follows once it drains`);
        this.dirty.markAll('the journal was full');
        await this.dirty.save();
      }
      this.resyncNeeded ??= 'diff';
      return false;
    }
    this.client?.notify();
    return true;
  }

  /**
   * While the target is connected and draining, a full journal is backpressure: wait for its acknowledgements
   * (up to a minute without progress). Only a journal that does not drain (target away, transmission paused)
   * makes the caller fall back to the dirty mark.
   */
  private async appendWhenRoom(batch: readonly JournalPayload[], memoryOnly: boolean, release: () => void): Promise<number> {
    let lastAcked = this.journal.stats().ackedSeq;
    let progressAt = Date.now();
    for (;;) {
      try {
        // Not fsynced here: after a crash the service resyncs (a journal record lost with the machine, or a seq
        // used again, cannot then mislead the target). A clean stop and each acknowledgement flush it.
        return await this.journal.appendMany(batch, { memoryOnly, release });
      } catch (e) {
        const full = e instanceof JournalError && e.code === 'VIGIL_JOURNAL_FULL';
        const draining = this.client?.stats().connected === true && !this.paused && !this.closed;
        const stalled = Date.now() - progressAt > 60_000;
        // Memory holds only what the target takes soon; when it does not, the resync's records go to disk.
        if (full && memoryOnly && (!draining || stalled)) return this.appendWhenRoom(batch, false, release);
        if (!full || !draining) throw e;
        this.client?.notify();
        const acked = this.journal.stats().ackedSeq;
        if (acked > lastAcked) { lastAcked = acked; progressAt = Date.now(); }
        if (stalled) throw e;
        if (this.stopping && memoryOnly) throw new Error(RESYNC_STOPPED, { cause: e });
        await new Promise((r) => setTimeout(r, memoryOnly ? RESYNC_ACK_MS : 20));
      }
    }
  }

  // ---- the stream ----

  private connect(): void {
    const source = {
      read: async (fromSeq: number, maxBytes: number): Promise<OutgoingRecord[]> => {
        // The target refused a record it cannot read: sent again before the reset that skips it, it would close
        // this connection too, and the reset's call with it, at every reconnect.
        if (this.journalRefused) return [];
        const { ackedSeq } = this.journal.stats();
        if (fromSeq <= ackedSeq) {
          // The target is behind what we still hold: our journal cannot bring it level.
          this.resyncNeeded ??= 'diff';
          this.targetBehind = true;
          this.enqueue('reset', () => this.resetStream());
          return [];
        }
        const records = await this.journal.read(fromSeq, maxBytes);
        const lost = records.findIndex((r) => partsLength(r.payload) === 0);
        if (lost < 0) return records;
        // A resync's record kept in memory only is gone (a restart, the cache emptied): the resync starts over.
        this.o.log(`mirror ${this.o.id}: record ${records[lost]!.seq} of a resync is no longer held: resyncing again`);
        this.resyncNeeded ??= 'diff';
        this.targetBehind = true;
        this.enqueue('reset', () => this.resetStream());
        return records.slice(0, lost);
      },
    };
    this.client = new ReplicationClient({
      host: this.o.peer.host, port: this.o.peer.port, clusterId: this.o.clusterId, nodeId: this.o.nodeId, key: this.o.key,
      mirror: this.o.id, lineage: () => lineageText(this.o.lineage()), source,
      ...(this.o.callTimeoutMs === undefined ? {} : { callTimeoutMs: this.o.callTimeoutMs }),
      ...(this.maxBytesPerSecond === undefined ? {} : { maxBytesPerSecond: this.maxBytesPerSecond }),
      onAck: (seq) => this.onAck(seq),
      onHelloOk: (ok) => {
        this.onConnected(parseLineage(ok.lineage));
        this.wakeHelloWaiters();
      },
      onError: (e) => {
        this.o.log(`mirror ${this.o.id}: ${e.message}`);
        if (e.appCode === 'STALE_SOURCE' || e.appCode === 'DIVERGED') this.o.onRefused?.(e.message);
        // A record the target cannot read (one of an op it does not know: a target downgraded while the journal
        // held link records) would be refused at every replay: the next connection skips the journal and resyncs.
        if (e.appCode === 'VIGIL_BAD_RECORD') {
          this.resyncNeeded ??= 'diff';
          this.journalRefused = true;
        }
      },
    });
    this.client.start();
  }

  /** The target answered: where its copy stands decides between resuming the journal and a resync. */
  private onConnected(targetLineage: Lineage): void {
    if (targetLineage.current !== this.o.lineage().current) this.resyncNeeded ??= 'diff';
    if (this.resyncNeeded !== undefined) {
      this.reconciled = true; // the resync covers it
      clearTimeout(this.initialReconcile);
      this.enqueue('reset', () => this.resetStream());
    } else {
      // Before the records that follow: whether another name of a file goes as a link, a run of zeros as a hole.
      const client = this.client;
      if (client !== undefined) this.enqueue('features', async () => this.noteOps(await this.targetFeatures(client)));
      this.reconcileOnce();
    }
  }

  /**
   * Hard links go as links to a target that takes them, runs of zeros as zeros records; to an older one, each name
   * as a copy, and every byte.
   */
  private noteOps(features: TargetFeatures): void {
    if (this.detector.hardLinks && !features.links) this.o.log(`mirror ${this.o.id}: ${this.o.peer.node} takes no hard links now: each name of a file goes as a copy`);
    this.detector.hardLinks = features.links;
    this.detector.holes = features.holes;
    const xattrs = features.xattrs && this.o.xattrs !== undefined;
    if (this.o.xattrs !== undefined && !features.xattrs && this.xattrsNoted !== false) this.o.log(`mirror ${this.o.id}: ${this.o.peer.node} takes no extended attributes: none are mirrored (mode, owner and times are)`);
    this.xattrsNoted = xattrs;
    this.detector.xattrs = xattrs;
  }

  private reconcileOnce(): void {
    clearTimeout(this.initialReconcile);
    if (this.reconciled) return;
    this.reconciled = true;
    this.reconcile();
  }

  /** A reconcile in the work queue (not a resync): whatever changed unwatched reaches the journal. */
  private reconcile(): void {
    this.reconciles++;
    this.enqueue('reconcile', async () => {
      try {
        await this.emit(this.detector.reconcile());
      } finally {
        this.reconciles--;
      }
      // A file it found grown went on trust, as a watcher's append does: checked a second later the same way.
      this.scheduleAppendCheck();
    });
  }

  /** Tell the target to count from our journal's end, then bring its copy level by a resync. */
  private async resetStream(): Promise<void> {
    const client = this.client;
    // Paused, the stream waits for resume, which reconnects and comes back here.
    if (this.resyncNeeded === undefined || client === undefined || this.resyncing || this.paused) return;
    const kind = this.resyncNeeded;
    this.targetBehind = false;
    await this.journal.flush();
    const last = this.journal.stats().lastSeq;
    await client.call('reset', Buffer.from(JSON.stringify({ lastApplied: last })));
    // Reconnect so that the stream resumes after `last` (past any record the target refused); acknowledge what the
    // target will never ask for.
    this.journalRefused = false;
    await client.close();
    if (last > this.journal.stats().ackedSeq) await this.journal.ack(last);
    this.appendedAt.length = 0;
    if (this.paused || this.closed || this.client !== client) return;
    this.connect();
    await this.untilConnected();
    await this.resync(kind);
  }

  /**
   * Resolves once the target has answered HELLO: woken by it (onHelloOk), looking again every 50 ms for a pause or
   * a close. A poll alone held every resync's start for half its period on average.
   */
  private async untilConnected(): Promise<void> {
    for (let i = 0; i < 600 && !this.closed; i++) {
      if (this.paused) throw new Error('transmission was paused');
      if (this.client?.stats().connected) return;
      await new Promise<void>((resolve) => {
        const wake = (): void => {
          clearTimeout(timer);
          this.helloWaiters.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, 50);
        this.helloWaiters.add(wake);
      });
    }
    throw new Error('the target did not answer within 30 s');
  }

  private wakeHelloWaiters(): void {
    for (const wake of [...this.helloWaiters]) wake();
  }

  /**
   * Full: the target empties its folders and everything is sent. Diff: the target lists its files with block
   * hashes; they seed our index, so the reconcile that follows sends only what differs and deletes what is extra.
   */
  private async resync(kind: 'full' | 'diff'): Promise<void> {
    const client = this.client!;
    this.resyncing = true;
    const startedAt = Date.now();
    this.lastSync = { kind, startedAt, files: 0, bytesSent: 0 };
    const thorough = kind === 'diff' && this.thoroughResync;
    // Taken (a full mirror reads everything anyway), and given back should this pass fail.
    this.thoroughResync = false;
    const asks = this.resyncAsks;
    this.o.log(`mirror ${this.o.id}: ${kind === 'full' ? 'full' : thorough ? 'thorough differential' : 'differential'} mirror to ${this.o.peer.node} started`);
    try {
      await this.dirty.clear();
      const features = await this.targetFeatures(client);
      if (features.older) this.o.log(`mirror ${this.o.id}: ${this.o.peer.node} runs an older version: small files go as three records each`);
      this.noteOps(features);
      const ownHash = this.index.blockHash;
      // What we last indexed: kept, for a differential mirror, where the target lists the same hashes.
      let own: ReadonlyMap<string, FileIndex> | undefined = this.detector.forget();
      // The index starts again, so it may change hash: to the one wanted, unless the target must list blocks
      // with a hash it does not know.
      const hash = kind === 'full' || features.blockHashes.includes(this.o.blockHash) ? this.o.blockHash : 'sha256-128';
      if (hash !== this.o.blockHash) this.o.log(`mirror ${this.o.id}: ${this.o.peer.node} cannot hash blocks with ${this.o.blockHash}: this differential mirror compares ${hash}`);
      this.index.useBlockHash(hash);
      if (kind === 'full' || ownHash !== hash || this.indexBeforeCrash || thorough) own = undefined;
      if (kind === 'full') {
        await client.call('clear', Buffer.alloc(0), 120_000);
      } else {
        const asked = { blockSize: this.o.blockSize, blockHash: hash, ...(thorough ? { fresh: true } : {}) };
        let listed = 0;
        let agreed = 0;
        // As our own index, not after a crash of this node nor in a thorough pass.
        let listedHere = this.indexBeforeCrash || thorough ? undefined : await otherRoleIndex(this.o.listingIndexFile, hash,
          (why) => this.o.log(`mirror ${this.o.id}: ${why}: this differential mirror goes without this node's last listing as the target`));
        if (features.links) this.detector.noteTargetListing();
        const seeder = new ListingSeeder(this.o.peer.node, (f, hashes) => {
          if (f.type === 'file') listed++;
          if (this.seed(f, hashes, own, listedHere)) agreed++;
        });
        if (features.listingPages) {
          // Page by page: a listing of any size, parsed a few MiB at a time.
          const where = `${this.o.peer.node}'s listing`;
          await readPages((body) => client.call('list-page', Buffer.from(JSON.stringify(body)), SCAN_CALL_TIMEOUT_MS), asked, 'files', where, (files, page) => {
            for (const f of listingFiles(files, `${where}, page ${page}`)) seeder.add(f);
          });
        } else {
          // A target from before paged listings: the whole listing in one answer (at most a call's 16 MiB).
          const listing = JSON.parse((await client.call('list', Buffer.from(JSON.stringify(asked)), SCAN_CALL_TIMEOUT_MS)).toString('utf8')) as TargetFile[];
          for (const f of listing) seeder.add(f);
        }
        seeder.end();
        own = undefined;
        listedHere = undefined;
        this.o.log(`mirror ${this.o.id}: ${agreed} of the ${listed} files ${this.o.peer.node} lists hash as our index has them: those not changed here since are not read`);
      }
      // In memory only: the resync re-reads the files should its records be lost (journal.ts, appendMany).
      const bytesSent = await this.emit(this.detector.reconcile({ puts: features.puts, resync: true }), true, features.putBatches);
      const files = this.index.size;
      this.lastSync = { kind, startedAt, files, bytesSent };
      await this.index.save();
      // Done once the target has applied all of it.
      const last = this.journal.stats().lastSeq;
      await this.untilAcked(last);
      // The target's background listing then waits for the block hashes that follow (seedTargetListing).
      const seeding = bytesSent > 0 && features.seedListing;
      await client.call('resync-done', Buffer.from(JSON.stringify({ lineage: this.o.lineage(), ...(seeding ? { seeding } : {}) })));
      // An operator's request made meanwhile gets a pass of its own (its task waits in the queue).
      if (this.resyncAsks === asks) this.resyncNeeded = undefined;
      this.indexBeforeCrash = false;
      const finishedAt = Date.now();
      this.lastSync = { ...this.lastSync, finishedAt };
      this.o.log(`mirror ${this.o.id}: ${kind === 'full' ? 'full' : 'differential'} mirror done: ${files} files, ${bytesSent} bytes journaled in ${finishedAt - startedAt} ms`);
      // Beside the work queue, which live changes must not wait behind.
      if (seeding) void this.seedTargetListing(client);
    } catch (e) {
      if (thorough) this.thoroughResync = true;
      this.lastSync = { ...this.lastSync!, error: (e as Error).message };
      // The target's copy is left mid-resync: the dirty set, which stop() saves, makes the next start resync.
      if (this.stopping) this.dirty.markAll('the mirror stopped during a resync');
      throw e;
    } finally {
      this.resyncing = false;
    }
  }

  /**
   * Whether the target applies put records (a whole small file in one), and the block hashes it lists with. One
   * before put records answers UNKNOWN_METHOD; one before block-hash.ts lists no hashes, and hashes with SHA-256.
   */
  private async targetFeatures(client: ReplicationClient): Promise<TargetFeatures> {
    try {
      const features = JSON.parse((await client.call('features', Buffer.alloc(0))).toString('utf8')) as { ops?: unknown; calls?: unknown; blockHashes?: unknown };
      const blockHashes = Array.isArray(features.blockHashes) ? features.blockHashes.filter(isBlockHashName) : [];
      const calls = Array.isArray(features.calls) ? features.calls : [];
      const ops = Array.isArray(features.ops) ? features.ops : [];
      return {
        older: false,
        puts: ops.includes('put'),
        putBatches: ops.includes('puts'),
        listingPages: calls.includes('list-page'),
        manifestPages: calls.includes('manifest-page'),
        blockHashes: blockHashes.length > 0 ? blockHashes : ['sha256-128'],
        links: ops.includes('link'),
        holes: ops.includes('zeros'),
        xattrs: ops.includes('xattrs'),
        seedListing: calls.includes('seed-listing'),
      };
    } catch (e) {
      if (!(e instanceof ReplicationError && e.appCode === 'UNKNOWN_METHOD')) throw e;
      return { older: true, puts: false, putBatches: false, listingPages: false, manifestPages: false, blockHashes: ['sha256-128'], links: false, holes: false, xattrs: false, seedListing: false };
    }
  }

  /**
   * One entry of the target's listing into the index; a file's block hashes are given whole (`hashes`). Where our
   * own index of the file (`own`, as it was before the resync) hashes alike, it is kept, or else this node's last
   * listing of it as the target (`listedHere`) where that does: the reconcile then reads the file only if its size,
   * mtime or inode changed since, as at a restart. The target's mode, owner and mtime count as sent. Returns
   * whether an index of ours was kept.
   */
  private seed(f: TargetFile, hashes: Buffer, own: ReadonlyMap<string, FileIndex> | undefined, listedHere: ReadonlyMap<string, FileIndex> | undefined): boolean {
    // What the target has is what it was sent: a meta record only where the source's differs. A folder's record
    // carries its mode (its time is sent after its entries, where it differs from the listed one), a symlink's its
    // time (Linux sets no mode on a link).
    const listsMeta = f.mode !== undefined;
    const owner = this.o.owner && f.uid !== undefined && f.gid !== undefined ? { uid: f.uid, gid: f.gid } : {};
    // A target that lists attributes gives a digest where a path has some; none where it has none.
    const listedXattrs = typeof f.xattrs === 'string' && LISTED_XATTRS.test(f.xattrs) ? f.xattrs : this.detector.xattrs ? NO_XATTRS : undefined;
    if (f.type === 'dir') this.detector.noteDir(f.path, listsMeta ? { mode: f.mode, ...owner } : undefined, listsMeta ? f.mtimeMs : undefined, listedXattrs);
    else if (f.type === 'symlink') this.detector.noteLink(f.path, f.linkTarget ?? '', listsMeta ? { mtimeMs: f.mtimeMs, ...owner } : undefined);
    else {
      const blockSize = f.blockSize ?? this.o.blockSize;
      const agreeing = (ours: FileIndex | undefined): FileIndex | undefined =>
        ours !== undefined && ours.size === f.size && ours.blockSize === blockSize && ours.hashes.equals(hashes) ? ours : undefined;
      if (f.linkedTo !== undefined) this.detector.noteTargetHardLink(f.path, hardLinkedTo(f, this.o.peer.node));
      const kept = agreeing(own?.get(f.path)) ?? agreeing(listedHere?.get(f.path));
      // Inode 0: the target's inodes mean nothing here (and must not look like a rename).
      this.index.set(f.path, kept ?? { size: f.size, blockSize, hashes, mtimeMs: f.mtimeMs, ino: 0 });
      if (listsMeta) this.index.setSentMeta(f.path, { mode: f.mode!, mtimeMs: f.mtimeMs, ...owner });
      this.index.setSentXattrs(f.path, listedXattrs);
      return kept !== undefined;
    }
    return false;
  }

  /**
   * After a resync that wrote to the copy, every record applied: the index's block hashes, a few MiB per call, for
   * the target's listing index (MirrorTarget.seedListing), so that its background listing reads none of what
   * they cover (it read back everything a full mirror wrote: a gigabyte per gigabyte). Only ever saves reading: a
   * call that fails leaves the rest to the listing.
   */
  private async seedTargetListing(client: ReplicationClient): Promise<void> {
    const blockSize = this.o.blockSize;
    const blockHash = this.index.blockHash;
    let files: SeedFile[] = [];
    let bytes = 0;
    let offered = 0;
    let taken = 0;
    const send = async (last: boolean): Promise<void> => {
      const body = Buffer.from(JSON.stringify({ blockSize, blockHash, files, last }));
      const answer = JSON.parse((await client.call('seed-listing', body, SCAN_CALL_TIMEOUT_MS)).toString('utf8')) as { taken?: unknown };
      offered += files.length;
      if (typeof answer.taken === 'number') taken += answer.taken;
      files = [];
      bytes = 0;
    };
    try {
      for (const [path, index] of this.detector.vouchedIndex()) {
        const blocks = index.hashes.toString('base64');
        // A file too large for one call (past 12 GiB in blocks of 64 KiB) is left to the listing.
        const size = blocks.length + path.length + SEED_ENTRY_BYTES;
        if (index.blockSize !== blockSize || size > SEED_CALL_BYTES) continue;
        if (bytes + size > SEED_CALL_BYTES) await send(false);
        files.push({ path, size: index.size, mtimeMs: index.mtimeMs, blocks });
        bytes += size;
      }
      // The last call, even with nothing in it: it starts the target's background listing.
      await send(true);
      this.o.log(`mirror ${this.o.id}: ${this.o.peer.node} took the block hashes of ${taken} of the ${offered} files sent: its background listing reads none of them`);
    } catch (e) {
      this.o.log(`mirror ${this.o.id}: the block hashes were not all sent to ${this.o.peer.node} (${(e as Error).message}): its background listing reads the rest`);
    }
  }

  private async untilAcked(seq: number): Promise<void> {
    while (!this.closed && this.journal.stats().ackedSeq < seq && (this.client?.stats().ackedSeq ?? 0) < seq) {
      if (this.stopping) throw new Error(RESYNC_STOPPED);
      if (this.targetBehind) throw new Error('the target fell behind the journal during the resync: starting it again');
      if (this.paused) throw new Error('transmission was paused: the resync continues on resume');
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  private onAck(seq: number): void {
    if (seq > this.journal.stats().lastSeq) {
      // The target counts past every record we ever appended: our journal was discarded after a crash and
      // numbers from 1 again. Nothing of ours can follow that seq; the stream is reset (it counts from our end
      // again) and a differential mirror brings the target level. Acknowledging it would skip our records.
      this.o.log(`mirror ${this.o.id}: ${this.o.peer.node} has applied up to record ${seq}, past this journal's last (${this.journal.stats().lastSeq}): the stream is reset`);
      this.resyncNeeded ??= 'diff';
      return;
    }
    this.pendingAck = Math.max(this.pendingAck, seq);
    while (this.appendedAt.length > 0 && this.appendedAt[0]!.seq <= seq) this.appendedAt.shift();
    // Acknowledging rewrites the journal's state file: once per 100 ms is plenty, except in a resync, whose
    // records wait in memory for room (appendMany's memoryOnly): there the pace of acks is the pace of the resync.
    this.ackTimer ??= setTimeout(() => {
      this.ackTimer = undefined;
      const upto = this.pendingAck;
      void this.journal.ack(upto).then(() => this.afterDrain(), (e: unknown) => this.o.log(`mirror ${this.o.id}: ack: ${(e as Error).message}`));
    }, this.resyncing ? RESYNC_ACK_MS : ACK_MS);
  }

  /** A dirty mirror resyncs once the journal has drained. */
  private afterDrain(): void {
    const s = this.journal.stats();
    if (s.ackedSeq >= s.lastSeq && this.resyncNeeded !== undefined && !this.resyncing && this.client?.stats().connected) {
      this.enqueue('resync', () => this.resetStream());
    }
  }

  // ---- operator commands ----

  /**
   * `thorough` (diff): both sides read every file again, trusting neither index (taken by the next differential
   * mirror, given back if it fails).
   */
  requestResync(kind: 'full' | 'diff', options: { readonly thorough?: boolean } = {}): void {
    this.resyncAsks++;
    this.resyncNeeded = kind;
    if (options.thorough === true) this.thoroughResync = true;
    if (this.client?.stats().connected) this.enqueue('resync', () => this.resetStream());
  }

  async pause(): Promise<void> {
    this.paused = true;
    const client = this.client;
    this.client = undefined;
    await client?.close();
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.connect();
  }

  /** Calls a target method (pause-target, resume); undefined when not connected. */
  async callTarget(method: string, body: object = {}, timeoutMs?: number): Promise<Buffer> {
    return this.connectedClient().call(method, Buffer.from(JSON.stringify(body)), timeoutMs);
  }

  private connectedClient(): ReplicationClient {
    if (this.client === undefined) throw new Error(`mirror ${this.o.id}: not connected to ${this.o.peer.node} (source transmission is paused)`);
    return this.client;
  }

  async verify(): Promise<VerifyReport & { missing: string[] }> {
    await this.queue;
    const features = await this.targetFeatures(this.connectedClient());
    const paged = features.manifestPages;
    // Attributes are compared only where both sides read them (a target that lists none sends no digest).
    const checkXattrs = features.xattrs && this.o.xattrs !== undefined;
    const reports: VerifyReport[] = [];
    for (let k = 0; k < this.o.folders.length; k++) {
      const mine = await treeManifest(this.o.folders[k]!, this.o.filter, checkXattrs ? this.o.xattrs : undefined);
      const where = `${this.o.peer.node}'s manifest`;
      // A target from before paged answers sends the folder's manifest whole (at most a call's 16 MiB).
      const theirs = paged ? await this.pagedManifest(k, where) : decodeManifest((await this.callTarget('manifest', { folder: k }, SCAN_CALL_TIMEOUT_MS)).toString('utf8'), where);
      reports.push(await compareManifests(mine, theirs, { checkOwner: this.o.owner, checkXattrs }));
    }
    const prefix = (k: number, paths: readonly string[]): string[] => paths.map((p) => virtualPath(k, p));
    return {
      equal: reports.every((r) => r.equal),
      missing: reports.flatMap((r, k) => prefix(k, r.missing)),
      extra: reports.flatMap((r, k) => prefix(k, r.extra)),
      contentDiffers: reports.flatMap((r, k) => prefix(k, r.contentDiffers)),
      metadataDiffers: reports.flatMap((r, k) => r.metadataDiffers.map((m) => ({ ...m, path: virtualPath(k, m.path) }))),
      problems: reports.flatMap((r) => r.problems),
    };
  }

  /** The target's manifest of folder `k`, a page at a time. */
  private async pagedManifest(k: number, where: string): Promise<Manifest> {
    const entries: ManifestEntry[] = [];
    const problems: TreeProblem[] = [];
    let root: ManifestEntry | undefined;
    await readPages((body) => this.callTarget('manifest-page', body, SCAN_CALL_TIMEOUT_MS), { folder: k }, 'manifest', where, (value, page) => {
      const part = decodeManifestValue(value, `${where}, page ${page}`);
      // One by one: a page holds tens of thousands, too many to spread as arguments.
      for (const entry of part.entries) entries.push(entry);
      for (const problem of part.problems) problems.push(problem);
      root ??= part.root;
    });
    return root === undefined ? { entries, problems } : { entries, problems, root };
  }

  // ---- status ----

  status(now: number): {
    connected: boolean; paused: boolean; queue: { records: number; bytes: number }; lagSeconds: number; lagBytes: number; throughput: number;
    dirtyFiles: number; resyncing: boolean; scanning: boolean; reasons: string[];
  } {
    const s = this.journal.stats();
    const sent = this.client?.stats().sentBytes ?? 0;
    if (sent !== this.lastSentBytes) {
      this.sentRate.push({ at: now, bytes: Math.max(0, sent - this.lastSentBytes) });
      this.lastSentBytes = sent;
    }
    while (this.sentRate.length > 0 && this.sentRate[0]!.at < now - 5000) this.sentRate.shift();
    const oldest = this.appendedAt[0];
    const reasons: string[] = [];
    if (this.dirty.all !== undefined) reasons.push(`dirty: ${this.dirty.all.reason}; a differential mirror follows`);
    if (this.captureFailure !== undefined) reasons.push(`capture failed: ${this.captureFailure}`);
    // The start's reconcile (or one after the watcher lost track) may yet find changes: the copy is not known level.
    const scanning = !this.reconciled || this.reconciles > 0;
    if (scanning) reasons.push(`scanning ${this.o.folders.join(', ')} for changes no watcher reported`);
    // What the target acknowledged counts at once; the journal takes note of it up to ACK_MS later. Its bytes
    // stay counted until then, unless nothing at all is left.
    const records = s.lastSeq - Math.max(s.ackedSeq, this.pendingAck);
    const queue = { records: Math.max(0, records), bytes: records > 0 ? s.bytes : 0 };
    return {
      connected: this.client?.stats().connected ?? false,
      paused: this.paused,
      queue,
      lagSeconds: oldest === undefined ? 0 : (now - oldest.at) / 1000,
      lagBytes: queue.bytes,
      throughput: Math.round(this.sentRate.reduce((n, r) => n + r.bytes, 0) / 5),
      dirtyFiles: this.dirty.all !== undefined ? -1 : this.dirty.size,
      // A resync that is due counts: the target is not known level until it has run.
      resyncing: this.resyncing || this.resyncNeeded !== undefined,
      scanning,
      reasons,
    };
  }

  /** Whether the target may lack something: away, a resync due or running, a scan not done, records not yet
   * acknowledged, files marked dirty. An automatic switchback waits while it is. */
  behind(now: number): boolean {
    const s = this.status(now);
    return !s.connected || s.resyncing || s.scanning || s.queue.records > 0 || s.dirtyFiles !== 0;
  }

  /** Stop capturing; with `drain`, wait (up to the deadline) until the target has everything. */
  async stop(drainUntil?: number): Promise<boolean> {
    this.stopping = true;
    await this.queue;
    let drained = true;
    if (drainUntil !== undefined) {
      const last = this.journal.stats().lastSeq;
      let unreachableSince = Date.now();
      while (Date.now() < drainUntil && (this.client?.stats().ackedSeq ?? 0) < last && this.journal.stats().ackedSeq < last) {
        // A target that is away cannot be drained to: what is queued stays in the journal for later.
        if (this.client?.stats().connected === true) unreachableSince = Date.now();
        else if (Date.now() - unreachableSince > 2000) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      drained = (this.client?.stats().ackedSeq ?? 0) >= last || this.journal.stats().ackedSeq >= last;
    }
    this.closed = true;
    clearTimeout(this.initialReconcile);
    clearTimeout(this.appendCheck);
    await this.appendChecking;
    await this.capture?.close();
    if (this.ackTimer) { clearTimeout(this.ackTimer); this.ackTimer = undefined; }
    await this.client?.close();
    if (this.pendingAck > this.journal.stats().ackedSeq) await this.journal.ack(this.pendingAck);
    this.detector.distrustAppends();
    await this.detector.close();
    await this.index.save();
    await this.dirty.save();
    await this.journal.flush();
    await this.journal.close();
    return drained;
  }
}

/** A listed file's linkedTo, checked: a file's path in the same folder, listed before it. */
function hardLinkedTo(f: TargetFile, peer: string): string {
  const existing = f.linkedTo;
  const ok = typeof existing === 'string' && relativePathProblem(existing) === undefined && comparePaths(existing, f.path) < 0
    && splitVirtualPath(existing).folder === splitVirtualPath(f.path).folder;
  if (!ok) throw new Error(`${peer}'s listing: ${JSON.stringify(f.path)}: linkedTo ${JSON.stringify(existing)} is not the path of a file of its folder listed before it`);
  return existing;
}
