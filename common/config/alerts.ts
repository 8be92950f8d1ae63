/**
 * The `alerts` section of the cluster configuration: where notifications go (channels) and which events make
 * one (rules). Channels are email (SMTP), webhook (HTTP POST) and syslog (RFC 5424).
 */
import { z } from 'zod';
import { durationSchema as duration } from './duration.js';
import { EVENT_KINDS } from '../model/events.js';


const channelName = z.string().regex(/^[a-z][a-z0-9_-]{0,62}$/, 'a lowercase name: a letter, then letters, digits, "-" or "_" (at most 63)');
const groupId = channelName;
const port = z.number().int().min(1).max(65535);
const absolutePath = z.string().regex(/^\/[^\0]*$/, 'an absolute path');
/** "ops@example.org" or "Vigil <vigil@example.org>": nodemailer parses both; a line break would forge headers. */
const mailbox = z.string().regex(/^[^\r\n]*[^\s@<>]+@[^\s@<>]+[^\r\n]*$/, 'an email address, such as "ops@example.org"');
const hostPort = z.string().regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'host:port, such as "198.51.100.7:514"')
  .refine((s) => { const p = Number(s.slice(s.lastIndexOf(':') + 1)); return p > 0 && p < 65536; }, 'a port from 1 to 65535');

/** Delivery attempts (with doubling backoff from retryDelay) and the per-channel queue, common to every kind. */
function delivery(attempts: number, concurrency: number) {
  return {
    attempts: z.number().int().min(1).max(10).default(attempts),
    retryDelay: duration.default(1_000),
    /** At most this many deliveries of the channel at once; the next wait in a queue of at most queueLimit. */
    concurrency: z.number().int().min(1).max(32).default(concurrency),
    queueLimit: z.number().int().min(0).max(10_000).default(100),
  };
}

const emailChannel = z.strictObject({
  name: channelName,
  kind: z.literal('email'),
  smtp: z.strictObject({
    host: z.string().min(1),
    /** Defaults to 465 with secure, 587 without. */
    port: port.optional(),
    /** Implicit TLS from the first byte (port 465); otherwise plain SMTP upgraded by STARTTLS as below. */
    secure: z.boolean().default(false),
    /** Without `secure`: required fails unless the server upgrades; opportunistic upgrades when offered. */
    starttls: z.enum(['required', 'opportunistic', 'off']).default('required'),
    user: z.string().min(1).optional(),
    /** The password is read from this file at each delivery (a trailing newline is ignored). */
    passwordFile: absolutePath.optional(),
    rejectUnauthorized: z.boolean().default(true),
    /** For connecting, the greeting and each command. */
    timeout: duration.default(10_000),
  }),
  from: mailbox,
  to: z.array(mailbox).min(1),
  ...delivery(3, 1),
});

/** Headers Vigil sets itself, so a configured header cannot forge the signature or break the framing. */
const RESERVED_HEADERS = new Set(['content-type', 'content-length', 'host', 'x-vigil-signature', 'transfer-encoding', 'connection']);

const webhookChannel = z.strictObject({
  name: channelName,
  kind: z.literal('webhook'),
  url: z.string().regex(/^https?:\/\/[^\s/?#]+([/?#]\S*)?$/, 'an http:// or https:// URL'),
  /** The HMAC-SHA256 key (file contents, trailing newline ignored): the body's signature goes in X-Vigil-Signature. */
  secretFile: absolutePath.optional(),
  /** For the whole exchange of one attempt: connect, send, answer. */
  timeout: duration.default(5_000),
  headers: z.record(
    z.string().regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, 'an HTTP header name').refine((h) => !RESERVED_HEADERS.has(h.toLowerCase()), 'a header Vigil does not set itself'),
    z.string().regex(/^[^\r\n]*$/, 'a header value on one line'),
  ).optional(),
  ...delivery(3, 2),
});

export const SYSLOG_FACILITIES = [
  'kern', 'user', 'mail', 'daemon', 'auth', 'syslog', 'lpr', 'news', 'uucp', 'cron', 'authpriv', 'ftp',
  'local0', 'local1', 'local2', 'local3', 'local4', 'local5', 'local6', 'local7',
] as const;
export type SyslogFacility = (typeof SYSLOG_FACILITIES)[number];

const syslogChannel = z.strictObject({
  name: channelName,
  kind: z.literal('syslog'),
  transport: z.enum(['udp', 'tcp', 'unix']).default('udp'),
  /** host:port for udp and tcp; the socket path for unix (default /dev/log). */
  address: z.string().min(1).optional(),
  facility: z.enum(SYSLOG_FACILITIES).default('daemon'),
  /** RFC 5424 APP-NAME: printable ASCII, at most 48. */
  appName: z.string().regex(/^[!-~]{1,48}$/, 'printable ASCII without spaces, at most 48 characters').default('vigil'),
  /** For connecting and sending (tcp, unix). */
  timeout: duration.default(5_000),
  ...delivery(1, 1),
});

export const alertChannelSchema = z.discriminatedUnion('kind', [emailChannel, webhookChannel, syslogChannel]);

const SEVERITIES = ['info', 'warning', 'critical'] as const;

/** An event matches when every condition given holds; it goes to the union of the matching rules' channels. */
export const alertRuleSchema = z.strictObject({
  channels: z.array(channelName).min(1),
  kinds: z.array(z.enum(EVENT_KINDS)).min(1).optional(),
  minSeverity: z.enum(SEVERITIES).optional(),
  groups: z.array(groupId).min(1).optional(),
});

export const alertsSchema = z.strictObject({
  channels: z.array(alertChannelSchema).default([]),
  rules: z.array(alertRuleSchema).default([]),
  /** The same kind + group + resource alerts at most once per window; the next alert counts those suppressed. 0: off. */
  throttle: duration.default(60_000),
  /** Recent alerts kept (and persisted) for `vigil alert list`. */
  history: z.number().int().min(1).max(100_000).default(500),
}).superRefine((alerts, ctx) => {
  const names = new Set<string>();
  alerts.channels.forEach((channel, i) => {
    if (names.has(channel.name)) ctx.addIssue({ code: 'custom', path: ['channels', i, 'name'], message: `channel "${channel.name}" is listed twice` });
    names.add(channel.name);
    if (channel.kind === 'email' && (channel.smtp.user === undefined) !== (channel.smtp.passwordFile === undefined)) {
      const missing = channel.smtp.user === undefined ? 'user' : 'passwordFile';
      ctx.addIssue({ code: 'custom', path: ['channels', i, 'smtp', missing], message: 'both smtp.user and smtp.passwordFile, or neither' });
    }
    if (channel.kind === 'syslog') {
      const address = channel.address;
      if (channel.transport === 'unix') {
        if (address !== undefined && !absolutePath.safeParse(address).success) ctx.addIssue({ code: 'custom', path: ['channels', i, 'address'], message: 'a socket path, such as "/dev/log", for the unix transport' });
      } else {
        const parsed = hostPort.safeParse(address ?? '');
        if (address === undefined) ctx.addIssue({ code: 'custom', path: ['channels', i, 'address'], message: `the server's host:port (required for the ${channel.transport} transport)` });
        else if (!parsed.success) ctx.addIssue({ code: 'custom', path: ['channels', i, 'address'], message: `${parsed.error.issues[0]?.message ?? 'host:port'} for the ${channel.transport} transport` });
      }
    }
  });
  alerts.rules.forEach((rule, i) => rule.channels.forEach((name, j) => {
    if (!names.has(name)) ctx.addIssue({ code: 'custom', path: ['rules', i, 'channels', j], message: `"${name}" is not one of the channels (${[...names].join(', ') || 'none configured'})` });
  }));
});

export type AlertsConfigInput = z.input<typeof alertsSchema>;
/** As the agent uses it: durations in ms, defaults filled in. */
export type AlertsConfig = z.output<typeof alertsSchema>;
export type AlertChannelConfig = AlertsConfig['channels'][number];
export type EmailChannelConfig = Extract<AlertChannelConfig, { kind: 'email' }>;
export type WebhookChannelConfig = Extract<AlertChannelConfig, { kind: 'webhook' }>;
export type SyslogChannelConfig = Extract<AlertChannelConfig, { kind: 'syslog' }>;
export type AlertRule = AlertsConfig['rules'][number];

/** No channels, no rules: for `alerts: alertsSchema.prefault({})` or a config without the section. */
export function defaultAlertsConfig(): AlertsConfig {
  return alertsSchema.parse({});
}
