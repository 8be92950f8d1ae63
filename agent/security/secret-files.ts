/**
 * Files that hold keys, certificates and token hashes: owner-only, and replaced atomically (write a temporary
 * file, fsync, rename) so a reader such as the agent reloading tokens.json never sees half a file.
 */
import { chmodSync, closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';

export const SECRET_DIR_MODE = 0o700;
export const SECRET_FILE_MODE = 0o600;

/** Create `dir` (and its parents) owner-only; an existing folder is tightened to 0700 as well. */
export function ensureSecretDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: SECRET_DIR_MODE });
  // mkdir's mode is filtered by the umask and ignored for a folder that already exists.
  chmodSync(dir, SECRET_DIR_MODE);
}

/** Replace `path` with `content` atomically, mode 0600 whatever the umask. */
export function writeSecretFile(path: string, content: string): void {
  const temporary = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const fd = openSync(temporary, 'wx', SECRET_FILE_MODE);
  try {
    writeSync(fd, content);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    rmSync(temporary, { force: true });
    throw e;
  }
  closeSync(fd);
  chmodSync(temporary, SECRET_FILE_MODE);
  renameSync(temporary, path);
}
