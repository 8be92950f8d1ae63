/**
 * A real browser for the end-to-end tests: Debian's chromium (scripts/bootstrap.sh installs it) driven by
 * playwright-core over a pipe, never a browser playwright downloads. Given a network namespace, chromium runs
 * inside it through a small wrapper script (`ip netns exec NS chromium "$@"`): the pipe is inherited, so playwright
 * drives it from outside while the page sees only that host's network.
 *
 * Every console error and uncaught page error is collected; `assertClean()` fails the test with them, and a timed
 * out wait lists them too. Screenshots go to test-artifacts/screenshots/ (git-ignored, kept by CI). `close()` is
 * idempotent and safe after a failure.
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';

/** The browser binary; VIGIL_CHROMIUM overrides it on machines that keep it elsewhere. */
export const CHROMIUM = process.env.VIGIL_CHROMIUM ?? '/usr/bin/chromium';
export const SCREENSHOT_DIR = resolve('test-artifacts', 'screenshots');
/** Generous: a 2-core CI machine shared with other tests; a wait that needs longer has failed. */
export const WAIT_MS = 30_000;
/** The page built by scripts/build-ui.mjs, which center:web serves. */
export const BUILT_UI = resolve('dist', 'ui');

export interface ConsoleBrowserOptions {
  /** Run chromium inside this network namespace (`ip netns exec`). */
  readonly namespace?: string;
  /** navigator.language, which picks the console's first language (default en-US). */
  readonly locale?: string;
}

/** The page's UI must have been built: say so plainly instead of failing on a 404 later. */
export function requireBuiltUi(): string {
  if (!existsSync(join(BUILT_UI, 'index.html'))) {
    throw new Error(`${BUILT_UI}/index.html is missing: run \`node scripts/build-ui.mjs\` (npm run build) before the e2e tests`);
  }
  return BUILT_UI;
}

/** Each open page's error list, so that a timed-out wait, which knows only its locator, can show them. */
const errorsOfPage = new WeakMap<Page, readonly string[]>();

export class ConsoleBrowser {
  /** Console errors and page errors, each prefixed with the page it came from. */
  readonly errors: string[] = [];
  private readonly pages: Page[] = [];
  private closed: Promise<void> | undefined;

  private constructor(private readonly browser: Browser, private readonly wrapperDir: string | undefined, private readonly locale: string) {}

  static async launch(options: ConsoleBrowserOptions = {}): Promise<ConsoleBrowser> {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run scripts/bootstrap.sh (it installs Debian's chromium)`);
    let executablePath = CHROMIUM;
    let wrapperDir: string | undefined;
    if (options.namespace !== undefined) {
      if (!/^[A-Za-z0-9_.-]+$/.test(options.namespace)) throw new Error(`namespace: not a namespace name: ${JSON.stringify(options.namespace)}`);
      wrapperDir = mkdtempSync(join(tmpdir(), 'vigil-e2e-chromium-'));
      executablePath = join(wrapperDir, 'chromium');
      writeFileSync(executablePath, `#!/bin/sh\nexec ip netns exec ${options.namespace} ${CHROMIUM} "$@"\n`);
      chmodSync(executablePath, 0o755);
    }
    try {
      // No sandbox: the tests run as root (namespaces need it) and chromium refuses its sandbox as root.
      const browser = await chromium.launch({ executablePath, args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'] });
      return new ConsoleBrowser(browser, wrapperDir, options.locale ?? 'en-US');
    } catch (e) {
      if (wrapperDir !== undefined) rmSync(wrapperDir, { recursive: true, force: true });
      throw e;
    }
  }

  /** A fresh page (its own storage, so no token or language leaks between pages) at `url`. */
  async open(url: string, name = `page${this.pages.length + 1}`): Promise<Page> {
    const context = await this.browser.newContext({ locale: this.locale, viewport: { width: 1280, height: 860 } });
    const page = await context.newPage();
    this.pages.push(page);
    errorsOfPage.set(page, this.errors);
    page.on('console', (message) => {
      if (message.type() !== 'error') return;
      const { url, lineNumber } = message.location();
      this.errors.push(`${name}: console: ${message.text()}${url === '' ? '' : ` (at ${url}:${lineNumber})`}`);
    });
    page.on('pageerror', (error) => this.errors.push(`${name}: uncaught: ${error.message}`));
    await page.goto(url);
    return page;
  }

  /** A full-page screenshot under test-artifacts/screenshots/; returns its path. */
  async screenshot(page: Page, name: string): Promise<string> {
    mkdirSync(SCREENSHOT_DIR, { recursive: true });
    const path = join(SCREENSHOT_DIR, `${name.replace(/[^A-Za-z0-9._-]+/g, '-')}.png`);
    await page.screenshot({ path, fullPage: true });
    return path;
  }

  /** Fails with every console or page error seen so far. */
  assertClean(): void {
    if (this.errors.length > 0) throw new Error(`the page logged errors:\n${this.errors.join('\n')}`);
  }

  /**
   * Runs one step of a scenario; if it throws, a screenshot `failed-<name>` is taken first, so CI's artifacts
   * show what the page looked like.
   */
  async step<T>(page: Page, name: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (e) {
      await this.screenshot(page, `failed-${name}`).catch(() => undefined);
      throw e;
    }
  }

  close(): Promise<void> {
    this.closed ??= (async () => {
      try {
        await this.browser.close();
      } finally {
        if (this.wrapperDir !== undefined) rmSync(this.wrapperDir, { recursive: true, force: true });
      }
    })();
    return this.closed;
  }
}

/** What a wait looks at: an element's tag name (lower case), text, form value and attributes, read in one go. */
export interface ElementState {
  readonly tag: string;
  readonly text: string;
  /** A textarea's, input's or select's current value ('' for other elements). */
  readonly value: string;
  readonly attributes: Readonly<Record<string, string>>;
}

async function readElements(locator: Locator): Promise<ElementState[]> {
  return locator.evaluateAll((elements) => elements.map((e) => ({
    tag: e.tagName.toLowerCase(),
    text: e.textContent ?? '',
    value: e instanceof HTMLTextAreaElement || e instanceof HTMLInputElement || e instanceof HTMLSelectElement ? e.value : '',
    attributes: Object.fromEntries(Array.from(e.attributes, (a) => [a.name, a.value])),
  })));
}

/**
 * Polls the one element `locator` names until `predicate` holds for it, and returns its state then; an absent
 * element counts as "not yet". On timeout the error names the locator, what was awaited, what the element showed
 * last, and the page's errors. (playwright-core has no `expect`: this is its auto-waiting, for any condition.)
 */
export async function waitFor(locator: Locator, predicate: (e: ElementState) => boolean, what: string, timeoutMs = WAIT_MS): Promise<ElementState> {
  const found = await waitForAll(locator, (all) => {
    if (all.length > 1) throw new Error(`${locator.toString()} matches ${all.length} elements; expected one`);
    return all.length === 1 && predicate(all[0]!);
  }, what, timeoutMs);
  return found[0]!;
}

/** Polls every element `locator` matches (none is a list too) until `predicate` holds for the list. */
export async function waitForAll(locator: Locator, predicate: (all: readonly ElementState[]) => boolean, what: string, timeoutMs = WAIT_MS): Promise<ElementState[]> {
  const deadline = Date.now() + timeoutMs;
  let last = 'not on the page';
  for (;;) {
    const found = await readElements(locator).catch((e: unknown) => { last = `unreadable: ${(e as Error).message}`; return undefined; });
    if (found !== undefined) {
      if (predicate(found)) return found;
      last = found.length === 0 ? 'not on the page' : JSON.stringify(found.length === 1 ? found[0] : found).slice(0, 2000);
    }
    if (Date.now() > deadline) {
      const errors = errorsOfPage.get(locator.page()) ?? [];
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${locator.toString()}: ${what}\nlast seen: ${last}`
        + (errors.length > 0 ? `\nthe page logged errors:\n${errors.join('\n')}` : ''));
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Polls until no element matches `locator`. */
export async function waitForAbsent(locator: Locator, what: string, timeoutMs = WAIT_MS): Promise<void> {
  await waitForAll(locator, (all) => all.length === 0, what, timeoutMs);
}

/** Predicates for waitFor. */
export const attribute = (name: string, value: string | RegExp) => (e: ElementState): boolean => {
  const actual = e.attributes[name];
  return actual !== undefined && (typeof value === 'string' ? actual === value : value.test(actual));
};
export const text = (pattern: string | RegExp) => (e: ElementState): boolean =>
  (typeof pattern === 'string' ? e.text.includes(pattern) : pattern.test(e.text));
/** A numeric attribute (data-records, data-bytes) satisfying `test`. */
export const numeric = (name: string, test: (n: number) => boolean) => (e: ElementState): boolean => {
  const raw = e.attributes[name];
  return raw !== undefined && raw !== '' && Number.isFinite(Number(raw)) && test(Number(raw));
};

/** The attribute trigger() marks the pressed button's element with. */
const PRESSED = 'data-e2e-pressed';

/**
 * Presses a command button (the ActionButton's and CenterCommandButton's testIds: `X-button`, then `X-yes` when it
 * asks for confirmation) and returns once the command has ended: its answer (`X-result`) is shown, or the button
 * has left the page (a removed cluster's, a retried node's). Whether a confirmation comes is read from the page.
 * The pressed button's element is marked first, so a new button rendered in its place (a retried connection refused
 * again) is not mistaken for it.
 */
export async function trigger(page: Page, testId: string, timeoutMs = WAIT_MS): Promise<ElementState | undefined> {
  await page.getByTestId(testId).evaluate((e, marker) => e.setAttribute(marker, ''), PRESSED, { timeout: timeoutMs });
  const pressed = page.locator(`[data-testid="${testId}"][${PRESSED}]`);
  await pressed.getByTestId(`${testId}-button`).click({ timeout: timeoutMs });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await pressed.getByTestId(`${testId}-confirm`).count() > 0) await pressed.getByTestId(`${testId}-yes`).click({ timeout: timeoutMs });
    const [answer] = await readElements(pressed.getByTestId(`${testId}-result`));
    if (answer !== undefined && answer.text.trim() !== '') return answer;
    if (await pressed.count() === 0) return undefined;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${testId}'s answer`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
/** trigger() for a button that stays: its answer, which the caller judges (errors read `CODE: message`). */
export async function press(page: Page, testId: string, timeoutMs = WAIT_MS): Promise<ElementState> {
  const answer = await trigger(page, testId, timeoutMs);
  if (answer === undefined) throw new Error(`${testId} left the page without an answer`);
  return answer;
}
