/**
 * What must survive an agent restart: the event log, the audit log of control commands, failure counts and the
 * cluster intents (holds, switchover targets, maintenance). SQLite in WAL mode: one file, crash-safe, queryable by time and kind.
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
/** Audit entries kept: the oldest go first once there are more (a year of a busy operator's commands). */
const AUDIT_KEEP = 100_000;

interface AuditRow { id: number; at: number; principal: string; role: string; via: string; remote: string; method: string; params: string; result: string; message: string | null; duration_ms: number }
interface EventRow { id: number; at: number; kind: string; severity: string; node: string; group_id: string | null; resource: string | null; message: string }

export class StateStore {
  private readonly db: Database.Database;
  private checkpoints: Checkpoints | undefined;

  private constructor(path: string) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
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
    const info = this.db.prepare('INSERT INTO audit (at, principal, role, via, remote, method, params, result, message, duration_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)')
      .run(entry.at, entry.principal, entry.role, entry.via, entry.remote, entry.method, entry.params, entry.result, entry.message ?? null, entry.durationMs);
    const id = Number(info.lastInsertRowid);
    if (id % 1000 === 0) this.db.prepare('DELETE FROM audit WHERE id <= ?').run(id - AUDIT_KEEP);
    return id;
  }

  /** Newest first. */
  queryAudit(query: { since?: number; limit?: number } = {}): AuditEntry[] {
    const limit = Math.min(Math.max(query.limit ?? 100, 1), 10_000);
    const rows = this.db.prepare(`SELECT * FROM audit WHERE at >= ? ORDER BY id DESC LIMIT ${limit}`).all(query.since ?? 0) as AuditRow[];
    return rows.map((r) => ({
      id: r.id, at: r.at, principal: r.principal, role: r.role as AuditEntry['role'], via: r.via, remote: r.remote, method: r.method,
      params: r.params, result: r.result, durationMs: r.duration_ms, ...(r.message === null ? {} : { message: r.message }),
    }));
  }

  appendEvent(event: ClusterEvent): number {
    const info = this.db.prepare('INSERT INTO events (at, kind, severity, node, group_id, resource, message) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(event.at, event.kind, event.severity, event.node, event.group ?? null, event.resource ?? null, event.message);
    return Number(info.lastInsertRowid);
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
    return (this.db.prepare(sql).all(...args) as EventRow[]).map(toEvent);
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

  close(): void {
    // The thread ends on its own time (its connection, if the last, makes the final checkpoint).
    void this.checkpoints?.stop();
    if (this.db.open) this.db.close();
  }
}

function toEvent(row: EventRow): ClusterEvent {
  const kind = (EVENT_KINDS as readonly string[]).includes(row.kind) ? (row.kind as EventKind) : 'fault';
  return {
    id: row.id, at: row.at, kind, severity: row.severity as Severity, node: row.node, message: row.message,
    ...(row.group_id === null ? {} : { group: row.group_id }),
    ...(row.resource === null ? {} : { resource: row.resource }),
  };
}
