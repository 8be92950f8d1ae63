/**
 * What every channel module implements: one delivery attempt of one alert, which never throws. Retries, the
 * queue and the record are the runner's and the dispatcher's business.
 */
import { readFile } from 'node:fs/promises';
import type { AlertChannelKind, AlertErrorCode, ClusterEvent } from '../../common/model/index.js';

/** What a channel sends: the event and enough context to read it out of context (a phone, a SIEM). */
export interface AlertMessage {
  readonly cluster: string;
  /** The node whose agent sends the alert (the event's node may be another one). */
  readonly node: string;
  readonly alertId: string;
  readonly event: ClusterEvent;
  readonly suppressed: number;
  readonly test: boolean;
}

export type AttemptResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly code: AlertErrorCode; readonly message: string; readonly retryable: boolean };

export interface AlertChannel {
  readonly name: string;
  readonly kind: AlertChannelKind;
  /** One attempt; `signal` aborts it when the dispatcher closes. Never throws. */
  attempt(message: AlertMessage, signal: AbortSignal): Promise<AttemptResult>;
}

export class AlertError extends Error {
  constructor(readonly code: AlertErrorCode, message: string) {
    super(message);
    this.name = 'AlertError';
  }
}

export function failure(code: AlertErrorCode, message: string, retryable: boolean): AttemptResult {
  return { ok: false, code, message, retryable };
}

/** A password or key file: read at each delivery, so a rotated secret needs no restart. */
export async function readSecret(path: string, what: string): Promise<string | AttemptResult> {
  try {
    const text = (await readFile(path, 'utf8')).replace(/\r?\n$/, '');
    if (text.length === 0) return failure('VIGIL_ALERT_SECRET', `${what} ${path} is empty`, false);
    return text;
  } catch (e) {
    return failure('VIGIL_ALERT_SECRET', `cannot read ${what} ${path}: ${(e as Error).message}`, false);
  }
}

const CONNECT_ERRORS = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNRESET', 'EPIPE', 'ENOENT', 'ECONNABORTED']);

/** A Node socket error as an attempt result: connection problems are worth a retry. */
/**
 * One delivery attempt over a socket or request: `start` begins it and calls `finish` with the outcome; a timeout or
 * the dispatcher closing ends it early. Whatever ends it first wins, and `release` (destroying the socket) runs once.
 */
export function attemptOnce(
  what: string, timeoutMs: number, signal: AbortSignal, release: () => void,
  start: (finish: (result: AttemptResult) => void) => void,
): Promise<AttemptResult> {
  return new Promise((resolve) => {
    let settled = false;
    const finish = (result: AttemptResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      release();
      resolve(result);
    };
    const timer = setTimeout(() => finish(failure('VIGIL_ALERT_TIMEOUT', `${what}: no answer within ${timeoutMs} ms`, true)), timeoutMs);
    const onAbort = (): void => finish(failure('VIGIL_ALERT_CLOSED', 'alert dispatcher closed during the delivery', false));
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort);
    start(finish);
  });
}

export function socketFailure(e: unknown, where: string): AttemptResult {
  const code = (e as NodeJS.ErrnoException).code ?? '';
  const text = `${where}: ${(e as Error).message}`;
  if (CONNECT_ERRORS.has(code)) return failure('VIGIL_ALERT_CONNECT', text, true);
  if (code === 'ETIMEDOUT') return failure('VIGIL_ALERT_TIMEOUT', text, true);
  return failure('VIGIL_ALERT_SEND', text, true);
}

/** The subject line and the one-line summary of an alert, shared by the channels. */
export function summary(m: AlertMessage): string {
  if (m.test) return `[vigil ${m.cluster}] test alert from ${m.node}`;
  const e = m.event;
  const oneLine = e.message.replace(/[\r\n]+/g, ' ');
  const text = oneLine.length > 160 ? `${oneLine.slice(0, 159)}…` : oneLine;
  return `[vigil ${m.cluster}] ${e.severity} ${e.kind} on ${e.node}: ${text}`;
}
