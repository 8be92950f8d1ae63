// The clusters overview against the fake bridge: a card per cluster with its health, issues, alerts and nodes;
// filtering and ordering; the add-cluster form checked by the contract's own validation (its BAD_PARAMS naming the
// field); removal confirmed; a change in one cluster repaints only that cluster's card; both languages.
import '../../support/dom.js';
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { Profiler, type ReactNode } from 'react';
import { act, cleanup, fireEvent, render, screen, within } from '@testing-library/react';
import type { CenterClusterView } from '../../../common/ipc/contract.js';
import type { AlertRecord } from '../../../common/model/index.js';
import { ConsoleProvider, type ConsoleServices } from '../../../renderer/app/context.js';
import { ClusterCard } from '../../../renderer/app/overview/ClusterCard.js';
import { Overview } from '../../../renderer/app/screens/Overview.js';
import { memoVisibleClusters } from '../../../renderer/app/overview/visible-clusters.js';
import { DEFAULT_BRANDING } from '../../../renderer/branding.js';
import { connectBridge } from '../../../renderer/state/bridge.js';
import { FakeBridge, T0, event, node, settle, snapshot, status, validated, view } from './fake-bridge.js';

afterEach(() => cleanup());

function alert(id: string, severity: 'warning' | 'critical', extra: Partial<AlertRecord> = {}): AlertRecord {
  return { id, at: T0, event: event(1, 'alpha', 'fault', T0, severity), suppressed: 0, test: false, channels: [], ...extra };
}

/** prod: healthy, one unacknowledged warning alert (an acknowledged one and a test one do not count); dev: beta
 * down; lab: no node yet. */
function clusters(): CenterClusterView[] {
  const prod = status('prod', 'alpha', [node('alpha'), node('beta')]);
  const prodAlerts = [alert('a1', 'warning'), alert('a2', 'critical', { acknowledged: { by: 'ops', at: T0 } }), alert('a3', 'critical', { test: true })];
  const dev = status('dev', 'gamma', [node('gamma'), node('delta', false)]);
  return [
    { id: 'prod', name: 'Production', nodes: [view('alpha', 'connected', snapshot(prod, { alerts: prodAlerts })), view('beta', 'connected', snapshot({ ...prod, reportedBy: 'beta' }))] },
    { id: 'dev', name: 'Development', nodes: [view('gamma', 'connected', snapshot(dev)), { ...view('delta', 'reconnecting'), lastError: { code: 'UNAVAILABLE', message: 'connect ECONNREFUSED' } }] },
    { id: 'lab', name: 'Lab', nodes: [] },
  ];
}

async function setup(): Promise<{ bridge: FakeBridge; services: ConsoleServices }> {
  const bridge = new FakeBridge();
  bridge.clusters = clusters();
  const { store, ready } = connectBridge(bridge);
  await ready;
  return { bridge, services: { store, bridge, branding: DEFAULT_BRANDING } };
}

const inProvider = (services: ConsoleServices, children: ReactNode): ReactNode => <ConsoleProvider services={services}>{children}</ConsoleProvider>;
const cardOrder = (): string[] => screen.getAllByTestId(/^cluster-card-/).map((e) => e.getAttribute('data-testid')!.slice('cluster-card-'.length));


test('each cluster has a card linking to it, with its health, first issues, unacknowledged alerts and connected nodes', async () => {
  const { services } = await setup();
  render(inProvider(services, <Overview />));
  assert.deepEqual(cardOrder(), ['prod', 'dev', 'lab'], 'the center\'s order');
  assert.equal(screen.getByTestId('cluster-card-prod').getAttribute('href'), '#/clusters/prod');
  assert.equal(screen.getByTestId('cluster-health-prod').getAttribute('data-level'), 'ok');
  assert.equal(screen.getByTestId('cluster-health-prod').textContent, 'Healthy');
  assert.equal(screen.getByTestId('cluster-health-dev').getAttribute('data-level'), 'critical');
  assert.equal(screen.getByTestId('cluster-health-lab').getAttribute('data-level'), 'unknown');
  assert.equal(screen.getByTestId('cluster-alerts-prod').textContent, 'Unacknowledged alerts: 1');
  assert.equal(screen.getByTestId('cluster-nodes-prod').textContent, 'Nodes connected: 2/2');
  assert.equal(screen.getByTestId('cluster-nodes-dev').textContent, 'Nodes connected: 1/2');
  const issues = screen.getByTestId('cluster-issues-dev').textContent!;
  assert.match(issues, /Node delta is down/);
  assert.match(issues, /The center cannot reach node delta \(Reconnecting\) — UNAVAILABLE: connect ECONNREFUSED/, 'the reason is shown');
  assert.equal(screen.queryByTestId('cluster-issues-prod'), null);
});

test('a pushed change repaints the card live: a node going down turns the cluster critical', async () => {
  const { bridge, services } = await setup();
  render(inProvider(services, <Overview />));
  const down = status('prod', 'alpha', [node('alpha'), node('beta', false)], [], T0 + 1000);
  await act(async () => bridge.push({ kind: 'node', cluster: 'prod', node: 'alpha', what: 'snapshot', view: view('alpha', 'connected', snapshot(down)) }));
  assert.equal(screen.getByTestId('cluster-health-prod').getAttribute('data-level'), 'critical');
  assert.match(screen.getByTestId('cluster-issues-prod').textContent!, /Node beta is down/);
});

test('the filter box filters by name or id and by health, and orders by name or worst health first', async () => {
  const { services } = await setup();
  render(inProvider(services, <Overview />));
  fireEvent.change(screen.getByTestId('overview-filter'), { target: { value: 'DEVELOP' } });
  assert.deepEqual(cardOrder(), ['dev']);
  fireEvent.change(screen.getByTestId('overview-filter'), { target: { value: 'nothing-like-it' } });
  assert.deepEqual(screen.queryAllByTestId(/^cluster-card-/), []);
  assert.ok(screen.getByTestId('overview-no-match'));
  fireEvent.change(screen.getByTestId('overview-filter'), { target: { value: '' } });

  fireEvent.change(screen.getByTestId('overview-health-filter'), { target: { value: 'problems' } });
  assert.deepEqual(cardOrder(), ['dev', 'lab']);
  fireEvent.change(screen.getByTestId('overview-health-filter'), { target: { value: 'ok' } });
  assert.deepEqual(cardOrder(), ['prod']);
  assert.equal(screen.getByTestId('overview-shown').textContent, '1 of 3 clusters');
  fireEvent.change(screen.getByTestId('overview-health-filter'), { target: { value: 'all' } });

  fireEvent.change(screen.getByTestId('overview-sort'), { target: { value: 'health' } });
  assert.deepEqual(cardOrder(), ['dev', 'lab', 'prod']);
  fireEvent.change(screen.getByTestId('overview-sort'), { target: { value: 'name' } });
  assert.deepEqual(cardOrder(), ['dev', 'lab', 'prod'], 'Development, Lab, Production');
  fireEvent.change(screen.getByTestId('overview-sort'), { target: { value: 'center' } });
  assert.deepEqual(cardOrder(), ['prod', 'dev', 'lab']);
});

function fill(testId: string, value: string): void {
  fireEvent.change(screen.getByTestId(`add-cluster-${testId}`), { target: { value } });
}

test('the add form sends clusters.add with every node (one through SSH), and shows the center\'s answer', async () => {
  const { bridge, services } = await setup();
  bridge.answer('clusters.add', validated('clusters.add', (p) => ({ id: p.id, name: p.name, nodes: [] })));
  render(inProvider(services, <Overview />));
  fill('id', 'stage');
  fill('name', 'Staging');
  fill('ca', '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
  fill('token', 'secret-token');
  fill('node-0-id', 'alpha');
  fill('node-0-url', 'wss://10.0.0.1:7443');
  fireEvent.click(screen.getByTestId('add-cluster-add-node'));
  fill('node-1-id', 'beta');
  fill('node-1-url', 'wss://127.0.0.1:7443');
  fireEvent.click(screen.getByTestId('add-cluster-node-1-ssh'));
  fill('node-1-ssh-host', 'beta.example');
  fill('node-1-ssh-port', '2222');
  fill('node-1-ssh-user', 'vigil');
  fill('node-1-ssh-password', 'pw');
  await act(async () => { fireEvent.click(screen.getByTestId('add-cluster-submit')); await settle(); });
  assert.deepEqual(bridge.callsOf('clusters.add'), [{
    id: 'stage', name: 'Staging',
    nodes: [{ id: 'alpha', url: 'wss://10.0.0.1:7443' }, { id: 'beta', url: 'wss://127.0.0.1:7443', via: { host: 'beta.example', port: 2222, username: 'vigil', password: 'pw' } }],
    credentials: { ca: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n', token: 'secret-token' },
  }]);
  assert.equal(screen.getByTestId('add-cluster-done').textContent, 'Cluster stage added.');
  assert.equal((screen.getByTestId('add-cluster-id') as HTMLInputElement).value, '', 'the form is emptied for the next one');
});

test('a BAD_PARAMS refusal names the field and marks it; a bad SSH port is caught before sending', async () => {
  const { bridge, services } = await setup();
  bridge.answer('clusters.add', validated('clusters.add', (p) => ({ id: p.id, name: p.name, nodes: [] })));
  render(inProvider(services, <Overview />));
  fill('id', 'stage');
  fill('ca', 'PEM');
  fill('token', 't');
  fill('node-0-id', 'alpha');
  fill('node-0-url', 'https://10.0.0.1:7443');
  await act(async () => { fireEvent.click(screen.getByTestId('add-cluster-submit')); await settle(); });
  const error = screen.getByTestId('add-cluster-error');
  assert.equal(error.textContent, 'The center refused the field Node alpha: Agent URL (wss://host:port): BAD_PARAMS: clusters.add: nodes.0.url: a wss:// URL');
  assert.equal(screen.getByTestId('add-cluster-node-0-url').getAttribute('aria-invalid'), 'true');
  assert.equal(screen.getByTestId('add-cluster-id').getAttribute('aria-invalid'), null);

  fill('node-0-url', 'wss://10.0.0.1:7443');
  fireEvent.click(screen.getByTestId('add-cluster-node-0-ssh'));
  fill('node-0-ssh-port', '22x');
  const sent = bridge.callsOf('clusters.add').length;
  await act(async () => { fireEvent.click(screen.getByTestId('add-cluster-submit')); await settle(); });
  assert.equal(bridge.callsOf('clusters.add').length, sent, 'nothing sent');
  assert.match(screen.getByTestId('add-cluster-error').textContent!, /SSH port of node alpha: an integer from 1 to 65535/);
  assert.equal(screen.getByTestId('add-cluster-node-0-ssh-port').getAttribute('aria-invalid'), 'true');
});

test('removing a cluster is confirmed first, then calls clusters.remove; the center\'s push removes the card', async () => {
  const { bridge, services } = await setup();
  bridge.answer('clusters.remove', () => ({ ok: true, result: { removed: true } }));
  render(inProvider(services, <Overview />));
  fireEvent.click(screen.getByTestId('remove-cluster-dev-button'));
  assert.match(screen.getByTestId('remove-cluster-dev-confirm').textContent!, /Stop watching cluster Development\?/);
  fireEvent.click(screen.getByTestId('remove-cluster-dev-no'));
  assert.equal(bridge.callsOf('clusters.remove').length, 0);
  fireEvent.click(screen.getByTestId('remove-cluster-dev-button'));
  await act(async () => { fireEvent.click(screen.getByTestId('remove-cluster-dev-yes')); await settle(); });
  assert.deepEqual(bridge.callsOf('clusters.remove'), [{ cluster: 'dev' }]);
  await act(async () => bridge.push({ kind: 'cluster-removed', cluster: 'dev' }));
  assert.deepEqual(cardOrder(), ['prod', 'lab']);
});

test('a change in one cluster re-renders that cluster\'s card and not another\'s', async () => {
  const { bridge, services } = await setup();
  const renders = new Map<string, number>();
  const count = (id: string): void => { renders.set(id, (renders.get(id) ?? 0) + 1); };
  render(inProvider(services, (
    <ul>
      <Profiler id="prod" onRender={count}><ClusterCard cluster="prod" /></Profiler>
      <Profiler id="dev" onRender={count}><ClusterCard cluster="dev" /></Profiler>
    </ul>
  )));
  const before = { prod: renders.get('prod'), dev: renders.get('dev') };
  const dev = status('dev', 'gamma', [node('gamma'), node('delta')], [], T0 + 1000);
  await act(async () => bridge.push({ kind: 'node', cluster: 'dev', node: 'gamma', what: 'snapshot', view: view('gamma', 'connected', snapshot(dev)) }));
  assert.equal(renders.get('dev'), before.dev! + 1, 'the changed cluster\'s card repainted');
  assert.equal(renders.get('prod'), before.prod, 'the other card did not');
  assert.match(within(screen.getByTestId('cluster-card-dev')).getByTestId('cluster-issues-dev').textContent!, /cannot reach node delta/);
});

test('the list\'s selection is recomputed only when the order or a health changes (not on every heartbeat)', async () => {
  const { bridge, services } = await setup();
  const select = memoVisibleClusters();
  const query = { text: '', health: 'all', sort: 'health' } as const;
  const first = select(services.store.getState(), query);
  assert.deepEqual(first, ['dev', 'lab', 'prod']);
  const sameHealth = status('prod', 'alpha', [node('alpha'), node('beta')], [], T0 + 1000);
  bridge.push({ kind: 'node', cluster: 'prod', node: 'alpha', what: 'snapshot', view: view('alpha', 'connected', snapshot(sameHealth)) });
  assert.equal(select(services.store.getState(), query), first, 'a heartbeat that changes no health: the same array');
  const worse = status('prod', 'alpha', [node('alpha'), node('beta', false)], [], T0 + 2000);
  bridge.push({ kind: 'node', cluster: 'prod', node: 'alpha', what: 'snapshot', view: view('alpha', 'connected', snapshot(worse)) });
  assert.deepEqual(select(services.store.getState(), query), ['prod', 'dev', 'lab'], 'prod is critical now, and first in the center\'s order');
});

test('the cards in Simplified Chinese', async () => {
  const { services } = await setup();
  services.store.getState().setLanguage('zh-CN');
  render(inProvider(services, <Overview />));
  assert.equal(screen.getByTestId('cluster-health-prod').textContent, '健康');
  assert.equal(screen.getByTestId('cluster-health-dev').textContent, '严重故障');
  assert.equal(screen.getByTestId('cluster-nodes-dev').textContent, '已连接节点：1/2');
  assert.equal(screen.getByTestId('cluster-alerts-prod').textContent, '未确认告警：1');
  assert.match(screen.getByTestId('cluster-issues-dev').textContent!, /节点 delta 已宕机/);
  assert.equal(screen.getByTestId('add-cluster-submit').textContent, '添加集群');
  assert.equal(screen.getByTestId('overview-shown').textContent, '显示 3 / 3 个集群');
});

test('what the center could not restore is shown by cluster and field, and forgetting it clears it', async () => {
  const { bridge, services } = await setup();
  let problems = [
    { cluster: 'old', field: 'credentials.token', message: 'cannot be decrypted: unsupported state or unable to authenticate data' },
    { message: 'clusters.json was not a clusters file: moved aside to clusters.json.bad' },
  ];
  bridge.answer('center.problems', () => ({ ok: true, result: problems }));
  bridge.answer('clusters.remove', validated('clusters.remove', (p) => {
    problems = problems.filter((x) => x.cluster !== p.cluster);
    return { removed: true };
  }));
  render(inProvider(services, <Overview />));
  await act(settle);
  assert.deepEqual(screen.getAllByTestId('restore-problem').map((e) => e.textContent?.replace(/Forget$/, '')), [
    'old: credentials.token: cannot be decrypted: unsupported state or unable to authenticate data',
    'clusters.json was not a clusters file: moved aside to clusters.json.bad',
  ]);
  fireEvent.click(screen.getByTestId('forget-old-button'));
  assert.match(screen.getByTestId('forget-old-confirm').textContent!, /Forget the remembered cluster old/);
  await act(async () => { fireEvent.click(screen.getByTestId('forget-old-yes')); await settle(); });
  await act(settle);
  assert.deepEqual(bridge.callsOf('clusters.remove'), [{ cluster: 'old' }]);
  assert.deepEqual(screen.getAllByTestId('restore-problem').map((e) => e.textContent), ['clusters.json was not a clusters file: moved aside to clusters.json.bad']);
});
