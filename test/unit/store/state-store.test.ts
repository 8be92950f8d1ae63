import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { StateStore } from '../../../agent/store/state-store.js';
import type { ClusterEvent } from '../../../common/model/index.js';

function tempStore(t: { after: (fn: () => void) => void }): { path: string; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-store-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return { dir, path: join(dir, 'state.db') };
}

test('events survive reopening and are queried by time, kind and group, newest first', (t) => {
  const { path } = tempStore(t);
  const store = StateStore.open(path);
  store.appendEvent({ at: 100, kind: 'peer-lost', severity: 'critical', node: 'alpha', message: 'beta lost' });
  store.appendEvent({ at: 200, kind: 'resource-started', severity: 'info', node: 'alpha', group: 'web', resource: 'ip', message: 'started' });
  store.appendEvent({ at: 300, kind: 'failover', severity: 'warning', node: 'alpha', group: 'web', message: 'web from beta' });
  store.appendEvent({ at: 400, kind: 'resource-started', severity: 'info', node: 'alpha', group: 'db', resource: 'db', message: 'started' });
  store.close();

  const reopened = StateStore.open(path);
  t.after(() => reopened.close());
  assert.deepEqual(reopened.queryEvents().map((e) => e.at), [400, 300, 200, 100]);
  assert.deepEqual(reopened.queryEvents({ since: 150, until: 350 }).map((e) => e.kind), ['failover', 'resource-started']);
  assert.deepEqual(reopened.queryEvents({ kinds: ['resource-started'] }).map((e) => e.group), ['db', 'web']);
  assert.deepEqual(reopened.queryEvents({ group: 'web' }).map((e) => e.at), [300, 200]);
  assert.equal(reopened.queryEvents({ limit: 1 }).length, 1);
  const [event] = reopened.queryEvents({ kinds: ['resource-started'], group: 'web' });
  assert.deepEqual(event, { id: 2, at: 200, kind: 'resource-started', severity: 'info', node: 'alpha', group: 'web', resource: 'ip', message: 'started' });
});

test('failure counts and intents survive a restart; zero failures clears the record', (t) => {
  const { path } = tempStore(t);
  const store = StateStore.open(path);
  store.setFailures('web', { failures: 2, lastFailureAt: 1234 });
  store.saveIntents({ targets: { web: { value: 'beta', version: 3, by: 'beta', at: 99 } }, maintenance: { value: false, version: 4, by: 'alpha', at: 100 } });
  store.close();

  const reopened = StateStore.open(path);
  t.after(() => reopened.close());
  assert.deepEqual(reopened.failures('web'), { failures: 2, lastFailureAt: 1234 });
  assert.deepEqual(reopened.failures('db'), { failures: 0 });
  assert.equal(reopened.intents().targets['web']?.value, 'beta');
  assert.equal(reopened.intents().maintenance?.version, 4);
  reopened.setFailures('web', { failures: 0 });
  assert.deepEqual(reopened.failures('web'), { failures: 0 });
});

test('incarnations only grow, even when the clock steps back between runs', (t) => {
  const { path } = tempStore(t);
  const store = StateStore.open(path);
  assert.equal(store.nextIncarnation(5000), 5000);
  store.close();
  const again = StateStore.open(path);
  t.after(() => again.close());
  assert.equal(again.nextIncarnation(1000), 5001, 'the clock went back: still above the last run');
  assert.equal(again.nextIncarnation(9000), 9000);
});

test('a store written by a newer schema is refused, not misread', (t) => {
  const { path } = tempStore(t);
  const store = StateStore.open(path);
  store.close();
  // Simulate a future version by bumping user_version directly.
  const future = StateStore.open(path);
  (future as unknown as { db: { pragma: (s: string) => void } }).db.pragma('user_version = 99');
  future.close();
  assert.throws(() => StateStore.open(path), /schema 99, newer than this agent understands/);
});

test('events and audit entries never wait for a lock another connection holds: kept with their ids, queried, written in order once it is free', async (t) => {
  const { path } = tempStore(t);
  const store = StateStore.open(path);
  t.after(() => store.close());
  const event = (at: number, message: string, more: Partial<ClusterEvent> = {}): ClusterEvent => ({ at, kind: 'fault', severity: 'info', node: 'alpha', message, ...more });
  assert.equal(store.appendEvent(event(100, 'first')), 1);
  // Another connection holds the write lock, as the checkpoint thread does while it starts the log over (with an
  // fsync) and a guard while it writes what it released. In this thread it cannot let go while the store waits:
  // an append that waited for it would throw SQLITE_BUSY after the busy timeout.
  const other = new Database(path);
  t.after(() => other.close());
  other.prepare('BEGIN IMMEDIATE').run();
  const started = performance.now();
  assert.equal(store.appendEvent(event(200, 'second', { kind: 'failover', group: 'web' })), 2);
  assert.equal(store.appendEvent(event(150, 'third', { kind: 'resource-started', group: 'db' })), 3);
  const audit = store.appendAudit({ at: 160, principal: 'admin', role: 'admin', via: 'cli', remote: 'local', method: 'switchover', params: '{}', result: 'ok', durationMs: 3 });
  // Not a speed: an append that waits for the lock waits SQLite's whole busy timeout (5 s), each of the three.
  assert.ok(performance.now() - started < 5000, 'the appends waited for the lock');
  // Queries see the kept ones, with the ids their listeners were given, filtered and ordered as stored ones.
  assert.deepEqual(store.queryEvents().map((e) => [e.id, e.message]), [[2, 'second'], [3, 'third'], [1, 'first']]);
  assert.deepEqual(store.queryEvents({ group: 'web' }).map((e) => e.id), [2]);
  assert.deepEqual(store.queryEvents({ kinds: ['fault', 'resource-started'], limit: 1 }).map((e) => e.id), [3]);
  assert.deepEqual(store.queryEvents({ since: 120, until: 180 }).map((e) => e.id), [3]);
  assert.deepEqual(store.queryAudit().map((a) => [a.id, a.method]), [[audit, 'switchover']]);
  assert.deepEqual(store.queryAudit({ since: 161 }), []);

  // The holder writes an event of its own (a guard's), which takes id 2, and lets go: the retry writes the kept
  // ones in their order, each whose id was taken under the next free one.
  other.prepare("INSERT INTO events (at, kind, severity, node, message) VALUES (250, 'fault', 'warning', 'alpha', 'guard')").run();
  assert.equal(rowsIn(path, 'events').length, 1, 'nothing kept is in the file while the lock is taken');
  other.prepare('COMMIT').run();
  await until(() => rowsIn(path, 'events').length === 4);
  assert.deepEqual(rowsIn(path, 'events'), ['first', 'guard', 'second', 'third']);
  assert.deepEqual(rowsIn(path, 'audit'), ['switchover']);
  assert.deepEqual(store.queryEvents().map((e) => e.message), ['guard', 'second', 'third', 'first']);

  // An append made while others are kept goes after them, the lock free or not; closing writes what is kept.
  other.prepare('BEGIN IMMEDIATE').run();
  store.appendEvent(event(300, 'fourth'));
  other.prepare('COMMIT').run();
  store.appendEvent(event(310, 'fifth'));
  assert.deepEqual(rowsIn(path, 'events').slice(4), ['fourth', 'fifth'], 'written by the append, at once');
  other.prepare('BEGIN IMMEDIATE').run();
  store.appendEvent(event(320, 'sixth'));
  other.prepare('COMMIT').run();
  store.close();
  assert.deepEqual(rowsIn(path, 'events').slice(6), ['sixth']);
});

/** The messages (events) or methods (audit) of a table's rows in id order, read by a connection of their own. */
function rowsIn(path: string, table: 'events' | 'audit'): string[] {
  const db = new Database(path, { readonly: true });
  try {
    return (db.prepare(`SELECT ${table === 'events' ? 'message' : 'method'} AS v FROM ${table} ORDER BY id`).all() as { v: string }[]).map((r) => r.v);
  } finally {
    db.close();
  }
}

async function until(check: () => boolean): Promise<void> {
  for (const end = Date.now() + 10_000; !check();) {
    if (Date.now() > end) throw new Error('timed out waiting for the kept appends to be written');
    await new Promise((r) => setTimeout(r, 10));
  }
}
