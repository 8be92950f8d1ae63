/**
 * Starts the console in a page: finds the bridge (Electron's preload puts it on `window.vigil`; in a browser it is
 * the center's WebSocket, authenticated by the token the URL's fragment carried), loads the branding, connects the
 * store and renders. The token is moved from the fragment to sessionStorage at once, so it does not stay in the
 * address bar or the history.
 */
import { createRoot } from 'react-dom/client';
import { useSyncExternalStore, type ReactNode } from 'react';
import type { CenterBridge } from '../../common/ipc/contract.js';
import { DEFAULT_BRANDING, formatBrandingErrors, parseBranding, type Branding } from '../branding.js';
import { isLanguage } from '../i18n/index.js';
import { connectBridge, type BridgeConnection } from '../state/bridge.js';
import { WebBridge, type WebBridgeState } from '../web/web-bridge.js';
import { App } from './App.js';
import { ConsoleProvider } from './context.js';

declare global {
  interface Window { readonly vigil?: CenterBridge; readonly vigilBranding?: unknown }
}

const TOKEN_KEY = 'vigil.center.token';
const LANGUAGE_KEY = 'vigil.center.language';

function takeToken(): string | undefined {
  const m = /(?:^#|&)token=([^&]+)/.exec(window.location.hash);
  if (m !== null) {
    sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(m[1]!));
    history.replaceState(null, '', `${window.location.pathname}${window.location.search}#/`);
  }
  return sessionStorage.getItem(TOKEN_KEY) ?? undefined;
}

/** branding.js (written by scripts/build-ui.mjs from assets/branding.json) sets `window.vigilBranding`. */
function loadBranding(): Branding {
  if (window.vigilBranding === undefined) return DEFAULT_BRANDING;
  const parsed = parseBranding(window.vigilBranding);
  if (parsed.ok) return parsed.value;
  console.error(`branding.js is not valid, using the default:\n${formatBrandingErrors(parsed.errors)}`);
  return DEFAULT_BRANDING;
}

/** Branding colours become CSS variables, so one file recolours the whole console. */
function applyBranding(b: Branding): void {
  const root = document.documentElement.style;
  for (const [name, value] of Object.entries(b.colors)) root.setProperty(`--${name}`, value);
  document.title = b.productName;
}

class LinkState {
  private value: { state: WebBridgeState; message?: string } = { state: 'open' };
  private readonly listeners = new Set<() => void>();
  set(state: WebBridgeState, message?: string): void {
    this.value = message === undefined ? { state } : { state, message };
    for (const l of this.listeners) l();
  }
  get = (): { state: WebBridgeState; message?: string } => this.value;
  subscribe = (l: () => void): (() => void) => {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  };
}

function Root({ link, connection, bridge, branding }: { link: LinkState; connection: BridgeConnection; bridge: CenterBridge; branding: Branding }): ReactNode {
  const state = useSyncExternalStore(link.subscribe, link.get);
  return (
    <ConsoleProvider services={{ store: connection.store, bridge, branding }}>
      <App link={state.state} {...(state.message === undefined ? {} : { linkMessage: state.message })} />
    </ConsoleProvider>
  );
}

export function boot(container: HTMLElement): void {
  const link = new LinkState();
  // The bridge is made before the store it feeds, and its reconnect handler reloads that store's list.
  const made: { connection?: BridgeConnection } = {};
  let bridge: CenterBridge;
  if (window.vigil !== undefined) {
    bridge = window.vigil;
  } else {
    link.set('connecting');
    const url = new URL('ipc', window.location.href);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    url.hash = '';
    let everOpen = false;
    bridge = new WebBridge({
      url: url.href, token: takeToken() ?? '',
      onConnection: (state, message) => {
        link.set(state, message);
        // After a reconnect the center may have changed meanwhile: load the whole list again.
        if (state === 'open' && everOpen) void made.connection?.refresh();
        if (state === 'open') everOpen = true;
      },
    });
  }
  const branding = loadBranding();
  applyBranding(branding);
  const saved = localStorage.getItem(LANGUAGE_KEY);
  const connection = connectBridge(bridge, { language: isLanguage(saved) ? saved : navigator.language.startsWith('zh') ? 'zh-CN' : 'en' });
  connection.store.subscribe((s, prev) => {
    if (s.language !== prev.language) {
      localStorage.setItem(LANGUAGE_KEY, s.language);
      document.documentElement.lang = s.language;
    }
  });
  made.connection = connection;
  document.documentElement.lang = connection.store.getState().language;
  createRoot(container).render(<Root link={link} connection={connection} bridge={bridge} branding={branding} />);
}
