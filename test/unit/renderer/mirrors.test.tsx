// The mirrors screen against the fake bridge: both sides' reports merged into one row, a paused mirror's queues
// growing and draining across pushes, the chart gaining points, each command's params and the node it goes to, the
// verify report, isolation of rows from other mirrors' and clusters' pushes, and the Chinese strings.
import '../../support/dom.js';
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { Profiler } from 'react';
import { act, cleanup, fireEvent, render, screen, within } from '@testing-library/react';
import type { CenterNodeView } from '../../../common/ipc/contract.js';
import type { MirrorStatus, MirrorVerifyReport } from '../../../common/model/index.js';
import { App } from '../../../renderer/app/App.js';
import { ConsoleProvider, type ConsoleServices } from '../../../renderer/app/context.js';
import { MirrorRow } from '../../../renderer/app/mirrors/MirrorRow.js';
import { chartGeometry } from '../../../renderer/app/mirrors/MirrorChart.js';
import { commandNode, mergeMirror, mirrorSides } from '../../../renderer/app/mirrors/merge.js';
import { DEFAULT_BRANDING } from '../../../renderer/branding.js';
import { connectBridge } from '../../../renderer/state/bridge.js';
import { goTo } from '../../support/dom.js';
import { FakeBridge, node, settle, snapshot, status, view } from './fake-bridge.js';
import { sourceReport, targetReport } from './mirror-fixtures.js';

afterEach(() => cleanup());

const nodes = [node('alpha'), node('beta')];
const alphaView = (mirrors: MirrorStatus[], state: CenterNodeView['state'] = 'connected'): CenterNodeView =>
  view('alpha', state, snapshot(status('prod', 'alpha', nodes), { mirrors }));
const betaView = (mirrors: MirrorStatus[]): CenterNodeView => view('beta', 'connected', snapshot(status('prod', 'beta', nodes), { mirrors }));

async function setup(alpha: MirrorStatus[], beta: MirrorStatus[]): Promise<{ bridge: FakeBridge; services: ConsoleServices }> {
  const bridge = new FakeBridge();
  bridge.clusters = [{ id: 'prod', name: 'Production', nodes: [alphaView(alpha), betaView(beta)] }];
  // Every push is a sample here: the pushes of a test arrive within the same millisecond.
  const { store, ready } = connectBridge(bridge, { mirrorHistory: { limit: 50, minIntervalMs: 0 } });
  await ready;
  return { bridge, services: { store, bridge, branding: DEFAULT_BRANDING } };
}

async function showMirrors(services: ConsoleServices): Promise<void> {
  goTo('#/clusters/prod/mirrors');
  render(<ConsoleProvider services={services}><App /></ConsoleProvider>);
  await act(settle);
}

const pushAlpha = (bridge: FakeBridge, mirrors: MirrorStatus[], state: CenterNodeView['state'] = 'connected'): void =>
  act(() => bridge.push({ kind: 'node', cluster: 'prod', node: 'alpha', what: 'snapshot', view: alphaView(mirrors, state) }));
const pushBeta = (bridge: FakeBridge, mirrors: MirrorStatus[]): void =>
  act(() => bridge.push({ kind: 'node', cluster: 'prod', node: 'beta', what: 'snapshot', view: betaView(mirrors) }));

const queueOf = (id: string): [string | null, string | null, string | null] => {
  const el = screen.getByTestId(id);
  return [el.getAttribute('data-records'), el.getAttribute('data-bytes'), el.textContent];
};

test('one row per mirror with both sides: nodes, state and reasons, generation, queues, lag, throughput', async () => {
  const { services } = await setup(
    [sourceReport('data', 'alpha', 'beta', {
      state: 'lagging', reasons: ['journal is draining'], generation: 'g7', throughput: 2048, lagSeconds: 3, lagBytes: 4096,
      sourceQueue: { records: 12, bytes: 4096 }, dirtyFiles: 2, maxSendRate: 80 * 1024 * 1024,
      lastSync: { kind: 'diff', startedAt: 1_700_000_000_000, finishedAt: 1_700_000_060_000, files: 40, bytesSent: 1_048_576 },
    })],
    [targetReport('data', 'beta', 'alpha', { state: 'inconsistent', reasons: ['this copy is mid-resync'], generation: 'g6', throughput: 1024 })],
  );
  await showMirrors(services);
  const row = screen.getByTestId('mirror-data');
  assert.equal(screen.getAllByTestId(/^mirror-[a-z]+$/).length, 1, 'the two reports are one row');
  assert.equal(screen.getByTestId('mirror-data-state').getAttribute('data-state'), 'inconsistent', 'the worse side shows');
  assert.equal(screen.getByTestId('mirror-data-state').textContent, 'Inconsistent');
  assert.deepEqual([...within(row).getByTestId('mirror-data-reasons').querySelectorAll('li')].map((li) => li.textContent),
    ['alpha: journal is draining', 'beta: this copy is mid-resync']);
  assert.equal(screen.getByTestId('mirror-data-source').textContent, 'alpha');
  assert.equal(screen.getByTestId('mirror-data-target').textContent, 'beta');
  assert.equal(screen.getByTestId('mirror-data-generation').textContent, 'g7 on the source, g6 on the target');
  assert.deepEqual(queueOf('mirror-data-source-queue'), ['12', '4096', '12 records, 4.0 KiB']);
  assert.equal(screen.getByTestId('mirror-data-lag').textContent, '3 s behind, 4.0 KiB');
  assert.equal(screen.getByTestId('mirror-data-throughput').textContent, 'sent 2.0 KiB/s, applied 1.0 KiB/s (limited to 80.0 MiB/s)');
  assert.equal(screen.getByTestId('mirror-data-dirty').textContent, '2');
  assert.match(screen.getByTestId('mirror-data-last-sync').textContent ?? '', /^Differential mirror .* to .*: 40 files, 1\.0 MiB sent$/);
  assert.equal(screen.queryByTestId('mirror-data-background-listing'), null, 'shown only while the target lists its copy');
});

test('while the target lists its copy in the background, the row says so with the files listed so far, in either language', async () => {
  const { bridge, services } = await setup([sourceReport('data', 'alpha', 'beta')],
    [targetReport('data', 'beta', 'alpha', { backgroundListing: { startedAt: 1_700_000_000_000, files: 1200 } })]);
  await showMirrors(services);
  const shown = screen.getByTestId('mirror-data-background-listing');
  assert.equal(shown.getAttribute('data-files'), '1200');
  assert.match(shown.textContent ?? '', /^listing its copy since .+: 1200 files so far$/);
  act(() => services.store.getState().setLanguage('zh-CN'));
  assert.match(screen.getByTestId('mirror-data-background-listing').textContent ?? '', /^自 .+ 起在后台扫描副本：已完成 1200 个文件$/);
  pushBeta(bridge, [targetReport('data', 'beta', 'alpha', { backgroundListing: { startedAt: 1_700_000_000_000, files: 2000, finishedAt: 1_700_000_009_000 } })]);
  assert.equal(screen.queryByTestId('mirror-data-background-listing'), null, 'gone once it is done');
});

test('a paused mirror: the journal grows then drains across pushes, the spool is the target\'s own, the chart gets points', async () => {
  const { bridge, services } = await setup([sourceReport('data', 'alpha', 'beta')], [targetReport('data', 'beta', 'alpha')]);
  await showMirrors(services);
  assert.equal(screen.getByTestId('mirror-data-state').getAttribute('data-state'), 'in-sync');
  const chart = screen.getByTestId('mirror-data-chart');
  assert.equal(chart.tagName.toLowerCase(), 'svg');
  assert.equal(chart.getAttribute('data-samples'), '1', 'the loaded list is the first point');

  const paused = (records: number, bytes: number): MirrorStatus => sourceReport('data', 'alpha', 'beta', {
    state: 'paused', pausedSource: true, reasons: ['transmission paused by the operator'], sourceQueue: { records, bytes }, lagBytes: bytes, lagSeconds: records,
  });
  const seen: (string | null)[][] = [];
  for (const [records, bytes] of [[10, 1000], [250, 64_000], [4000, 2_000_000]] as const) {
    pushAlpha(bridge, [paused(records, bytes)]);
    seen.push(queueOf('mirror-data-source-queue').slice(0, 2));
  }
  assert.deepEqual([...seen], [['10', '1000'], ['250', '64000'], ['4000', '2000000']]);
  assert.equal(screen.getByTestId('mirror-data-state').getAttribute('data-state'), 'paused');
  assert.equal(screen.getByTestId('mirror-data-paused').getAttribute('data-paused-source'), 'true');
  assert.equal(screen.getByTestId('mirror-data-paused').textContent, 'Transmission (source)');
  assert.equal(screen.getByTestId('mirror-data-source-queue').textContent, '4000 records, 1.9 MiB');

  // Resumed: it drains.
  for (const [records, bytes] of [[1200, 600_000], [0, 0]] as const) {
    pushAlpha(bridge, [sourceReport('data', 'alpha', 'beta', { state: records > 0 ? 'lagging' : 'in-sync', sourceQueue: { records, bytes }, throughput: 500_000 })]);
    seen.push(queueOf('mirror-data-source-queue').slice(0, 2));
  }
  assert.deepEqual(seen.slice(3), [['1200', '600000'], ['0', '0']]);
  assert.equal(screen.getByTestId('mirror-data-state').getAttribute('data-state'), 'in-sync');

  // Target writes paused: the target's own spool report wins over what the source last heard.
  pushAlpha(bridge, [sourceReport('data', 'alpha', 'beta', { state: 'paused', pausedTarget: true, targetQueue: { records: 3, bytes: 300 } })]);
  pushBeta(bridge, [targetReport('data', 'beta', 'alpha', { state: 'paused', pausedTarget: true, targetQueue: { records: 8, bytes: 800 } })]);
  assert.deepEqual(queueOf('mirror-data-target-queue'), ['8', '800', '8 records, 800 B']);
  assert.equal(screen.getByTestId('mirror-data-paused').getAttribute('data-paused-target'), 'true');

  // 1 loaded + 5 source pushes + 1 more source push; the target's push is not sampled while the source reports.
  const after = screen.getByTestId('mirror-data-chart');
  assert.equal(after.getAttribute('data-samples'), '7');
  const throughput = after.querySelector('[data-series="throughput"]')!;
  assert.equal(throughput.getAttribute('data-points'), '7');
  assert.equal(throughput.getAttribute('points')!.split(' ').length, 7);
  assert.equal(after.querySelector('[data-series="queue"]')!.getAttribute('points')!.split(' ').length, 7);
});

test('each command is confirmed and sent with its params to the source; pause-target and resume go to the target when the source is unreachable', async () => {
  const { bridge, services } = await setup([sourceReport('data', 'alpha', 'beta')], [targetReport('data', 'beta', 'alpha')]);
  bridge.answer('agent.call', (p) => ({ ok: true, result: { status: [], message: `${String((p.params as { action: string }).action)} done` } as never }));
  await showMirrors(services);
  const run = async (command: string): Promise<void> => {
    fireEvent.click(screen.getByTestId(`mirror-data-${command}-button`));
    assert.match(screen.getByTestId(`mirror-data-${command}-confirm`).textContent ?? '', /data/);
    await act(async () => { fireEvent.click(screen.getByTestId(`mirror-data-${command}-yes`)); await settle(); });
  };
  const commands = ['full', 'diff', 'diff-thorough', 'pause-target', 'pause-source', 'resume', 'verify'] as const;
  for (const c of commands) await run(c);
  assert.match(screen.getByTestId('mirror-data-diff-thorough-button').textContent ?? '', /^Thorough differential mirror$/);
  assert.deepEqual(bridge.callsOf('agent.call'), commands.map((command) => ({
    cluster: 'prod', node: 'alpha', method: 'mirror', params: command === 'diff-thorough' ? { action: 'diff', name: 'data', thorough: true } : { action: command, name: 'data' },
  })));
  assert.equal(screen.getByTestId('mirror-data-pause-source-result').textContent, 'pause-source done');
  assert.equal(screen.queryByTestId('mirror-data-full-confirm'), null, 'no confirmation left open');

  // The source's agent is not connected to the center: its target can still pause and resume its own writes.
  pushAlpha(bridge, [sourceReport('data', 'alpha', 'beta')], 'reconnecting');
  const before = bridge.callsOf('agent.call').length;
  for (const c of ['pause-target', 'resume', 'full'] as const) await run(c);
  assert.deepEqual(bridge.callsOf('agent.call').slice(before).map((c) => [c.node, (c.params as { action: string }).action]),
    [['beta', 'pause-target'], ['beta', 'resume'], ['alpha', 'full']]);
});

test('verify shows what differs, or that the copies are identical; a refused verify shows the agent\'s error', async () => {
  const { bridge, services } = await setup([sourceReport('data', 'alpha', 'beta')], [targetReport('data', 'beta', 'alpha')]);
  const differs: MirrorVerifyReport = {
    id: 'data', equal: false, missing: ['a.txt'], extra: ['stale.log'], contentDiffers: Array.from({ length: 25 }, (_, i) => `f${i}`),
    metadataDiffers: [{ path: 'b.txt', fields: ['mode', 'mtime'] }],
  };
  let report: MirrorVerifyReport | 'refused' = differs;
  bridge.answer('agent.call', () => (report === 'refused'
    ? { ok: false, error: { code: 'CONFLICT', message: 'data: verify runs on the source' } }
    : { ok: true, result: { status: [], verify: report } as never }));
  await showMirrors(services);
  const verify = async (): Promise<void> => {
    fireEvent.click(screen.getByTestId('mirror-data-verify-button'));
    await act(async () => { fireEvent.click(screen.getByTestId('mirror-data-verify-yes')); await settle(); });
  };
  await verify();
  const result = screen.getByTestId('mirror-data-verify-result');
  assert.equal(result.querySelector('[data-equal]')?.getAttribute('data-equal'), 'false');
  assert.match(result.textContent ?? '', /28 paths differ between alpha and beta/);
  assert.equal(result.querySelector('[data-kind="missing"] li')?.textContent, 'a.txt');
  assert.equal(result.querySelector('[data-kind="extra"] li')?.textContent, 'stale.log');
  assert.equal(result.querySelector('[data-kind="metadata"] li')?.textContent, 'b.txt (mode, mtime)');
  const content = [...result.querySelectorAll('[data-kind="content"] li')].map((li) => li.textContent);
  assert.equal(content.length, 21, '20 paths and a line for the rest');
  assert.equal(content[20], '… and 5 more');

  report = { id: 'data', equal: true, missing: [], extra: [], contentDiffers: [], metadataDiffers: [] };
  await verify();
  assert.equal(screen.getByTestId('mirror-data-verify-result').textContent, 'Verified: the copies on alpha and beta are identical.');

  report = 'refused';
  await verify();
  assert.equal(screen.getByTestId('mirror-data-verify-result').textContent, 'CONFLICT: data: verify runs on the source');
});

test('a push about one mirror repaints its row only; a push about another cluster repaints nothing', async () => {
  const bridge = new FakeBridge();
  const gammaView = (m: MirrorStatus): CenterNodeView => view('gamma', 'connected', snapshot(status('prod', 'gamma', nodes), { mirrors: [m] }));
  bridge.clusters = [
    { id: 'prod', name: 'Production', nodes: [alphaView([sourceReport('a', 'alpha', 'beta')]), gammaView(sourceReport('b', 'gamma', 'delta'))] },
    { id: 'other', name: 'Other', nodes: [view('x1', 'connected', snapshot(status('other', 'x1', [node('x1')]), { mirrors: [sourceReport('a', 'x1', 'x2')] }))] },
  ];
  const { store, ready } = connectBridge(bridge, { mirrorHistory: { limit: 50, minIntervalMs: 0 } });
  await ready;
  const renders = { a: 0, b: 0 };
  render(
    <ConsoleProvider services={{ store, bridge, branding: DEFAULT_BRANDING }}>
      <Profiler id="a" onRender={() => { renders.a += 1; }}><MirrorRow cluster="prod" id="a" /></Profiler>
      <Profiler id="b" onRender={() => { renders.b += 1; }}><MirrorRow cluster="prod" id="b" /></Profiler>
    </ConsoleProvider>,
  );
  await act(settle);
  const initial = { ...renders };
  pushAlpha(bridge, [sourceReport('a', 'alpha', 'beta', { state: 'lagging', sourceQueue: { records: 1, bytes: 10 } })]);
  assert.equal(screen.getByTestId('mirror-a-state').getAttribute('data-state'), 'lagging');
  assert.ok(renders.a > initial.a, 'mirror a repainted');
  assert.equal(renders.b, initial.b, 'mirror b did not');

  const afterA = { ...renders };
  act(() => bridge.push({ kind: 'node', cluster: 'other', node: 'x1', what: 'snapshot',
    view: view('x1', 'connected', snapshot(status('other', 'x1', [node('x1')]), { mirrors: [sourceReport('a', 'x1', 'x2', { state: 'paused' })] })) }));
  assert.deepEqual(renders, afterA, 'the other cluster\'s mirror "a" is not this one');
  assert.equal(screen.getByTestId('mirror-a-state').getAttribute('data-state'), 'lagging');
});

test('in Chinese: states, fields, queues, commands and confirmations', async () => {
  const { services } = await setup(
    [sourceReport('data', 'alpha', 'beta', { state: 'paused', pausedSource: true, sourceQueue: { records: 7, bytes: 2048 }, lagSeconds: 90 })],
    [targetReport('data', 'beta', 'alpha')],
  );
  services.store.getState().setLanguage('zh-CN');
  await showMirrors(services);
  assert.equal(screen.getByTestId('mirror-data-state').textContent, '已暂停');
  assert.equal(screen.getByTestId('mirror-data-source-queue').textContent, '7 条记录，2.0 KiB');
  assert.equal(screen.getByTestId('mirror-data-paused').textContent, '传输（源端）');
  assert.equal(screen.getByTestId('mirror-data-lag').textContent, '落后 1 分 30 秒，0 B');
  assert.equal(screen.getByTestId('mirror-data-verify-button').textContent, '校验');
  fireEvent.click(screen.getByTestId('mirror-data-pause-target-button'));
  assert.equal(screen.getByTestId('mirror-data-pause-target-confirm').textContent?.startsWith('暂停 beta 上 data 的写入？'), true);
  assert.ok(screen.getByText('data 的镜像'.replace('data', 'Production')));
});

test('the chart\'s geometry: time across the width, each panel scaled to its own maximum, a lone sample at the right edge', () => {
  const s = (at: number, throughput: number, lagBytes: number, sourceQueueBytes: number): Parameters<typeof chartGeometry>[0][number] =>
    ({ at, throughput, lagBytes, sourceQueueBytes, targetQueueBytes: 0 });
  const g = chartGeometry([s(0, 0, 0, 0), s(1000, 50, 100, 400), s(4000, 100, 200, 0)]);
  assert.equal(g.spanMs, 4000);
  assert.equal(g.throughput.points, '0,60 150,30 600,0');
  assert.equal(g.queue.max, 400);
  assert.equal(g.lag.points, '0,132 150,117 600,102', 'the lower panel, on the bytes scale shared with the queue');
  assert.equal(g.queue.points, '0,132 150,72 600,132');
  assert.equal(chartGeometry([s(7, 0, 0, 0)]).throughput.points, '600,60');
});

test('a mirror whose source does not report: the nodes come from the target\'s report, the target takes pause-target and resume', () => {
  const beta = betaView([targetReport('data', 'beta', 'alpha', { state: 'paused', pausedTarget: true, targetQueue: { records: 4, bytes: 40 }, throughput: 9 })]);
  const m = mergeMirror(mirrorSides([beta], 'data'))!;
  assert.deepEqual([m.sourceNode, m.targetNode, m.state, m.pausedTarget, m.targetQueue?.records, m.sourceQueue, m.sentPerSecond, m.appliedPerSecond],
    ['alpha', 'beta', 'paused', true, 4, undefined, undefined, 9]);
  assert.deepEqual(['pause-target', 'resume', 'verify'].map((c) => commandNode(c as 'verify', m, false)), ['beta', 'beta', 'alpha']);
  assert.deepEqual(['pause-target', 'resume'].map((c) => commandNode(c as 'resume', m, true)), ['alpha', 'alpha']);
  assert.equal(mergeMirror({ id: 'gone' }), undefined);
});
