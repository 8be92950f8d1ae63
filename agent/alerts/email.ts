/**
 * Email over SMTP (nodemailer): one connection per alert, since alerts are rare and a pooled connection would
 * only time out in between. Subject "[vigil <cluster>] <severity> <kind> on <node>: <message>", plain-text body.
 */
import { createTransport } from 'nodemailer';
import type { EmailChannelConfig } from '../../common/config/alerts.js';
import { failure, readSecret, socketFailure, summary, type AlertChannel, type AlertMessage, type AttemptResult } from './channel.js';

export function emailBody(m: AlertMessage): string {
  const e = m.event;
  const lines = [
    m.test ? `This is a test alert sent by \`vigil alert test\` from node ${m.node}.` : e.message,
    '',
    `Cluster:    ${m.cluster}`,
    `Node:       ${e.node}`,
    `Severity:   ${e.severity}`,
    `Kind:       ${e.kind}`,
    `Group:      ${e.group ?? '-'}`,
    `Resource:   ${e.resource ?? '-'}`,
    `Time:       ${new Date(e.at).toISOString()}`,
    `Message:    ${e.message}`,
    `Alert:      ${m.alertId} (sent by ${m.node})`,
  ];
  if (e.id !== undefined) lines.push(`Event:      #${e.id}`);
  if (m.suppressed > 0) lines.push(`Suppressed: ${m.suppressed} more like this since the previous alert`);
  return `${lines.join('\n')}\n`;
}

export class EmailChannel implements AlertChannel {
  readonly kind = 'email';
  readonly name: string;

  constructor(private readonly config: EmailChannelConfig) {
    this.name = config.name;
  }

  async attempt(message: AlertMessage, signal: AbortSignal): Promise<AttemptResult> {
    const { smtp } = this.config;
    let auth: { user: string; pass: string } | undefined;
    if (smtp.user !== undefined && smtp.passwordFile !== undefined) {
      const pass = await readSecret(smtp.passwordFile, 'SMTP password file');
      if (typeof pass !== 'string') return pass;
      auth = { user: smtp.user, pass };
    }
    const transport = createTransport({
      host: smtp.host,
      port: smtp.port ?? (smtp.secure ? 465 : 587),
      secure: smtp.secure,
      requireTLS: !smtp.secure && smtp.starttls === 'required',
      ignoreTLS: !smtp.secure && smtp.starttls === 'off',
      tls: { rejectUnauthorized: smtp.rejectUnauthorized },
      connectionTimeout: smtp.timeout,
      greetingTimeout: smtp.timeout,
      socketTimeout: smtp.timeout,
      ...(auth ? { auth } : {}),
    });
    const sending = transport.sendMail({ from: this.config.from, to: this.config.to, subject: summary(message), text: emailBody(message) })
      .then((): AttemptResult => ({ ok: true }), (e: unknown) => smtpFailure(e, `${smtp.host}:${smtp.port ?? (smtp.secure ? 465 : 587)}`))
      .finally(() => transport.close());
    // An abort answers at once; the connection itself ends within its timeouts.
    const aborted = new Promise<AttemptResult>((resolve) => {
      const onAbort = (): void => resolve(failure('VIGIL_ALERT_CLOSED', 'alert dispatcher closed during the delivery', false));
      if (signal.aborted) onAbort();
      else { signal.addEventListener('abort', onAbort, { once: true }); void sending.finally(() => signal.removeEventListener('abort', onAbort)); }
    });
    return Promise.race([sending, aborted]);
  }
}

interface SmtpError { code?: string; originalCode?: string; responseCode?: number; message?: string }

const CERTIFICATE_ERROR = /CERT|^ERR_TLS|^ERR_SSL|HOSTNAME|SELF_SIGNED/;

/** nodemailer's error codes as ours: a 4xx reply or a broken connection may pass on retry; 5xx and AUTH will not. */
function smtpFailure(e: unknown, where: string): AttemptResult {
  const err = e as SmtpError;
  const text = `SMTP ${where}: ${err.message ?? String(e)}`;
  switch (err.code) {
    case 'ECONNECTION': case 'EDNS': return failure('VIGIL_ALERT_CONNECT', text, true);
    case 'ETIMEDOUT': return failure('VIGIL_ALERT_TIMEOUT', text, true);
    case 'ETLS': return failure('VIGIL_ALERT_TLS', text, false);
    case 'EAUTH': case 'ENOAUTH': return failure('VIGIL_ALERT_AUTH', text, false);
    case 'ESOCKET': {
      // nodemailer keeps the socket's own code: a refused connection, or a certificate it could not verify.
      const cause = err.originalCode ?? '';
      if (CERTIFICATE_ERROR.test(cause)) return failure('VIGIL_ALERT_TLS', text, false);
      return socketFailure({ code: cause, message: err.message ?? String(e) }, `SMTP ${where}`);
    }
    default:
      if (err.responseCode !== undefined) return failure('VIGIL_ALERT_REJECTED', text, err.responseCode >= 400 && err.responseCode < 500);
      return failure('VIGIL_ALERT_SEND', text, err.code === 'ESOCKET');
  }
}
