/** The cluster key authenticates every heartbeat (HMAC-SHA256): hex or base64, at least 32 bytes. */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { ClusterConfig } from '../../common/config/schema.js';

export const MIN_KEY_BYTES = 32;

export class ClusterKeyError extends Error {
  readonly code = 'VIGIL_KEY_INVALID';
}

/** Decode a key written as hex or base64; `where` names its origin in errors. */
export function decodeClusterKey(text: string, where: string): Buffer {
  const trimmed = text.trim();
  if (trimmed === '') throw new ClusterKeyError(`${where}: empty`);
  let key: Buffer;
  if (/^[0-9a-fA-F]+$/.test(trimmed) && trimmed.length % 2 === 0) key = Buffer.from(trimmed, 'hex');
  else if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(trimmed)) key = Buffer.from(trimmed, 'base64');
  else throw new ClusterKeyError(`${where}: neither hex nor base64`);
  if (key.length < MIN_KEY_BYTES) throw new ClusterKeyError(`${where}: decodes to ${key.length} bytes, at least ${MIN_KEY_BYTES} are needed`);
  return key;
}

export function loadClusterKey(config: ClusterConfig, configDir: string): Buffer {
  if (config.cluster.key !== undefined) return decodeClusterKey(config.cluster.key, 'cluster.key');
  const path = resolve(configDir, config.cluster.keyFile!);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ClusterKeyError(`cluster.keyFile ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return decodeClusterKey(text, `cluster.keyFile ${path}`);
}
