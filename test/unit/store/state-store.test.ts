import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StateStore } from '../../../agent/store/state-store.js';

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
