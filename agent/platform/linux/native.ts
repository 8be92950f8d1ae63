/**
 * Linux's calls that Node lacks, from the agent's native addon (agent/native, package vigil-native): a path's
 * extended attributes (the l*xattr calls) and where a file's data lies (lseek's SEEK_DATA and SEEK_HOLE), typed.
 */
import { createRequire } from 'node:module';
import type { FileHoles } from '../../replication/file-holes.js';
import type { ExtendedAttributes } from '../../replication/xattrs.js';

/** The addon's functions as it exports them: checked once, so nothing untyped passes this module. */
interface Addon {
  listXattrs(path: string): [string, Buffer][];
  setXattr(path: string, name: string, value: Buffer): void;
  removeXattr(path: string, name: string): boolean;
  seekData(fd: number, offset: number): number;
  seekHole(fd: number, offset: number): number;
}

const FUNCTIONS = ['listXattrs', 'setXattr', 'removeXattr', 'seekData', 'seekHole'] as const;

function isAddon(v: unknown): v is Addon {
  const o = v as Record<string, unknown> | null;
  return o !== null && typeof o === 'object' && FUNCTIONS.every((name) => typeof o[name] === 'function');
}

let loaded: { readonly addon?: Addon; readonly why?: string } | undefined;

/** The addon, or why it did not load (not built: `npm install` builds it). Once per process and worker thread. */
function addon(): { readonly addon?: Addon; readonly why?: string } {
  if (loaded !== undefined) return loaded;
  try {
    const module: unknown = createRequire(import.meta.url)('vigil-native');
    if (!isAddon(module)) throw new Error(`vigil-native lacks one of ${FUNCTIONS.join(', ')}`);
    loaded = { addon: module };
  } catch (e) {
    loaded = { why: `the vigil-native addon did not load (${(e as Error).message.split('\n')[0]})` };
  }
  return loaded;
}

export function loadLinuxXattrs(): { readonly access?: ExtendedAttributes; readonly why?: string } {
  const { addon: a, why } = addon();
  if (a === undefined) return { why: why! };
  return {
    access: {
      list: (path) => a.listXattrs(path).map(([name, value]) => ({ name, value })),
      set: (path, name, value) => a.setXattr(path, name, value),
      remove: (path, name) => a.removeXattr(path, name),
    },
  };
}

export function loadLinuxHoles(): FileHoles | undefined {
  const a = addon().addon;
  return a === undefined ? undefined : { seekData: (fd, offset) => a.seekData(fd, offset), seekHole: (fd, offset) => a.seekHole(fd, offset) };
}
