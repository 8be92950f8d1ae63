/** Linux's extended attributes: the native addon in agent/native/xattrs (the l*xattr calls), typed. */
import { createRequire } from 'node:module';
import type { ExtendedAttributes } from '../../replication/xattrs.js';

/** The addon's functions as it exports them: checked once, so nothing untyped passes this module. */
interface Addon {
  list(path: string): [string, Buffer][];
  set(path: string, name: string, value: Buffer): void;
  remove(path: string, name: string): boolean;
}

function isAddon(v: unknown): v is Addon {
  const o = v as Record<string, unknown> | null;
  return o !== null && typeof o === 'object' && typeof o.list === 'function' && typeof o.set === 'function' && typeof o.remove === 'function';
}

/** The adapter, or why it did not load (the addon not built: `npm install` builds it). */
export function loadLinuxXattrs(): { readonly access?: ExtendedAttributes; readonly why?: string } {
  try {
    const addon: unknown = createRequire(import.meta.url)('vigil-xattrs');
    if (!isAddon(addon)) throw new Error('vigil-xattrs exports no list, set and remove functions');
    return {
      access: {
        list: (path) => addon.list(path).map(([name, value]) => ({ name, value })),
        set: (path, name, value) => addon.set(path, name, value),
        remove: (path, name) => addon.remove(path, name),
      },
    };
  } catch (e) {
    return { why: `the vigil-xattrs addon did not load (${(e as Error).message.split('\n')[0]})` };
  }
}
