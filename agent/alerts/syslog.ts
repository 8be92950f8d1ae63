/**
 * Syslog (RFC 5424) over UDP (RFC 5426), TCP with octet-counting framing (RFC 6587), or the local unix socket.
 * Node cannot open a unix datagram socket (/dev/log is one), so the unix transport hands the message to
 * util-linux `logger`, which speaks both datagram and stream sockets; that path stamps the local host name.
 */
import { execFile } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import type { SyslogChannelConfig, SyslogFacility } from '../../common/config/alerts.js';
import type { Severity } from '../../common/model/index.js';
import { attemptOnce, failure, socketFailure, type AlertChannel, type AlertMessage, type AttemptResult } from './channel.js';

/** RFC 5424 facility codes (local0..local7 are 16..23). */
export const FACILITY_CODES: Readonly<Record<SyslogFacility, number>> = {
  kern: 0, user: 1, mail: 2, daemon: 3, auth: 4, syslog: 5, lpr: 6, news: 7, uucp: 8, cron: 9, authpriv: 10, ftp: 11,
  local0: 16, local1: 17, local2: 18, local3: 19, local4: 20, local5: 21, local6: 22, local7: 23,
};

/** Our three severities on syslog's eight: critical is crit (2), warning is warning (4), info is informational (6). */
export const SYSLOG_SEVERITY: Readonly<Record<Severity, { readonly code: number; readonly name: string }>> = {
  critical: { code: 2, name: 'crit' },
  warning: { code: 4, name: 'warning' },
  info: { code: 6, name: 'info' },
};

/** The structured-data id: 32473 is the private enterprise number IANA reserves for examples and documentation. */
export const SD_ID = 'vigil@32473';
const BOM = '\u{FEFF}';
/** RFC 5426: every receiver takes 2048 bytes; larger datagrams may be cut or lost. */
export const UDP_MAX_BYTES = 2048;
const STREAM_MAX_BYTES = 8192;

export interface SyslogFormat {
  readonly facility: SyslogFacility;
  readonly appName: string;
  readonly procId?: number;
}

/** SD-PARAM values escape '"', '\' and ']' (RFC 5424 section 6.3.3). */
function sdValue(value: string): string {
  return value.replace(/["\\\]]/g, (c) => `\\${c}`);
}

/** Printable US-ASCII, no spaces, cut to the header field's limit; "-" when nothing is left. */
function headerField(value: string, max: number): string {
  const clean = value.replace(/[^!-~]/g, '_').slice(0, max);
  return clean.length > 0 ? clean : '-';
}

export function structuredData(m: AlertMessage): Array<[string, string]> {
  const e = m.event;
  const params: Array<[string, string]> = [['alert', m.alertId], ['cluster', m.cluster], ['node', e.node], ['severity', e.severity]];
  if (e.group !== undefined) params.push(['group', e.group]);
  if (e.resource !== undefined) params.push(['resource', e.resource]);
  if (m.suppressed > 0) params.push(['suppressed', String(m.suppressed)]);
  if (m.test) params.push(['test', 'true']);
  return params;
}

function messageText(m: AlertMessage): string {
  return m.test ? `test alert sent by \`vigil alert test\` from ${m.node}` : m.event.message.replace(/[\r\n]+/g, ' ');
}

/** One RFC 5424 line: <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD] BOM MSG, at most maxBytes. */
export function formatSyslog(m: AlertMessage, format: SyslogFormat, maxBytes = STREAM_MAX_BYTES): string {
  const pri = FACILITY_CODES[format.facility] * 8 + SYSLOG_SEVERITY[m.event.severity].code;
  const sd = `[${SD_ID} ${structuredData(m).map(([k, v]) => `${k}="${sdValue(v)}"`).join(' ')}]`;
  const header = [
    `<${pri}>1`, new Date(m.event.at).toISOString(), headerField(m.node, 255), headerField(format.appName, 48),
    format.procId === undefined ? '-' : String(format.procId), headerField(m.test ? 'test' : m.event.kind, 32),
  ].join(' ');
  const line = `${header} ${sd} ${BOM}${messageText(m)}`;
  return truncateUtf8(line, maxBytes);
}

function truncateUtf8(text: string, maxBytes: number): string {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= maxBytes) return text;
  // Decoding a cut buffer leaves U+FFFD for a split character; drop it.
  return bytes.subarray(0, maxBytes).toString('utf8').replace(/\u{FFFD}$/u, '');
}

/** "host:port" or "[v6]:port". */
function splitHostPort(address: string): { host: string; port: number } {
  const at = address.lastIndexOf(':');
  return { host: address.slice(0, at).replace(/^\[(.*)\]$/, '$1'), port: Number(address.slice(at + 1)) };
}

export class SyslogChannel implements AlertChannel {
  readonly kind = 'syslog';
  readonly name: string;

  constructor(private readonly config: SyslogChannelConfig) {
    this.name = config.name;
  }

  attempt(message: AlertMessage, signal: AbortSignal): Promise<AttemptResult> {
    const format = { facility: this.config.facility, appName: this.config.appName, procId: process.pid };
    switch (this.config.transport) {
      case 'udp': return sendUdp(this.config.address ?? '', formatSyslog(message, format, UDP_MAX_BYTES));
      case 'tcp': return sendTcp(this.config.address ?? '', formatSyslog(message, format), this.config.timeout, signal);
      case 'unix': return sendLogger(this.config.address ?? '/dev/log', message, format, this.config.timeout, signal);
    }
  }
}

function sendUdp(address: string, line: string): Promise<AttemptResult> {
  const { host, port } = splitHostPort(address);
  const socket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
  return new Promise((resolve) => {
    socket.on('error', (e) => { socket.close(); resolve(socketFailure(e, `syslog udp ${address}`)); });
    socket.send(Buffer.from(line, 'utf8'), port, host, (e) => {
      socket.close();
      resolve(e ? socketFailure(e, `syslog udp ${address}`) : { ok: true });
    });
  });
}

function sendTcp(address: string, line: string, timeoutMs: number, signal: AbortSignal): Promise<AttemptResult> {
  const { host, port } = splitHostPort(address);
  const socket = connect({ host, port });
  return attemptOnce(`syslog tcp ${address}`, timeoutMs, signal, () => socket.destroy(), (finish) => {
    socket.on('error', (e) => finish(socketFailure(e, `syslog tcp ${address}`)));
    // Octet counting (RFC 6587 3.4.1): the length in bytes, a space, the message; no trailer.
    socket.end(`${Buffer.byteLength(line, 'utf8')} ${line}`, () => finish({ ok: true }));
  });
}

function sendLogger(path: string, m: AlertMessage, format: SyslogFormat, timeoutMs: number, signal: AbortSignal): Promise<AttemptResult> {
  const args = [
    '--socket', path, '--socket-errors=on', '--rfc5424', '-p', `${format.facility}.${SYSLOG_SEVERITY[m.event.severity].name}`,
    '-t', format.appName, '--msgid', headerField(m.test ? 'test' : m.event.kind, 32), '--sd-id', SD_ID,
    ...structuredData(m).flatMap(([k, v]) => ['--sd-param', `${k}="${sdValue(v)}"`]),
    '--', truncateUtf8(messageText(m), STREAM_MAX_BYTES / 2),
  ];
  return new Promise((resolve) => {
    execFile('logger', args, { timeout: timeoutMs, signal }, (e, _stdout, stderr) => {
      if (!e) return resolve({ ok: true });
      if (signal.aborted) return resolve(failure('VIGIL_ALERT_CLOSED', 'alert dispatcher closed during the delivery', false));
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return resolve(failure('VIGIL_ALERT_SEND', 'syslog unix: the `logger` program (util-linux) is not installed', false));
      if (e.killed) return resolve(failure('VIGIL_ALERT_TIMEOUT', `syslog unix ${path}: logger did not finish within ${timeoutMs} ms`, true));
      resolve(failure('VIGIL_ALERT_CONNECT', `syslog unix ${path}: ${String(stderr).trim() || e.message}`, true));
    });
  });
}
