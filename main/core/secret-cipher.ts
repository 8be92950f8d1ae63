/**
 * How the center seals the secrets it keeps (cluster tokens, client keys, SSH passwords and keys). The store knows
 * only this interface; the Electron shell gives it the OS keychain (safeStorage), plain Node (center:web, tests)
 * gives it `FileKeyCipher` below.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

export interface SecretCipher {
  /** Written next to the sealed values, so a file sealed by another cipher is reported as such, not as corrupt. */
  readonly name: string;
  /** False when the cipher cannot seal now (no keychain): the store then refuses to save rather than save in clear. */
  isAvailable(): boolean;
  encrypt(text: string): Buffer;
  /** Throws when the bytes were not sealed by this cipher's key or were altered. */
  decrypt(sealed: Buffer): string;
}

/** FileKeyCipher's key, in the center's folder next to the clusters file. */
export const SECRET_KEY_FILE = 'secret.key';

const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** Lets a later format change be told apart from a damaged value. */
const FORMAT = 1;

/**
 * AES-256-GCM under a random key kept in a file of its own (0600, created once). GCM authenticates: an altered or
 * foreign value fails to decrypt instead of yielding garbage. This is weaker than safeStorage: anyone who can read
 * the center's folder as its user reads the key next to the data, whereas the keychain ties the key to the user's
 * login. It protects against a copied clusters file or a backup without the key, not against that user's account.
 */
export class FileKeyCipher implements SecretCipher {
  readonly name = 'aes-256-gcm-file';
  private readonly key: Buffer;

  constructor(readonly keyFile: string) {
    this.key = loadOrCreateKey(keyFile);
  }

  isAvailable(): boolean {
    return true;
  }

  encrypt(text: string): Buffer {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const body = Buffer.concat([cipher.update(text, 'utf8'), cipher.final()]);
    return Buffer.concat([Buffer.from([FORMAT]), iv, cipher.getAuthTag(), body]);
  }

  decrypt(sealed: Buffer): string {
    if (sealed.length < 1 + IV_BYTES + TAG_BYTES) throw new Error('too short to be a sealed value');
    if (sealed[0] !== FORMAT) throw new Error(`unknown sealed format ${sealed[0]}`);
    const iv = sealed.subarray(1, 1 + IV_BYTES);
    const tag = sealed.subarray(1 + IV_BYTES, 1 + IV_BYTES + TAG_BYTES);
    const decipher = createDecipheriv('aes-256-gcm', this.key, iv);
    decipher.setAuthTag(tag);
    try {
      return Buffer.concat([decipher.update(sealed.subarray(1 + IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
    } catch {
      // Node's message ("Unsupported state or unable to authenticate data") does not say what it means here.
      throw new Error(`altered, or sealed with another key than ${this.keyFile}`);
    }
  }
}

function loadOrCreateKey(file: string): Buffer {
  if (!existsSync(file)) {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    try {
      // 'wx': never overwrite a key another process made meanwhile; that would orphan everything it sealed.
      const fd = openSync(file, 'wx', 0o600);
      try { writeSync(fd, randomBytes(KEY_BYTES)); } finally { closeSync(fd); }
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
  const fd = openSync(file, 'r');
  try {
    // Windows has no such mode bits (the folder's ACL, under the user's profile, guards it there).
    if (process.platform !== 'win32') {
      const mode = fstatSync(fd).mode & 0o777;
      if ((mode & 0o077) !== 0) throw new Error(`${file}: the key file is readable by others (mode ${mode.toString(8)}); chmod 600 it`);
    }
  } finally { closeSync(fd); }
  const key = readFileSync(file);
  if (key.length !== KEY_BYTES) throw new Error(`${file}: not a key file (${key.length} bytes, expected ${KEY_BYTES})`);
  return key;
}
