import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { ConfigSyncError, type ConfigSyncErrorCode, type ConfigVersion } from '../../../common/model/config-version.js';
import { ConfigHistory, digestOf } from '../../../agent/config-sync/history.js';
import { tempDir } from './helpers.js';

const T0 = 1_700_000_000_000;

function version(generation: number, text: string, extra: Partial<ConfigVersion> = {}): ConfigVersion {
  return { generation, text, digest: digestOf(text), author: 'admin', at: T0 + generation, comment: '', parent: generation - 1, ...extra };
}

function throwsCode(fn: () => unknown, code: ConfigSyncErrorCode, message: RegExp): void {
  assert.throws(fn, (e: unknown) => e instanceof ConfigSyncError && e.code === code && message.test(e.message), `${code} ${message}`);
}

test('the installed file is generation 1; committed versions survive reopening, newest first', (t) => {
  const path = join(tempDir(t), 'state', 'config.db');
  const history = ConfigHistory.open(path, { bootstrapText: 'one', bootstrapAuthor: 'node:alpha', now: () => T0 });
  assert.deepEqual(history.current(), { generation: 1, text: 'one', digest: digestOf('one'), author: 'node:alpha', at: T0, comment: 'installed', parent: null });
  history.prepare(version(2, 'two'), { coordinator: 'alpha', expiresAt: T0 + 30_000 });
  assert.equal(history.current().generation, 1, 'staged is not current');
  history.commit({ generation: 2, digest: digestOf('two') });
  history.close();

  // The bootstrap text of a later start is ignored: the history is the truth.
  const reopened = ConfigHistory.open(path, { bootstrapText: 'edited by hand', bootstrapAuthor: 'node:alpha' });
  t.after(() => reopened.close());
  assert.deepEqual(reopened.current(), version(2, 'two'));
  assert.deepEqual(reopened.list().map((v) => [v.generation, v.text]), [[2, 'two'], [1, 'one']]);
  assert.deepEqual(reopened.list({ limit: 1 }).map((v) => v.generation), [2]);
  assert.equal(reopened.get(1).text, 'one');
  throwsCode(() => reopened.get(7), 'NOT_FOUND', /^generation 7: not in this node's history \(current is 2\)$/);
});

test('generations only grow: prepare takes exactly the next one, built on the current one, with a true digest', (t) => {
  const history = ConfigHistory.open(join(tempDir(t), 'config.db'), { bootstrapText: 'one', bootstrapAuthor: 'x' });
  t.after(() => history.close());
  const stage = { coordinator: 'alpha', expiresAt: T0 };
  throwsCode(() => history.prepare(version(1, 'again'), stage), 'STALE_GENERATION', /^generation 1: this node is already at generation 1$/);
  throwsCode(() => history.prepare(version(3, 'three'), stage), 'BEHIND', /^generation 3 builds on 2, this node is at generation 1/);
  throwsCode(() => history.prepare(version(2, 'two', { parent: 0 }), stage), 'BEHIND', /builds on 0/);
  throwsCode(() => history.prepare(version(2, 'two', { digest: digestOf('other') }), stage), 'DIGEST_MISMATCH', /^generation 2: digest [0-9a-f]{12} is not the sha-256 of its text$/);
  assert.equal(history.staged(0), undefined, 'nothing was staged by a refused prepare');
});

test('one staged version: replaced by a newer prepare, committed only by its own digest, dropped by abort or expiry', (t) => {
  const path = join(tempDir(t), 'config.db');
  const history = ConfigHistory.open(path, { bootstrapText: 'one', bootstrapAuthor: 'x' });
  history.prepare(version(2, 'two'), { coordinator: 'alpha', expiresAt: T0 + 30_000 });
  history.prepare(version(2, 'deux'), { coordinator: 'beta', expiresAt: T0 + 40_000 });
  assert.deepEqual(history.staged(T0), { version: version(2, 'deux'), coordinator: 'beta', expiresAt: T0 + 40_000 });
  throwsCode(() => history.commit({ generation: 2, digest: digestOf('two') }), 'NOT_STAGED', /^commit of generation 2 \([0-9a-f]{12}\): generation 2 \([0-9a-f]{12}\) is staged on this node$/);
  assert.equal(history.abort({ generation: 2, digest: digestOf('two') }), false, 'abort of another version leaves the staged one');
  history.close();

  const reopened = ConfigHistory.open(path, { bootstrapText: 'one', bootstrapAuthor: 'x' });
  t.after(() => reopened.close());
  assert.equal(reopened.staged(T0)?.version.text, 'deux', 'a staged version survives a restart');
  assert.equal(reopened.abort({ generation: 2, digest: digestOf('deux') }), true);
  assert.equal(reopened.staged(T0), undefined);
  throwsCode(() => reopened.commit({ generation: 2, digest: digestOf('deux') }), 'NOT_STAGED', /nothing is staged on this node$/);

  reopened.prepare(version(2, 'two'), { coordinator: 'alpha', expiresAt: T0 + 30_000 });
  assert.notEqual(reopened.staged(T0 + 29_999), undefined);
  assert.equal(reopened.staged(T0 + 30_000), undefined, 'expired');
  throwsCode(() => reopened.commit({ generation: 2, digest: digestOf('two') }), 'NOT_STAGED', /nothing is staged/);
  assert.equal(reopened.current().generation, 1);
});

test('adopt takes newer versions in order and drops a staged version they overtake', (t) => {
  const history = ConfigHistory.open(join(tempDir(t), 'config.db'), { bootstrapText: 'one', bootstrapAuthor: 'x' });
  t.after(() => history.close());
  history.prepare(version(2, 'mine'), { coordinator: 'alpha', expiresAt: T0 + 30_000 });
  throwsCode(() => history.adopt([version(1, 'one')]), 'STALE_GENERATION', /^adopt generation 1: not newer than generation 1$/);
  throwsCode(() => history.adopt([version(3, 'three'), version(2, 'two')]), 'STALE_GENERATION', /adopt generation 2: not newer than generation 3/);
  assert.equal(history.current().generation, 1, 'a refused adoption adopts nothing');
  history.adopt([version(2, 'two'), version(3, 'three')]);
  assert.deepEqual(history.list().map((v) => v.text), ['three', 'two', 'one']);
  assert.equal(history.staged(T0), undefined);
  throwsCode(() => history.adopt([version(4, 'four')], { replaceInstalled: true }), 'CONFLICT', /at generation 3, not its installation generation/);
});

test('a damaged history is refused with HISTORY_DAMAGED, naming the file', (t) => {
  const dir = tempDir(t);
  const garbage = join(dir, 'garbage.db');
  writeFileSync(garbage, 'this is not a database, only text long enough to look like a page header.'.repeat(20));
  throwsCode(() => ConfigHistory.open(garbage, { bootstrapText: 'one', bootstrapAuthor: 'x' }), 'HISTORY_DAMAGED', new RegExp(`^${garbage}: not a readable configuration history \\(SQLITE_NOTADB`));

  // A text changed behind the agent's back no longer matches its digest.
  const tampered = join(dir, 'tampered.db');
  ConfigHistory.open(tampered, { bootstrapText: 'one', bootstrapAuthor: 'x' }).close();
  const db = new Database(tampered);
  db.prepare("UPDATE versions SET text = 'two' WHERE generation = 1").run();
  db.close();
  throwsCode(() => ConfigHistory.open(tampered, { bootstrapText: 'one', bootstrapAuthor: 'x' }), 'HISTORY_DAMAGED', /tampered\.db: generation 1 does not match its digest$/);

  const future = join(dir, 'future.db');
  const newer = new Database(future);
  newer.pragma('user_version = 99');
  newer.close();
  throwsCode(() => ConfigHistory.open(future, { bootstrapText: 'one', bootstrapAuthor: 'x' }), 'HISTORY_DAMAGED', /schema 99 is newer than this agent understands \(1\)/);
});
