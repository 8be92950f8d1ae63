/**
 * The cluster configuration's history on this node: every committed version, the current one (the newest), and
 * at most one staged version (prepared by a coordinator, not yet committed). SQLite in WAL mode, like the state
 * store, so a decision recorded here survives a crash at any point once durable() has resolved.
 *
 * No fsync runs on the caller's thread: a commit (synchronous=NORMAL) leaves its frames in the log, durable()
 * flushes the log on libuv's threads, and checkpoints run on the checkpoint thread (agent/store/checkpoint-thread.ts).
 * With synchronous=FULL each commit fsynced the log on the event loop, which on a disk busy with a resync's writes
 * can take longer than the guard waits before it takes the agent for frozen.
 */
import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { NodeId } from '../../common/model/ids.js';
import { ConfigSyncError, type ConfigVersion, type VersionRef } from '../../common/model/config-version.js';
import { checkpointsOf, type Checkpoints } from '../store/checkpoint-thread.js';

const SCHEMA_VERSION = 1;

export function digestOf(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** A version a coordinator asked this node to hold until it commits or aborts; forgotten after expiresAt. */
export interface StagedVersion {
  readonly version: ConfigVersion;
  readonly coordinator: NodeId;
  readonly expiresAt: number;
}

export interface ConfigHistoryOptions {
  /** The configuration file the node was installed with: generation 1 when the database is new. */
  readonly bootstrapText: string;
  readonly bootstrapAuthor: string;
  /** Time as a parameter (tests); Date.now by default. */
  readonly now?: () => number;
  /** Where a failure of the checkpoint thread is told (the history's commits then checkpoint it themselves). */
  readonly log?: (line: string) => void;
}

interface VersionRow { generation: number; text: string; digest: string; author: string; at: number; comment: string; parent: number | null }
interface StagedRow extends VersionRow { coordinator: string; expires_at: number }

export class ConfigHistory {
  private cached: ConfigVersion;
  private readonly checkpoints: Checkpoints | undefined;

  private constructor(private readonly db: Database.Database, private readonly path: string, log: (line: string) => void) {
    this.cached = this.readCurrent();
    if (path !== ':memory:') this.checkpoints = checkpointsOf(db, undefined, (why) => log(`${why}: the configuration history's commits checkpoint it again`));
  }

  static open(path: string, options: ConfigHistoryOptions): ConfigHistory {
    let db: Database.Database | undefined;
    try {
      if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
      db = new Database(path);
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      migrate(db, path);
      const count = (db.prepare('SELECT COUNT(*) AS n FROM versions').get() as { n: number }).n;
      if (count === 0) {
        const text = options.bootstrapText;
        db.prepare('INSERT INTO versions (generation, text, digest, author, at, comment, parent) VALUES (1, ?, ?, ?, ?, ?, NULL)')
          .run(text, digestOf(text), options.bootstrapAuthor, (options.now ?? Date.now)(), 'installed');
      }
      return new ConfigHistory(db, path, options.log ?? (() => undefined));
    } catch (e) {
      db?.close();
      throw asHistoryError(e, path);
    }
  }

  /** The configuration in force on this node. */
  current(): ConfigVersion {
    return this.cached;
  }

  get(generation: number): ConfigVersion {
    const row = this.db.prepare('SELECT * FROM versions WHERE generation = ?').get(generation) as VersionRow | undefined;
    if (row === undefined) throw new ConfigSyncError('NOT_FOUND', `generation ${generation}: not in this node's history (current is ${this.cached.generation})`);
    return this.checked(row);
  }

  /** Newest first. */
  list(options: { readonly limit?: number } = {}): ConfigVersion[] {
    const limit = Math.min(Math.max(options.limit ?? 50, 1), 10_000);
    return (this.db.prepare(`SELECT * FROM versions ORDER BY generation DESC LIMIT ${limit}`).all() as VersionRow[]).map((r) => this.checked(r));
  }

  /** The staged version, unless it expired by `now` (an expired one is dropped: its coordinator is gone). */
  staged(now: number): StagedVersion | undefined {
    const row = this.db.prepare('SELECT * FROM staged').get() as StagedRow | undefined;
    if (row === undefined) return undefined;
    if (row.expires_at <= now) {
      this.db.prepare('DELETE FROM staged').run();
      return undefined;
    }
    return { version: this.checked(row), coordinator: row.coordinator, expiresAt: row.expires_at };
  }

  /** Stage the next generation, replacing any staged one: whether another coordinator may be overruled is the caller's call. */
  prepare(version: ConfigVersion, stage: { readonly coordinator: NodeId; readonly expiresAt: number }): void {
    this.checkDigest(version);
    this.checkFollowsCurrent(version);
    this.db.prepare(`INSERT OR REPLACE INTO staged (one, generation, text, digest, author, at, comment, parent, coordinator, expires_at)
      VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
      .run(version.generation, version.text, version.digest, version.author, version.at, version.comment, version.parent, stage.coordinator, stage.expiresAt);
  }

  /** Make the staged version current. Only the staged one, named by generation and digest, so a late commit from a
   * coordinator whose stage expired cannot commit another coordinator's text. */
  commit(ref: VersionRef): ConfigVersion {
    // The cached current version changes only once the transaction has committed.
    this.cached = this.db.transaction(() => {
      const row = this.db.prepare('SELECT * FROM staged').get() as StagedRow | undefined;
      if (row === undefined || row.generation !== ref.generation || row.digest !== ref.digest) {
        const held = row === undefined ? 'nothing is staged' : `generation ${row.generation} (${row.digest.slice(0, 12)}) is staged`;
        throw new ConfigSyncError('NOT_STAGED', `commit of generation ${ref.generation} (${ref.digest.slice(0, 12)}): ${held} on this node`);
      }
      const version = this.checked(row);
      this.checkFollowsCurrent(version);
      this.insert(version);
      this.db.prepare('DELETE FROM staged').run();
      return version;
    })();
    return this.cached;
  }

  /** Drop the staged version if it is the one named; false when it was not staged (already aborted, expired). */
  abort(ref: VersionRef): boolean {
    return this.db.prepare('DELETE FROM staged WHERE generation = ? AND digest = ?').run(ref.generation, ref.digest).changes > 0;
  }

  /**
   * Adopt versions fetched from a peer during catch-up, oldest first, each newer than the one before and than
   * the current one. With `replaceInstalled`, a node that never left its installation generation takes the
   * cluster's history from generation 1 (a node installed from a copy of the file joins the cluster's history).
   * A staged version the adopted ones overtake is dropped.
   */
  adopt(versions: readonly ConfigVersion[], options: { readonly replaceInstalled?: boolean } = {}): ConfigVersion {
    const last = versions.at(-1);
    if (last === undefined) throw new RangeError('adopt: no versions');
    this.cached = this.db.transaction(() => {
      let previous = this.cached.generation;
      if (options.replaceInstalled === true) {
        if (previous !== 1) throw new ConfigSyncError('CONFLICT', `this node is at generation ${previous}, not its installation generation: its history is not replaced`);
        this.db.prepare('DELETE FROM versions').run();
        previous = 0;
      }
      for (const v of versions) {
        this.checkDigest(v);
        if (v.generation <= previous) throw new ConfigSyncError('STALE_GENERATION', `adopt generation ${v.generation}: not newer than generation ${previous}`);
        previous = v.generation;
        this.insert(v);
      }
      this.db.prepare('DELETE FROM staged WHERE generation <= ?').run(last.generation);
      return last;
    })();
    return this.cached;
  }

  /**
   * Resolves once what was committed so far is on disk (the write-ahead log flushed, off the caller's thread): a
   * prepare, commit or adoption is answered or acted on only after it.
   */
  async durable(): Promise<void> {
    if (this.path === ':memory:') return;
    const log = await open(`${this.path}-wal`, 'r');
    try {
      await log.datasync();
    } finally {
      await log.close();
    }
  }

  close(): void {
    void this.checkpoints?.stop();
    this.db.close();
  }

  private insert(version: ConfigVersion): void {
    this.db.prepare('INSERT INTO versions (generation, text, digest, author, at, comment, parent) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(version.generation, version.text, version.digest, version.author, version.at, version.comment, version.parent);
  }

  private readCurrent(): ConfigVersion {
    const row = this.db.prepare('SELECT * FROM versions ORDER BY generation DESC LIMIT 1').get() as VersionRow | undefined;
    if (row === undefined) throw new ConfigSyncError('HISTORY_DAMAGED', `${this.path}: holds no version at all`);
    return this.checked(row);
  }

  private checkFollowsCurrent(version: ConfigVersion): void {
    const current = this.cached.generation;
    if (version.generation <= current) {
      throw new ConfigSyncError('STALE_GENERATION', `generation ${version.generation}: this node is already at generation ${current}`);
    }
    if (version.generation !== current + 1 || version.parent !== current) {
      throw new ConfigSyncError('BEHIND', `generation ${version.generation} builds on ${version.parent}, this node is at generation ${current}: it catches up first`);
    }
  }

  private checkDigest(version: ConfigVersion): void {
    if (digestOf(version.text) !== version.digest) {
      throw new ConfigSyncError('DIGEST_MISMATCH', `generation ${version.generation}: digest ${version.digest.slice(0, 12)} is not the sha-256 of its text`);
    }
  }

  /** A row read back from disk is checked: a damaged history must not hand out a text other than the one committed. */
  private checked(row: VersionRow): ConfigVersion {
    if (digestOf(row.text) !== row.digest) {
      throw new ConfigSyncError('HISTORY_DAMAGED', `${this.path}: generation ${row.generation} does not match its digest`);
    }
    return { generation: row.generation, text: row.text, digest: row.digest, author: row.author, at: row.at, comment: row.comment, parent: row.parent };
  }
}

function migrate(db: Database.Database, path: string): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version > SCHEMA_VERSION) throw new ConfigSyncError('HISTORY_DAMAGED', `${path}: schema ${version} is newer than this agent understands (${SCHEMA_VERSION})`);
  if (version === SCHEMA_VERSION) return;
  db.exec(`
    CREATE TABLE IF NOT EXISTS versions (
      generation INTEGER PRIMARY KEY, text TEXT NOT NULL, digest TEXT NOT NULL, author TEXT NOT NULL,
      at INTEGER NOT NULL, comment TEXT NOT NULL, parent INTEGER);
    CREATE TABLE IF NOT EXISTS staged (
      one INTEGER PRIMARY KEY CHECK (one = 1), generation INTEGER NOT NULL, text TEXT NOT NULL, digest TEXT NOT NULL,
      author TEXT NOT NULL, at INTEGER NOT NULL, comment TEXT NOT NULL, parent INTEGER,
      coordinator TEXT NOT NULL, expires_at INTEGER NOT NULL);
    PRAGMA user_version = ${SCHEMA_VERSION};`);
}

function asHistoryError(e: unknown, path: string): Error {
  if (e instanceof ConfigSyncError) return e;
  const err = e as { code?: string; message?: string };
  if (typeof err.code === 'string' && err.code.startsWith('SQLITE_')) {
    return new ConfigSyncError('HISTORY_DAMAGED', `${path}: not a readable configuration history (${err.code}: ${err.message ?? ''})`);
  }
  return e instanceof Error ? e : new Error(String(e));
}
