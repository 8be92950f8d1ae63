/**
 * Wires the store to the center: listens to `center.change` first (so nothing is missed), then loads
 * `clusters.list`. The center sends pushes and results in order on one channel, so the list replaces whatever the
 * earlier pushes built, and later pushes apply on top of it. A `cluster-added` push carries only the id: the entry
 * is shown at once and its name and nodes are fetched with another `clusters.list`.
 */
import type { CenterBridge, IpcResult } from '../../common/ipc/contract.js';
import { applyChange, applyClusterList, createConsoleStore, type ConsoleStore, type ConsoleStoreOptions } from './store.js';

export interface BridgeConnection {
  readonly store: ConsoleStore;
  /** Settles when the first list has been applied (or refused: then `loadError` says why). */
  readonly ready: Promise<IpcResult<unknown>>;
  /** Loads the whole list again (after the page's link to the center was re-established). */
  refresh(): Promise<IpcResult<unknown>>;
  /** Stops listening; later results are ignored. */
  close(): void;
}

export function connectBridge(bridge: CenterBridge, options: ConsoleStoreOptions & { readonly store?: ConsoleStore } = {}): BridgeConnection {
  const store = options.store ?? createConsoleStore(options);
  let closed = false;

  const refresh = async (only?: string): Promise<IpcResult<unknown>> => {
    const r = await bridge.invoke('clusters.list', {});
    if (closed) return r;
    if (r.ok) store.setState((s) => applyClusterList(s, r.result, only));
    else if (only === undefined) store.setState({ loadError: r.error, loaded: true });
    return r;
  };

  const stop = bridge.on('center.change', (change) => {
    if (closed) return;
    store.setState((s) => applyChange(s, change));
    if (change.kind === 'cluster-added') void refresh(change.cluster);
  });

  return {
    store,
    ready: refresh(),
    refresh: () => refresh(),
    close() {
      closed = true;
      stop();
    },
  };
}
