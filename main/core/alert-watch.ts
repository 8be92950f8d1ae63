/** Drives an AlertNotifier from a ConnectionManager with real time: the one impure part of desktop notifications. */
import type { AlertNotice, AlertNotifier } from './alert-notifier.js';
import type { ManagerChange } from './connection-manager.js';

/**
 * Runs a notifier on a manager's changes: `show` gets each notice as it is due, held ones included (a timer per
 * window, unref'd so it never keeps a process alive). `dispose()` stops listening and clears the timer.
 */
export function watchAlerts(
  manager: { on(event: 'change', listener: (c: ManagerChange) => void): unknown; off(event: 'change', listener: (c: ManagerChange) => void): unknown },
  notifier: AlertNotifier,
  show: (notice: AlertNotice) => void,
  now: () => number = Date.now,
): { dispose(): void } {
  let timer: NodeJS.Timeout | undefined;
  const deliver = (notices: readonly AlertNotice[]): void => {
    for (const notice of notices) show(notice);
    clearTimeout(timer);
    timer = undefined;
    const due = notifier.nextDueAt();
    if (due !== undefined) {
      timer = setTimeout(() => deliver(notifier.tick(now())), Math.max(0, due - now()));
      timer.unref();
    }
  };
  const onChange = (change: ManagerChange): void => deliver(notifier.observe(change, now()));
  manager.on('change', onChange);
  return {
    dispose() {
      manager.off('change', onChange);
      clearTimeout(timer);
      timer = undefined;
    },
  };
}
