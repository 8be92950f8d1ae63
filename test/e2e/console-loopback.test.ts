// The console in a real browser against the real center:web and two real agents on loopback: the quick end-to-end
// check that needs no namespaces. The page loads with the access token from the URL's fragment (and drops it from
// the address bar), shows the cluster the center watches, keeps the token and the chosen language across a
// reload; a cluster is added through the form (a bad field named first) and removed; every screen opens without a
// page error; a wrong token is refused with the center's reason in the banner.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCenterHandlers } from '../../main/core/center-handlers.js';
import { ConnectionManager } from '../../main/core/connection-manager.js';
import { CenterWeb } from '../../main/web/center-web.js';
import { LocalCluster, WEB_GROUP_YAML } from '../support/agent-cluster.js';
import { ConsoleBrowser, attribute, requireBuiltUi, text, trigger, waitFor, waitForAbsent, type ElementState } from '../support/browser.js';

test('the console in a browser: the token from the fragment, the cluster shown, a refused token, the language', async (t) => {
  const staticDir = requireBuiltUi();
  const c = await LocalCluster.createWithApi(WEB_GROUP_YAML);
  t.after(() => c.dispose());
  const home = mkdtempSync(join(tmpdir(), 'vigil-e2e-loopback-'));
  t.after(() => rmSync(home, { recursive: true, force: true }));
  await c.startSettled();

  const manager = new ConnectionManager({ knownHostsFile: join(home, 'known-hosts.json'), client: 'e2e-loopback', timeoutMs: 10_000, backoff: { initialMs: 100, maxMs: 1000 } });
  t.after(() => manager.dispose());
  const handlers = createCenterHandlers(manager);
  const web = await CenterWeb.start({ manager, handlers, staticDir });
  t.after(() => web.close());
  await handlers['clusters.add']({
    id: 'it', name: 'Integration', credentials: { ca: c.trust(), token: c.adminToken },
    nodes: c.nodes.map((n) => ({ id: n, url: c.apiUrl(n) })),
  });

  const browser = await ConsoleBrowser.launch();
  t.after(() => browser.close());

  await t.test('the token in the fragment opens the page, leaves the address bar, and the cluster shows healthy', async () => {
    const page = await browser.open(`${web.url}#token=${web.token}`, 'operator');
    await browser.step(page, 'loopback-token', async () => {
      await waitFor(page.getByTestId('product-name'), (e) => e.text !== '', 'the frame rendered');
      await waitForAbsent(page.getByTestId('center-banner'), 'the center accepted the token');
      assert.equal(new URL(page.url()).hash, '#/', 'the token is no longer in the address bar');
      await waitFor(page.getByTestId('cluster-health-it'), attribute('data-level', 'ok'), 'both nodes connected, the group running');
      await browser.screenshot(page, 'loopback-overview');
      await page.getByTestId('cluster-card-it').click();
      assert.equal(new URL(page.url()).hash, '#/clusters/it', 'the card leads to the cluster');
      await page.getByTestId('nav-overview').click();
    });

    await browser.step(page, 'loopback-language', async () => {
      assert.equal(await page.getByTestId('nav-events').textContent(), 'Events and alerts');
      await page.getByTestId('language-switch').selectOption('zh-CN');
      await waitFor(page.getByTestId('nav-events'), text('事件与告警'), 'the navigation in Chinese');
      assert.equal(await page.evaluate(() => document.documentElement.lang), 'zh-CN');
      await browser.screenshot(page, 'loopback-overview-zh-CN');

      // A reload keeps both: the token moved to sessionStorage, the language to localStorage.
      await page.reload();
      await waitFor(page.getByTestId('nav-events'), text('事件与告警'), 'still Chinese after a reload');
      await waitFor(page.getByTestId('cluster-health-it'), attribute('data-level', 'ok'), 'still connected after a reload');
      assert.equal(await page.getByTestId('center-banner').count(), 0);
      await page.getByTestId('language-switch').selectOption('en');
      await waitFor(page.getByTestId('nav-events'), text('Events and alerts'), 'back to English');
    });
    browser.assertClean();
  });

  await t.test('a cluster added through the form: a wrong field is named; corrected, it connects; removed, it goes', async () => {
    const page = await browser.open(`${web.url}#token=${web.token}`, 'form');
    await browser.step(page, 'loopback-add-cluster', async () => {
      const field = (name: string) => page.getByTestId(`add-cluster-${name}`);
      await field('id').fill('second');
      await field('name').fill('Second view');
      await field('ca').fill(c.trust());
      await field('token').fill(c.adminToken);
      await field('node-0-id').fill('alpha');
      await field('node-0-url').fill('https://127.0.0.1:1');
      await field('submit').click();
      const refusal = await waitFor(field('error'), attribute('data-field', 'nodes.0.url'), 'the center names the bad field');
      assert.match(refusal.text, /BAD_PARAMS/);
      await waitFor(field('node-0-url'), attribute('aria-invalid', 'true'), 'the field is marked');

      await field('node-0-url').fill(c.apiUrl('alpha'));
      await field('add-node').click();
      await field('node-1-id').fill('beta');
      await field('node-1-url').fill(c.apiUrl('beta'));
      await field('submit').click();
      await waitFor(field('done'), text('second'), 'added');
      await waitFor(page.getByTestId('cluster-health-second'), attribute('data-level', 'ok'), 'the new cluster connects');
      await browser.screenshot(page, 'loopback-overview-added');
      assert.equal(await trigger(page, 'remove-cluster-second'), undefined, 'the card went with its button');
      await waitForAbsent(page.getByTestId('cluster-card-second'), 'the card goes with the cluster');
      assert.deepEqual(manager.list().map((x) => x.id), ['it'], 'the center no longer watches it');
    });
    browser.assertClean();
  });

  await t.test('every screen opens against the live center without a page error', async () => {
    const page = await browser.open(`${web.url}#token=${web.token}`, 'screens');
    const screens: readonly [name: string, hash: string, testId: string, ready: (e: ElementState) => boolean][] = [
      ['cluster', '#/clusters/it', 'group-web-node', text('alpha')],
      ['mirrors', '#/clusters/it/mirrors', 'mirrors-none', () => true],
      ['config', '#/clusters/it/config', 'config-editor', (e) => e.value.includes('id: web')],
      ['cluster-events', '#/clusters/it/events', 'events-table', () => true],
      ['events', '#/events', 'events-table', () => true],
      ['wizard', '#/wizard', 'wizard-step', () => true],
    ];
    for (const [name, hash, testId, ready] of screens) {
      await browser.step(page, `loopback-${name}`, async () => {
        await page.evaluate((h) => { window.location.hash = h; }, hash);
        await waitFor(page.getByTestId(testId), ready, `the ${name} screen`);
        await browser.screenshot(page, `loopback-${name}`);
      });
    }
    browser.assertClean();
  });

  await t.test('a wrong token: the banner shows the center\'s refusal and no cluster is shown', async () => {
    const page = await browser.open(`${web.url}#token=${web.token.slice(0, -2)}xy`, 'intruder');
    await browser.step(page, 'loopback-refused', async () => {
      const banner = await waitFor(page.getByTestId('center-banner'), text('UNAUTHENTICATED'), 'the refusal');
      assert.match(banner.text, /^The center refused this page: UNAUTHENTICATED: /);
      assert.equal(banner.attributes.role, 'alert');
      assert.equal(await page.getByTestId('cluster-card-it').count(), 0, 'nothing of the cluster reached the page');
      await browser.screenshot(page, 'loopback-refused');
    });
    browser.assertClean();
  });
});
