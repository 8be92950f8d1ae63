/**
 * The committed configuration is also written to the node's configuration file, so an operator reading the file
 * reads what runs. Atomically: a crash leaves either the old file or the new one, never half of either.
 */
import { copyFile, open, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** Replace `path` with `text` (temp file, fsync, rename); the file it replaces is kept as `<path>.prev`. */
export async function writeConfigFile(path: string, text: string): Promise<void> {
  const dir = dirname(path);
  const temp = join(dir, `.${basename(path)}.${process.pid}.tmp`);
  // Keep the file's permissions: it may hold the cluster key inline.
  const mode = await stat(path).then((s) => s.mode & 0o777, () => 0o600);
  try {
    const file = await open(temp, 'w', mode);
    try {
      await file.writeFile(text, 'utf8');
      await file.sync();
    } finally {
      await file.close();
    }
    await copyFile(path, `${path}.prev`).catch((e: NodeJS.ErrnoException) => { if (e.code !== 'ENOENT') throw e; });
    await rename(temp, path);
  } catch (e) {
    await rm(temp, { force: true });
    throw e;
  }
  // The rename is durable once the directory is.
  const folder = await open(dir, 'r');
  try {
    await folder.sync();
  } finally {
    await folder.close();
  }
}
