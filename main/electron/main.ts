/**
 * The Electron shell: one window, each contract channel wired to the same handlers the web bridge uses, and the
 * center's changes pushed to the window; the clusters the operator added are restored from userData (secrets in
 * the OS keychain) and new alerts become desktop notifications. Everything of substance is in main/core (plain
 * Node, tested headless); this file is only type-checked here, as the Electron binary is not installed in CI.
 */
import { app, BrowserWindow, ipcMain, type IpcMainInvokeEvent } from 'electron';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { INVOKE_CHANNELS, type CenterChange, type PushChannel } from '../../common/ipc/contract.js';
import { createCenter, invoke } from '../core/center-handlers.js';
import { ChangeCoalescer } from '../core/change-coalescer.js';
import { CLUSTERS_FILE, ClusterStore, describeProblem } from '../core/cluster-store.js';
import { ConnectionManager } from '../core/connection-manager.js';
import { FileKeyCipher, SECRET_KEY_FILE, type SecretCipher } from '../core/secret-cipher.js';
import { showAlertNotifications } from './alert-notifications.js';
import { CHANNELS_ARG } from './preload-args.js';
import { SafeStorageCipher } from './safe-storage-cipher.js';
import { createTray } from './tray.js';

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

/**
 * The keychain seals when there is one, else the key file center:web uses (docs/center.md says why it is weaker),
 * said loudly. Entries sealed with the key file before a keychain was there stay readable.
 */
function secretCiphers(folder: string): { cipher: SecretCipher; alsoDecryptWith: SecretCipher[] } {
  const keyFile = join(folder, SECRET_KEY_FILE);
  const keychain = new SafeStorageCipher();
  if (keychain.isAvailable()) return { cipher: keychain, alsoDecryptWith: existsSync(keyFile) ? [new FileKeyCipher(keyFile)] : [] };
  console.warn(`vigil: no OS keychain for safeStorage; cluster secrets are sealed with the key file ${keyFile} instead`);
  return { cipher: new FileKeyCipher(keyFile), alsoDecryptWith: [] };
}

async function start(): Promise<void> {
  await app.whenReady();
  const userData = app.getPath('userData');
  const manager = new ConnectionManager({ knownHostsFile: join(userData, 'known-hosts.json'), client: 'vigil-center' });
  const { cipher, alsoDecryptWith } = secretCiphers(userData);
  const center = createCenter(manager, { store: new ClusterStore(join(userData, CLUSTERS_FILE), cipher, { alsoDecryptWith }) });
  const handlers = center.handlers;

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
  const notifications = showAlertNotifications({ manager, window, locale: app.getLocale(), clusterName: center.clusterName });
  const tray = createTray(window, join(here, '..', '..', 'brand', 'icon.png'), app.getLocale());

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
    notifications.dispose();
    tray?.destroy();
    for (const channel of INVOKE_CHANNELS) ipcMain.removeHandler(channel);
  });
  app.on('window-all-closed', () => {
    void manager.dispose().then(() => app.quit());
  });
  // After the listeners: the restored clusters' first changes reach the window's queue and the notifier's baseline.
  for (const problem of await center.restore()) console.error(`vigil: ${describeProblem(problem)}`);
  await window.loadFile(join(here, '..', '..', 'ui', 'index.html'));
}

start().catch((e: unknown) => {
  console.error(e);
  app.exit(1);
});
