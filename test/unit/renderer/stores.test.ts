// The console's stores driven through the one boundary they have, a fake CenterBridge typed by the IPC contract:
// load, pushes, the derived health with its reasons, structural sharing between clusters, bounded filtered events.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connectBridge, describeIssue, filterEvents, selectAlerts, selectFilteredEvents } from '../../../renderer/state/index.js';
import { translator } from '../../../renderer/i18n/index.js';
import type { GroupSummary } from '../../../common/model/index.js';
import { FakeBridge, T0, event, node, settle, snapshot, status, view } from './fake-bridge.js';

const failedGroup: GroupSummary = {
  id: 'web', target: 'alpha', reasons: [], runningOn: ['alpha'], switchback: 'manual', failures: { alpha: 1 },
  resources: [{
    id: 'web-vip', kind: 'vip', states: { alpha: 'failed', beta: 'stopped' },
    lastResult: { operation: 'start', rc: 1, at: T0, durationMs: 12, message: 'ip: RTNETLINK answers: File exists' },
  }],
};

function twoClusters(): FakeBridge {
  const b = new FakeBridge();
  b.clusters = [
    { id: 'a', name: 'Cluster A', nodes: [view('a1', 'connected', snapshot(status('a', 'a1', [node('a1'), node('a2')]))), view('a2', 'connecting')] },
    { id: 'b', name: 'Cluster B', nodes: [view('b1', 'idle')] },
  ];
  return b;
}

test('loads clusters.list: per cluster, per node connection state, last error and snapshot', async () => {
  const b = twoClusters();
  b.clusters[1] = { ...b.clusters[1]!, nodes: [{ ...view('b1', 'refused'), lastError: { code: 'TLS_REJECTED', message: 'certificate signed by an unknown CA' } }] };
  const { store, ready } = connectBridge(b);
  assert.equal(store.getState().loaded, false);
  const r = await ready;
  assert.equal(r.ok, true);
  const s = store.getState();
  assert.deepEqual(s.clusterOrder, ['a', 'b']);
  assert.equal(s.clusters.a!.name, 'Cluster A');
  assert.deepEqual(s.clusters.a!.nodes.map((n) => [n.node, n.state]), [['a1', 'connected'], ['a2', 'connecting']]);
  assert.equal(s.clusters.a!.nodes[0]!.snapshot?.status.cluster, 'a');
  assert.equal(s.clusters.b!.nodes[0]!.lastError?.code, 'TLS_REJECTED');
  // B's only node is unreachable and nothing reported a status: critical (nobody would see a failure), saying why;
  // A has one of its two nodes still connected: only a warning for the other.
  const hb = s.health.b!;
  assert.equal(hb.level, 'critical');
  assert.equal(s.health.a!.issues.find((i) => i.kind === 'unreachable')?.level, 'warning');
  assert.deepEqual(hb.issues.map((i) => i.kind), ['unreachable', 'no-data']);
  assert.equal(hb.issues[0]!.reason, 'TLS_REJECTED: certificate signed by an unknown CA');
});

test('a failed load is kept as loadError, not thrown', async () => {
  const b = new FakeBridge();
  b.invoke = () => Promise.resolve({ ok: false, error: { code: 'INTERNAL', message: 'boom' } });
  const { store, ready } = connectBridge(b);
  await ready;
  assert.equal(store.getState().loadError?.message, 'boom');
  assert.equal(store.getState().loaded, true);
});

test('a cluster added: shown at once, then its name and nodes fetched; removed: gone with its events', async () => {
  const b = twoClusters();
  const { store, ready } = connectBridge(b);
  await ready;
  b.clusters.push({ id: 'c', name: 'Cluster C', nodes: [view('c1', 'idle')] });
  b.push({ kind: 'cluster-added', cluster: 'c' });
  assert.equal(store.getState().clusters.c!.name, 'c', 'a placeholder until the list answers');
  await settle();
  const s = store.getState();
  assert.equal(s.clusters.c!.name, 'Cluster C');
  assert.deepEqual(s.clusterOrder, ['a', 'b', 'c']);
  assert.deepEqual(b.calls.map((c) => c.channel), ['clusters.list', 'clusters.list']);

  b.push({ kind: 'cluster-removed', cluster: 'c' });
  assert.equal(store.getState().clusters.c, undefined);
  assert.equal(store.getState().health.c, undefined);
  assert.deepEqual(store.getState().clusterOrder, ['a', 'b']);
});

test('a node connecting, then its snapshot with a failed resource: the health summary says so with the reason', async () => {
  const b = twoClusters();
  const { store, ready } = connectBridge(b);
  await ready;
  b.push({ kind: 'node', cluster: 'b', node: 'b1', what: 'state', view: view('b1', 'connecting') });
  assert.equal(store.getState().clusters.b!.nodes[0]!.state, 'connecting');

  const snap = snapshot(status('b', 'b1', [node('b1'), node('b2')], [failedGroup], T0 + 5));
  b.push({ kind: 'node', cluster: 'b', node: 'b1', what: 'snapshot', view: view('b1', 'connected', snap) });
  const h = store.getState().health.b!;
  assert.equal(h.level, 'critical');
  assert.equal(h.issues.length, 1);
  const [issue] = h.issues;
  assert.equal(issue!.kind, 'resource-failed');
  assert.equal(issue!.node, 'alpha');
  assert.equal(issue!.reason, 'start rc=1: ip: RTNETLINK answers: File exists');
  assert.equal(describeIssue(issue!, translator('en')), 'Resource web-vip (web) failed on alpha');
  assert.equal(describeIssue(issue!, translator('zh-CN')), '资源 web-vip（web）在节点 alpha 上故障');
});

test('health: node down, link down, mirror not in sync and unacknowledged critical alert, worst first', async () => {
  const b = new FakeBridge();
  const st = status('h', 'h1', [
    node('h1', true, [
      { link: 'lan', kind: 'udp', peer: 'h2', up: false, lossPercent: 100, rejected: { badMac: 0, replay: 0, foreign: 0, malformed: 0 } },
      { link: 'lan', kind: 'udp', peer: 'h3', up: false, lossPercent: 100, rejected: { badMac: 0, replay: 0, foreign: 0, malformed: 0 } },
    ]),
    node('h2'), node('h3', false),
  ]);
  const crit = event(7, 'h1', 'resource-failed', T0, 'critical');
  const snap = snapshot(st, {
    mirrors: [{
      id: 'data', group: 'db', node: 'h1', peer: 'h2', role: 'source', state: 'disconnected', reasons: ['peer h2 unreachable; changes queue on disk'],
      generation: 'g1', connected: false, pausedSource: false, pausedTarget: false, dirtyFiles: 0, lagBytes: 10, lagSeconds: 3, throughput: 0,
    }],
    alerts: [
      { id: 'al1', at: T0, event: crit, suppressed: 0, test: false, channels: [] },
      { id: 'al2', at: T0, event: crit, suppressed: 0, test: false, channels: [], acknowledged: { by: 'ops', at: T0 + 1 } },
    ],
  });
  b.clusters = [{ id: 'h', name: 'H', nodes: [view('h1', 'connected', snap)] }];
  const { store, ready } = connectBridge(b);
  await ready;
  const h = store.getState().health.h!;
  assert.equal(h.level, 'critical');
  assert.deepEqual(h.issues.map((i) => [i.kind, i.level]), [
    ['node-down', 'critical'], ['alert', 'critical'], ['link-down', 'warning'], ['mirror', 'warning'],
  ], 'the link to h3 is covered by h3 being down; the acknowledged alert is not an issue');
  const t = translator('en');
  assert.deepEqual(h.issues.map((i) => describeIssue(i, t)), [
    'Node h3 is down',
    'Unacknowledged critical alert on h1: resource-failed on h1',
    'Link lan from h1 to h2 is down',
    'Mirror data on h1 is Disconnected',
  ]);
  assert.equal(h.issues[3]!.reason, 'peer h2 unreachable; changes queue on disk');
  assert.deepEqual(selectAlerts(store.getState(), 'h').map((a) => a.id), ['al1', 'al2']);
});

test('a change for cluster B leaves cluster A identical (===), and B node objects it did not touch too', async () => {
  const b = twoClusters();
  b.clusters[1] = { ...b.clusters[1]!, nodes: [view('b1', 'idle'), view('b2', 'idle')] };
  const { store, ready } = connectBridge(b);
  await ready;
  const before = store.getState();
  let notified = 0;
  const unsubscribe = store.subscribe(() => { notified += 1; });

  b.push({ kind: 'node', cluster: 'b', node: 'b1', what: 'state', view: view('b1', 'connecting') });
  const after = store.getState();
  assert.equal(notified, 1);
  assert.equal(after.clusters.a, before.clusters.a, 'cluster A is the same object');
  assert.equal(after.health.a, before.health.a, "cluster A's health summary is the same object");
  assert.notEqual(after.clusters.b, before.clusters.b);
  assert.equal(after.clusters.b!.nodes[1], before.clusters.b!.nodes[1], 'node b2 is the same object');
  assert.equal(after.events, before.events, 'a state change does not touch the events');

  // A status that says the same thing keeps B's health object too (a heartbeat does not repaint the summary).
  const mid = store.getState();
  b.push({ kind: 'node', cluster: 'b', node: 'b1', what: 'state', view: view('b1', 'connecting') });
  assert.equal(store.getState().health.b, mid.health.b);
  unsubscribe();
});

test('events: gathered from snapshots and event pushes once each, newest first, bounded, filtered by node/kind/time', async () => {
  const b = new FakeBridge();
  const st = status('e', 'e1', [node('e1'), node('e2')]);
  const log = [event(3, 'e1', 'link-down', T0 + 3000), event(2, 'e2', 'peer-joined', T0 + 2000), event(1, 'e1', 'agent-started', T0 + 1000)];
  b.clusters = [{ id: 'e', name: 'E', nodes: [view('e1', 'connected', snapshot(st, { events: log }))] }];
  const { store, ready, close } = connectBridge(b, { eventLimit: 5 });
  await ready;
  assert.deepEqual(store.getState().events.map((e) => e.event.id), [3, 2, 1]);

  // Each event push carries the snapshot with the new entry at the front; already seen entries are not repeated.
  let current = log;
  for (let id = 4; id <= 8; id += 1) {
    current = [event(id, id % 2 === 0 ? 'e2' : 'e1', id % 2 === 0 ? 'link-up' : 'link-down', T0 + id * 1000), ...current];
    b.push({ kind: 'node', cluster: 'e', node: 'e1', what: 'event', view: view('e1', 'connected', snapshot(st, { events: current })) });
  }
  const events = store.getState().events;
  assert.deepEqual(events.map((e) => e.event.id), [8, 7, 6, 5, 4], 'bounded to the newest 5');

  assert.deepEqual(filterEvents(events, { node: 'e2' }).map((e) => e.event.id), [8, 6, 4]);
  assert.deepEqual(filterEvents(events, { kinds: ['link-down'] }).map((e) => e.event.id), [7, 5]);
  assert.deepEqual(filterEvents(events, { since: T0 + 5000, until: T0 + 7000 }).map((e) => e.event.id), [7, 6, 5]);
  assert.deepEqual(filterEvents(events, { cluster: 'other' }), []);
  store.getState().setEventFilter({ node: 'e1', kinds: ['link-down'] });
  assert.deepEqual(selectFilteredEvents(store.getState()).map((e) => e.event.id), [7, 5]);

  close();
  assert.equal(b.listenerCount, 0, 'close() stops listening');
  b.push({ kind: 'cluster-removed', cluster: 'e' });
  assert.notEqual(store.getState().clusters.e, undefined, 'pushes after close are ignored');
});

test('prefs: the language is in the store', () => {
  const { store, close } = connectBridge(new FakeBridge(), { language: 'zh-CN' });
  assert.equal(store.getState().language, 'zh-CN');
  store.getState().setLanguage('en');
  assert.equal(store.getState().language, 'en');
  close();
});

test('eventLimit must be a positive integer', () => {
  assert.throws(() => connectBridge(new FakeBridge(), { eventLimit: 0 }), /eventLimit/);
});
