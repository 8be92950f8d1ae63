// A DOM for the renderer's component tests: jsdom's window installed as Node's globals before React loads (import
// this module first). Each test file runs in its own process, so the globals do not leak between files.
import { JSDOM } from 'jsdom';

const dom = new JSDOM('<!doctype html><html><body></body></html>', { url: 'http://127.0.0.1/', pretendToBeVisual: true });
const { window } = dom;
const globals: Record<string, unknown> = {
  window, document: window.document, navigator: window.navigator, location: window.location, history: window.history,
  HTMLElement: window.HTMLElement, HTMLInputElement: window.HTMLInputElement, HTMLSelectElement: window.HTMLSelectElement,
  HTMLTextAreaElement: window.HTMLTextAreaElement, Element: window.Element, Node: window.Node, Text: window.Text,
  Event: window.Event, KeyboardEvent: window.KeyboardEvent, MouseEvent: window.MouseEvent, InputEvent: window.InputEvent,
  HashChangeEvent: window.HashChangeEvent, MutationObserver: window.MutationObserver, getComputedStyle: window.getComputedStyle.bind(window),
  localStorage: window.localStorage, sessionStorage: window.sessionStorage, SVGElement: window.SVGElement,
  requestAnimationFrame: (cb: (t: number) => void) => setTimeout(() => cb(Date.now()), 0),
  cancelAnimationFrame: (id: ReturnType<typeof setTimeout>) => clearTimeout(id),
  IS_REACT_ACT_ENVIRONMENT: true,
};
for (const [name, value] of Object.entries(globals)) {
  Object.defineProperty(globalThis, name, { value, configurable: true, writable: true });
}

/** Moves the page to a route (as a click on a link would) and lets the hashchange listeners run. */
export function goTo(hash: string): void {
  window.location.hash = hash;
  window.dispatchEvent(new window.HashChangeEvent('hashchange'));
}
