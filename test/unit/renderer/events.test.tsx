// The events and alerts screen against the fake bridge: the log for one cluster or all, each filter narrowing the
// rows and kept in the store, a long log paged, alerts acknowledged at the agent that keeps them and greyed once
// acknowledged, pushes about another cluster not repainting the screen, and the Chinese strings.
import '../../support/dom.js';
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { Profiler } from 'react';
import { act, cleanup, fireEvent, render, screen } from '@testing-library/react';
import type { CenterNodeView } from '../../../common/ipc/contract.js';
import type { AlertRecord, ClusterEvent } from '../../../common/model/index.js';
import { App } from '../../../renderer/app/App.js';
import { ConsoleProvider, type ConsoleServices } from '../../../renderer/app/context.js';
import { toLocalInput } from '../../../renderer/app/event-log/time.js';
import { Events } from '../../../renderer/app/screens/Events.js';
import { DEFAULT_BRANDING } from '../../../renderer/branding.js';
import { connectBridge } from '../../../renderer/state/bridge.js';
import { goTo } from '../../support/dom.js';
import { FakeBridge, T0, event, node, settle, snapshot, status, view } from './fake-bridge.js';

afterEach(() => cleanup());

const MIN = 60_000;

function nodeView(cluster: string, id: string, events: ClusterEvent[], alerts: AlertRecord[] = []): CenterNodeView {
  return view(id, 'connected', snapshot(status(cluster, id, [node(id)]), { events: [...events].sort((a, b) => b.at - a.at), alerts }));
}

function alert(id: string, about: ClusterEvent, acknowledged?: AlertRecord['acknowledged']): AlertRecord {
  return {
    id, at: about.at, event: about, suppressed: 0, test: false,
    channels: [{ channel: 'ops-mail', kind: 'email', status: 'ok', attempts: 1, at: about.at }, {
      channel: 'pager', kind: 'webhook', status: 'failed', attempts: 3, at: about.at, error: { code: 'VIGIL_ALERT_TIMEOUT', message: 'no answer in 10 s' },
    }],
    ...(acknowledged === undefined ? {} : { acknowledged }),
  };
}

// prod: alpha logs its own start and beta's loss (critical) and a failover; beta logs a link-down (warning).
const prodAlpha = [event(1, 'alpha', 'agent-started', T0), event(2, 'beta', 'peer-lost', T0 + 5 * MIN, 'critical'), event(3, 'alpha', 'failover', T0 + 6 * MIN, 'warning')];
const prodBeta = [event(1, 'beta', 'link-down', T0 + 7 * MIN, 'warning')];
const otherX = [event(1, 'x1', 'agent-started', T0 + 8 * MIN)];
const lost = alert('a-1', prodAlpha[1]!);

async function setup(options: { eventLimit?: number } = {}): Promise<{ bridge: FakeBridge; services: ConsoleServices }> {
  const bridge = new FakeBridge();
  bridge.clusters = [
    { id: 'prod', name: 'Production', nodes: [nodeView('prod', 'alpha', prodAlpha, [lost]), nodeView('prod', 'beta', prodBeta)] },
    { id: 'other', name: 'Other', nodes: [nodeView('other', 'x1', otherX)] },
  ];
  const { store, ready } = connectBridge(bridge, options);
  await ready;
  return { bridge, services: { store, bridge, branding: DEFAULT_BRANDING } };
}

async function show(services: ConsoleServices, hash: string): Promise<void> {
  goTo(hash);
  render(<ConsoleProvider services={services}><App /></ConsoleProvider>);
  await act(settle);
}

const rows = (): [string | null, string | null][] =>
  screen.queryAllByTestId('event-row').map((r) => [r.getAttribute('data-kind'), r.getAttribute('data-node')]);

test('one cluster\'s events newest first, or every cluster\'s with a cluster column', async () => {
  const { services } = await setup();
  await show(services, '#/clusters/prod/events');
  assert.deepEqual(rows(), [['link-down', 'beta'], ['failover', 'alpha'], ['peer-lost', 'beta'], ['agent-started', 'alpha']]);
  const first = screen.getAllByTestId('event-row')[0]!;
  assert.deepEqual([...first.querySelectorAll('td')].slice(1).map((td) => td.textContent),
    ['Warning', 'beta', 'Link down', '', 'link-down on beta', 'beta']);
  assert.equal(screen.getByRole('heading', { level: 2 }).textContent, 'Events of Production');

  await act(async () => goTo('#/events'));
  assert.deepEqual(rows().map(([k]) => k), ['agent-started', 'link-down', 'failover', 'peer-lost', 'agent-started']);
  assert.equal(screen.getAllByTestId('event-row')[0]!.querySelectorAll('td')[2]!.textContent, 'other');
  assert.equal(screen.getByTestId('events-count').textContent, 'Showing 5 of 5');
});

test('the filters narrow the rows and live in the store; clear shows all again', async () => {
  const { services } = await setup();
  await show(services, '#/clusters/prod/events');
  const change = (id: string, value: string): void => { act(() => { fireEvent.change(screen.getByTestId(id), { target: { value } }); }); };

  change('filter-node', 'beta');
  assert.deepEqual(rows(), [['link-down', 'beta'], ['peer-lost', 'beta']]);
  assert.equal(services.store.getState().eventFilter.node, 'beta');
  change('filter-severity', 'critical');
  assert.deepEqual(rows(), [['peer-lost', 'beta']]);
  change('filter-node', '');
  change('filter-severity', '');
  change('filter-kind', 'failover');
  assert.deepEqual(rows(), [['failover', 'alpha']]);
  assert.deepEqual(services.store.getState().eventFilter, { kinds: ['failover'] });
  change('filter-kind', '');

  // From the minute of the peer loss to the minute of the failover, both included.
  change('filter-since', toLocalInput(T0 + 5 * MIN));
  change('filter-until', toLocalInput(T0 + 6 * MIN));
  assert.deepEqual(rows(), [['failover', 'alpha'], ['peer-lost', 'beta']]);
  assert.equal((screen.getByTestId('filter-since') as HTMLInputElement).value, toLocalInput(T0 + 5 * MIN));
  change('filter-until', '');
  assert.deepEqual(rows().map(([k]) => k), ['link-down', 'failover', 'peer-lost']);

  change('filter-node', 'alpha');
  change('filter-since', toLocalInput(T0 + 20 * MIN));
  assert.deepEqual(rows(), []);
  assert.ok(screen.getByTestId('events-none'));
  act(() => { fireEvent.click(screen.getByTestId('filter-clear')); });
  assert.equal(rows().length, 4);
  assert.deepEqual(services.store.getState().eventFilter, {});
  assert.deepEqual([...(screen.getByTestId('filter-node') as HTMLSelectElement).options].map((o) => o.value), ['', 'alpha', 'beta'],
    'the node filter offers this cluster\'s nodes');
});

test('a long log shows a page at a time', async () => {
  const { bridge, services } = await setup({ eventLimit: 1000 });
  const many = Array.from({ length: 450 }, (_, i) => event(100 + i, 'alpha', 'monitor-failed', T0 + 10 * MIN + i, 'warning'));
  bridge.push({ kind: 'node', cluster: 'prod', node: 'alpha', what: 'snapshot', view: nodeView('prod', 'alpha', many) });
  await show(services, '#/clusters/prod/events');
  assert.equal(rows().length, 200);
  assert.equal(screen.getByTestId('events-count').textContent, 'Showing 200 of 454');
  act(() => { fireEvent.click(screen.getByTestId('events-more')); });
  assert.equal(rows().length, 400);
  assert.equal(screen.getByTestId('events-more').textContent, 'Show 54 more');
  act(() => { fireEvent.click(screen.getByTestId('events-more')); });
  assert.equal(rows().length, 454);
  assert.equal(screen.queryByTestId('events-more'), null);
});

test('an alert: severity, state, message, node, deliveries; acknowledged at the agent that keeps it, then greyed', async () => {
  const { bridge, services } = await setup();
  bridge.answer('agent.call', () => ({ ok: true, result: { ...lost, acknowledged: { by: 'ops', at: T0 + 9 * MIN } } as never }));
  await show(services, '#/clusters/prod/events');
  const row = screen.getByTestId('alert-a-1');
  assert.equal(row.getAttribute('data-severity'), 'critical');
  assert.equal(row.getAttribute('data-node'), 'beta', 'the node the alert is about');
  assert.equal(row.getAttribute('data-acknowledged'), 'false');
  assert.match(row.textContent ?? '', /peer-lost on beta/);
  assert.match(row.textContent ?? '', /ops-mail: sent/);
  assert.match(row.textContent ?? '', /pager: failed, VIGIL_ALERT_TIMEOUT/);
  assert.match(screen.getByTestId('alert-a-1-state').textContent ?? '', /^Open/);

  fireEvent.click(screen.getByTestId('alert-a-1-ack-button'));
  assert.match(screen.getByTestId('alert-a-1-ack-confirm').textContent ?? '', /peer-lost on beta.*alpha/);
  await act(async () => { fireEvent.click(screen.getByTestId('alert-a-1-ack-yes')); await settle(); });
  // alpha's agent keeps the alert (beta is the node that was lost): the acknowledgement goes there.
  assert.deepEqual(bridge.callsOf('agent.call'), [{ cluster: 'prod', node: 'alpha', method: 'alerts.ack', params: { id: 'a-1' } }]);

  // The agent pushes its alerts with the acknowledgement.
  act(() => bridge.push({ kind: 'node', cluster: 'prod', node: 'alpha', what: 'snapshot',
    view: nodeView('prod', 'alpha', prodAlpha, [alert('a-1', prodAlpha[1]!, { by: 'ops', at: T0 + 9 * MIN })]) }));
  const acked = screen.getByTestId('alert-a-1');
  assert.equal(acked.getAttribute('data-acknowledged'), 'true');
  assert.match(acked.className, /muted/);
  assert.match(screen.getByTestId('alert-a-1-state').textContent ?? '', /^Acknowledged by ops at /);
  assert.equal(screen.queryByTestId('alert-a-1-ack'), null);
});

test('a push about another cluster does not repaint the screen of this one', async () => {
  const { bridge, services } = await setup();
  let renders = 0;
  render(<ConsoleProvider services={services}><Profiler id="events" onRender={() => { renders += 1; }}><Events cluster="prod" /></Profiler></ConsoleProvider>);
  await act(settle);
  const before = renders;
  act(() => bridge.push({ kind: 'node', cluster: 'other', node: 'x1', what: 'snapshot', view: nodeView('other', 'x1', [...otherX, event(2, 'x1', 'fault', T0 + 30 * MIN, 'critical')]) }));
  assert.equal(renders, before);
  act(() => bridge.push({ kind: 'node', cluster: 'prod', node: 'beta', what: 'snapshot', view: nodeView('prod', 'beta', [...prodBeta, event(2, 'beta', 'link-up', T0 + 31 * MIN)]) }));
  assert.ok(renders > before);
  assert.deepEqual(rows()[0], ['link-up', 'beta']);
});

test('in Chinese: headings, kinds, severities, filters and the alert\'s state', async () => {
  const { services } = await setup();
  services.store.getState().setLanguage('zh-CN');
  await show(services, '#/clusters/prod/events');
  assert.equal(screen.getByRole('heading', { level: 2 }).textContent, 'Production 的事件');
  const first = screen.getAllByTestId('event-row')[0]!;
  assert.deepEqual([...first.querySelectorAll('td')].slice(1, 4).map((td) => td.textContent), ['警告', 'beta', '链路中断']);
  assert.equal((screen.getByTestId('filter-kind') as HTMLSelectElement).options[0]!.textContent, '全部');
  assert.match(screen.getByTestId('alert-a-1-state').textContent ?? '', /^未确认/);
  assert.equal(screen.getByTestId('alert-a-1-ack-button').textContent, '确认');
  assert.equal(screen.getByTestId('events-count').textContent, '显示 4 / 4 条');
});
