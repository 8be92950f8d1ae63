/**
 * API tokens: `vgl_<id>_<secret>`, a bearer credential for scripts and the console when no client certificate is
 * at hand. tokens.json keeps, per token, its id, name, role, dates and the SHA-256 of the secret, never the
 * secret. SHA-256 rather than scrypt: the secret is 32 random bytes, not a password, so nothing can be guessed and
 * key stretching would add no safety, only CPU an unauthenticated caller could make the agent spend per request.
 * The id makes lookup a map access; the hashes are compared in constant time.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync, statSync, type Stats } from 'node:fs';
import { USER_ROLES, type Principal, type UserRole } from '../../common/model/auth.js';
import { writeSecretFile } from './secret-files.js';

export type TokenErrorCode =
  | 'VIGIL_TOKEN_FILE_UNREADABLE'
  | 'VIGIL_TOKEN_FILE_DAMAGED'   // tokens.json is not what we write; the message names the entry and field
  | 'VIGIL_TOKEN_NOT_FOUND'      // revoke of an id that is not in the file
  | 'VIGIL_TOKEN_BAD_ARGUMENT';

export class TokenError extends Error {
  constructor(readonly code: TokenErrorCode, message: string) {
    super(message);
    this.name = 'TokenError';
  }
}

/** A token as listed: everything but the hash. Dates in ms since the epoch. */
export interface TokenInfo {
  readonly id: string;
  readonly name: string;
  readonly role: UserRole;
  readonly created: number;
  readonly expires?: number;
}

interface TokenEntry extends TokenInfo {
  readonly sha256: Buffer;
}

export type TokenRefusal = 'UNKNOWN_TOKEN' | 'EXPIRED_TOKEN' | 'MALFORMED_TOKEN';

export type TokenVerdict =
  | { readonly ok: true; readonly principal: Principal; readonly id: string }
  | { readonly ok: false; readonly code: TokenRefusal };

export const TOKEN_PREFIX = 'vgl';
const TOKEN = /^vgl_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;
const TOKEN_NAME = /^[A-Za-z0-9][A-Za-z0-9 ._@:-]{0,63}$/;
const ID = /^[0-9a-f]{16}$/;
const SHA256_HEX = /^[0-9a-f]{64}$/;

const hashSecret = (secret: string): Buffer => createHash('sha256').update(secret, 'utf8').digest();

/** The store behind tokens.json. Every call first reloads the file if it changed on disk, so a revoke by the CLI takes effect at once. */
export class TokenStore {
  private entries = new Map<string, TokenEntry>();
  private seen: { mtimeMs: number; ctimeMs: number; size: number; ino: number } | undefined;

  private constructor(readonly path: string) {}

  /** Open the store at `path`; a missing file is an empty store, written on the first create. */
  static open(path: string): TokenStore {
    const store = new TokenStore(path);
    store.reloadIfChanged();
    return store;
  }

  create(request: { readonly name: string; readonly role: UserRole; readonly ttlMs?: number }, now = Date.now()): { readonly token: string; readonly id: string } {
    const { name, role, ttlMs } = request;
    if (!TOKEN_NAME.test(name)) throw new TokenError('VIGIL_TOKEN_BAD_ARGUMENT', `name "${name}": expected letters, digits, spaces and ". _ @ : -", at most 64`);
    if (!(USER_ROLES as readonly string[]).includes(role)) throw new TokenError('VIGIL_TOKEN_BAD_ARGUMENT', `role "${role}": expected one of ${USER_ROLES.join(', ')}`);
    if (ttlMs !== undefined && (!Number.isSafeInteger(ttlMs) || ttlMs <= 0)) throw new TokenError('VIGIL_TOKEN_BAD_ARGUMENT', `ttl: expected a positive whole number of milliseconds, not ${ttlMs}`);
    this.reloadIfChanged();
    let id: string;
    do id = randomBytes(8).toString('hex'); while (this.entries.has(id));
    const secret = randomBytes(32).toString('base64url');
    this.entries.set(id, { id, name, role, created: now, ...(ttlMs === undefined ? {} : { expires: now + ttlMs }), sha256: hashSecret(secret) });
    this.save();
    return { token: `${TOKEN_PREFIX}_${id}_${secret}`, id };
  }

  list(): TokenInfo[] {
    this.reloadIfChanged();
    return [...this.entries.values()].map(({ sha256: _hash, ...info }) => info).sort((a, b) => a.created - b.created || a.id.localeCompare(b.id));
  }

  revoke(id: string): TokenInfo {
    this.reloadIfChanged();
    const entry = this.entries.get(id);
    if (entry === undefined) throw new TokenError('VIGIL_TOKEN_NOT_FOUND', `token ${id}: not in ${this.path}`);
    this.entries.delete(id);
    this.save();
    const { sha256: _hash, ...info } = entry;
    return info;
  }

  /**
   * Who presents `token`. Throws TokenError if tokens.json is damaged: the API should refuse the request (and log
   * why) rather than keep trusting a file it can no longer read.
   */
  verify(token: string, now: number): TokenVerdict {
    const match = TOKEN.exec(token);
    if (match === null) return { ok: false, code: 'MALFORMED_TOKEN' };
    this.reloadIfChanged();
    const entry = this.entries.get(match[1]!);
    if (entry === undefined || !timingSafeEqual(entry.sha256, hashSecret(match[2]!))) return { ok: false, code: 'UNKNOWN_TOKEN' };
    if (entry.expires !== undefined && now >= entry.expires) return { ok: false, code: 'EXPIRED_TOKEN' };
    return { ok: true, id: entry.id, principal: { name: entry.name, role: entry.role, via: 'token' } };
  }

  private reloadIfChanged(): void {
    let stats: Stats;
    try {
      stats = statSync(this.path);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err.code !== 'ENOENT') throw new TokenError('VIGIL_TOKEN_FILE_UNREADABLE', `${this.path}: cannot be read (${err.code ?? err.message})`);
      // Deleted: no token is valid any more.
      this.entries = new Map();
      this.seen = undefined;
      return;
    }
    const seen = { mtimeMs: stats.mtimeMs, ctimeMs: stats.ctimeMs, size: stats.size, ino: stats.ino };
    if (this.seen && Object.entries(seen).every(([k, v]) => this.seen![k as keyof typeof seen] === v)) return;
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      throw new TokenError('VIGIL_TOKEN_FILE_UNREADABLE', `${this.path}: cannot be read (${err.code ?? err.message})`);
    }
    // Forget the old state before parsing: if the file is damaged, nothing it used to allow is allowed.
    this.entries = new Map();
    this.seen = undefined;
    this.entries = parseTokenFile(text, this.path);
    this.seen = seen;
  }

  private save(): void {
    const tokens = [...this.entries.values()].map((e) => ({
      id: e.id, name: e.name, role: e.role,
      created: new Date(e.created).toISOString(),
      ...(e.expires === undefined ? {} : { expires: new Date(e.expires).toISOString() }),
      sha256: e.sha256.toString('hex'),
    }));
    writeSecretFile(this.path, `${JSON.stringify({ version: 1, tokens }, null, 2)}\n`);
    const stats = statSync(this.path);
    this.seen = { mtimeMs: stats.mtimeMs, ctimeMs: stats.ctimeMs, size: stats.size, ino: stats.ino };
  }
}

/** Parse tokens.json; a damaged file is named with the entry and field that is wrong. */
export function parseTokenFile(text: string, path: string): Map<string, TokenEntry> {
  const damaged = (where: string, what: string) => new TokenError('VIGIL_TOKEN_FILE_DAMAGED', `${path}: ${where}: ${what}`);
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new TokenError('VIGIL_TOKEN_FILE_DAMAGED', `${path}: not JSON (${(e as Error).message})`);
  }
  if (typeof data !== 'object' || data === null) throw damaged('(top level)', 'expected an object');
  const file = data as { version?: unknown; tokens?: unknown };
  if (file.version !== 1) throw damaged('version', `expected 1, found ${JSON.stringify(file.version)}`);
  if (!Array.isArray(file.tokens)) throw damaged('tokens', 'expected a list');
  const entries = new Map<string, TokenEntry>();
  file.tokens.forEach((raw: unknown, i) => {
    const at = `tokens[${i}]`;
    if (typeof raw !== 'object' || raw === null) throw damaged(at, 'expected an object');
    const t = raw as Record<string, unknown>;
    const text = (field: string, pattern: RegExp, what: string): string => {
      const value = t[field];
      if (typeof value !== 'string' || !pattern.test(value)) throw damaged(`${at}.${field}`, `expected ${what}, found ${JSON.stringify(value)}`);
      return value;
    };
    const time = (field: string): number => {
      const value = t[field];
      const ms = typeof value === 'string' ? Date.parse(value) : NaN;
      if (Number.isNaN(ms)) throw damaged(`${at}.${field}`, `expected an ISO time, found ${JSON.stringify(value)}`);
      return ms;
    };
    const id = text('id', ID, '16 hex digits');
    if (entries.has(id)) throw damaged(`${at}.id`, `${id} appears twice`);
    const name = text('name', TOKEN_NAME, 'a token name');
    const role = text('role', new RegExp(`^(${USER_ROLES.join('|')})$`), `one of ${USER_ROLES.join(', ')}`) as UserRole;
    const created = time('created');
    const expires = t['expires'] === undefined ? undefined : time('expires');
    const sha256 = Buffer.from(text('sha256', SHA256_HEX, '64 hex digits'), 'hex');
    entries.set(id, { id, name, role, created, ...(expires === undefined ? {} : { expires }), sha256 });
  });
  return entries;
}
