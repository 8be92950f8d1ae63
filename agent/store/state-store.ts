/**
 * What must survive an agent restart: the event log, the audit log of control commands, failure counts and the
 * cluster intents (holds, switchover targets, maintenance). SQLite in WAL mode: one file, crash-safe, queryable by time and kind.
 *
 * Events and audit entries never wait for the database's write lock on the event loop. Another connection holds
 * it now and then: the checkpoint thread while it starts the log over (with an fsync that took 0.38 s under a
 * resync's writeback), a guard writing what it released. An append that finds the lock taken is kept in memory,
 * with the id it will have, and written by a retry once the lock is free; queries see it meanwhile. Failure
 * counts, intents and the incarnation do wait (for up to BUSY_WAIT_MS), as what the agent does next depends on
 * them being stored.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { checkpointsOf, type Checkpoints } from './checkpoint-thread.js';
import { EVENT_KINDS, type AuditEntry, type ClusterEvent, type EventKind, type GroupId, type Intents, type Severity } from '../../common/model/index.js';

export interface EventQuery {
  readonly since?: number;
  readonly until?: number;
  readonly kinds?: readonly EventKind[];
  readonly group?: GroupId;
  /** Newest first, at most this many (default 100, at most 10 000). */
  readonly limit?: number;
}

export interface FailureRecord { readonly failures: number; readonly lastFailureAt?: number }

const SCHEMA_VERSION = 2;
/** How long a write that must be stored before the agent goes on waits for another connection's lock. */
const BUSY_WAIT_MS = 5000;
/** How often appends kept in memory try the lock again. */
const RETRY_MS = 20;
/** Audit entries kept: the oldest go first once there are more (a year of a busy operator's commands). */
const AUDIT_KEEP = 100_000;

interface AuditRow { id: number; at: number; principal: string; role: string; via: string; remote: string; method: string; params: string; result: string; message: string | null; duration_ms: number }
type Append = { readonly table: 'events'; readonly event: ClusterEvent } | { readonly table: 'audit'; readonly entry: Omit<AuditEntry, 'id'> };
/** An append the database was too busy to take, with the id it was given. */
type KeptAppend = Append & { readonly id: number };

interface EventRow { id: number; at: number; kind: string; severity: string; node: string; group_id: string | null; resource: string | null; message: string }

export class StateStore {
  private readonly db: Database.Database;
  private checkpoints: Checkpoints | undefined;
  /** In the order they were made: one is written only after those before it. */
  private readonly kept: KeptAppend[] = [];
  private retry: NodeJS.Timeout | undefined;

  private constructor(path: string) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path, { timeout: BUSY_WAIT_MS });
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.migrate();
  }

  static open(path: string): StateStore {
    return new StateStore(path);
  }

  private migrate(): void {
    const version = this.db.pragma('user_version', { simple: true }) as number;
    if (version > SCHEMA_VERSION) throw new Error(`state store ${this.db.name} has schema ${version}, newer than this agent understands (${SCHEMA_VERSION})`);
    if (version === SCHEMA_VERSION) return;
    if (version < 1) this.db.exec(`
      CREATE TABLE IF NOT EXISTS events (
        id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, kind TEXT NOT NULL, severity TEXT NOT NULL,
        node TEXT NOT NULL, group_id TEXT, resource TEXT, message TEXT NOT NULL);
      CREATE INDEX IF NOT EXISTS events_at ON events(at);
      CREATE INDEX IF NOT EXISTS events_kind_at ON events(kind, at);
      CREATE TABLE IF NOT EXISTS failures (group_id TEXT PRIMARY KEY, failures INTEGER NOT NULL, last_failure_at INTEGER);
      CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);`);
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS audit (
        id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, principal TEXT NOT NULL, role TEXT NOT NULL,
        via TEXT NOT NULL, remote TEXT NOT NULL, method TEXT NOT NULL, params TEXT NOT NULL, result TEXT NOT NULL,
        message TEXT, duration_ms INTEGER NOT NULL);
      CREATE INDEX IF NOT EXISTS audit_at ON audit(at);
      PRAGMA user_version = ${SCHEMA_VERSION};`);
  }

  appendAudit(entry: Omit<AuditEntry, 'id'>): number {
    return this.append({ table: 'audit', entry });
  }

  /** Newest first. */
  queryAudit(query: { since?: number; limit?: number } = {}): AuditEntry[] {
    const limit = Math.min(Math.max(query.limit ?? 100, 1), 10_000);
    const rows = this.db.prepare(`SELECT * FROM audit WHERE at >= ? ORDER BY id DESC LIMIT ${limit}`).all(query.since ?? 0) as AuditRow[];
    const stored = rows.map((r): AuditEntry => ({
      id: r.id, at: r.at, principal: r.principal, role: r.role as AuditEntry['role'], via: r.via, remote: r.remote, method: r.method,
      params: r.params, result: r.result, durationMs: r.duration_ms, ...(r.message === null ? {} : { message: r.message }),
    }));
    const kept = this.kept.flatMap((k) => (k.table === 'audit' && k.entry.at >= (query.since ?? 0) ? [{ ...k.entry, id: k.id }] : []));
    return kept.length === 0 ? stored : [...stored, ...kept].sort((a, b) => b.id - a.id).slice(0, limit);
  }

  appendEvent(event: ClusterEvent): number {
    return this.append({ table: 'events', event });
  }

  private append(append: Append): number {
    if (this.kept.length === 0) {
      try {
        return this.withoutWaiting(() => this.db.transaction(() => this.insert(append, null)).immediate());
      } catch (e) {
        if (!isBusy(e)) throw e;
      }
    }
    const id = this.nextId(append.table);
    this.kept.push({ ...append, id });
    this.writeKept();
    return id;
  }

  /**
   * `id` null: AUTOINCREMENT's next. A kept append's id that another connection's row took meanwhile (a guard's
   * event) gives way to the next: its listeners saw the id it was given, the table has it under another.
   */
  private insert(append: Append, id: number | null): number {
    const info = append.table === 'events'
      ? this.db.prepare('INSERT OR IGNORE INTO events (id, at, kind, severity, node, group_id, resource, message) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
        .run(id, append.event.at, append.event.kind, append.event.severity, append.event.node, append.event.group ?? null, append.event.resource ?? null, append.event.message)
      : this.db.prepare('INSERT OR IGNORE INTO audit (id, at, principal, role, via, remote, method, params, result, message, duration_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)')
        .run(id, append.entry.at, append.entry.principal, append.entry.role, append.entry.via, append.entry.remote, append.entry.method, append.entry.params, append.entry.result, append.entry.message ?? null, append.entry.durationMs);
    if (info.changes === 0) {
      if (id === null) throw new Error(`the ${append.table} table refused a row: ${JSON.stringify(append.table === 'events' ? append.event : append.entry)}`);
      return this.insert(append, null);
    }
    const inserted = Number(info.lastInsertRowid);
    if (append.table === 'audit' && inserted % 1000 === 0) this.db.prepare('DELETE FROM audit WHERE id <= ?').run(inserted - AUDIT_KEEP);
    return inserted;
  }

  /** The id the next row of `table` will have: above any stored (AUTOINCREMENT's sequence) and any kept. */
  private nextId(table: Append['table']): number {
    const row = this.db.prepare('SELECT seq FROM sqlite_sequence WHERE name = ?').get(table) as { seq: number } | undefined;
    const kept = this.kept.filter((k) => k.table === table).at(-1)?.id ?? 0;
    return Math.max(row?.seq ?? 0, kept) + 1;
  }

  /** The kept appends, in their order, in one transaction; while the lock is taken, again in RETRY_MS. */
  private writeKept(wait = false): void {
    if (this.kept.length === 0) return;
    const writeAll = this.db.transaction(() => { for (const k of this.kept) this.insert(k, k.id); });
    try {
      if (wait) writeAll.immediate();
      else this.withoutWaiting(() => writeAll.immediate());
    } catch (e) {
      if (wait || !isBusy(e)) throw e;
      this.retryLater();
      return;
    }
    this.kept.length = 0;
    clearTimeout(this.retry);
    this.retry = undefined;
  }

  private retryLater(): void {
    this.retry ??= setTimeout(() => {
      this.retry = undefined;
      // A failure other than the lock is thrown to the caller of the next append, which writes the kept ones first.
      try { this.writeKept(); } catch { this.retryLater(); }
    }, RETRY_MS).unref();
  }

  private withoutWaiting<T>(write: () => T): T {
    this.db.pragma('busy_timeout = 0');
    try {
      return write();
    } finally {
      this.db.pragma(`busy_timeout = ${BUSY_WAIT_MS}`);
    }
  }

  queryEvents(query: EventQuery = {}): ClusterEvent[] {
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (query.since !== undefined) { where.push('at >= ?'); args.push(query.since); }
    if (query.until !== undefined) { where.push('at <= ?'); args.push(query.until); }
    if (query.group !== undefined) { where.push('group_id = ?'); args.push(query.group); }
    if (query.kinds !== undefined && query.kinds.length > 0) {
      where.push(`kind IN (${query.kinds.map(() => '?').join(',')})`);
      args.push(...query.kinds);
    }
    const limit = Math.min(Math.max(query.limit ?? 100, 1), 10_000);
    const sql = `SELECT * FROM events ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY at DESC, id DESC LIMIT ${limit}`;
    const stored = (this.db.prepare(sql).all(...args) as EventRow[]).map(toEvent);
    const kept = this.kept.flatMap((k) => (k.table === 'events' && matches(k.event, query) ? [{ ...k.event, id: k.id }] : []));
    return kept.length === 0 ? stored : [...stored, ...kept].sort((a, b) => b.at - a.at || (b.id ?? 0) - (a.id ?? 0)).slice(0, limit);
  }

  failures(group: GroupId): FailureRecord {
    const row = this.db.prepare('SELECT failures, last_failure_at FROM failures WHERE group_id = ?').get(group) as { failures: number; last_failure_at: number | null } | undefined;
    if (!row) return { failures: 0 };
    return row.last_failure_at === null ? { failures: row.failures } : { failures: row.failures, lastFailureAt: row.last_failure_at };
  }

  setFailures(group: GroupId, record: FailureRecord): void {
    if (record.failures === 0) this.db.prepare('DELETE FROM failures WHERE group_id = ?').run(group);
    else this.db.prepare('INSERT INTO failures (group_id, failures, last_failure_at) VALUES (?, ?, ?) ON CONFLICT(group_id) DO UPDATE SET failures = excluded.failures, last_failure_at = excluded.last_failure_at')
      .run(group, record.failures, record.lastFailureAt ?? null);
  }

  intents(): Intents {
    const row = this.db.prepare("SELECT value FROM kv WHERE key = 'intents'").get() as { value: string } | undefined;
    return row ? (JSON.parse(row.value) as Intents) : { targets: {} };
  }

  saveIntents(intents: Intents): void {
    this.db.prepare("INSERT INTO kv (key, value) VALUES ('intents', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value").run(JSON.stringify(intents));
  }

  /**
   * This agent run's incarnation: the time, but always above the last one used, so peers never mistake a
   * restart after the clock stepped back for a replay of the previous run.
   */
  nextIncarnation(now: number): number {
    const row = this.db.prepare("SELECT value FROM kv WHERE key = 'incarnation'").get() as { value: string } | undefined;
    const incarnation = Math.max(Math.floor(now), row ? Number(row.value) + 1 : 0);
    this.db.prepare("INSERT INTO kv (key, value) VALUES ('incarnation', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value").run(String(incarnation));
    return incarnation;
  }

  /**
   * From now on the WAL is checkpointed by a thread of its own (checkpoint-thread.ts: a checkpoint's fsync could
   * stall the event loop), never by this connection's commits; should that thread fail, they checkpoint again, as
   * SQLite does by default, and `log` says so.
   */
  checkpointOnThread(log: (line: string) => void, everyMs?: number): Checkpoints {
    this.checkpoints ??= checkpointsOf(this.db, everyMs, (why) => log(`${why}: the state store's commits checkpoint it again`));
    return this.checkpoints;
  }

  /** Writes what was kept first, waiting for the lock (BUSY_WAIT_MS at most, then it throws and closes anyway). */
  close(): void {
    clearTimeout(this.retry);
    try {
      if (this.db.open) this.writeKept(true);
    } finally {
      // The thread ends on its own time (its connection, if the last, makes the final checkpoint).
      void this.checkpoints?.stop();
      if (this.db.open) this.db.close();
    }
  }
}

/** SQLITE_BUSY and its extended codes (_RECOVERY, _SNAPSHOT, _TIMEOUT). */
const isBusy = (e: unknown): boolean => /^SQLITE_BUSY(_|$)/.test(String((e as { code?: unknown }).code));

/** queryEvents' WHERE, for an event not stored yet. */
function matches(event: ClusterEvent, query: EventQuery): boolean {
  return (query.since === undefined || event.at >= query.since) && (query.until === undefined || event.at <= query.until)
    && (query.group === undefined || event.group === query.group)
    && (query.kinds === undefined || query.kinds.length === 0 || query.kinds.includes(event.kind));
}

function toEvent(row: EventRow): ClusterEvent {
  const kind = (EVENT_KINDS as readonly string[]).includes(row.kind) ? (row.kind as EventKind) : 'fault';
  return {
    id: row.id, at: row.at, kind, severity: row.severity as Severity, node: row.node, message: row.message,
    ...(row.group_id === null ? {} : { group: row.group_id }),
    ...(row.resource === null ? {} : { resource: row.resource }),
  };
}
