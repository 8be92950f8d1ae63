/**
 * A real data set, deterministic from a seed: small files (1-8 KiB) in nested folders and a few large files, their
 * bytes an AES-128-CTR keystream (incompressible, so no layer can cheat by compressing; fast, so a few hundred MB
 * cost seconds). Shared by the mirror's integration tests and `npm run bench:mirror`.
 *
 *   small/PP/LL/f-NNNNN.dat   `filesPerFolder` per leaf folder, `foldersPerParent` leaves per parent
 *   large/big-K.dat           what is left of `sizeMiB` after the small files, shared out
 */
import { createCipheriv, createHash } from 'node:crypto';
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';

const MiB = 1024 * 1024;

export interface DatasetOptions {
  readonly seed: string;
  readonly sizeMiB: number;
  readonly smallFiles: number;
  readonly largeFiles: number;
  readonly filesPerFolder?: number;
  readonly foldersPerParent?: number;
}

/** `stream` is the file's own counter space in the keystream, so each file's bytes differ from every other's. */
export interface DataFile { readonly path: string; readonly size: number; readonly stream: number }
export interface Dataset { readonly root: string; readonly files: readonly DataFile[]; readonly bytes: number; readonly dirs: number }

/** `length` bytes of the keystream keyed by the seed and a purpose, from byte `offset` of counter space `stream`. */
export function keystream(seed: string, purpose: string, stream: number, offset: number, length: number): Buffer {
  const key = createHash('sha256').update(`${seed}\0${purpose}`).digest().subarray(0, 16);
  // The counter block: the stream in the high half, the 16-byte block number in the low half.
  const iv = Buffer.alloc(16);
  iv.writeUInt32BE(stream, 0);
  iv.writeBigUInt64BE(BigInt(Math.floor(offset / 16)), 8);
  const cipher = createCipheriv('aes-128-ctr', key, iv);
  const skip = offset % 16;
  return cipher.update(Buffer.alloc(length + skip)).subarray(skip);
}

/** mulberry32: small sizes and choices, deterministic from the seed. Returns numbers in [0, 1). */
export function prng(seed: string): () => number {
  let a = createHash('sha256').update(seed).digest().readUInt32LE(0);
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The files the data set will have under `root`, without writing anything. */
export function planDataset(root: string, options: DatasetOptions): Dataset {
  const { filesPerFolder = 100, foldersPerParent = 20 } = options;
  const random = prng(`${options.seed}\0sizes`);
  const files: DataFile[] = [];
  const dirs = new Set<string>();
  let smallBytes = 0;
  for (let i = 0; i < options.smallFiles; i++) {
    const leaf = Math.floor(i / filesPerFolder);
    const dir = join('small', String(Math.floor(leaf / foldersPerParent)).padStart(2, '0'), String(leaf % foldersPerParent).padStart(2, '0'));
    dirs.add(dir);
    const size = 1024 + Math.floor(random() * 7 * 1024);
    files.push({ path: join(dir, `f-${String(i).padStart(5, '0')}.dat`), size, stream: i });
    smallBytes += size;
  }
  const rest = Math.max(0, options.sizeMiB * MiB - smallBytes);
  for (let k = 0; k < options.largeFiles; k++) {
    // The rest shared out, the last file taking the remainder.
    const size = k < options.largeFiles - 1 ? Math.floor(rest / options.largeFiles) : rest - Math.floor(rest / options.largeFiles) * (options.largeFiles - 1);
    files.push({ path: join('large', `big-${k}.dat`), size, stream: 0x40000000 + k });
  }
  if (options.largeFiles > 0) dirs.add('large');
  return { root, files, bytes: files.reduce((n, f) => n + f.size, 0), dirs: dirs.size };
}

/** Write a planned data set, 8 MiB at a time. */
export function writeDataset(d: Dataset, seed: string): void {
  const CHUNK = 8 * MiB;
  for (const f of d.files) {
    const path = join(d.root, f.path);
    mkdirSync(join(path, '..'), { recursive: true });
    const fd = openSync(path, 'w', 0o644);
    try {
      for (let at = 0; at < f.size; at += CHUNK) writeSync(fd, keystream(seed, 'data', f.stream, at, Math.min(CHUNK, f.size - at)), 0, undefined, at);
    } finally {
      closeSync(fd);
    }
  }
}

/** A POSIX ACL as the kernel stores it in system.posix_acl_access (acl_ea_header version 2, then tag u16, perm u16, id u32 per entry). */
export function posixAclBytes(entries: readonly (readonly [tag: number, perm: number, id: number | undefined])[]): Buffer {
  const b = Buffer.alloc(4 + entries.length * 8);
  b.writeUInt32LE(2, 0);
  entries.forEach(([tag, perm, id], i) => {
    b.writeUInt16LE(tag, 4 + i * 8);
    b.writeUInt16LE(perm, 6 + i * 8);
    b.writeUInt32LE(id ?? 0xffffffff, 8 + i * 8);
  });
  return b;
}

/** ACL tags (acl/libacl.h): the owner, a named user, the owning group, a named group, the mask, others. */
export const ACL_TAG = { userObj: 1, user: 2, groupObj: 4, group: 8, mask: 0x10, other: 0x20 } as const;

/**
 * Gives every `every`th small file (by its place in the data set) what a Samba share or an ACL'd export gives its
 * files: a user attribute and an access ACL naming another user, set through `set` (the agent's addon). Returns how
 * many files got them.
 */
export function addXattrs(d: Dataset, every: number, set: (path: string, name: string, value: Buffer) => void): number {
  let count = 0;
  d.files.forEach((f, i) => {
    if (f.size > 8 * 1024 || i % every !== 0) return;
    const path = join(d.root, f.path);
    set(path, 'user.vigil.owner-team', Buffer.from(`team-${f.stream % 7}`));
    set(path, 'system.posix_acl_access', posixAclBytes([
      [ACL_TAG.userObj, 6, undefined], [ACL_TAG.user, 6, 5000 + (f.stream % 50)], [ACL_TAG.groupObj, 4, undefined], [ACL_TAG.mask, 6, undefined], [ACL_TAG.other, 4, undefined],
    ]));
    count++;
  });
  return count;
}
