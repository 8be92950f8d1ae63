// The cluster screen against the fake bridge: the topology's nodes and links coloured by state and updated live,
// a failover pushed by the surviving node, each node's connection with its remedies (host key accept, retry),
// inventory, resource groups with their state, resources and history, every command's params (checked by the
// contract's own schema) sent to the freshest connected node, buttons greyed out by the role, both languages, and
// no repaint of the screen for another cluster's change.
import '../../support/dom.js';
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { Profiler, type ReactNode } from 'react';
import { act, cleanup, fireEvent, render, screen, within } from '@testing-library/react';
import type { CenterNodeView } from '../../../common/ipc/contract.js';
import type { ClusterEvent, GroupSummary, LinkStatus, NodeInventory, Role } from '../../../common/model/index.js';
import { methodsFor, type Welcome } from '../../../common/protocol/api.js';
import { ConsoleProvider, type ConsoleServices } from '../../../renderer/app/context.js';
import { ClusterView } from '../../../renderer/app/screens/ClusterView.js';
import { DEFAULT_BRANDING } from '../../../renderer/branding.js';
import { connectBridge } from '../../../renderer/state/bridge.js';
import { FakeBridge, T0, node, settle, snapshot, status, validated, view } from './fake-bridge.js';

afterEach(() => cleanup());

const FINGERPRINT = 'SHA256:' + 'A'.repeat(42) + 'c';

function link(name: string, peer: string, up: boolean, kind: LinkStatus['kind'] = 'udp'): LinkStatus {
  return { link: name, kind, peer, up, lossPercent: up ? 0 : 100, rejected: { badMac: 0, replay: 0, foreign: 0, malformed: 0 } };
}

function web(runningOn: string, extra: Partial<GroupSummary> = {}): GroupSummary {
  const other = runningOn === 'alpha' ? 'beta' : 'alpha';
  return {
    id: 'web', target: null, reasons: [], runningOn: [runningOn], switchback: 'manual', failures: {},
    resources: [
      { id: 'vip', kind: 'vip', states: { [runningOn]: 'running', [other]: 'stopped' }, lastResult: { operation: 'start', rc: 0, at: T0, durationMs: 12, message: 'ok' } },
      { id: 'httpd', kind: 'service', states: { [runningOn]: 'running', [other]: 'stopped' } },
    ],
    ...extra,
  };
}

const db: GroupSummary = {
  id: 'db', target: null, reasons: ['stopped by ops'], runningOn: [], switchback: 'auto', stopped: true, failures: { alpha: 2 },
  resources: [{ id: 'pg', kind: 'service', states: { alpha: 'stopped', beta: 'stopped' }, lastResult: { operation: 'monitor', rc: 7, at: T0, durationMs: 3, message: 'not running' } }],
};

const inventory: NodeInventory = {
  node: 'alpha', at: T0, faults: [],
  nics: [{ name: 'eth0', up: true, carrier: true, mac: '52:54:00:12:34:56', speedMbps: 1000, addresses: [{ address: '10.0.0.1', prefix: 24, family: 'ipv4' }] }],
  volumes: [{ mount: '/data', device: '/dev/md0', fsType: 'xfs', totalBytes: 100 * 2 ** 30, freeBytes: 40 * 2 ** 30, availableBytes: 38 * 2 ** 30, usedPercent: 61.22, readOnly: false, health: 'degraded', healthReasons: ['md0: 1 of 2 mirrors missing'] }],
};

function welcome(nodeId: string, role: Role): Welcome {
  return {
    type: 'welcome', version: 1, node: nodeId, cluster: 'prod', agentVersion: '0.1.0',
    principal: { name: 'ops', role, via: 'token' }, methods: methodsFor(role), capabilities: [],
  };
}

/** alpha's view: both links up, web on alpha, db stopped by an operator. */
function alphaView(at = T0 + 10, links = [link('hb0', 'beta', true), link('hb1', 'beta', true, 'serial')], role: Role = 'operator', events: ClusterEvent[] = []): CenterNodeView {
  const st = status('prod', 'alpha', [node('alpha', true, links), node('beta')], [web('alpha'), db], at);
  return { ...view('alpha', 'connected', { ...snapshot(st, { events }), inventory }), welcome: welcome('alpha', role) };
}

function betaView(at = T0 + 5): CenterNodeView {
  const st = status('prod', 'beta', [node('alpha'), node('beta', true, [link('hb0', 'alpha', true), link('hb1', 'alpha', true, 'serial')])], [web('alpha'), db], at);
  return { ...view('beta', 'connected', snapshot(st)), welcome: welcome('beta', 'operator') };
}

async function setup(nodes: CenterNodeView[] = [alphaView(), betaView()]): Promise<{ bridge: FakeBridge; services: ConsoleServices }> {
  const bridge = new FakeBridge();
  bridge.clusters = [{ id: 'prod', name: 'Production', nodes }, { id: 'dev', name: 'Development', nodes: [] }];
  const { store, ready } = connectBridge(bridge);
  await ready;
  return { bridge, services: { store, bridge, branding: DEFAULT_BRANDING } };
}

const inProvider = (services: ConsoleServices, children: ReactNode): ReactNode => <ConsoleProvider services={services}>{children}</ConsoleProvider>;


async function confirmAction(testId: string): Promise<void> {
  fireEvent.click(screen.getByTestId(`${testId}-button`));
  await act(async () => { fireEvent.click(screen.getByTestId(`${testId}-yes`)); await settle(); });
}

test('the topology shows the nodes, the groups they run, and every link coloured by state, updated live', async () => {
  const { bridge, services } = await setup();
  render(inProvider(services, <ClusterView cluster="prod" />));
  assert.equal(screen.getByTestId('topology').tagName.toLowerCase(), 'svg');
  const alpha = screen.getByTestId('node-alpha');
  assert.equal(alpha.getAttribute('data-state'), 'up');
  assert.equal(alpha.getAttribute('data-active-for'), 'web');
  assert.match(alpha.textContent!, /Up.*Runs: web.*Reporting node/s, 'alpha\'s report (the freshest) is the one shown');
  assert.doesNotMatch(screen.getByTestId('node-beta').textContent!, /Reporting node/);
  assert.equal(screen.getByTestId('node-beta').getAttribute('data-active-for'), '');
  for (const id of ['link-alpha-beta-hb0', 'link-alpha-beta-hb1', 'link-beta-alpha-hb0', 'link-beta-alpha-hb1']) {
    const line = screen.getByTestId(id);
    assert.equal(line.getAttribute('data-state'), 'up', id);
    assert.equal((line as unknown as SVGElement).style.stroke, 'var(--ok)', id);
  }
  assert.equal(screen.getByTestId('link-alpha-beta-hb1').getAttribute('data-kind'), 'serial');
  assert.match(screen.getByTestId('link-alpha-beta-hb0').textContent!, /Link hb0 \(UDP\) from alpha to beta: Up/);

  // alpha stops hearing beta on hb0; beta still hears alpha there: each half shows its own end's view.
  await act(async () => bridge.push({
    kind: 'node', cluster: 'prod', node: 'alpha', what: 'snapshot',
    view: alphaView(T0 + 20, [link('hb0', 'beta', false), link('hb1', 'beta', true, 'serial')]),
  }));
  const hb0 = screen.getByTestId('link-alpha-beta-hb0');
  assert.equal(hb0.getAttribute('data-state'), 'down');
  assert.equal((hb0 as unknown as SVGElement).style.stroke, 'var(--critical)');
  assert.equal(screen.getByTestId('link-beta-alpha-hb0').getAttribute('data-state'), 'up');
  assert.equal(screen.getByTestId('link-alpha-beta-hb1').getAttribute('data-state'), 'up');
  assert.match(screen.getByTestId('cluster-issues').textContent!, /Link hb0 from alpha to beta is down/);
});

test('a failover pushed by the survivor shows alpha down and web running on beta, with the event in its history', async () => {
  const { bridge, services } = await setup();
  render(inProvider(services, <ClusterView cluster="prod" />));
  assert.equal(screen.getByTestId('group-web-node').textContent, 'alpha');
  assert.equal(screen.getByTestId('group-web-state').textContent, 'Running on alpha');

  const failover: ClusterEvent = { id: 9, at: T0 + 100, kind: 'failover', severity: 'warning', node: 'beta', group: 'web', message: 'web taken over from alpha' };
  const placed: ClusterEvent = { id: 8, at: T0 + 90, kind: 'peer-lost', severity: 'critical', node: 'beta', message: 'alpha lost' };
  const st = status('prod', 'beta', [node('alpha', false), node('beta', true, [link('hb0', 'alpha', false), link('hb1', 'alpha', false, 'serial')])], [web('beta'), db], T0 + 100);
  await act(async () => {
    bridge.push({ kind: 'node', cluster: 'prod', node: 'alpha', what: 'state', view: { ...alphaView(), state: 'reconnecting', lastError: { code: 'UNAVAILABLE', message: 'connection lost' } } });
    bridge.push({ kind: 'node', cluster: 'prod', node: 'beta', what: 'event', view: { ...betaView(), ...{ snapshot: snapshot(st, { events: [failover, placed] }), status: st } } });
  });
  assert.equal(screen.getByTestId('node-alpha').getAttribute('data-state'), 'down');
  assert.equal(screen.getByTestId('node-beta').getAttribute('data-active-for'), 'web');
  assert.equal(screen.getByTestId('group-web-node').textContent, 'beta');
  assert.equal(screen.getByTestId('group-web-state').getAttribute('data-state'), 'running');
  assert.equal(screen.getByTestId('group-web-state').textContent, 'Running on beta');
  const history = within(screen.getByTestId('group-web-history')).getAllByRole('listitem');
  assert.equal(history.length, 1, 'only the group\'s own events');
  assert.match(history[0]!.textContent!, /beta: web taken over from alpha/);
  assert.equal(screen.getByTestId('node-conn-alpha').getAttribute('data-state'), 'reconnecting');
  assert.equal(screen.getByTestId('node-error-alpha').textContent, 'UNAVAILABLE: connection lost');
  assert.equal(screen.getByTestId('cluster-command-node').textContent, 'Commands go to beta', 'the only connected node');
});

test('an unknown SSH host key shows its fingerprint and is accepted through hostKey.accept; a changed one only warns', async () => {
  const unknownKey: CenterNodeView = { ...view('beta', 'refused'), viaSsh: true, lastError: { code: 'HOST_KEY_UNKNOWN', message: 'beta.example:22 presented an unknown key', details: { fingerprint: FINGERPRINT } } };
  const changedKey: CenterNodeView = { ...view('gamma', 'refused'), viaSsh: true, lastError: { code: 'HOST_KEY_CHANGED', message: 'gamma.example:22 key changed', details: { known: 'SHA256:old', fingerprint: FINGERPRINT } } };
  const { bridge, services } = await setup([alphaView(), unknownKey, changedKey]);
  bridge.answer('hostKey.accept', validated('hostKey.accept', () => null));
  bridge.answer('connection.retry', validated('connection.retry', () => null));
  render(inProvider(services, <ClusterView cluster="prod" />));

  assert.equal(screen.getByTestId('node-conn-beta').getAttribute('data-state'), 'refused');
  assert.equal(screen.getByTestId('node-error-beta').textContent, 'HOST_KEY_UNKNOWN: beta.example:22 presented an unknown key');
  assert.match(screen.getByTestId('hostkey-accept-beta').textContent!, new RegExp(FINGERPRINT));
  await confirmAction('hostkey-accept-beta');
  assert.deepEqual(bridge.callsOf('hostKey.accept'), [{ cluster: 'prod', node: 'beta', fingerprint: FINGERPRINT }]);
  assert.equal(screen.getByTestId('hostkey-accept-beta-result').textContent, 'Done');

  assert.equal(screen.queryByTestId('hostkey-accept-gamma'), null, 'a changed key is never accepted from here');
  assert.match(screen.getByTestId('hostkey-changed-gamma').textContent!, /has changed \(known SHA256:old, presented SHA256:A+c\)/);
  fireEvent.click(screen.getByTestId('retry-gamma-button'));
  await act(settle);
  assert.deepEqual(bridge.callsOf('connection.retry'), [{ cluster: 'prod', node: 'gamma' }]);
  assert.equal(screen.queryByTestId('retry-alpha'), null, 'a connected node needs no retry');
});

test('each group command sends its params to the node reporting the freshest status, after confirmation', async () => {
  const { bridge, services } = await setup();
  bridge.answer('agent.call', validated('agent.call', () => ({ message: 'accepted' })));
  render(inProvider(services, <ClusterView cluster="prod" />));
  assert.equal(screen.getByTestId('cluster-command-node').textContent, 'Commands go to alpha', 'alpha reported at T0+10, beta at T0+5');

  fireEvent.change(screen.getByTestId('switchover-web-target'), { target: { value: 'beta' } });
  fireEvent.click(screen.getByTestId('switchover-web-button'));
  assert.equal(screen.getByTestId('switchover-web-confirm').textContent!.startsWith('Move group web to node beta?'), true);
  await act(async () => { fireEvent.click(screen.getByTestId('switchover-web-yes')); await settle(); });
  await confirmAction('switchback-web');
  await confirmAction('cleanup-web');
  await confirmAction('group-stop-web');
  await confirmAction('group-start-db');
  await confirmAction('maintenance');
  assert.deepEqual(bridge.callsOf('agent.call'), [
    { cluster: 'prod', node: 'alpha', method: 'switchover', params: { group: 'web', node: 'beta' } },
    { cluster: 'prod', node: 'alpha', method: 'switchback', params: { group: 'web' } },
    { cluster: 'prod', node: 'alpha', method: 'cleanup', params: { group: 'web' } },
    { cluster: 'prod', node: 'alpha', method: 'group.stop', params: { group: 'web' } },
    { cluster: 'prod', node: 'alpha', method: 'group.start', params: { group: 'db' } },
    { cluster: 'prod', node: 'alpha', method: 'maintenance', params: { on: true } },
  ]);
  assert.equal(screen.getByTestId('switchover-web-result').textContent, 'accepted');

  // What makes no sense for a group's state is greyed out with the reason.
  assert.equal((screen.getByTestId('group-start-web-button') as HTMLButtonElement).disabled, true);
  assert.equal(screen.getByTestId('group-start-web-why').getAttribute('title'), 'Only a group stopped by an operator can be started');
  assert.equal((screen.getByTestId('group-stop-db-button') as HTMLButtonElement).disabled, true);

  // beta now reports fresher: commands go there; maintenance is on, so the button leaves it.
  const st = status('prod', 'beta', [node('alpha'), node('beta')], [web('alpha'), db], T0 + 50);
  await act(async () => bridge.push({ kind: 'node', cluster: 'prod', node: 'beta', what: 'snapshot', view: { ...betaView(), snapshot: snapshot({ ...st, maintenance: true }), status: { ...st, maintenance: true } } }));
  assert.ok(screen.getByTestId('maintenance-banner'));
  await confirmAction('maintenance');
  assert.deepEqual(bridge.callsOf('agent.call').at(-1), { cluster: 'prod', node: 'beta', method: 'maintenance', params: { on: false } });
});

test('buttons the welcome does not allow for our role are disabled with the reason; none without a connected node', async () => {
  const { bridge, services } = await setup([alphaView(T0 + 10, undefined, 'viewer')]);
  render(inProvider(services, <ClusterView cluster="prod" />));
  for (const id of ['switchover-web', 'switchback-web', 'cleanup-web', 'group-stop-web', 'maintenance']) {
    assert.equal((screen.getByTestId(`${id}-button`) as HTMLButtonElement).disabled, true, id);
  }
  assert.equal(screen.getByTestId('switchover-web-why').getAttribute('title'), 'Your role (Viewer) may not call switchover');

  await act(async () => bridge.push({ kind: 'node', cluster: 'prod', node: 'alpha', what: 'state', view: { ...alphaView(T0 + 10, undefined, 'operator'), state: 'reconnecting' } }));
  assert.equal((screen.getByTestId('cleanup-web-button') as HTMLButtonElement).disabled, true);
  assert.equal(screen.getByTestId('cleanup-web-why').getAttribute('title'), 'No node of this cluster is connected: commands cannot be sent');

  await act(async () => bridge.push({ kind: 'node', cluster: 'prod', node: 'alpha', what: 'state', view: alphaView(T0 + 10, undefined, 'operator') }));
  assert.equal((screen.getByTestId('cleanup-web-button') as HTMLButtonElement).disabled, false);
  assert.equal(screen.getByTestId('cleanup-web-why').getAttribute('title'), null);
});

test('groups show target, switchback, reasons, failures and resources; nodes show their interfaces and volumes', async () => {
  const { services } = await setup();
  render(inProvider(services, <ClusterView cluster="prod" />));
  assert.equal(screen.getByTestId('group-db-state').getAttribute('data-state'), 'stopped');
  assert.equal(screen.getByTestId('group-db-state').textContent, 'Stopped by an operator');
  assert.equal(screen.getByTestId('group-db-node').textContent, 'not running');
  assert.equal(screen.getByTestId('group-db-failures').textContent, 'Failures: alpha: 2');
  assert.equal(screen.getByTestId('group-db-reasons').textContent, 'Why: stopped by ops');
  assert.equal(screen.getByTestId('group-web-target').textContent, 'Target node: chosen by the cluster');
  assert.equal(screen.getByTestId('resource-web-vip-alpha').getAttribute('data-state'), 'running');
  assert.equal(screen.getByTestId('resource-web-vip-beta').textContent, 'beta: Stopped');
  assert.match(screen.getByTestId('resource-db-pg').textContent!, /monitor rc=7: not running/);

  const nic = screen.getByTestId('nic-alpha-eth0');
  assert.match(nic.textContent!, /10\.0\.0\.1\/24/);
  assert.match(nic.textContent!, /1000 Mb\/s/);
  const volume = screen.getByTestId('volume-alpha-/data');
  assert.equal(volume.getAttribute('data-health'), 'degraded');
  assert.match(volume.textContent!, /61\.22% \/ 100 GiB/);
  assert.match(volume.textContent!, /38\.0 GiB/);
  assert.match(volume.textContent!, /md0: 1 of 2 mirrors missing/);
  assert.match(screen.getByTestId('node-inventory-beta').textContent!, /has not reported/);
});

test('the cluster screen in Simplified Chinese', async () => {
  const { services } = await setup();
  services.store.getState().setLanguage('zh-CN');
  render(inProvider(services, <ClusterView cluster="prod" />));
  assert.equal(screen.getByTestId('group-web-state').textContent, '运行于 alpha');
  assert.equal(screen.getByTestId('group-db-state').textContent, '已被操作员停止');
  assert.equal(screen.getByTestId('switchover-web-button').textContent, '切换');
  assert.equal(screen.getByTestId('maintenance-button').textContent, '进入维护模式');
  assert.equal(screen.getByTestId('node-conn-alpha').textContent, '监控中心连接：已连接');
  assert.equal(screen.getByTestId('cluster-command-node').textContent, '命令发送至 alpha');
  assert.match(screen.getByTestId('link-alpha-beta-hb1').textContent!, /链路 hb1（串口）从 alpha 到 beta：正常/);
  fireEvent.click(screen.getByTestId('cleanup-web-button'));
  assert.match(screen.getByTestId('cleanup-web-confirm').textContent!, /清除资源组 web 的失败记录并重新探测其资源？/);
});

test('a change in another cluster does not repaint this cluster\'s screen; a change in this one does', async () => {
  const { bridge, services } = await setup();
  let commits = 0;
  render(inProvider(services, <Profiler id="prod" onRender={() => { commits += 1; }}><ClusterView cluster="prod" /></Profiler>));
  const before = commits;
  const dev = status('dev', 'gamma', [node('gamma')], [], T0 + 500);
  await act(async () => bridge.push({ kind: 'node', cluster: 'dev', node: 'gamma', what: 'snapshot', view: view('gamma', 'connected', snapshot(dev)) }));
  assert.equal(commits, before, 'dev\'s heartbeat left prod\'s screen alone');
  await act(async () => bridge.push({ kind: 'node', cluster: 'prod', node: 'alpha', what: 'snapshot', view: alphaView(T0 + 600) }));
  assert.ok(commits > before);
});

test('an unknown cluster says so', async () => {
  const { services } = await setup();
  render(inProvider(services, <ClusterView cluster="nope" />));
  assert.equal(screen.getByTestId('cluster-missing').textContent, 'No cluster named nope');
});
