/**
 * What every screen reaches through React context: the console store, the bridge to the center and the branding.
 * Screens read the store only through `useConsole(selector)` (zustand's `useStore` with `useShallow`), so a node's
 * heartbeat update repaints the components that show that node and nothing else.
 */
import { createContext, useContext, useMemo, type ReactNode } from 'react';
import { useStore } from 'zustand';
import { useShallow } from 'zustand/react/shallow';
import type { CenterBridge } from '../../common/ipc/contract.js';
import type { Branding } from '../branding.js';
import { translator, type Translate } from '../i18n/index.js';
import type { ConsoleState, ConsoleStore } from '../state/store.js';

export interface ConsoleServices {
  readonly store: ConsoleStore;
  readonly bridge: CenterBridge;
  readonly branding: Branding;
}

const ServicesContext = createContext<ConsoleServices | null>(null);

export function ConsoleProvider({ services, children }: { readonly services: ConsoleServices; readonly children: ReactNode }): ReactNode {
  return <ServicesContext.Provider value={services}>{children}</ServicesContext.Provider>;
}

export function useServices(): ConsoleServices {
  const s = useContext(ServicesContext);
  if (s === null) throw new Error('useServices outside <ConsoleProvider>');
  return s;
}

/** Selects from the console store; the component re-renders only when the selection changes (shallowly). */
export function useConsole<T>(selector: (s: ConsoleState) => T): T {
  return useStore(useServices().store, useShallow(selector));
}

export function useBridge(): CenterBridge {
  return useServices().bridge;
}

export function useBranding(): Branding {
  return useServices().branding;
}

/** `t(key, params)` in the language the operator chose. */
export function useT(): Translate {
  const language = useConsole((s) => s.language);
  return useMemo(() => translator(language), [language]);
}
