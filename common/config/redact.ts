/**
 * The one secret a configuration may hold inline is the cluster key (`cluster.key`; `keyFile` is the better way).
 * Anyone with it can forge heartbeats, so the configuration a viewer or an operator reads (`config.get`) has its value
 * replaced; only an administrator, who may change the configuration anyway, reads it whole.
 */
import { parseDocument } from 'yaml';

export const REDACTED_KEY = '[redacted: only an administrator reads the cluster key]';

/** The text with `cluster.key`'s value replaced; unchanged when there is none (or the text is not YAML at all). */
export function redactConfigSecrets(text: string): string {
  const doc = parseDocument(text);
  if (doc.errors.length > 0 || !doc.hasIn(['cluster', 'key'])) return text;
  doc.setIn(['cluster', 'key'], REDACTED_KEY);
  return doc.toString();
}
