// The new-cluster wizard in jsdom: each step holds the operator until the loader accepts its fields (and names the
// field when it does not), the review shows a configuration the agent's loader accepts with the `vigil init`
// steps, and a proposal to a connected cluster carries that text on the cluster's generation.
import '../../support/dom.js';
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { act, cleanup, fireEvent, render, screen } from '@testing-library/react';
import { parseConfig } from '../../../common/config/load.js';
import { App } from '../../../renderer/app/App.js';
import { ConsoleProvider } from '../../../renderer/app/context.js';
import { DEFAULT_BRANDING } from '../../../renderer/branding.js';
import { connectBridge } from '../../../renderer/state/bridge.js';
import { goTo } from '../../support/dom.js';
import { FakeBridge, node, settle, snapshot, status, view } from './fake-bridge.js';

afterEach(() => cleanup());

function setup(connected: boolean) {
  const bridge = new FakeBridge();
  const snap = snapshot(status('prod', 'alpha', [node('alpha'), node('beta')]));
  bridge.clusters = [{ id: 'prod', name: 'Production', nodes: [view('alpha', connected ? 'connected' : 'reconnecting', { ...snap, config: { ...snap.config, generation: 4 } })] }];
  bridge.answer('agent.call', () => ({ ok: true, result: { generation: 5, digest: 'e'.repeat(64), committed: ['alpha'], pending: [], partial: [], live: [], reload: ['heartbeat'] } }));
  const { store } = connectBridge(bridge);
  return { bridge, store, services: { store, bridge, branding: DEFAULT_BRANDING } };
}

async function open(s: ReturnType<typeof setup>): Promise<void> {
  goTo('#/wizard');
  render(<ConsoleProvider services={s.services}><App /></ConsoleProvider>);
  await act(settle);
}

async function type(testId: string, value: string): Promise<void> {
  await act(async () => { fireEvent.change(screen.getByTestId(testId), { target: { value } }); });
}
const next = (): HTMLButtonElement => screen.getByTestId('wizard-next') as HTMLButtonElement;
const step = (): string | null => screen.getByTestId('wizard-step').getAttribute('data-step');

async function fillToReview(): Promise<void> {
  await type('wizard-cluster-id', 'shop');
  await type('wizard-node-0-address', '203.0.113.1');
  await type('wizard-node-1-id', 'gamma');
  await type('wizard-node-1-address', '203.0.113.2');
  fireEvent.click(next());
  for (const [i, net] of [[0, '10.0.0'], [1, '10.1.0']] as const) {
    await type(`wizard-link-${i}-address-0`, `${net}.1`);
    await type(`wizard-link-${i}-address-1`, `${net}.2`);
  }
  fireEvent.click(screen.getByTestId('wizard-serial'));
  fireEvent.click(next());
  await type('wizard-vip', '203.0.113.100/24');
  await type('wizard-service', 'nginx');
  fireEvent.click(next());
  fireEvent.click(screen.getByTestId('wizard-mirror'));
  await type('wizard-mirror-folders', '/srv/shop');
  fireEvent.click(next());
}

test('each step names the wrong field and holds the operator until it is right', async () => {
  const s = setup(false);
  await open(s);
  assert.equal(step(), 'nodes');
  assert.equal(next().disabled, true);
  const errors = screen.getByTestId('wizard-errors');
  assert.ok([...errors.querySelectorAll('li')].some((li) => li.getAttribute('data-field') === 'cluster.id'));
  assert.match(errors.textContent ?? '', /nodes\[0\]\.api: expected host:port/);
  assert.doesNotMatch(errors.textContent ?? '', /heartbeat/, 'later steps\' fields are not this step\'s problems');

  await type('wizard-cluster-id', 'Shop');
  assert.match(screen.getByTestId('wizard-errors').textContent ?? '', /cluster\.id: expected a lowercase name/);
  await type('wizard-cluster-id', 'shop');
  await type('wizard-node-0-address', '203.0.113.1');
  await type('wizard-node-1-address', '203.0.113.2');
  assert.equal(screen.queryByTestId('wizard-errors'), null);
  assert.equal(screen.getByTestId('wizard-node-1-url').textContent, 'wss://203.0.113.2:7480');
  fireEvent.click(next());
  assert.equal(step(), 'links');
  assert.equal((screen.getByTestId('wizard-link-0-remove') as HTMLButtonElement).disabled, true, 'two private links at least');
  assert.match(screen.getByTestId('wizard-errors').textContent ?? '', /heartbeat\.links\[0\]\.endpoints\.alpha/);
  fireEvent.click(screen.getByTestId('wizard-back'));
  assert.equal(step(), 'nodes');
});

test('the review shows a configuration the loader accepts, the init steps, and proposes it on the generation', async () => {
  const s = setup(true);
  await open(s);
  await fillToReview();
  assert.equal(step(), 'review');
  assert.equal(screen.queryByTestId('wizard-errors'), null);
  const text = screen.getByTestId('wizard-output').textContent ?? '';
  const config = parseConfig(text, 'wizard');
  assert.equal(config.cluster.id, 'shop');
  assert.deepEqual(config.nodes.map((n) => n.id), ['alpha', 'gamma']);
  assert.deepEqual(config.heartbeat.links.map((l) => l.kind), ['udp', 'udp', 'udp', 'serial']);
  assert.deepEqual(config.groups[0]!.resources.map((r) => r.kind), ['mirror', 'service', 'vip']);

  const download = screen.getByTestId('wizard-download') as HTMLAnchorElement;
  assert.equal(download.getAttribute('download'), 'cluster.yaml');
  assert.equal(decodeURIComponent(download.href.slice(download.href.indexOf(',') + 1)), text);
  assert.match(screen.getByTestId('wizard-init-init').textContent ?? '', /vigil init --dir \/etc\/vigil\/pki --cluster shop --node alpha=203\.0\.113\.1 --node gamma=203\.0\.113\.2/);
  assert.match(screen.getByTestId('wizard-init-copy').textContent ?? '', /Copy to gamma/);

  fireEvent.click(screen.getByTestId('wizard-propose-button'));
  assert.match(screen.getByTestId('wizard-propose-confirm').textContent ?? '', /Replace the whole configuration of prod \(generation 4\)/);
  await act(async () => { fireEvent.click(screen.getByTestId('wizard-propose-yes')); await settle(); });
  assert.deepEqual(s.bridge.callsOf('agent.call'), [{
    cluster: 'prod', node: 'alpha', method: 'config.propose', params: { text, baseGeneration: 4, comment: 'Made with the new-cluster wizard' },
  }]);
});

test('without a connected cluster the review offers only the file and the steps; the wizard speaks Chinese', async () => {
  const s = setup(false);
  s.store.getState().setLanguage('zh-CN');
  await open(s);
  assert.equal(screen.getByRole('heading', { level: 2 }).textContent, '新建双节点集群');
  assert.equal(next().textContent, '下一步');
  await fillToReview();
  assert.ok(screen.getByTestId('wizard-download'));
  assert.match(screen.getByTestId('wizard-propose-none').textContent ?? '', /没有已连接的集群/);
  assert.match(screen.getByTestId('wizard-init-start').textContent ?? '', /在每个节点上启动代理.*vigild --config \/etc\/vigil\/cluster\.yaml --node alpha/s);
});
