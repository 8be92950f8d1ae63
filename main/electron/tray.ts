/**
 * A tray icon with the window's two everyday actions, open and quit, when the installers' icon is there (the
 * PNG scripts/brand.mjs renders into dist/brand: Electron's nativeImage cannot read the SVG logo). Without it, as
 * under `npm start` before a `brand.mjs --icon`, there is no tray: the window is enough. Type-checked only here.
 */
import { app, Menu, nativeImage, Tray, type BrowserWindow } from 'electron';
import { existsSync } from 'node:fs';
import { noticeLanguage } from '../core/alert-notifier.js';

const LABELS = {
  en: { open: 'Open', quit: 'Quit' },
  'zh-CN': { open: '打开', quit: '退出' },
} as const;

export function createTray(window: BrowserWindow, iconFile: string, locale: string): Tray | undefined {
  if (!existsSync(iconFile)) return undefined;
  const labels = LABELS[noticeLanguage(locale)];
  const open = (): void => {
    if (window.isDestroyed()) return;
    if (window.isMinimized()) window.restore();
    window.show();
    window.focus();
  };
  const tray = new Tray(nativeImage.createFromPath(iconFile).resize({ width: 16, height: 16 }));
  tray.setToolTip(app.getName());
  tray.setContextMenu(Menu.buildFromTemplate([{ label: labels.open, click: open }, { type: 'separator' }, { label: labels.quit, click: () => app.quit() }]));
  tray.on('click', open);
  return tray;
}
