/**
 * The cluster key authenticates every heartbeat (HMAC-SHA256). It is written as hex (at least 64 digits) or
 * base64 (decoding to at least 32 bytes), inline as `cluster.key` or in a file named by `cluster.keyFile`.
 * Read once at start-up, so the synchronous read never sits on the heartbeat's path.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { ClusterConfig } from '../../common/config/schema.js';

export const MIN_KEY_BYTES = 32;

/** Stable codes callers match on; the message names the field and what is wrong with it. */
export type ClusterKeyErrorCode = 'VIGIL_KEY_MISSING' | 'VIGIL_KEY_UNREADABLE' | 'VIGIL_KEY_MALFORMED' | 'VIGIL_KEY_TOO_SHORT';

export class ClusterKeyError extends Error {
  constructor(readonly code: ClusterKeyErrorCode, message: string) {
    super(message);
    this.name = 'ClusterKeyError';
  }
}

const HEX = /^[0-9a-fA-F]+$/;
// Standard or URL-safe alphabet, padding optional: what `openssl rand -base64 32` and friends produce.
const BASE64 = /^[A-Za-z0-9+/_-]+={0,2}$/;

/** Decode a key written as hex or base64; `where` names its origin in errors ("cluster.key"). */
export function decodeClusterKey(text: string, where: string): Buffer {
  const trimmed = text.trim();
  if (trimmed === '') throw new ClusterKeyError('VIGIL_KEY_MALFORMED', `${where}: empty`);
  const key = HEX.test(trimmed) ? decodeHex(trimmed, where) : decodeBase64(trimmed, where);
  if (key.length < MIN_KEY_BYTES) {
    throw new ClusterKeyError('VIGIL_KEY_TOO_SHORT', `${where}: decodes to ${key.length} bytes, at least ${MIN_KEY_BYTES} are needed`);
  }
  return key;
}

function decodeHex(text: string, where: string): Buffer {
  // A string of hex digits is read as hex: a base64 key that happens to look like hex is too unlikely to matter.
  if (text.length % 2 !== 0) throw new ClusterKeyError('VIGIL_KEY_MALFORMED', `${where}: an odd number (${text.length}) of hex digits`);
  return Buffer.from(text, 'hex');
}

function decodeBase64(text: string, where: string): Buffer {
  const unpadded = text.replace(/=+$/, '');
  // Buffer.from ignores what it cannot decode; a length of 1 mod 4 cannot be base64 at all.
  if (!BASE64.test(text) || unpadded.length % 4 === 1) {
    throw new ClusterKeyError('VIGIL_KEY_MALFORMED', `${where}: neither hex nor base64`);
  }
  return Buffer.from(unpadded.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
}

/** The cluster's key from `cluster.key`, or from `cluster.keyFile` (relative to the configuration's folder). */
export function loadClusterKey(config: ClusterConfig, configDir: string): Buffer {
  const { key, keyFile } = config.cluster;
  if (key !== undefined) return decodeClusterKey(key, 'cluster.key');
  if (keyFile === undefined) throw new ClusterKeyError('VIGIL_KEY_MISSING', 'cluster.key: missing (set cluster.key or cluster.keyFile)');
  return readKeyFile(resolve(configDir, keyFile), 'cluster.keyFile');
}

/**
 * Every key this node accepts: the one it sends first, then `cluster.acceptKeyFiles`. During a rotation every node
 * first accepts the new key, then sends it, then stops accepting the old one, so no packet is ever refused.
 */
export function loadAcceptedKeys(config: ClusterConfig, configDir: string): Buffer[] {
  const keys = [loadClusterKey(config, configDir)];
  config.cluster.acceptKeyFiles.forEach((file, i) => keys.push(readKeyFile(resolve(configDir, file), `cluster.acceptKeyFiles[${i}]`)));
  return keys;
}

/** A short, public name of a key (the first bytes of its SHA-256): tells which key a peer used, reveals nothing. */
export function keyId(key: Buffer): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 8);
}

function readKeyFile(path: string, field: string): Buffer {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new ClusterKeyError('VIGIL_KEY_UNREADABLE', `${field} ${path}: cannot be read (${err.code ?? err.message})`);
  }
  return decodeClusterKey(text, `${field} ${path}`);
}
