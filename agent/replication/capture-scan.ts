/**
 * Walks a folder that appeared under a watched root, reporting everything in it: files made in a new folder
 * before its watch existed produce no event, so this walk is how they reach the engine.
 */
import { opendir } from 'node:fs/promises';
import { join } from 'node:path';

export interface ScanVisitor {
  /** Skip this path (and, for a folder, what is under it). */
  readonly exclude?: (relPath: string, isDir: boolean) => boolean;
  readonly found: (relPath: string, isDir: boolean) => void;
  /** Checked between folders, so close() does not wait for a whole tree. */
  readonly cancelled: () => boolean;
}

/** Reports every entry under `relDir` (not `relDir` itself). Folders that vanish mid-walk are skipped. */
export async function scanSubtree(root: string, relDir: string, visitor: ScanVisitor): Promise<void> {
  const pending = [relDir];
  for (let dir = pending.pop(); dir !== undefined && !visitor.cancelled(); dir = pending.pop()) {
    let handle;
    try {
      handle = await opendir(join(root, dir));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') continue; // gone again: its removal has its own event
      throw e;
    }
    for await (const entry of handle) {
      const path = `${dir}/${entry.name}`;
      const isDir = entry.isDirectory();
      if (visitor.exclude?.(path, isDir)) continue;
      visitor.found(path, isDir);
      if (isDir) pending.push(path);
    }
  }
}
