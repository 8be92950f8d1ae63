/**
 * Desktop notifications of the center's alerts: the pure AlertNotifier decides, this shows each notice with
 * Electron's Notification; a click brings the window forward on the cluster's events. Type-checked only here.
 */
import { Notification, type BrowserWindow } from 'electron';
import { AlertNotifier, noticeLanguage, noticeText, type AlertNotice, type NoticeLanguage, type NotifierPolicy } from '../core/alert-notifier.js';
import { watchAlerts } from '../core/alert-watch.js';
import type { ConnectionManager } from '../core/connection-manager.js';

export interface AlertNotificationOptions {
  readonly manager: ConnectionManager;
  readonly window: BrowserWindow;
  /** The system locale (app.getLocale()): the notices are in Chinese for zh-*, else in English. */
  readonly locale: string;
  readonly clusterName: (id: string) => string;
  readonly policy?: Partial<NotifierPolicy>;
}

export function showAlertNotifications(options: AlertNotificationOptions): { dispose(): void } {
  if (!Notification.isSupported()) return { dispose: () => undefined };
  const language: NoticeLanguage = noticeLanguage(options.locale);
  // Shown notifications are kept referenced until closed: one collected early loses its click handler.
  const shown = new Set<Notification>();
  const show = (notice: AlertNotice): void => {
    const text = noticeText(notice, language, options.clusterName);
    const notification = new Notification({ title: text.title, body: text.body, urgency: notice.headline.alert.event.severity === 'critical' ? 'critical' : 'normal' });
    shown.add(notification);
    notification.on('close', () => shown.delete(notification));
    notification.on('click', () => {
      shown.delete(notification);
      focusOn(options.window, notice.route);
    });
    notification.show();
  };
  const watch = watchAlerts(options.manager, new AlertNotifier(options.policy), show);
  return {
    dispose() {
      watch.dispose();
      for (const n of shown) n.close();
      shown.clear();
    },
  };
}

/** The route is one of ours (`#/clusters/<encoded id>/events` or `#/events`); the page's router follows hashchange. */
function focusOn(window: BrowserWindow, route: string): void {
  if (window.isDestroyed()) return;
  if (window.isMinimized()) window.restore();
  window.show();
  window.focus();
  void window.webContents.executeJavaScript(`location.hash = ${JSON.stringify(route)};`);
}
