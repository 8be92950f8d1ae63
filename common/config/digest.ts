/**
 * A configuration's digest, apart from its parser: the guard logs the digest of the configuration it guards with
 * and loads neither YAML nor the schema (they are most of the agent's code to load).
 */
import type { ClusterConfig } from './schema.js';

const digests = new WeakMap<ClusterConfig, string>();

/**
 * A stable digest of a configuration, to notice nodes running different versions. Not a security hash.
 * Memoized per configuration object: the scheduler asks on every pass, and configurations are never mutated.
 */
export function configDigest(config: ClusterConfig): string {
  let digest = digests.get(config);
  if (digest === undefined) {
    digest = computeDigest(canonicalJson(config));
    digests.set(config, digest);
  }
  return digest;
}

function computeDigest(text: string): string {
  let h1 = 0xdeadbeef, h2 = 0x41c6ce57;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return (h2 >>> 0).toString(16).padStart(8, '0') + (h1 >>> 0).toString(16).padStart(8, '0');
}

export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
