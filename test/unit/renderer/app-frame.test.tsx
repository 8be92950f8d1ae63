// The console's frame and its one action component, rendered in jsdom against the fake bridge: navigation follows
// the fragment, the language switch changes every string, and an action is confirmed before it runs and shows the
// agent's answer (or its error code).
import '../../support/dom.js';
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { act, cleanup, fireEvent, render, screen } from '@testing-library/react';
import { App } from '../../../renderer/app/App.js';
import { ActionButton } from '../../../renderer/app/components/ActionButton.js';
import { ConsoleProvider } from '../../../renderer/app/context.js';
import { DEFAULT_BRANDING } from '../../../renderer/branding.js';
import { connectBridge } from '../../../renderer/state/bridge.js';
import { goTo } from '../../support/dom.js';
import { FakeBridge, node, settle, snapshot, status, view } from './fake-bridge.js';

afterEach(() => cleanup());

function setup(): { bridge: FakeBridge; services: Parameters<typeof ConsoleProvider>[0]['services'] } {
  const bridge = new FakeBridge();
  bridge.clusters = [{ id: 'prod', name: 'Production', nodes: [view('alpha', 'connected', snapshot(status('prod', 'alpha', [node('alpha'), node('beta')])))] }];
  const { store } = connectBridge(bridge);
  return { bridge, services: { store, bridge, branding: { ...DEFAULT_BRANDING, productName: 'Acme HA' } } };
}

test('the frame shows the brand, follows the route and switches language', async () => {
  const { services } = setup();
  goTo('#/');
  render(<ConsoleProvider services={services}><App /></ConsoleProvider>);
  await act(settle);
  assert.equal(screen.getByTestId('product-name').textContent, 'Acme HA');
  assert.ok(screen.getByTestId('screen-overview'));
  assert.equal(screen.queryByTestId('nav-mirrors'), null, 'no cluster chosen: no cluster links');

  await act(async () => goTo('#/clusters/prod/mirrors'));
  assert.ok(screen.getByTestId('screen-mirrors'));
  assert.equal(screen.getByTestId('nav-mirrors').className, 'current');

  assert.equal(screen.getByTestId('nav-events').textContent, 'Events and alerts');
  await act(async () => { fireEvent.change(screen.getByTestId('language-switch'), { target: { value: 'zh-CN' } }); });
  assert.equal(screen.getByTestId('nav-events').textContent, '事件与告警');
  assert.equal(services.store.getState().language, 'zh-CN');
});

test('an action asks for confirmation, calls the agent through the center and shows its answer', async () => {
  const { bridge, services } = setup();
  let answer: 'ok' | 'refused' = 'ok';
  bridge.answer('agent.call', () => (answer === 'ok'
    ? { ok: true, result: { accepted: true, message: 'web moves to beta' } as never }
    : { ok: false, error: { code: 'FORBIDDEN', message: 'viewer may not switchover' } }));
  render(
    <ConsoleProvider services={services}>
      <ActionButton cluster="prod" node="alpha" method="switchover" params={{ group: 'web', node: 'beta' }}
        label="Switch over" confirm="Move web to beta?" testId="so" />
    </ConsoleProvider>,
  );
  fireEvent.click(screen.getByTestId('so-button'));
  assert.equal(screen.getByTestId('so-confirm').textContent?.includes('Move web to beta?'), true);
  fireEvent.click(screen.getByTestId('so-no'));
  assert.equal(screen.queryByTestId('so-confirm'), null);
  assert.equal(bridge.callsOf('agent.call').length, 0, 'cancelled: nothing was sent');

  fireEvent.click(screen.getByTestId('so-button'));
  await act(async () => { fireEvent.click(screen.getByTestId('so-yes')); await settle(); });
  assert.deepEqual(bridge.callsOf('agent.call'), [{ cluster: 'prod', node: 'alpha', method: 'switchover', params: { group: 'web', node: 'beta' } }]);
  assert.equal(screen.getByTestId('so-result').textContent, 'web moves to beta');

  answer = 'refused';
  fireEvent.click(screen.getByTestId('so-button'));
  await act(async () => { fireEvent.click(screen.getByTestId('so-yes')); await settle(); });
  assert.equal(screen.getByTestId('so-result').textContent, 'FORBIDDEN: viewer may not switchover');
  assert.equal(screen.getByTestId('so-result').getAttribute('role'), 'alert');
});
