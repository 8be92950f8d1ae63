// The e2e harness itself (test/support/browser.ts), on small pages of its own: the console's tests are only as
// good as its promise that a page's errors fail them and that a wait reports what it last saw.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, rmSync } from 'node:fs';
import { ConsoleBrowser, attribute, numeric, press, text, trigger, waitFor, waitForAbsent } from '../support/browser.js';

/** A command button as ActionButton renders it: `X-button`, an optional confirmation, then `X-result` (or it goes). */
const BUTTONS = `
<span id="slot"></span>
<script>
  function button(testId, confirm, answer, vanish) {
    const root = document.createElement('span');
    root.dataset.testid = testId;
    const b = document.createElement('button');
    b.dataset.testid = testId + '-button';
    b.textContent = 'Go';
    const show = () => { root.querySelector('[data-testid$="-confirm"]')?.remove(); setTimeout(() => {
      if (vanish === 'gone') return root.remove();
      if (vanish === 'replaced') { root.remove(); return button(testId, confirm, answer, vanish); }
      const r = document.createElement('span'); r.dataset.testid = testId + '-result'; r.textContent = answer; root.append(r); }, 200); };
    b.onclick = () => {
      if (!confirm) return show();
      const c = document.createElement('span'); c.dataset.testid = testId + '-confirm';
      const yes = document.createElement('button'); yes.dataset.testid = testId + '-yes'; yes.onclick = show;
      c.append(yes); root.append(c);
    };
    root.append(b);
    document.body.append(root);
  }
  button('confirmed', true, 'web moves to beta');
  button('direct', false, 'FORBIDDEN: viewer may not do that');
  button('removing', true, '', 'gone');
  button('retrying', false, '', 'replaced');
</script>`;

test('the browser harness: errors collected, waits that report, buttons pressed, screenshots written', async (t) => {
  const browser = await ConsoleBrowser.launch();
  t.after(() => browser.close());

  await t.test('a console error and an uncaught error are collected and fail assertClean', async () => {
    const page = await browser.open('about:blank', 'noisy');
    assert.doesNotThrow(() => browser.assertClean());
    await page.setContent('<script>console.error("the disk is on fire"); setTimeout(() => { throw new Error("boom"); });</script>');
    await waitFor(page.locator('body'), () => browser.errors.length >= 2, 'both errors seen', 5000);
    assert.throws(() => browser.assertClean(), (e: Error) => /noisy: console: the disk is on fire/.test(e.message) && /noisy: uncaught: boom/.test(e.message));
    await assert.rejects(waitFor(page.getByTestId('nowhere'), () => true, 'anything', 200), /the page logged errors:\nnoisy: console: the disk is on fire/);
    browser.errors.length = 0;
  });

  await t.test('waitFor returns the state it waited for; a timeout names the locator and what it last saw', async () => {
    const page = await browser.open('about:blank', 'waits');
    await page.setContent(`<p data-testid="queue" data-records="3">3 records</p>
      <script>setTimeout(() => { const q = document.querySelector('p'); q.dataset.records = '0'; q.textContent = 'empty'; }, 300);</script>`);
    const drained = await waitFor(page.getByTestId('queue'), numeric('data-records', (n) => n === 0), 'drained', 5000);
    assert.equal(drained.text, 'empty');
    assert.equal(drained.tag, 'p');
    await assert.rejects(waitFor(page.getByTestId('queue'), attribute('data-records', '9'), 'nine records', 300),
      (e: Error) => /getByTestId\('queue'\): nine records/.test(e.message) && /"data-records":"0"/.test(e.message));
    await assert.rejects(waitFor(page.getByTestId('nowhere'), text('x'), 'a missing element', 300), /last seen: not on the page/);
    await page.evaluate(() => document.querySelector('p')?.remove());
    await waitForAbsent(page.getByTestId('queue'), 'removed', 5000);
    browser.assertClean();
  });

  await t.test('press confirms when asked and returns the answer, error or not; trigger sees a button leave', async () => {
    const page = await browser.open('about:blank', 'buttons');
    await page.setContent(BUTTONS);
    assert.equal((await press(page, 'confirmed', 5000)).text, 'web moves to beta');
    assert.equal((await press(page, 'direct', 5000)).text, 'FORBIDDEN: viewer may not do that');
    assert.equal(await trigger(page, 'removing', 5000), undefined, 'a button that leaves the page has no answer');
    assert.equal(await page.getByTestId('removing').count(), 0);
    assert.equal(await trigger(page, 'retrying', 5000), undefined, 'a new button in its place is not the pressed one');
    assert.equal(await page.getByTestId('retrying').count(), 1);
    const shot = await browser.screenshot(page, 'harness buttons');
    assert.ok(shot.endsWith('/harness-buttons.png') && existsSync(shot), shot);
    rmSync(shot);
    browser.assertClean();
  });
});
