// `vigil mirror status` as the terminal shows it: one row per mirror, paused sides and the target's background
// listing in its state while it runs, a source's bandwidth limit beside its rate, and the reasons below.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { MirrorStatus } from '../../../common/model/index.js';
import { formatMirrors } from '../../../agent/cli/format.js';

const target = (over: Partial<MirrorStatus> = {}): MirrorStatus => ({
  id: 'data', group: 'files', node: 'beta', peer: 'alpha', role: 'target', state: 'in-sync', reasons: [], generation: 'g1', connected: false,
  pausedSource: false, pausedTarget: false, targetQueue: { records: 3, bytes: 2048 }, dirtyFiles: 0, lagBytes: 0, lagSeconds: 0, throughput: 0, ...over,
});

const stateOf = (text: string): string => {
  const [header, row] = text.split('\n');
  const at = header!.indexOf('STATE');
  return row!.slice(at, header!.indexOf('SOURCE QUEUE')).trim();
};

test('a target listing its copy in the background says so in its state, with the files so far; once done, no more', () => {
  assert.equal(stateOf(formatMirrors([target()])), 'in-sync');
  const listing = formatMirrors([target({ backgroundListing: { startedAt: 1_700_000_000_000, files: 1200 } })]);
  assert.equal(stateOf(listing), 'in-sync, listing its copy (1200 files)');
  assert.match(listing.split('\n')[1]!, /3 \/ 2\.0 KiB/);
  const paused = formatMirrors([target({ pausedTarget: true, state: 'paused', backgroundListing: { startedAt: 1_700_000_000_000, files: 5 } })]);
  assert.equal(stateOf(paused), 'paused (target paused), listing its copy (5 files)');
  const done = formatMirrors([target({ backgroundListing: { startedAt: 1_700_000_000_000, files: 2000, finishedAt: 1_700_000_009_000 } })]);
  assert.equal(stateOf(done), 'in-sync');
});

test('no mirror on the node, and the reasons of each below the table', () => {
  assert.equal(formatMirrors([]), 'no mirror on this node');
  const text = formatMirrors([target({ state: 'inconsistent', reasons: ['this copy is mid-resync'] })]);
  assert.match(text, /\n\nwhy:\n {2}data: this copy is mid-resync$/);
});

test('a source with a bandwidth limit shows it beside its rate', () => {
  const source = (over: Partial<MirrorStatus>): MirrorStatus => ({ ...target(), role: 'source', node: 'alpha', peer: 'beta', sourceQueue: { records: 0, bytes: 0 }, throughput: 1024 * 1024, ...over });
  const rateOf = (text: string): string => {
    const [header, row] = text.split('\n');
    return row!.slice(header!.indexOf('RATE'), header!.indexOf('DIRTY')).trim();
  };
  assert.equal(rateOf(formatMirrors([source({})])), '1.0 MiB/s');
  assert.equal(rateOf(formatMirrors([source({ maxSendRate: 80 * 1024 * 1024 })])), '1.0 MiB/s (max 80.0 MiB/s)');
});
