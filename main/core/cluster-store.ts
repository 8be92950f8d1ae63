/**
 * The clusters the operator added, remembered across restarts: one JSON file the center owns, each cluster as its
 * `clusters.add` request with every secret field sealed by a SecretCipher (never in clear on disk). Written whole,
 * atomically (temp file, fsync, rename), mode 0600.
 *
 * An entry that cannot be read back (altered, sealed by another key, invalid) is reported naming the cluster and
 * the field, and kept in the file as it was: a keychain that is locked today must not cost the operator the
 * cluster tomorrow. Only `remove` (or adding that id again) drops it.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { IpcError, parseRequest, type CenterProblem, type ClusterConfig } from '../../common/ipc/contract.js';
import { CenterError } from './errors.js';
import type { SecretCipher } from './secret-cipher.js';

/** What load() could not restore: `cluster` and `field` name it when known. */
/** An entry the store could not read, by cluster and field: what the UI shows (`center.problems`). */
export type StoreProblem = CenterProblem;

export function describeProblem(p: StoreProblem): string {
  return [p.cluster === undefined ? undefined : `cluster ${p.cluster}`, p.field, p.message].filter((x) => x !== undefined).join(': ');
}

/** The file's name in the center's folder (Electron's userData, center:web's --data-dir). */
export const CLUSTERS_FILE = 'clusters.json';

const FILE_FORMAT = 1;

interface StoredFile {
  readonly format: number;
  readonly clusters: readonly unknown[];
}

/**
 * A secret as the file holds it: the cipher's bytes in base64, an object so a clear string is never mistaken for
 * one, and the cipher's name, per value: entries kept from another cipher (the keychain was locked one day) and
 * new ones can share the file.
 */
interface Sealed { readonly sealed: string; readonly cipher: string }

export interface ClusterStoreOptions {
  /** Ciphers that may have sealed older entries (e.g. the key file before a keychain was available): read only. */
  readonly alsoDecryptWith?: readonly SecretCipher[];
}

interface Entry {
  /** As written in the file (secrets sealed): what is written back, also for an entry that could not be read. */
  readonly stored: unknown;
  /** Undefined when the entry could not be restored. */
  readonly config?: ClusterConfig;
}

/** The secret fields of a cluster, by path: the inline credentials' token and key, each SSH hop's password, key, passphrase. */
const CREDENTIAL_SECRETS = ['token', 'key'] as const;
const SSH_SECRETS = ['password', 'privateKey', 'passphrase'] as const;

export class ClusterStore {
  private readonly entries = new Map<string, Entry>();
  private loaded = false;

  private readonly decrypters: ReadonlyMap<string, SecretCipher>;

  /** `cipher` seals what is saved (and opens what it sealed). */
  constructor(readonly file: string, private readonly cipher: SecretCipher, options: ClusterStoreOptions = {}) {
    this.decrypters = new Map([...(options.alsoDecryptWith ?? []), cipher].map((c) => [c.name, c]));
  }

  /**
   * Reads the file: the clusters it could restore, in the order they were added, and a problem for each it could
   * not. A file that is not ours at all is moved aside (`<file>.unreadable-<time>`) so nothing is overwritten.
   */
  load(): { clusters: ClusterConfig[]; problems: StoreProblem[] } {
    this.entries.clear();
    this.loaded = true;
    if (!existsSync(this.file)) return { clusters: [], problems: [] };
    const problems: StoreProblem[] = [];
    let parsed: StoredFile;
    try {
      parsed = parseFile(readFileSync(this.file, 'utf8'));
    } catch (e) {
      const aside = `${this.file}.unreadable-${Date.now()}`;
      renameSync(this.file, aside);
      return { clusters: [], problems: [{ field: this.file, message: `${(e as Error).message}; moved aside to ${aside}` }] };
    }
    parsed.clusters.forEach((stored, index) => {
      const id = isRecord(stored) && typeof stored.id === 'string' ? stored.id : undefined;
      try {
        if (id === undefined) throw new FieldError('id', 'missing or not a string');
        if (this.entries.has(id)) throw new FieldError('id', 'a second entry with this id (the first is kept)');
        const config = this.unseal(stored as Record<string, unknown>);
        this.entries.set(id, { stored, config });
      } catch (e) {
        const field = e instanceof FieldError ? e.field : undefined;
        problems.push({ cluster: id ?? `#${index + 1}`, ...(field === undefined ? {} : { field }), message: (e as Error).message });
        // Kept as it was, unless it is a duplicate or has no id (nothing could ever address it).
        if (id !== undefined && !this.entries.has(id)) this.entries.set(id, { stored });
      }
    });
    return { clusters: this.list(), problems };
  }

  /** The clusters restored or saved since, in order. */
  list(): ClusterConfig[] {
    return [...this.entries.values()].flatMap((e) => (e.config === undefined ? [] : [e.config]));
  }

  /** Saves (or replaces) one cluster. Saving the same configuration again writes nothing. */
  put(config: ClusterConfig): void {
    this.ensureLoaded();
    const current = this.entries.get(config.id)?.config;
    if (current !== undefined && JSON.stringify(current) === JSON.stringify(config)) return;
    if (!this.cipher.isAvailable()) {
      throw new CenterError('SECRETS_UNAVAILABLE', `cluster ${config.id} is not saved: ${this.cipher.name} cannot encrypt now, and secrets are never stored in clear`);
    }
    const previous = this.entries.get(config.id);
    this.entries.set(config.id, { stored: this.seal(config), config });
    try {
      this.write();
    } catch (e) {
      if (previous === undefined) this.entries.delete(config.id);
      else this.entries.set(config.id, previous);
      throw e;
    }
  }

  /** Forgets a cluster (also one that could not be restored); false when there was none by that id. */
  remove(id: string): boolean {
    this.ensureLoaded();
    const previous = this.entries.get(id);
    if (previous === undefined) return false;
    this.entries.delete(id);
    try {
      this.write();
    } catch (e) {
      this.entries.set(id, previous);
      throw e;
    }
    return true;
  }

  private ensureLoaded(): void {
    // Writing before reading would drop what the file holds.
    if (!this.loaded) this.load();
  }

  private seal(config: ClusterConfig): unknown {
    const sealValue = (text: string): Sealed => ({ sealed: this.cipher.encrypt(text).toString('base64'), cipher: this.cipher.name });
    const credentials: Record<string, unknown> = { ...config.credentials };
    for (const field of CREDENTIAL_SECRETS) {
      const value = credentials[field];
      if (typeof value === 'string') credentials[field] = sealValue(value);
    }
    const nodes = config.nodes.map((n) => {
      if (n.via === undefined) return n;
      const via: Record<string, unknown> = { ...n.via };
      for (const field of SSH_SECRETS) {
        const value = via[field];
        if (typeof value === 'string') via[field] = sealValue(value);
      }
      return { ...n, via };
    });
    return { ...config, nodes, credentials };
  }

  /** The entry with its secrets decrypted, validated as a clusters.add request; throws a FieldError naming the field. */
  private unseal(stored: Record<string, unknown>): ClusterConfig {
    const openValue = (value: unknown, field: string): unknown => {
      if (value === undefined) return undefined;
      if (!isRecord(value) || typeof value.sealed !== 'string') throw new FieldError(field, 'not a sealed value (the center never keeps a secret in clear)');
      const cipher = typeof value.cipher === 'string' ? this.decrypters.get(value.cipher) : undefined;
      if (cipher === undefined) throw new FieldError(field, `sealed by ${String(value.cipher)}, but this center decrypts with ${[...this.decrypters.keys()].join(' or ')}`);
      try {
        return cipher.decrypt(Buffer.from(value.sealed, 'base64'));
      } catch (e) {
        throw new FieldError(field, `cannot be decrypted: ${(e as Error).message}`);
      }
    };
    const credentials = isRecord(stored.credentials) ? { ...stored.credentials } : stored.credentials;
    if (isRecord(credentials)) {
      for (const field of CREDENTIAL_SECRETS) {
        if (field in credentials) credentials[field] = openValue(credentials[field], `credentials.${field}`);
      }
    }
    const nodes = Array.isArray(stored.nodes) ? stored.nodes.map((n: unknown, i) => {
      if (!isRecord(n) || !isRecord(n.via)) return n;
      const via: Record<string, unknown> = { ...n.via };
      for (const field of SSH_SECRETS) {
        if (field in via) via[field] = openValue(via[field], `nodes.${i}.via.${field}`);
      }
      return { ...n, via };
    }) : stored.nodes;
    try {
      return parseRequest('clusters.add', { ...stored, nodes, credentials }).params as ClusterConfig;
    } catch (e) {
      if (e instanceof IpcError) {
        const path = isRecord(e.details) && typeof e.details.path === 'string' ? e.details.path : undefined;
        // parseRequest's message is "clusters.add: <path>: <what>": the channel means nothing in a file.
        throw new FieldError(path || 'entry', e.message.replace(/^clusters\.add: [^:]*: /, ''));
      }
      throw e;
    }
  }

  private write(): void {
    const content: StoredFile = { format: FILE_FORMAT, clusters: [...this.entries.values()].map((e) => e.stored) };
    const dir = dirname(this.file);
    const tmp = `${this.file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const fd = openSync(tmp, 'wx', 0o600);
      try {
        writeSync(fd, `${JSON.stringify(content, null, 2)}\n`);
        fsyncSync(fd);
      } finally { closeSync(fd); }
      renameSync(tmp, this.file);
      syncFolder(dir);
    } catch (e) {
      try { rmSync(tmp, { force: true }); } catch { /* the folder itself is what failed: nothing was left there */ }
      throw new CenterError('STORE_FAILED', `clusters file ${this.file}: ${(e as Error).message}`, { file: this.file });
    }
  }
}

class FieldError extends Error {
  constructor(readonly field: string, message: string) {
    super(message);
  }
}

function parseFile(text: string): StoredFile {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new Error(`not JSON (${(e as Error).message})`, { cause: e });
  }
  if (!isRecord(raw)) throw new Error('not a clusters file (expected an object)');
  if (raw.format !== FILE_FORMAT) throw new Error(`format: ${JSON.stringify(raw.format)} is not ${FILE_FORMAT}`);
  if (!Array.isArray(raw.clusters)) throw new Error('clusters: not a list');
  return { format: raw.format, clusters: raw.clusters };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The rename is durable only once the folder's entry is on disk (POSIX); Windows cannot open a folder this way. */
function syncFolder(dir: string): void {
  if (process.platform === 'win32') return;
  const fd = openSync(dir, 'r');
  try { fsyncSync(fd); } finally { closeSync(fd); }
}
