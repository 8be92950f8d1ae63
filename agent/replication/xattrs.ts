/**
 * Extended attributes, POSIX ACLs among them: which of a path's travel, how two sets are compared, and how the
 * target's set is made to match. Read and written through a small platform interface (ExtendedAttributes), whose
 * Linux adapter is the agent's native addon (agent/native); where none loads, a mirror carries none.
 */
import { createHash } from 'node:crypto';
import { loadLinuxXattrs } from '../platform/linux/native.js';

export interface Xattr {
  readonly name: string;
  readonly value: Buffer;
}

/** A path's extended attributes, never following a symlink. Errors carry the errno's name as `code`. */
export interface ExtendedAttributes {
  list(path: string): Xattr[];
  set(path: string, name: string, value: Buffer): void;
  /** False when the path had no such attribute. */
  remove(path: string, name: string): boolean;
}

/** Linux's limits (XATTR_NAME_MAX, XATTR_SIZE_MAX): what a record may carry. */
export const MAX_XATTR_NAME_BYTES = 255;
export const MAX_XATTR_VALUE_BYTES = 64 * 1024;
export const MAX_XATTRS_PER_PATH = 1024;

/**
 * What travels, as `rsync -aAX` as root: user and trusted attributes, security ones (Samba's stored Windows ACLs,
 * security.NTACL; file capabilities) but the SELinux label, which is the target's policy to set, and the two
 * POSIX ACLs. Other system.* names are views the kernel makes of other things, not attributes to copy.
 */
export function travels(name: string): boolean {
  if (name.startsWith('user.') || name.startsWith('trusted.')) return true;
  if (name.startsWith('security.')) return name !== 'security.selinux';
  return name === 'system.posix_acl_access' || name === 'system.posix_acl_default';
}

/** Why `name` cannot travel in a record, or undefined when it can. */
export function xattrNameProblem(name: string): string | undefined {
  if (!travels(name)) return 'is not in a namespace that is mirrored (user., trusted., security. but security.selinux, the POSIX ACLs)';
  if (name.includes('\0')) return 'contains NUL';
  if (Buffer.byteLength(name, 'utf8') > MAX_XATTR_NAME_BYTES) return `is longer than ${MAX_XATTR_NAME_BYTES} bytes`;
  return undefined;
}

const byName = (a: Xattr, b: Xattr): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/**
 * The attributes of `path` that travel, sorted by name; none where its file system keeps none (ENOTSUP). A path
 * gone meanwhile throws ENOENT, as lstat would.
 */
export function travellingXattrs(access: ExtendedAttributes, path: string): Xattr[] {
  let all: Xattr[];
  try {
    all = access.list(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOTSUP') return [];
    throw e;
  }
  return all.filter((x) => travels(x.name)).sort(byName);
}

/**
 * A set's digest: what the source remembers having sent and a listing or manifest reports, so that sets are
 * compared without their values. Undefined for no attributes (what a new file has, and what was never sent).
 */
export function xattrDigest(set: readonly Xattr[]): string | undefined {
  if (set.length === 0) return undefined;
  const h = createHash('sha256');
  const lengths = Buffer.alloc(6);
  for (const x of [...set].sort(byName)) {
    const name = Buffer.from(x.name, 'utf8');
    lengths.writeUInt16BE(name.length, 0);
    lengths.writeUInt32BE(x.value.length, 2);
    h.update(lengths).update(name).update(x.value);
  }
  return h.digest('hex').slice(0, 32);
}

/**
 * No attributes, as a digest: what a source remembers having sent in an xattrs record with none, and what the read
 * thread's lstat reports for a path that has none.
 */
export const NO_XATTRS = '0'.repeat(32);
/** A folder's default ACL: what a path made in it there gets an ACL from. */
export const DEFAULT_ACL = 'system.posix_acl_default';

/** The digest of `path`'s travelling attributes; undefined for none, and for a path gone meanwhile. */
export function xattrDigestOf(access: ExtendedAttributes, path: string): string | undefined {
  try {
    return xattrDigest(travellingXattrs(access, path));
  } catch {
    return undefined;
  }
}

/** Whether two digests (each undefined, or NO_XATTRS, for no attributes) say the same set. */
export function sameXattrs(a: string | undefined, b: string | undefined): boolean {
  return (a ?? NO_XATTRS) === (b ?? NO_XATTRS);
}

/**
 * Makes the travelling attributes of `path` exactly `wanted`: those it lacks or holds with other bytes are set,
 * those not wanted removed; the rest (the SELinux label, the kernel's views) are left alone. Returns how many
 * changed. An ACL is set before the names that may depend on it are removed; order otherwise does not matter.
 */
export function matchXattrs(access: ExtendedAttributes, path: string, wanted: readonly Xattr[]): number {
  const present = new Map(travellingXattrs(access, path).map((x) => [x.name, x.value] as const));
  let changed = 0;
  for (const x of wanted) {
    if (present.get(x.name)?.equals(x.value) === true) continue;
    access.set(path, x.name, x.value);
    changed++;
  }
  const keep = new Set(wanted.map((x) => x.name));
  for (const name of present.keys()) {
    if (!keep.has(name) && access.remove(path, name)) changed++;
  }
  return changed;
}

let loaded: { readonly access?: ExtendedAttributes; readonly why?: string } | undefined;

/**
 * This machine's adapter, or why there is none: a platform without one (only Linux has it), or an addon that was
 * not built (`npm install` builds it; see the agent's README). Loaded once per process (and per worker thread).
 */
export function extendedAttributes(): { readonly access?: ExtendedAttributes; readonly why?: string } {
  loaded ??= process.platform === 'linux' ? loadLinuxXattrs() : { why: `extended attributes are mirrored on Linux only, not on ${process.platform}` };
  return loaded;
}
