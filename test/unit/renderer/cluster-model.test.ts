// The cluster screen's pure parts: where commands go, a group's state in one word, the topology's geometry (both
// halves of a link meet, parallel links spread apart), and a group's history without duplicates.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CenterNodeView } from '../../../common/ipc/contract.js';
import type { GroupSummary, LinkStatus, ResourceState } from '../../../common/model/index.js';
import { methodsFor } from '../../../common/protocol/api.js';
import { groupHistory, topologyOf } from '../../../renderer/app/cluster/cluster-model.js';
import { commandTarget, permission } from '../../../renderer/app/cluster/command-target.js';
import { groupState, operationOutcome } from '../../../renderer/app/cluster/group-state.js';
import { layoutNodes, linkHalves } from '../../../renderer/app/cluster/topology-layout.js';
import { buildAddRequest, EMPTY_CLUSTER, EMPTY_NODE } from '../../../renderer/app/overview/add-cluster-request.js';
import type { EventEntry } from '../../../renderer/state/store.js';
import { T0, event, node, snapshot, status, view } from './fake-bridge.js';

const link = (name: string, peer: string, up = true): LinkStatus =>
  ({ link: name, kind: 'udp', peer, up, lossPercent: 0, rejected: { badMac: 0, replay: 0, foreign: 0, malformed: 0 } });

test('commands go to the connected node with the freshest status; the welcome decides what our role may call', () => {
  const at = (id: string, state: CenterNodeView['state'], t: number): CenterNodeView => view(id, state, snapshot(status('c', id, [node(id)], [], t)));
  assert.equal(commandTarget([at('a', 'connected', T0), at('b', 'connected', T0 + 5), at('c', 'reconnecting', T0 + 9)])?.node, 'b');
  assert.equal(commandTarget([view('a', 'connected'), at('b', 'refused', T0)])?.node, 'a', 'connected without a status yet still takes commands');
  assert.equal(commandTarget([at('a', 'closed', T0)]), undefined);
  assert.deepEqual(permission(undefined, 'cleanup'), { allowed: false, reason: 'no-node' });
  const welcome = (role: 'viewer' | 'operator') => ({
    type: 'welcome' as const, version: 1, node: 'a', cluster: 'c', agentVersion: '0', principal: { name: 'u', role, via: 'token' as const }, methods: methodsFor(role), capabilities: [],
  });
  assert.deepEqual(permission({ ...view('a', 'connected'), welcome: welcome('viewer') }, 'cleanup'), { allowed: false, reason: 'role', role: 'viewer' });
  assert.deepEqual(permission({ ...view('a', 'connected'), welcome: welcome('operator') }, 'cleanup'), { allowed: true });
});

test('a group\'s state: running on one node, stopped (by an operator or not), failed, or moving', () => {
  const g = (runningOn: string[], states: Record<string, ResourceState>, extra: Partial<GroupSummary> = {}): GroupSummary => ({
    id: 'web', target: null, reasons: [], runningOn, switchback: 'auto', failures: {}, resources: [{ id: 'vip', kind: 'vip', states }], ...extra,
  });
  assert.deepEqual(groupState(g(['a'], { a: 'running', b: 'stopped' })), { kind: 'running', node: 'a' });
  assert.deepEqual(groupState(g([], { a: 'stopped', b: 'stopped' })), { kind: 'stopped', byOperator: false });
  assert.deepEqual(groupState(g([], { a: 'stopped' }, { stopped: true })), { kind: 'stopped', byOperator: true });
  assert.deepEqual(groupState(g(['a'], { a: 'running' }, { stopped: true })), { kind: 'stopping', on: ['a'] }, 'being stopped');
  assert.deepEqual(groupState(g(['a', 'b'], { a: 'stopping', b: 'starting' })), { kind: 'moving', from: ['a', 'b'], to: null });
  assert.deepEqual(groupState(g(['b'], { a: 'stop_failed', b: 'failed' })), { kind: 'failed', nodes: ['a', 'b'] });
  assert.deepEqual(groupState(g(['b'], { a: 'stopped', b: 'starting' }, { target: 'b' })), { kind: 'moving', from: ['b'], to: 'b' });
  assert.deepEqual(groupState(g(['a'], { a: 'running' }, { target: 'b' })), { kind: 'moving', from: ['a'], to: 'b' }, 'a switchover asked');
});

test('both halves of a link meet in the middle; parallel links of a pair are spread apart the same way from both ends', () => {
  const at = layoutNodes(['a', 'b']);
  const halves = linkHalves(new Map([['a', [link('l1', 'b'), link('l2', 'b')]], ['b', [link('l2', 'a'), link('l1', 'a', false)]]]), at);
  assert.equal(halves.length, 4);
  const half = (n: string, l: string) => halves.find((h) => h.node === n && h.status.link === l)!;
  for (const l of ['l1', 'l2']) assert.deepEqual(half('a', l).to, half('b', l).to, `${l}: the halves meet`);
  assert.notDeepEqual(half('a', 'l1').to, half('a', 'l2').to, 'two links, two lines');
  assert.equal(half('b', 'l1').status.up, false, 'each half keeps its own end\'s state');
  assert.deepEqual(linkHalves(new Map([['a', [link('l1', 'ghost')]]]), at), [], 'a peer without a position is left out');
  const three = layoutNodes(['a', 'b', 'c']);
  assert.equal(new Set([...three.values()].map((p) => `${p.x},${p.y}`)).size, 3);
});

test('the topology takes each node\'s links from its own report, and lists the groups each node runs', () => {
  const web: GroupSummary = { id: 'web', target: null, reasons: [], runningOn: ['b'], switchback: 'auto', failures: {}, resources: [] };
  const fromA = status('c', 'a', [node('a', true, [link('l1', 'b')]), node('b', true, [link('l1', 'a')])], [web], T0 + 10);
  const fromB = status('c', 'b', [node('a'), node('b', true, [link('l1', 'a', false)])], [web], T0);
  const topo = topologyOf([view('a', 'connected', snapshot(fromA)), view('b', 'connected', snapshot(fromB)), view('x', 'connecting')], fromA);
  assert.deepEqual(topo.nodes.map((n) => [n.id, n.alive, n.reporting, n.runs]), [['a', true, true, []], ['b', true, false, ['web']], ['x', false, false, []]]);
  assert.equal(topo.links.get('b')![0]!.up, false, 'b\'s own view, not a\'s report of it');
  assert.deepEqual(topologyOf([view('a', 'connecting')], undefined).nodes.map((n) => n.alive), [undefined]);
});

test('the topology reads a node\'s links where an agent reports them: under each peer\'s entry, its own entry empty', () => {
  // The shape of agent/core/status.ts: in a's report, b's entry holds a's links to b.
  const fromA = status('c', 'a', [node('a'), node('b', true, [link('l1', 'b'), link('l2', 'b', false)])], [], T0);
  const fromB = status('c', 'b', [node('a', true, [link('l1', 'a'), link('l2', 'a')]), node('b')], [], T0);
  const topo = topologyOf([view('a', 'connected', snapshot(fromA)), view('b', 'connected', snapshot(fromB))], fromA);
  const halves = linkHalves(topo.links, layoutNodes(['a', 'b']));
  assert.deepEqual(halves.map((h) => `${h.node}-${h.status.peer}-${h.status.link}:${h.status.up ? 'up' : 'down'}`).sort(),
    ['a-b-l1:up', 'a-b-l2:down', 'b-a-l1:up', 'b-a-l2:up']);
});

test('a group\'s history: its own events, newest first, each happening once however many agents logged it', () => {
  const e = (reportedBy: string, id: number, at: number, group?: string): EventEntry => {
    const ev = { ...event(id, 'b', 'failover', at), ...(group !== undefined ? { group } : {}) };
    return { key: `${reportedBy}#${id}`, cluster: 'c', reportedBy, event: ev };
  };
  const events = [e('a', 3, T0 + 3, 'web'), e('b', 7, T0 + 3, 'web'), e('a', 2, T0 + 2), e('a', 1, T0 + 1, 'web')];
  assert.deepEqual(groupHistory(events, 'c', 'web', 5).map((x) => x.key), ['a#3', 'a#1']);
  assert.deepEqual(groupHistory(events, 'c', 'web', 1).map((x) => x.key), ['a#3']);
  assert.deepEqual(groupHistory(events, 'other', 'web', 5), []);
});

test('the add form\'s request leaves empty optional fields out and refuses a port that is not a number', () => {
  const built = buildAddRequest({ ...EMPTY_CLUSTER, id: ' c1 ', ca: 'PEM', nodes: [{ ...EMPTY_NODE, id: 'a', url: 'wss://a:1', ssh: true, sshHost: 'h', sshUser: 'u', sshPort: '' }] });
  assert.deepEqual(built, { ok: true, request: { id: 'c1', name: 'c1', nodes: [{ id: 'a', url: 'wss://a:1', via: { host: 'h', port: 22, username: 'u' } }], credentials: { ca: 'PEM\n' } } });
  for (const port of ['0', '65536', '2e3', '-1', 'x']) {
    assert.deepEqual(buildAddRequest({ ...EMPTY_CLUSTER, nodes: [EMPTY_NODE, { ...EMPTY_NODE, ssh: true, sshPort: port }] }), { ok: false, field: 'nodes.1.via.port', node: '2' }, port);
  }
});

test('a last operation reads as a success, a standby\'s normal "not running" probe, or a failure', () => {
  const op = (operation: 'probe' | 'monitor' | 'start' | 'stop', rc: number) => operationOutcome({ operation, rc, at: 0, durationMs: 1, message: '' });
  assert.equal(op('start', 0), 'ok');
  assert.equal(op('probe', 7), 'normal');
  assert.equal(op('monitor', 7), 'failed', 'a monitor finding it gone: the resource died');
  assert.equal(op('start', 1), 'failed');
  assert.equal(op('probe', 1), 'failed');
  assert.equal(op('stop', -1), 'failed');
});
