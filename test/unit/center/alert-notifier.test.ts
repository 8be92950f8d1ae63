// Which alerts become desktop notifications: new ones only (a node's first snapshot is the baseline), each once
// by cluster and id whichever node reports it, unacknowledged, not tests, at or above the minimum severity;
// throttled per window with "and N more"; held alerts come at the window's end unless acknowledged meanwhile.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { AlertRecord, Severity } from '../../../common/model/index.js';
import { AlertNotifier, noticeLanguage, noticeText, type AlertNotice } from '../../../main/core/alert-notifier.js';
import { watchAlerts } from '../../../main/core/alert-watch.js';
import type { ManagerChange } from '../../../main/core/connection-manager.js';
import { node, snapshot, status, T0 } from '../renderer/fake-bridge.js';

function alert(id: string, severity: Severity, at: number, extra: Partial<AlertRecord> = {}): AlertRecord {
  return {
    id, at, suppressed: 0, test: false, channels: [],
    event: { at, kind: severity === 'info' ? 'switchover' : 'failover', severity, node: 'alpha', group: 'web', message: `${id}: web moved` },
    ...extra,
  };
}

/** A change as the ConnectionManager emits it: `reporter`'s view, its snapshot holding `alerts` (newest first). */
function change(cluster: string, reporter: string, alerts: readonly AlertRecord[], what: 'snapshot' | 'event' | 'state' = 'event'): ManagerChange {
  const snap = snapshot(status(cluster, reporter, [node('alpha'), node('beta')]), { alerts: [...alerts].sort((a, b) => b.at - a.at) });
  return { kind: 'node', cluster, node: reporter, what, view: { node: reporter, url: `wss://${reporter}:7480`, viaSsh: false, state: 'connected', snapshot: snap, status: snap.status } };
}

const ids = (notices: readonly AlertNotice[]): string[][] => notices.map((n) => [n.headline.alert.id, ...n.others.map((o) => o.alert.id)]);

test('notifier: the first snapshot of a node is the baseline; a new alert is notified once, whichever node reports it', () => {
  const n = new AlertNotifier({ maxPerWindow: 100 });
  const old = alert('a-old', 'critical', T0);
  assert.deepEqual(n.observe(change('prod', 'alpha', [old], 'snapshot'), T0), [], 'history is not news');
  assert.deepEqual(n.observe(change('prod', 'beta', [], 'snapshot'), T0), []);

  const fresh = alert('a-1', 'warning', T0 + 1000);
  const first = n.observe(change('prod', 'alpha', [fresh, old]), T0 + 1000);
  assert.deepEqual(ids(first), [['a-1']]);
  assert.equal(first[0]!.route, '#/clusters/prod/events');
  assert.equal(first[0]!.headline.cluster, 'prod');

  // Its deliveries settle (the record changes), the other node reports it too, a reconnect resends it: nothing.
  const settled = { ...fresh, channels: [{ channel: 'mail', kind: 'email' as const, status: 'ok' as const, attempts: 1, at: T0 + 1500 }] };
  assert.deepEqual(n.observe(change('prod', 'alpha', [settled, old]), T0 + 1500), []);
  assert.deepEqual(n.observe(change('prod', 'beta', [settled]), T0 + 1600), []);
  assert.deepEqual(n.observe(change('prod', 'alpha', [settled, old], 'snapshot'), T0 + 1700), []);

  // An alert raised while the center was away arrives in the reconnect snapshot: news.
  const whileAway = alert('a-2', 'critical', T0 + 2000);
  assert.deepEqual(ids(n.observe(change('prod', 'alpha', [whileAway, settled, old], 'snapshot'), T0 + 3000)), [['a-2']]);
});

test('notifier: a node seen late takes its own baseline; the same alert id in two clusters is two alerts', () => {
  const n = new AlertNotifier({ maxPerWindow: 100 });
  n.observe(change('prod', 'alpha', [], 'snapshot'), T0);
  // beta connects later with alerts it already had: its baseline, not news.
  assert.deepEqual(n.observe(change('prod', 'beta', [alert('b-old', 'critical', T0 - 5000)], 'snapshot'), T0 + 10), []);
  n.observe(change('lab', 'alpha', [], 'snapshot'), T0);
  const shared = alert('same-id', 'warning', T0 + 20);
  assert.deepEqual(ids(n.observe(change('prod', 'alpha', [shared]), T0 + 20)), [['same-id']]);
  assert.deepEqual(ids(n.observe(change('lab', 'alpha', [shared]), T0 + 30)), [['same-id']]);
});

test('notifier: below the minimum severity, acknowledged or test alerts are not notified, and stay seen', () => {
  const n = new AlertNotifier({ minSeverity: 'warning', maxPerWindow: 100 });
  n.observe(change('prod', 'alpha', [], 'snapshot'), T0);
  const info = alert('i', 'info', T0 + 1);
  const acked = alert('k', 'critical', T0 + 2, { acknowledged: { by: 'oscar', at: T0 + 2 } });
  const tested = alert('t', 'critical', T0 + 3, { test: true });
  const warning = alert('w', 'warning', T0 + 4);
  const critical = alert('c', 'critical', T0 + 5);
  assert.deepEqual(ids(n.observe(change('prod', 'alpha', [info, acked, tested, warning, critical]), T0 + 10)), [['w'], ['c']], 'oldest first');
  // An acknowledgement withdrawn would not make an old alert new.
  const { acknowledged: _withdrawn, ...unacknowledged } = acked;
  assert.deepEqual(n.observe(change('prod', 'alpha', [unacknowledged]), T0 + 20), []);

  const everything = new AlertNotifier({ minSeverity: 'info', maxPerWindow: 100 });
  everything.observe(change('prod', 'alpha', [], 'snapshot'), T0);
  assert.deepEqual(ids(everything.observe(change('prod', 'alpha', [info]), T0 + 10)), [['i']]);
  const criticalOnly = new AlertNotifier({ minSeverity: 'critical', maxPerWindow: 100 });
  criticalOnly.observe(change('prod', 'alpha', [], 'snapshot'), T0);
  assert.deepEqual(ids(criticalOnly.observe(change('prod', 'alpha', [warning, critical]), T0 + 10)), [['c']]);
});

test('notifier: many at once: the window\'s last notice sums up the rest, headed by the most severe', () => {
  const n = new AlertNotifier({ maxPerWindow: 3, windowMs: 10_000 });
  n.observe(change('prod', 'alpha', [], 'snapshot'), T0);
  const burst = [alert('1', 'warning', T0 + 1), alert('2', 'warning', T0 + 2), alert('3', 'warning', T0 + 3), alert('4', 'critical', T0 + 4), alert('5', 'warning', T0 + 5)];
  const notices = n.observe(change('prod', 'alpha', burst), T0 + 10);
  assert.deepEqual(ids(notices), [['1'], ['2'], ['4', '5', '3']]);
  assert.deepEqual(noticeText(notices[2]!, 'en'), { title: 'Critical: prod (alpha)', body: '4: web moved\n… and 2 more alerts' });
  assert.equal(n.nextDueAt(), undefined, 'nothing held');

  // More within the window wait for its end; an early tick shows nothing; at the end, one notice of both.
  const later = [alert('6', 'warning', T0 + 20), alert('7', 'warning', T0 + 21)];
  assert.deepEqual(n.observe(change('prod', 'alpha', [...later, ...burst]), T0 + 100), []);
  assert.equal(n.nextDueAt(), T0 + 10 + 10_000);
  assert.deepEqual(n.tick(T0 + 5000), []);
  assert.deepEqual(ids(n.tick(T0 + 10_010)), [['6'], ['7']], 'a fresh window: each alone again');
  assert.equal(n.nextDueAt(), undefined);
});

test('notifier: one per window: a single alert alone, several as one summary; "and 1 more" in the singular', () => {
  const n = new AlertNotifier({ maxPerWindow: 1, windowMs: 1000 });
  n.observe(change('prod', 'alpha', [], 'snapshot'), T0);
  assert.deepEqual(ids(n.observe(change('prod', 'alpha', [alert('a', 'warning', T0 + 1)]), T0 + 1)), [['a']]);
  const two = [alert('b', 'warning', T0 + 2), alert('c', 'warning', T0 + 3)];
  assert.deepEqual(n.observe(change('prod', 'alpha', two), T0 + 2), []);
  const held = n.tick(T0 + 1001);
  assert.deepEqual(ids(held), [['c', 'b']], 'the newest heads a summary of equals');
  assert.equal(noticeText(held[0]!, 'en').body, 'c: web moved\n… and 1 more alert');
});

test('notifier: a held alert acknowledged before its turn is dropped; a removed cluster\'s are forgotten', () => {
  const n = new AlertNotifier({ maxPerWindow: 1, windowMs: 1000 });
  n.observe(change('prod', 'alpha', [], 'snapshot'), T0);
  n.observe(change('lab', 'alpha', [], 'snapshot'), T0);
  assert.equal(n.observe(change('prod', 'alpha', [alert('first', 'warning', T0)]), T0).length, 1);
  const held = alert('held', 'warning', T0 + 1);
  const kept = alert('kept', 'warning', T0 + 2);
  const lab = alert('lab-1', 'critical', T0 + 3);
  n.observe(change('prod', 'alpha', [held, kept]), T0 + 1);
  n.observe(change('lab', 'alpha', [lab]), T0 + 2);
  // The operator acknowledges "held" (seen through the other node), and removes the lab cluster.
  n.observe(change('prod', 'beta', [{ ...held, acknowledged: { by: 'oscar', at: T0 + 5 } }], 'snapshot'), T0 + 5);
  n.observe({ kind: 'cluster-removed', cluster: 'lab' }, T0 + 6);
  assert.deepEqual(ids(n.tick(T0 + 1000)), [['kept']]);

  // Held alerts of two clusters make one summary that leads to every cluster's events.
  const m = new AlertNotifier({ maxPerWindow: 1, windowMs: 1000 });
  for (const c of ['prod', 'lab']) m.observe(change(c, 'alpha', [], 'snapshot'), T0);
  m.observe(change('prod', 'alpha', [alert('p0', 'warning', T0)]), T0);
  m.observe(change('prod', 'alpha', [alert('p1', 'warning', T0 + 1)]), T0 + 1);
  m.observe(change('lab', 'alpha', [alert('l1', 'critical', T0 + 2)]), T0 + 2);
  const both = m.tick(T0 + 1000);
  assert.deepEqual(ids(both), [['l1', 'p1']]);
  assert.equal(both[0]!.route, '#/events');
  assert.equal(noticeText(both[0]!, 'en', (id) => (id === 'lab' ? 'Lab cluster' : id)).title, 'Critical: Lab cluster (alpha)');

  // A removed cluster added again starts from a new baseline.
  n.observe(change('lab', 'alpha', [lab, alert('lab-2', 'critical', T0 + 7)], 'snapshot'), T0 + 2000);
  assert.equal(n.nextDueAt(), undefined);
});

test('notifier: changes without a snapshot and cluster-added are ignored; bad policies are refused by field', () => {
  const n = new AlertNotifier();
  assert.deepEqual(n.observe({ kind: 'cluster-added', cluster: 'prod' }, T0), []);
  assert.deepEqual(n.observe({ kind: 'node', cluster: 'prod', node: 'alpha', what: 'state', view: { node: 'alpha', url: 'wss://a', viaSsh: false, state: 'connecting' } }, T0), []);
  // A snapshot first seen after a state change without one is still the baseline.
  assert.deepEqual(n.observe(change('prod', 'alpha', [alert('x', 'critical', T0)], 'snapshot'), T0), []);
  assert.throws(() => new AlertNotifier({ maxPerWindow: 0 }), /^Error: maxPerWindow: at least 1, got 0$/);
  assert.throws(() => new AlertNotifier({ windowMs: Number.NaN }), /^Error: windowMs: not a duration: NaN$/);
  assert.throws(() => new AlertNotifier({ minSeverity: 'loud' as Severity }), /^Error: minSeverity: one of info, warning, critical, got loud$/);
});

test('notice text: English and Chinese; the language from the system locale', () => {
  const notice: AlertNotice = { headline: { cluster: 'prod', alert: alert('w', 'warning', T0) }, others: [], route: '#/clusters/prod/events' };
  assert.deepEqual(noticeText(notice, 'en'), { title: 'Warning: prod (alpha)', body: 'w: web moved' });
  assert.deepEqual(noticeText(notice, 'zh-CN'), { title: '警告：prod（alpha）', body: 'w: web moved' });
  const more: AlertNotice = { ...notice, others: [notice.headline, notice.headline] };
  assert.equal(noticeText(more, 'zh-CN').body, 'w: web moved\n……另有 2 条告警');
  assert.deepEqual(['zh-CN', 'zh_CN.UTF-8', 'zh', 'ZH-TW', 'en-US', 'de', 'zhx'].map(noticeLanguage), ['zh-CN', 'zh-CN', 'zh-CN', 'zh-CN', 'en', 'en', 'en']);
});

test('watchAlerts: notices reach show() as they come and held ones at the window\'s end; dispose stops both', async () => {
  const manager = new EventEmitter<{ change: [ManagerChange] }>();
  const shown: string[][] = [];
  let clock = T0;
  const watch = watchAlerts(manager, new AlertNotifier({ maxPerWindow: 1, windowMs: 30 }), (n) => shown.push(ids([n])[0]!), () => clock);
  manager.emit('change', change('prod', 'alpha', [], 'snapshot'));
  manager.emit('change', change('prod', 'alpha', [alert('a', 'warning', T0)]));
  manager.emit('change', change('prod', 'alpha', [alert('b', 'warning', T0 + 1)]));
  assert.deepEqual(shown, [['a']]);
  clock = T0 + 30;
  await new Promise((r) => setTimeout(r, 60));
  assert.deepEqual(shown, [['a'], ['b']], 'the held one, by the timer');

  clock = T0 + 100;
  manager.emit('change', change('prod', 'alpha', [alert('c', 'warning', T0 + 2)]));
  manager.emit('change', change('prod', 'alpha', [alert('d', 'warning', T0 + 3)]));
  watch.dispose();
  clock = T0 + 1000;
  await new Promise((r) => setTimeout(r, 60));
  manager.emit('change', change('prod', 'alpha', [alert('e', 'warning', T0 + 4)]));
  assert.deepEqual(shown, [['a'], ['b'], ['c']], 'nothing after dispose: no timer, no listener');
  assert.equal(manager.listenerCount('change'), 0);
});
