/**
 * The Electron shell: one window, each contract channel wired to the same handlers the web bridge uses, and the
 * center's changes pushed to the window. Everything of substance is in main/core (plain Node, tested headless);
 * this file is only type-checked here, as the Electron binary is not installed in CI.
 */
import { app, BrowserWindow, ipcMain, type IpcMainInvokeEvent } from 'electron';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { INVOKE_CHANNELS, type CenterChange, type PushChannel } from '../../common/ipc/contract.js';
import { createCenterHandlers, invoke } from '../core/center-handlers.js';
import { ChangeCoalescer } from '../core/change-coalescer.js';
import { ConnectionManager } from '../core/connection-manager.js';
import { CHANNELS_ARG } from './preload-args.js';

const here = dirname(fileURLToPath(import.meta.url));

/** Pushes wait until the page has loaded, as electron/fiddle does, so the UI never misses the first changes. */
class WindowQueue {
  private ready = false;
  private readonly queued: { channel: PushChannel; data: CenterChange }[] = [];
  constructor(private readonly window: BrowserWindow) {
    window.webContents.on('did-finish-load', () => {
      this.ready = true;
      for (const m of this.queued.splice(0)) this.send(m.channel, m.data);
    });
    // A reload starts a fresh page: queue again until it has loaded.
    window.webContents.on('did-start-loading', () => { this.ready = false; });
  }
  send(channel: PushChannel, data: CenterChange): void {
    if (this.window.isDestroyed()) return;
    if (this.ready) this.window.webContents.send(channel, data);
    else this.queued.push({ channel, data });
  }
}

async function start(): Promise<void> {
  await app.whenReady();
  const manager = new ConnectionManager({ knownHostsFile: join(app.getPath('userData'), 'known-hosts.json'), client: 'vigil-center' });
  const handlers = createCenterHandlers(manager);

  const window = new BrowserWindow({
    width: 1280, height: 800, show: false,
    webPreferences: {
      preload: join(here, 'preload.cjs'),
      contextIsolation: true, sandbox: true, nodeIntegration: false,
      // The sandboxed preload cannot import the contract, so main hands it the channel names.
      additionalArguments: [`${CHANNELS_ARG}${INVOKE_CHANNELS.join(',')}`],
    },
  });
  window.once('ready-to-show', () => window.show());
  const queue = new WindowQueue(window);
  // A node's changes within 50 ms reach the window as its latest view (see ChangeCoalescer).
  const coalescer = new ChangeCoalescer((change) => queue.send('center.change', change));
  const onChange = (change: CenterChange): void => coalescer.push(change);
  manager.on('change', onChange);

  // Only our own window may drive the center: not a devtools extension's page nor another frame.
  const fromOurWindow = (event: IpcMainInvokeEvent): boolean => event.sender === window.webContents && event.senderFrame === window.webContents.mainFrame;
  for (const channel of INVOKE_CHANNELS) {
    ipcMain.handle(channel, (event, params: unknown) => (fromOurWindow(event)
      ? invoke(handlers, channel, params)
      : Promise.resolve({ ok: false, error: { code: 'FORBIDDEN', message: 'not the center window' } })));
  }

  window.on('closed', () => {
    manager.off('change', onChange);
    coalescer.dispose();
    for (const channel of INVOKE_CHANNELS) ipcMain.removeHandler(channel);
  });
  app.on('window-all-closed', () => {
    void manager.dispose().then(() => app.quit());
  });
  await window.loadFile(join(here, '..', '..', 'ui', 'index.html'));
}

start().catch((e: unknown) => {
  console.error(e);
  app.exit(1);
});
