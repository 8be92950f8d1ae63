// The configuration screen against the fake bridge: it loads the version from a connected node, the form and the
// YAML editor edit one text, the local check and the nodes' validation name the field (and the node), the diff is
// shown before a proposal built on the loaded generation, a lost race offers a reload, and the history opens
// versions and rolls back with the right generations.
import '../../support/dom.js';
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { Profiler } from 'react';
import { act, cleanup, fireEvent, render, screen, within } from '@testing-library/react';
import type { InvokeInput, IpcResult } from '../../../common/ipc/contract.js';
import type { ConfigVersion } from '../../../common/model/config-version.js';
import type { Params, Results } from '../../../common/protocol/api.js';
import { App } from '../../../renderer/app/App.js';
import { ConsoleProvider } from '../../../renderer/app/context.js';
import { DEFAULT_BRANDING } from '../../../renderer/branding.js';
import { connectBridge } from '../../../renderer/state/bridge.js';
import { goTo } from '../../support/dom.js';
import { FakeBridge, T0, node, settle, snapshot, status, view } from './fake-bridge.js';

afterEach(() => cleanup());

const TEXT = `# Production: two nodes
cluster: { id: prod, keyFile: /etc/vigil/cluster.key }
nodes:
  - id: alpha # in rack 1
    api: "10.0.0.1:7480"
  - id: beta
    api: "10.0.0.2:7480"
heartbeat:
  links:
    - { name: p1, kind: udp, endpoints: { alpha: "10.0.0.1:7405", beta: "10.0.0.2:7405" } }
groups:
  - id: web
    nodes: [alpha, beta]
    switchback: manual
    resources:
      - { id: web-ip, kind: vip, address: "10.0.1.100/24" }
api: { pki: pki }
`;

function version(generation: number, text: string, author = 'admin'): ConfigVersion {
  return { generation, text, digest: 'a'.repeat(64), author, at: T0 + generation * 60_000, comment: `change ${generation}`, parent: generation > 1 ? generation - 1 : null };
}

type AgentCall = InvokeInput<'agent.call'>;
type Answer = (call: AgentCall) => IpcResult<Results[keyof Results]> | undefined;

/** The cluster "prod": beta reconnecting, alpha connected (so alpha must be asked); agent calls answered by `agent`. */
function setup(agent: Answer) {
  const bridge = new FakeBridge();
  const alpha = view('alpha', 'connected', snapshot(status('prod', 'alpha', [node('alpha'), node('beta')])));
  bridge.clusters = [{ id: 'prod', name: 'Production', nodes: [view('beta', 'reconnecting'), alpha] }];
  const versions = [version(7, TEXT), version(6, TEXT.replace('manual', 'auto'), 'olga'), version(5, TEXT.replace('10.0.1.100', '10.0.1.50'))];
  bridge.answer('agent.call', (call) => {
    const mine = agent(call);
    if (mine !== undefined) return mine as IpcResult<never>;
    if (call.method === 'config.get') {
      const wanted = (call.params as Params<'config.get'>).generation ?? 7;
      const found = versions.find((v) => v.generation === wanted);
      return found === undefined ? { ok: false, error: { code: 'NOT_FOUND', message: `no generation ${wanted}` } } : { ok: true, result: found };
    }
    if (call.method === 'config.history') return { ok: true, result: versions.map(({ text: _t, parent: _p, ...summary }) => summary) };
    return { ok: false, error: { code: 'INTERNAL', message: `not faked: ${call.method}` } };
  });
  const { store } = connectBridge(bridge);
  const services = { store, bridge, branding: DEFAULT_BRANDING };
  return { bridge, store, services, agentCalls: () => bridge.callsOf('agent.call') };
}

async function open(s: ReturnType<typeof setup>): Promise<void> {
  goTo('#/clusters/prod/config');
  render(<ConsoleProvider services={s.services}><App /></ConsoleProvider>);
  await act(settle);
  await act(settle);
}

const editor = (): HTMLTextAreaElement => screen.getByTestId('config-editor') as HTMLTextAreaElement;
const input = (field: string): HTMLInputElement => screen.getByTestId(`config-field-${field}`).querySelector('input, select') as HTMLInputElement;
async function type(el: Element, value: string): Promise<void> {
  await act(async () => { fireEvent.change(el, { target: { value } }); });
}
async function confirm(testId: string): Promise<void> {
  fireEvent.click(screen.getByTestId(`${testId}-button`));
  await act(async () => { fireEvent.click(screen.getByTestId(`${testId}-yes`)); await settle(); await settle(); });
}

test('the current version is read from a connected node and the form and the text edit the same document', async () => {
  const s = setup(() => undefined);
  await open(s);
  assert.deepEqual(s.agentCalls().filter((c) => c.method === 'config.get'), [{ cluster: 'prod', node: 'alpha', method: 'config.get', params: {} }]);
  assert.equal(editor().value, TEXT);
  assert.equal(input('nodes[1].api').value, '10.0.0.2:7480');
  assert.equal(input('heartbeat.links[0].endpoints.beta').value, '10.0.0.2:7405');
  assert.equal(screen.getByTestId('config-local-ok').textContent?.includes('schema accepts'), true);

  // Form -> text: one line changes, the comments stay.
  await type(input('nodes[1].api'), '10.0.0.22:7480');
  assert.equal(editor().value, TEXT.replace('"10.0.0.2:7480"', '"10.0.0.22:7480"'));
  await type(input('groups[0].switchback'), 'auto');
  assert.match(editor().value, /switchback: auto/);
  assert.match(editor().value, /# in rack 1/);
  // The preferred node goes first in the group's nodes.
  await act(async () => { fireEvent.change(screen.getByTestId('config-group-0-preferred'), { target: { value: 'beta' } }); });
  assert.match(editor().value, /nodes: \[ beta, alpha \]\n {4}switchback: auto/);
  assert.match(editor().value, /cluster: \{ id: prod, keyFile/);

  // Text -> form.
  await type(editor(), editor().value.replace('p1', 'private1'));
  assert.equal(input('heartbeat.links[0].name').value, 'private1');

  // Added entries carry the required fields, empty, so the problems point at what is left to fill in.
  await act(async () => { fireEvent.change(screen.getByTestId('config-group-0-add'), { target: { value: 'service' } }); });
  assert.equal(input('groups[0].resources[1].id').value, 'web-service');
  assert.match(screen.getByTestId('config-field-groups[0].resources[1].name').textContent ?? '', /a service or unit name/);
  await type(input('groups[0].resources[1].name'), 'nginx');
  assert.match(editor().value, /- id: web-service\n\s+kind: service\n\s+name: nginx\n/);
  await act(async () => { fireEvent.click(screen.getByTestId('config-resource-0-1-remove')); });
  assert.equal(screen.queryByTestId('config-field-groups[0].resources[1].id'), null);
  await act(async () => { fireEvent.change(screen.getByTestId('config-channel-add'), { target: { value: 'webhook' } }); });
  assert.equal(input('alerts.channels[0].name').value, 'webhook');
  await type(input('alerts.channels[0].url'), 'https://hooks.example.org/vigil');

  // A list typed with its separators still being typed is kept as typed.
  await act(async () => { fireEvent.click(screen.getByTestId('config-rule-add')); });
  await type(input('alerts.rules[0].groups'), 'web,');
  assert.equal(input('alerts.rules[0].groups').value, 'web,');
  assert.match(editor().value, /groups:\n\s+- web/);
});

test('a schema error names the field, in the list and beside the field, and blocks the commit', async () => {
  const s = setup(() => undefined);
  await open(s);
  await type(editor(), TEXT.replace('address: "10.0.1.100/24"', 'address: "10.0.1.100"'));
  const errors = screen.getByTestId('config-errors');
  const problem = within(errors).getByText(/groups\[0\]\.resources\[0\]\.address \(line 16\): expected an IPv4 address with its prefix length/);
  assert.equal(problem.getAttribute('data-field'), 'groups[0].resources[0].address');
  assert.match(screen.getByTestId('config-field-groups[0].resources[0].address').textContent ?? '', /IPv4 address/);
  assert.equal((screen.getByTestId('config-commit-button') as HTMLButtonElement).disabled, true);

  fireEvent.click(screen.getByTestId('config-validate'));
  await act(settle);
  assert.equal(s.agentCalls().some((c) => c.method === 'config.validate'), false, 'the nodes are asked only once the schema accepts it');

  await type(editor(), 'cluster: [\n');
  assert.ok(screen.getByTestId('config-form-syntax'));
  assert.match(screen.getByTestId('config-errors').textContent ?? '', /YAML syntax/);
});

test("the nodes' validation is shown per node and per field", async () => {
  const s = setup((call) => (call.method === 'config.validate' ? {
    ok: true, result: { nodes: [
      { node: 'alpha', outcome: 'ok' },
      { node: 'beta', outcome: 'failed', code: 'VALIDATION_FAILED', message: 'beta: 1 problem', problems: [{ node: 'beta', path: 'nodes[1].api', message: 'not an address of this host' }] },
      { node: 'gamma', outcome: 'down' },
    ] },
  } : undefined));
  await open(s);
  const edited = TEXT.replace('10.0.0.2:7480', '10.0.0.99:7480');
  await type(editor(), edited);
  fireEvent.click(screen.getByTestId('config-validate'));
  await act(settle);
  assert.deepEqual(s.agentCalls().find((c) => c.method === 'config.validate'), { cluster: 'prod', node: 'alpha', method: 'config.validate', params: { text: edited } });
  assert.equal(screen.getByTestId('config-node-result-alpha').getAttribute('data-outcome'), 'ok');
  assert.equal(screen.getByTestId('config-node-result-gamma').getAttribute('data-outcome'), 'down');
  assert.equal(screen.getByTestId('config-node-result-beta').textContent, 'beta: VALIDATION_FAILED: beta: 1 problem');
  const problem = within(screen.getByTestId('config-errors')).getByText('beta: nodes[1].api: not an address of this host');
  assert.equal(problem.getAttribute('data-node'), 'beta');
  assert.match(screen.getByTestId('config-field-nodes[1].api').textContent ?? '', /beta: not an address of this host/);

  // Another edit: the answers were about the previous text.
  await type(editor(), edited.replace('prod', 'prod2'));
  assert.equal(screen.queryByTestId('config-node-result-beta'), null);
});

test('the diff is shown, then the proposal carries the text and the generation it was built on', async () => {
  let current = TEXT;
  const s = setup((call) => {
    if (call.method === 'config.propose') {
      current = (call.params as Params<'config.propose'>).text;
      return { ok: true, result: { generation: 8, digest: 'b'.repeat(64), committed: ['alpha', 'beta'], pending: [], partial: [], live: ['groups.web.switchback'], reload: ['heartbeat'] } };
    }
    if (call.method === 'config.get' && (call.params as Params<'config.get'>).generation === undefined && current !== TEXT) return { ok: true, result: version(8, current) };
    return undefined;
  });
  await open(s);
  assert.equal(screen.queryByTestId('config-diff'), null, 'nothing changed yet');
  const edited = TEXT.replace('switchback: manual', 'switchback: auto');
  await type(editor(), edited);
  const diff = screen.getByTestId('config-diff');
  assert.equal(diff.getAttribute('data-added'), '1');
  assert.equal(diff.getAttribute('data-removed'), '1');
  assert.deepEqual([...diff.querySelectorAll('[data-kind="removed"], [data-kind="added"]')].map((l) => l.textContent),
    ['14-     switchback: manual', '14+     switchback: auto']);

  await type(screen.getByTestId('config-comment'), ' back by itself ');
  fireEvent.click(screen.getByTestId('config-commit-button'));
  assert.match(screen.getByTestId('config-commit-confirm').textContent ?? '', /\+1 −1 lines.*generation 7/);
  await act(async () => { fireEvent.click(screen.getByTestId('config-commit-yes')); await settle(); await settle(); });
  assert.deepEqual(s.agentCalls().filter((c) => c.method === 'config.propose'), [{
    cluster: 'prod', node: 'alpha', method: 'config.propose', params: { text: edited, baseGeneration: 7, comment: 'back by itself' },
  }]);
  assert.match(screen.getByTestId('config-outcome').textContent ?? '', /Generation 8 is current on alpha, beta/);
  assert.equal(screen.getByTestId('config-outcome-live').textContent, 'Applied live: groups.web.switchback');
  assert.equal(screen.getByTestId('config-outcome-reload').textContent, 'Applied by a reload: heartbeat');
  assert.match(screen.getByTestId('config-base').textContent ?? '', /generation 8/, 'the committed version is the new base');
  assert.equal(screen.queryByTestId('config-diff'), null);
});

test('STALE_GENERATION says someone else changed it and reloads; VALIDATION_FAILED names the node and the field', async () => {
  let refusal: 'stale' | 'invalid' = 'stale';
  const s = setup((call) => {
    if (call.method !== 'config.propose') return undefined;
    return refusal === 'stale'
      ? { ok: false, error: { code: 'STALE_GENERATION', message: 'generation 8 is current, not 7' } }
      : { ok: false, error: { code: 'VALIDATION_FAILED', message: 'beta rejects it', details: { problems: [{ node: 'beta', path: 'heartbeat.links[0].endpoints.beta', message: 'not an address of this host', line: 10 }] } } };
  });
  await open(s);
  await type(editor(), TEXT.replace('10.0.0.2:7405', '10.0.0.3:7405'));
  await confirm('config-commit');
  assert.match(screen.getByTestId('config-stale').textContent ?? '', /Someone else changed the configuration.*generation 8 is current, not 7/);
  assert.equal(screen.getByTestId('config-commit-result').textContent, 'STALE_GENERATION: generation 8 is current, not 7');

  const gets = s.agentCalls().filter((c) => c.method === 'config.get').length;
  await act(async () => { fireEvent.click(screen.getByTestId('config-reload')); await settle(); });
  assert.equal(s.agentCalls().filter((c) => c.method === 'config.get').length, gets + 1);
  assert.equal(editor().value, TEXT, 'reloaded: the edits are gone');
  assert.equal(screen.queryByTestId('config-stale'), null);

  refusal = 'invalid';
  await type(editor(), TEXT.replace('10.0.0.2:7405', '10.0.0.3:7405'));
  await confirm('config-commit');
  const problem = within(screen.getByTestId('config-errors')).getByText('beta: heartbeat.links[0].endpoints.beta: not an address of this host');
  assert.equal(problem.getAttribute('data-node'), 'beta');
  assert.match(screen.getByTestId('config-field-heartbeat.links[0].endpoints.beta').textContent ?? '', /beta: not an address/);
});

test('the history lists the versions, opens one and rolls back with both generations', async () => {
  const s = setup((call) => (call.method === 'config.rollback'
    ? { ok: true, result: { generation: 8, digest: 'c'.repeat(64), committed: ['alpha'], pending: ['beta'], partial: [], live: [], reload: ['groups'] } }
    : undefined));
  await open(s);
  assert.deepEqual(s.agentCalls().find((c) => c.method === 'config.history'), { cluster: 'prod', node: 'alpha', method: 'config.history', params: { limit: 50 } });
  const row = screen.getByTestId('config-history-6');
  assert.deepEqual([...row.querySelectorAll('td')].slice(0, 4).map((c) => c.textContent), ['6', 'olga', '2023-11-14 22:19:20 UTC', 'change 6']);
  assert.equal(screen.getByTestId('config-history-7').querySelector('td')?.textContent, '7 (current)');
  assert.equal(screen.queryByTestId('config-rollback-7'), null, 'no rollback to the current version');

  await act(async () => { fireEvent.click(screen.getByTestId('config-view-5')); await settle(); });
  assert.deepEqual(s.agentCalls().at(-1), { cluster: 'prod', node: 'alpha', method: 'config.get', params: { generation: 5 } });
  assert.match(screen.getByTestId('config-version-text').textContent ?? '', /10\.0\.1\.50/);
  assert.equal(screen.getByTestId('config-version-diff').getAttribute('data-added'), '1');

  fireEvent.click(screen.getByTestId('config-rollback-5-button'));
  assert.match(screen.getByTestId('config-rollback-5-confirm').textContent ?? '', /generation 5 again, replacing generation 7/);
  await act(async () => { fireEvent.click(screen.getByTestId('config-rollback-5-yes')); await settle(); await settle(); });
  assert.deepEqual(s.agentCalls().find((c) => c.method === 'config.rollback'), {
    cluster: 'prod', node: 'alpha', method: 'config.rollback', params: { toGeneration: 5, baseGeneration: 7, comment: 'Rollback to generation 5' },
  });
  assert.match(screen.getByTestId('config-outcome').textContent ?? '', /Pending \(down or catching up\): beta/);
});

test('a status push from the cluster neither repaints the editor nor loses the edits; no connected node says so', async () => {
  const s = setup(() => undefined);
  let commits = 0;
  goTo('#/clusters/prod/config');
  render(<Profiler id="config" onRender={() => { commits++; }}><ConsoleProvider services={s.services}><App /></ConsoleProvider></Profiler>);
  await act(settle);
  await act(settle);
  await type(editor(), `${TEXT}# note\n`);
  const before = commits;
  await act(async () => {
    s.bridge.push({ kind: 'node', cluster: 'prod', node: 'alpha', what: 'snapshot', view: view('alpha', 'connected', snapshot(status('prod', 'alpha', [node('alpha'), node('beta', false)]))) });
  });
  assert.equal(commits, before, 'the screen selects only which node is connected: a heartbeat changes nothing it shows');
  assert.equal(editor().value, `${TEXT}# note\n`);
  await act(async () => { s.bridge.push({ kind: 'node', cluster: 'prod', node: 'alpha', what: 'state', view: view('alpha', 'reconnecting') }); });
  assert.match(screen.getByTestId('config-no-node').textContent ?? '', /No node of prod is connected/);
});

test('the screen speaks Chinese', async () => {
  const s = setup(() => undefined);
  s.store.getState().setLanguage('zh-CN');
  await open(s);
  assert.equal(screen.getByRole('heading', { level: 2 }).textContent, 'prod 的配置（第 7 代）');
  assert.equal(screen.getByTestId('config-validate').textContent, '在各节点上校验');
  assert.equal(screen.getByTestId('config-history').querySelector('h3')?.textContent, '历史版本');
  await type(editor(), TEXT.replace('id: prod', 'id: Prod'));
  assert.match(screen.getByTestId('config-errors').textContent ?? '', /cluster\.id（第 2 行）/);
});
