/**
 * Webhook: POST the alert as JSON. With a secret, X-Vigil-Signature carries sha256=<hex HMAC of the body>, so the
 * receiver knows the alert comes from the cluster. 5xx, 429, timeouts and connection errors are worth a retry;
 * other answers are final (redirects are not followed).
 */
import { createHmac } from 'node:crypto';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { WebhookChannelConfig } from '../../common/config/alerts.js';
import { attemptOnce, failure, readSecret, socketFailure, type AlertChannel, type AlertMessage, type AttemptResult } from './channel.js';

export function webhookBody(m: AlertMessage): string {
  return JSON.stringify({ cluster: m.cluster, node: m.node, alert: m.alertId, test: m.test, suppressed: m.suppressed, event: m.event });
}

export function signature(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

export class WebhookChannel implements AlertChannel {
  readonly kind = 'webhook';
  readonly name: string;

  constructor(private readonly config: WebhookChannelConfig) {
    this.name = config.name;
  }

  async attempt(message: AlertMessage, signal: AbortSignal): Promise<AttemptResult> {
    const body = webhookBody(message);
    const headers: Record<string, string> = {
      ...this.config.headers,
      'Content-Type': 'application/json',
      'Content-Length': String(Buffer.byteLength(body)),
      'User-Agent': 'vigil-alerts',
      'X-Vigil-Alert': message.alertId,
    };
    if (this.config.secretFile !== undefined) {
      const secret = await readSecret(this.config.secretFile, 'webhook secret file');
      if (typeof secret !== 'string') return secret;
      headers['X-Vigil-Signature'] = signature(secret, body);
    }
    let url: URL;
    try {
      url = new URL(this.config.url);
    } catch {
      return failure('VIGIL_ALERT_SEND', `invalid url ${this.config.url}`, false);
    }
    return post(url, headers, body, this.config.timeout, signal);
  }
}

function post(url: URL, headers: Record<string, string>, body: string, timeoutMs: number, signal: AbortSignal): Promise<AttemptResult> {
  const request = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, { method: 'POST', headers, agent: false });
  return attemptOnce(`POST ${url.origin}`, timeoutMs, signal, () => request.destroy(), (finish) => {
    request.on('error', (e) => finish(socketFailure(e, `POST ${url.origin}`)));
    request.on('response', (response: IncomingMessage) => {
      const status = response.statusCode ?? 0;
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => { if (text.length < 200) text += chunk; });
      response.on('error', (e) => finish(socketFailure(e, `POST ${url.origin}`)));
      response.on('end', () => {
        if (status >= 200 && status < 300) return finish({ ok: true });
        const detail = text.trim().slice(0, 200);
        finish(failure('VIGIL_ALERT_REJECTED', `POST ${url.origin}: HTTP ${status}${detail ? `: ${detail}` : ''}`, status >= 500 || status === 429));
      });
    });
    request.end(body);
  });
}
