/**
 * The preload: ONE object, `window.vigil`, typed by the IPC contract (CenterBridge). A sandboxed preload can
 * require nothing but electron, so it is CommonJS (.cts) and learns the channel names from main through its
 * arguments; a channel not among them is refused here, and main validates every request again regardless.
 */
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import type { CenterBridge, InvokeChannel, IpcResult, PushChannel } from '../../common/ipc/contract.js';

// Kept literal rather than imported from preload-args.ts: a sandboxed preload cannot require our modules.
const CHANNELS_ARG = '--vigil-ipc-channels=';
// A record, not a list: a push channel added to the contract and missing here does not compile.
const PUSH: Readonly<Record<PushChannel, true>> = { 'center.change': true };

const invokeChannels = new Set<string>(
  (process.argv.find((a) => a.startsWith(CHANNELS_ARG)) ?? CHANNELS_ARG).slice(CHANNELS_ARG.length).split(',').filter((c) => c !== ''),
);

const unknown = (channel: string): IpcResult<never> => ({ ok: false, error: { code: 'UNKNOWN_CHANNEL', message: `unknown channel ${JSON.stringify(channel)}` } });

const bridge: CenterBridge = {
  invoke(channel, params) {
    if (!invokeChannels.has(channel)) return Promise.resolve(unknown(channel));
    return ipcRenderer.invoke(channel satisfies InvokeChannel, params) as ReturnType<CenterBridge['invoke']>;
  },
  on(channel, listener) {
    if (!Object.prototype.hasOwnProperty.call(PUSH, channel)) throw new Error(`unknown push channel ${JSON.stringify(channel)}`);
    // The event object is not passed on: it would hand the page ipcRenderer's sender.
    const wrapped = (_event: IpcRendererEvent, data: Parameters<typeof listener>[0]): void => listener(data);
    ipcRenderer.on(channel, wrapped);
    return () => { ipcRenderer.removeListener(channel, wrapped); };
  },
};

contextBridge.exposeInMainWorld('vigil', bridge);
