/** A request's parameters as the audit log keeps them: short, and a configuration's text only by its digest. */
import { createHash } from 'node:crypto';

const MAX_CHARS = 2000;

export function auditParams(params: unknown): string {
  const json = JSON.stringify(params, (key, value: unknown) =>
    key === 'text' && typeof value === 'string' ? `sha256:${createHash('sha256').update(value).digest('hex')} (${value.length} chars)`
      : key === 'token' ? '(hidden)' : value) ?? '';
  return json.length > MAX_CHARS ? `${json.slice(0, MAX_CHARS)}... (${json.length} chars)` : json;
}
