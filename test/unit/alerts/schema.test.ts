import { test } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { alertsSchema, defaultAlertsConfig } from '../../../common/config/alerts.js';

// As the lead nests it in the cluster configuration, so paths start at "alerts".
const config = z.object({ alerts: alertsSchema });

function issues(alerts: unknown): { path: string; message: string }[] {
  const parsed = config.safeParse({ alerts });
  assert.equal(parsed.success, false, 'expected the alerts section to be rejected');
  return parsed.error!.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
}

const mail = { name: 'ops-mail', kind: 'email', smtp: { host: 'mail.example.org', user: 'vigil', passwordFile: '/etc/vigil/smtp.pw' }, from: 'vigil@example.org', to: ['ops@example.org'] };
const hook = { name: 'pager', kind: 'webhook', url: 'https://hooks.example.org/vigil', secretFile: '/etc/vigil/hook.key' };
const syslog = { name: 'siem', kind: 'syslog', transport: 'tcp', address: '198.51.100.7:6514' };

test('a valid section gets its defaults: STARTTLS required, 3 attempts, 1 minute throttle, /dev/log untouched until used', () => {
  const alerts = alertsSchema.parse({
    channels: [mail, hook, syslog, { name: 'local', kind: 'syslog', transport: 'unix' }],
    rules: [{ channels: ['ops-mail', 'pager'], minSeverity: 'warning' }, { channels: ['siem'], kinds: ['failover'], groups: ['web'] }],
  });
  const [email, webhook, tcp, unix] = alerts.channels;
  assert.equal(email?.kind === 'email' && email.smtp.starttls, 'required');
  assert.equal(email?.kind === 'email' && email.smtp.rejectUnauthorized, true);
  assert.equal(email?.attempts, 3);
  assert.equal(webhook?.kind === 'webhook' && webhook.timeout, 5000);
  assert.equal(webhook?.concurrency, 2);
  assert.equal(tcp?.kind === 'syslog' && tcp.facility, 'daemon');
  assert.equal(unix?.kind === 'syslog' && unix.address, undefined);
  assert.equal(alerts.throttle, 60_000);
  assert.deepEqual(defaultAlertsConfig(), { channels: [], rules: [], throttle: 60_000, history: 500 });
});

test('a rule naming an unknown channel is reported at that channel name', () => {
  assert.deepEqual(issues({ channels: [hook], rules: [{ channels: ['pager'] }, { channels: ['pager', 'sms'] }] }), [
    { path: 'alerts.rules.1.channels.1', message: '"sms" is not one of the channels (pager)' },
  ]);
});

test('cross-field problems name the field: duplicate names, half credentials, syslog addresses', () => {
  const found = issues({
    channels: [
      hook, { ...hook },
      { ...mail, name: 'm2', smtp: { host: 'mail', user: 'vigil' } },
      { name: 's1', kind: 'syslog', transport: 'udp' },
      { name: 's2', kind: 'syslog', transport: 'tcp', address: 'siem:99999' },
      { name: 's3', kind: 'syslog', transport: 'unix', address: 'dev/log' },
    ],
  });
  assert.deepEqual(found.map((i) => i.path), ['alerts.channels.1.name', 'alerts.channels.2.smtp.passwordFile', 'alerts.channels.3.address', 'alerts.channels.4.address', 'alerts.channels.5.address']);
  assert.match(found[0]!.message, /"pager" is listed twice/);
  assert.match(found[2]!.message, /host:port.*required for the udp transport/);
  assert.match(found[3]!.message, /a port from 1 to 65535/);
});

test('field formats: url scheme, reserved and multi-line headers, event kinds, severities, durations, unknown fields', () => {
  const found = issues({
    channels: [
      { ...hook, url: 'ftp://example.org/x', headers: { 'X-Vigil-Signature': 'forged', Authorization: 'Bearer a\r\nX-Evil: 1' }, timeout: 'soon' },
      { ...mail, to: [], colour: 'red' },
    ],
    rules: [{ channels: ['pager'], kinds: ['failover', 'coffee-spilled'], minSeverity: 'fatal' }],
  });
  const paths = found.map((i) => i.path);
  for (const path of [
    'alerts.channels.0.url', 'alerts.channels.0.headers.X-Vigil-Signature', 'alerts.channels.0.headers.Authorization', 'alerts.channels.0.timeout',
    'alerts.channels.1.to', 'alerts.channels.1', 'alerts.rules.0.kinds.1', 'alerts.rules.0.minSeverity',
  ]) assert.ok(paths.includes(path), `${path} in ${paths.join(', ')}`);
  assert.match(found.find((i) => i.path === 'alerts.channels.1')!.message, /colour/);
});
