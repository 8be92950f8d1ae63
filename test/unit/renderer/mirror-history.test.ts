// The console's mirror history: bounded samples per mirror taken from the source's reports as the center pushes
// them, a burst folded into one point, the target's report used only while the source is silent, and the store
// keeping other clusters' histories as they were (===) so their charts do not repaint.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  appendSample, applyChange, applyClusterList, checkHistoryPolicy, createConsoleStore, isSampledSide, recordMirrorReports,
  type MirrorSample,
} from '../../../renderer/state/index.js';
import { T0, node, snapshot, status, view } from './fake-bridge.js';
import { sourceReport, targetReport } from './mirror-fixtures.js';

const policy = { limit: 3, minIntervalMs: 500 };
const sample = (at: number, throughput = 0): MirrorSample => ({ at, throughput, lagBytes: 0, sourceQueueBytes: 0, targetQueueBytes: 0 });

test('appendSample keeps the newest `limit`, folds reports closer than the interval, ignores late ones', () => {
  let h: readonly MirrorSample[] = [];
  for (let i = 0; i < 5; i++) h = appendSample(h, sample(T0 + i * 1000, i), policy);
  assert.deepEqual(h.map((s) => s.throughput), [2, 3, 4], 'the oldest went first');
  const folded = appendSample(h, sample(T0 + 4200, 40), policy);
  assert.deepEqual(folded.map((s) => [s.at - T0, s.throughput]), [[2000, 2], [3000, 3], [4200, 40]], 'replaced the last, not added');
  assert.equal(appendSample(folded, sample(T0 + 1000, 9), policy), folded, 'a report older than the last is dropped');
});

test('the policy is checked, naming the field', () => {
  assert.throws(() => checkHistoryPolicy({ limit: 1, minIntervalMs: 0 }), /mirrorHistory\.limit/);
  assert.throws(() => checkHistoryPolicy({ limit: 10, minIntervalMs: -1 }), /mirrorHistory\.minIntervalMs/);
  assert.throws(() => createConsoleStore({ mirrorHistory: { limit: 2.5, minIntervalMs: 0 } }), /mirrorHistory\.limit/);
});

test('the source is the sampled side; the target only while no node reports the source', () => {
  const src = sourceReport('m', 'alpha', 'beta');
  const tgt = targetReport('m', 'beta', 'alpha');
  const both = [view('alpha', 'connected', snapshot(status('c', 'alpha', [node('alpha')]), { mirrors: [src] })),
    view('beta', 'connected', snapshot(status('c', 'beta', [node('beta')]), { mirrors: [tgt] }))];
  assert.equal(isSampledSide(src, both), true);
  assert.equal(isSampledSide(tgt, both), false);
  assert.equal(isSampledSide(tgt, [both[1]!]), true);
  const diverged = sourceReport('m', 'beta', 'alpha', { state: 'diverged' });
  const twoSources = [both[0]!, view('beta', 'connected', snapshot(status('c', 'beta', [node('beta')]), { mirrors: [diverged] }))];
  assert.equal(isSampledSide(diverged, twoSources), false, 'diverged: only the first source in node order');
  assert.equal(isSampledSide(src, twoSources), true);

  const h0 = recordMirrorReports(undefined, both[1]!, both, T0, policy);
  assert.equal(h0, undefined, 'nothing recorded from the target while the source reports');
  const h1 = recordMirrorReports(h0, both[0]!, both, T0, policy);
  assert.deepEqual(h1, { m: [{ at: T0, throughput: 0, lagBytes: 0, sourceQueueBytes: 0, targetQueueBytes: 0 }] });
});

test('the store samples each push of a source, keeps the other cluster\'s history identical, and drops a removed cluster\'s', () => {
  const store = createConsoleStore({ mirrorHistory: { limit: 100, minIntervalMs: 500 } });
  const alpha = (over: Parameters<typeof sourceReport>[3]): ReturnType<typeof view> =>
    view('alpha', 'connected', snapshot(status('c', 'alpha', [node('alpha'), node('beta')]), { mirrors: [sourceReport('m', 'alpha', 'beta', over)] }));
  const other = view('x1', 'connected', snapshot(status('x', 'x1', [node('x1')]), { mirrors: [sourceReport('n', 'x1', 'x2')] }));
  store.setState((s) => applyClusterList(s, [
    { id: 'c', name: 'C', nodes: [alpha({})] }, { id: 'x', name: 'X', nodes: [other] },
  ], undefined, T0));
  const xHistory = store.getState().mirrorHistory.x;
  assert.equal(xHistory?.n?.length, 1, 'the loaded list gives the first point');

  const pushes = [
    { throughput: 1000, sourceQueue: { records: 5, bytes: 5000 } },
    { throughput: 2000, sourceQueue: { records: 9, bytes: 9000 }, lagBytes: 9000 },
    { throughput: 0, sourceQueue: { records: 0, bytes: 0 } },
  ];
  pushes.forEach((over, i) => store.setState((s) => applyChange(s, { kind: 'node', cluster: 'c', node: 'alpha', what: 'snapshot', view: alpha(over) }, T0 + (i + 1) * 1000)));
  const m = store.getState().mirrorHistory.c!.m!;
  assert.deepEqual(m.map((x) => [x.at - T0, x.throughput, x.sourceQueueBytes, x.lagBytes]), [[0, 0, 0, 0], [1000, 1000, 5000, 0], [2000, 2000, 9000, 9000], [3000, 0, 0, 0]]);
  assert.equal(store.getState().mirrorHistory.x, xHistory, 'cluster x\'s history is the same object');

  // A state-only change (the connection) carries no new report: nothing sampled.
  store.setState((s) => applyChange(s, { kind: 'node', cluster: 'c', node: 'alpha', what: 'state', view: { ...alpha({}), state: 'reconnecting' } }, T0 + 9000));
  assert.equal(store.getState().mirrorHistory.c!.m!.length, 4);

  // A reload of the list keeps the history (a reconnect must not blank the chart) and adds the list's point.
  store.setState((s) => applyClusterList(s, [{ id: 'c', name: 'C', nodes: [alpha({})] }, { id: 'x', name: 'X', nodes: [other] }], undefined, T0 + 10_000));
  assert.equal(store.getState().mirrorHistory.c!.m!.length, 5);

  store.setState((s) => applyChange(s, { kind: 'cluster-removed', cluster: 'x' }));
  assert.equal(store.getState().mirrorHistory.x, undefined);
  store.setState((s) => applyClusterList(s, [], undefined, T0 + 11_000));
  assert.deepEqual(store.getState().mirrorHistory, {}, 'a cluster no longer listed loses its history');
});
