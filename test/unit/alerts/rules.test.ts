import { test } from 'node:test';
import assert from 'node:assert/strict';
import { matchingChannels, ruleMatches, Throttle } from '../../../agent/alerts/rules.js';
import type { AlertRule } from '../../../common/config/alerts.js';
import { event } from './helpers.js';

test('rule matching: every condition given must hold', () => {
  const { group: _group, ...noGroup } = event();
  const cases: { rule: Omit<AlertRule, 'channels'>; event: Parameters<typeof event>[0]; matches: boolean }[] = [
    { rule: {}, event: { severity: 'info' }, matches: true },
    { rule: { kinds: ['failover', 'peer-lost'] }, event: { kind: 'peer-lost' }, matches: true },
    { rule: { kinds: ['failover'] }, event: { kind: 'link-down' }, matches: false },
    { rule: { minSeverity: 'warning' }, event: { severity: 'info' }, matches: false },
    { rule: { minSeverity: 'warning' }, event: { severity: 'warning' }, matches: true },
    { rule: { minSeverity: 'warning' }, event: { severity: 'critical' }, matches: true },
    { rule: { minSeverity: 'critical' }, event: { severity: 'warning' }, matches: false },
    { rule: { groups: ['web'] }, event: { group: 'web' }, matches: true },
    { rule: { groups: ['web'] }, event: { group: 'db' }, matches: false },
    { rule: { groups: ['web'] }, event: noGroup, matches: false },
    { rule: { kinds: ['failover'], minSeverity: 'critical', groups: ['web'] }, event: { kind: 'failover', severity: 'critical', group: 'web' }, matches: true },
    { rule: { kinds: ['failover'], minSeverity: 'critical', groups: ['web'] }, event: { kind: 'failover', severity: 'warning', group: 'web' }, matches: false },
  ];
  for (const c of cases) {
    const subject = c.event === noGroup ? noGroup : event(c.event);
    assert.equal(ruleMatches({ channels: ['x'], ...c.rule }, subject), c.matches, JSON.stringify(c));
  }
});

test('an event goes to the union of the matching rules\' channels, each once, in rule order', () => {
  const rules: AlertRule[] = [
    { channels: ['mail', 'hook'], minSeverity: 'warning' },
    { channels: ['syslog', 'mail'] },
    { channels: ['pager'], kinds: ['peer-lost'] },
  ];
  assert.deepEqual(matchingChannels(rules, event({ severity: 'critical', kind: 'failover' })), ['mail', 'hook', 'syslog']);
  assert.deepEqual(matchingChannels(rules, event({ severity: 'info', kind: 'peer-lost' })), ['syslog', 'mail', 'pager']);
  assert.deepEqual(matchingChannels([], event()), []);
});

test('throttle: the same kind, group and resource once per window; the next alert counts the suppressed', () => {
  const throttle = new Throttle(1000);
  const ip = event({ kind: 'monitor-failed', group: 'web', resource: 'ip' });
  assert.deepEqual(throttle.admit(ip, 0), { send: true, suppressed: 0 });
  assert.deepEqual(throttle.admit(ip, 10), { send: false });
  assert.deepEqual(throttle.admit(ip, 999), { send: false });
  assert.deepEqual(throttle.admit(event({ kind: 'monitor-failed', group: 'web', resource: 'app' }), 20), { send: true, suppressed: 0 }, 'another resource');
  assert.deepEqual(throttle.admit(event({ kind: 'start-failed', group: 'web', resource: 'ip' }), 20), { send: true, suppressed: 0 }, 'another kind');
  assert.deepEqual(throttle.admit(ip, 1000), { send: true, suppressed: 2 });
  assert.deepEqual(throttle.admit(ip, 1500), { send: false });
  assert.deepEqual(throttle.admit(ip, 3000), { send: true, suppressed: 1 });
  assert.deepEqual(throttle.admit(ip, 5000), { send: true, suppressed: 0 });
  throttle.setWindow(0);
  assert.deepEqual(throttle.admit(ip, 5001), { send: true, suppressed: 0 }, 'a zero window turns throttling off');
});

test('throttle forgets the oldest keys beyond its bound', () => {
  const throttle = new Throttle(1000, 2);
  throttle.admit(event({ resource: 'a' }), 0);
  throttle.admit(event({ resource: 'b' }), 0);
  throttle.admit(event({ resource: 'c' }), 0);
  assert.deepEqual(throttle.admit(event({ resource: 'a' }), 1), { send: true, suppressed: 0 }, '"a" was forgotten');
  assert.deepEqual(throttle.admit(event({ resource: 'c' }), 1), { send: false });
});
