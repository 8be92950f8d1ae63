/**
 * Verify: do two copies of a data set hold the same thing? Each side describes its tree in a manifest (every
 * entry with its metadata and, for files, the whole-file SHA-256); comparing two manifests names every path that
 * is missing, extra, different in content or different in metadata. The target sends its manifest over the
 * network, so the encoded form is compact (paths share prefixes with the entry before) and decoding checks it all.
 */
import { join } from 'node:path';
import type { PathFilter } from './glob.js';
import { hashFile } from './block-index.js';
import { relativePathProblem } from './records.js';
import { checkRelativePath, comparePaths, rootEntry, scanTree, type TreeEntry, type TreeEntryType, type TreeProblem } from './tree.js';
import { TimeSlicer } from '../util/time-slice.js';
import { extendedAttributes, sameXattrs, xattrDigestOf, type ExtendedAttributes } from './xattrs.js';

/** A tree entry as the other node can compare it: no inode (it means nothing there), and the content's hash. */
export interface ManifestEntry extends Omit<TreeEntry, 'ino' | 'nlink'> {
  /** Whole-file SHA-256 as lowercase hex; files only. */
  readonly hash?: string;
  /**
   * A file's first name in the tree (comparePaths order) when this is another name of the same file (a hard
   * link): the copies have the same files when their names are grouped alike.
   */
  readonly linkedTo?: string;
  /** The digest of its travelling extended attributes (xattrs.ts), where it has some and the side reads them. */
  readonly xattrs?: string;
}

/**
 * Entries in comparePaths order, and what the scan (or hashing) could not take in; the folder itself (`root`, path
 * "", a folder) where it was read, so that its mode, owner, time and attributes are compared too (a manifest of an
 * older agent has none: the root is then not compared).
 */
export interface Manifest {
  readonly entries: readonly ManifestEntry[];
  readonly problems: readonly TreeProblem[];
  readonly root?: ManifestEntry;
}

export interface VerifyOptions {
  /** Compare uid and gid too (default false: the nodes may map owners differently). */
  readonly checkOwner?: boolean;
  /** Compare modification times too, of files, folders and symlinks alike (default false). */
  readonly checkMtime?: boolean;
  /** Compare extended attributes too (default false: only where both sides read them). */
  readonly checkXattrs?: boolean;
}

export interface VerifyProblem extends TreeProblem { readonly side: 'source' | 'target' }

export interface VerifyReport {
  /** True only when every list below is empty. */
  readonly equal: boolean;
  /** On the source, not on the target. */
  readonly missing: string[];
  /** On the target, not on the source. */
  readonly extra: string[];
  /** Another type, another file content (size or hash), or another symlink target. */
  readonly contentDiffers: string[];
  /** Same content, but a field among mode, uid, gid, mtimeMs differs. */
  readonly metadataDiffers: { path: string; fields: string[] }[];
  /** Entries either side could not scan or hash: they could not be compared, so the trees are not known equal. */
  readonly problems: VerifyProblem[];
}

export class ManifestError extends Error {
  readonly code = 'VIGIL_BAD_MANIFEST';
  constructor(message: string) {
    super(message);
    this.name = 'ManifestError';
  }
}

/** Files hashed at once: enough to keep a disk queue busy without thrashing a spinning one. */
const HASH_PARALLELISM = 4;
/** Modification times closer than this are equal: setting a time through utimes may round below a millisecond. */
const MTIME_TOLERANCE_MS = 1;

/** `xattrs`: each file's and folder's extended attributes are described too (their digest). */
export async function treeManifest(root: string, filter: PathFilter, xattrs?: ExtendedAttributes): Promise<Manifest> {
  const scan = scanTree(root, filter);
  const scanned: TreeEntry[] = [];
  for await (const entry of scan) scanned.push(entry);
  const problems = [...scan.problems];
  const hashes: (string | undefined)[] = new Array<string | undefined>(scanned.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < scanned.length) {
      const i = next++;
      const entry = scanned[i]!;
      if (entry.type !== 'file') continue;
      try {
        hashes[i] = (await hashFile(join(root, entry.path))).toString('hex');
      } catch (e) {
        const err = e as NodeJS.ErrnoException;
        problems.push({ path: entry.path, kind: 'unreadable', code: err.code ?? 'EIO', reason: `${entry.path}: cannot be hashed (${err.message})` });
      }
    }
  };
  await Promise.all(Array.from({ length: HASH_PARALLELISM }, worker));
  const entries: ManifestEntry[] = [];
  const firstNames = new Map<number, string>();
  const described = (e: TreeEntry): ManifestEntry => {
    const digest = xattrs === undefined || e.type === 'symlink' ? undefined : xattrDigestOf(xattrs, join(root, e.path)); // gone since the scan: none
    return { path: e.path, type: e.type, size: e.size, mode: e.mode, mtimeMs: e.mtimeMs, uid: e.uid, gid: e.gid, ...(digest === undefined ? {} : { xattrs: digest }) };
  };
  scanned.forEach((e, i) => {
    const base = described(e);
    if (e.type === 'file') {
      const hash = hashes[i];
      const linkedTo = e.nlink > 1 ? firstNames.get(e.ino) : undefined;
      if (e.nlink > 1 && linkedTo === undefined) firstNames.set(e.ino, e.path);
      if (hash !== undefined) entries.push(linkedTo === undefined ? { ...base, hash } : { ...base, hash, linkedTo }); // else it is listed in problems
    } else if (e.type === 'symlink') {
      entries.push({ ...base, linkTarget: e.linkTarget ?? '' });
    } else {
      entries.push(base);
    }
  });
  problems.sort((a, b) => comparePaths(a.path, b.path));
  const folder = await rootEntry(root);
  return folder === undefined ? { entries, problems } : { entries, problems, root: described(folder) };
}

export async function compareManifests(source: Manifest, target: Manifest, options: VerifyOptions = {}, slicer = new TimeSlicer()): Promise<VerifyReport> {
  // A slice at a time (util/time-slice.ts): a million entries held the agent's event loop for a second.
  const theirs = new Map<string, ManifestEntry>();
  for (const e of target.entries) {
    theirs.set(e.path, e);
    const pause = slicer.step();
    if (pause !== undefined) await pause;
  }
  const missing: string[] = [];
  const contentDiffers: string[] = [];
  const metadataDiffers: { path: string; fields: string[] }[] = [];
  const rootFields = source.root !== undefined && target.root !== undefined ? differingMetadata(source.root, target.root, options) : [];
  if (rootFields.length > 0) metadataDiffers.push({ path: '', fields: rootFields });
  for (const mine of source.entries) {
    const pause = slicer.step();
    if (pause !== undefined) await pause;
    const other = theirs.get(mine.path);
    theirs.delete(mine.path);
    if (other === undefined) {
      missing.push(mine.path);
    } else if (!sameContent(mine, other)) {
      contentDiffers.push(mine.path);
    } else {
      const fields = differingMetadata(mine, other, options);
      if (fields.length > 0) metadataDiffers.push({ path: mine.path, fields });
    }
  }
  const extra = [...theirs.keys()].sort(comparePaths);
  const problems: VerifyProblem[] = [
    ...source.problems.map((p) => ({ ...p, side: 'source' as const })),
    ...target.problems.map((p) => ({ ...p, side: 'target' as const })),
  ];
  const equal = missing.length + extra.length + contentDiffers.length + metadataDiffers.length + problems.length === 0;
  return { equal, missing, extra, contentDiffers, metadataDiffers, problems };
}

/** Both trees on this machine: what tests use to prove a mirrored tree equals its source. */
export async function verifyTrees(sourceRoot: string, targetRoot: string, filter: PathFilter, options: VerifyOptions = {}): Promise<VerifyReport> {
  const xattrs = options.checkXattrs === true ? extendedAttributes().access : undefined;
  if (options.checkXattrs === true && xattrs === undefined) throw new Error(`verify: extended attributes cannot be read here (${extendedAttributes().why ?? 'no adapter'})`);
  const [source, target] = await Promise.all([treeManifest(sourceRoot, filter, xattrs), treeManifest(targetRoot, filter, xattrs)]);
  return compareManifests(source, target, options);
}

function sameContent(a: ManifestEntry, b: ManifestEntry): boolean {
  if (a.type !== b.type) return false;
  if (a.type === 'file') return a.size === b.size && a.hash === b.hash;
  if (a.type === 'symlink') return a.linkTarget === b.linkTarget;
  return true;
}

function differingMetadata(a: ManifestEntry, b: ManifestEntry, options: VerifyOptions): string[] {
  const fields: string[] = [];
  // A symlink's own mode cannot be set on Linux (and is never used): it is not part of what a mirror copies.
  if (a.type !== 'symlink' && a.mode !== b.mode) fields.push('mode');
  if (options.checkOwner === true) {
    if (a.uid !== b.uid) fields.push('uid');
    if (a.gid !== b.gid) fields.push('gid');
  }
  if (options.checkMtime === true && Math.abs(a.mtimeMs - b.mtimeMs) >= MTIME_TOLERANCE_MS) fields.push('mtimeMs');
  if (a.linkedTo !== b.linkedTo) fields.push('linkedTo');
  if (options.checkXattrs === true && a.type !== 'symlink' && !sameXattrs(a.xattrs, b.xattrs)) fields.push('xattrs');
  return fields;
}

/*
 * Encoded manifest: {"v":1,"e":[[shared, suffix, type, size, mode, mtimeMs, uid, gid, extra], ...],"p":[...]}
 * `shared` is how many leading characters the path shares with the entry before, `suffix` the rest; type is
 * f, d or l; extra is the hash (files), the link target (symlinks) or "" (folders); a file that is another name
 * of an earlier one has its linkedTo as a tenth value (so only a tree with hard links needs a reader that knows
 * it), and an entry with extended attributes their digest as an eleventh (the tenth then null where it is no hard
 * link). Problems are [path, kind, code, reason]. About 120 bytes per file with a short name. The folder itself
 * is "r": [mode, mtimeMs, uid, gid], with its attributes' digest as a fifth value where it has some (an older agent
 * reads past it).
 */
const MANIFEST_VERSION = 1;
const TYPE_CODES: Record<TreeEntryType, string> = { file: 'f', dir: 'd', symlink: 'l' };
const TYPES_BY_CODE = new Map<unknown, TreeEntryType>([['f', 'file'], ['d', 'dir'], ['l', 'symlink']]);
const PROBLEM_KINDS: readonly unknown[] = ['unsupported', 'unreadable'];
const HEX_SHA256 = /^[0-9a-f]{64}$/;
const HEX_XATTRS = /^[0-9a-f]{32}$/;

export function encodeManifest(manifest: Manifest): string {
  let previous = '';
  const e = manifest.entries.map((entry) => {
    const shared = sharedPrefix(previous, entry.path);
    previous = entry.path;
    const extra = entry.type === 'file' ? entry.hash ?? '' : entry.type === 'symlink' ? entry.linkTarget ?? '' : '';
    const fields = [shared, entry.path.slice(shared), TYPE_CODES[entry.type], entry.size, entry.mode, entry.mtimeMs, entry.uid, entry.gid, extra];
    if (entry.xattrs !== undefined) return [...fields, entry.linkedTo ?? null, entry.xattrs];
    return entry.linkedTo === undefined ? fields : [...fields, entry.linkedTo];
  });
  const p = manifest.problems.map((x) => [x.path, x.kind, x.code, x.reason]);
  const root = manifest.root;
  if (root === undefined) return JSON.stringify({ v: MANIFEST_VERSION, e, p });
  const r = [root.mode, root.mtimeMs, root.uid, root.gid, ...(root.xattrs === undefined ? [] : [root.xattrs])];
  return JSON.stringify({ v: MANIFEST_VERSION, e, p, r });
}

/** Reads an encoded manifest, refusing (VIGIL_BAD_MANIFEST, naming `where`, the entry and the field) anything amiss. */
export function decodeManifest(text: string, where = 'manifest'): Manifest {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new ManifestError(`${where}: not JSON (${(e as Error).message})`);
  }
  return decodeManifestValue(parsed, where);
}

/** As decodeManifest, of a manifest already parsed from JSON (a page of a paged answer). */
export function decodeManifestValue(parsed: unknown, where = 'manifest'): Manifest {
  if (!isRecord(parsed)) throw new ManifestError(`${where}: not an object`);
  if (parsed['v'] !== MANIFEST_VERSION) throw new ManifestError(`${where}: version ${String(parsed['v'])}, this agent reads ${MANIFEST_VERSION}`);
  const rawEntries = parsed['e'];
  const rawProblems = parsed['p'];
  if (!Array.isArray(rawEntries)) throw new ManifestError(`${where}: field e is not a list`);
  if (!Array.isArray(rawProblems)) throw new ManifestError(`${where}: field p is not a list`);
  const entries: ManifestEntry[] = [];
  let previous = '';
  rawEntries.forEach((raw: unknown, i) => {
    const bad = (field: string, why: string): never => { throw new ManifestError(`${where}: entry ${i} field ${field}: ${why}`); };
    if (!Array.isArray(raw) || raw.length < 9 || raw.length > 11) bad('(all)', 'not a list of 9 values (10 for a hard link, 11 with extended attributes)');
    const [shared, suffix, typeCode, size, mode, mtimeMs, uid, gid, extra, linkedToOrNull, xattrs] = raw as unknown[];
    const linkedTo = linkedToOrNull === null && (raw as unknown[]).length === 11 ? undefined : linkedToOrNull;
    if (!isCount(shared) || shared > previous.length) bad('shared', `${String(shared)} is not a prefix length of the path before`);
    if (typeof suffix !== 'string') bad('suffix', 'not a string');
    const path = previous.slice(0, shared as number) + (suffix as string);
    try {
      checkRelativePath(path);
    } catch (e) {
      bad('path', (e as Error).message);
    }
    if (entries.length > 0 && comparePaths(previous, path) >= 0) bad('path', `${JSON.stringify(path)} is not after ${JSON.stringify(previous)}`);
    const type = TYPES_BY_CODE.get(typeCode) ?? bad('type', `${JSON.stringify(typeCode)} is not f, d or l`);
    if (!isCount(size)) bad('size', `${String(size)} is not a byte count`);
    checkMetadata(mode, mtimeMs, uid, gid, bad);
    if (typeof extra !== 'string') bad('extra', 'not a string');
    if (xattrs !== undefined && (type === 'symlink' || typeof xattrs !== 'string' || !HEX_XATTRS.test(xattrs))) bad('xattrs', `${JSON.stringify(xattrs)} is not a folder's or file's attributes digest (32 lowercase hex digits)`);
    const base = {
      path, type, size: size as number, mode: mode as number, mtimeMs: mtimeMs as number, uid: uid as number, gid: gid as number,
      ...(xattrs === undefined ? {} : { xattrs: xattrs as string }),
    };
    // Before this one, maybe on an earlier page of a paged manifest.
    if (linkedTo !== undefined && (type !== 'file' || typeof linkedTo !== 'string' || relativePathProblem(linkedTo) !== undefined || comparePaths(linkedTo, path) >= 0)) {
      bad('linkedTo', `${JSON.stringify(linkedTo)} is not a file's path before this one`);
    }
    if (type === 'file') {
      if (!HEX_SHA256.test(extra as string)) bad('hash', `${JSON.stringify(extra)} is not a SHA-256 in lowercase hex`);
      entries.push(linkedTo === undefined ? { ...base, hash: extra as string } : { ...base, hash: extra as string, linkedTo: linkedTo as string });
    } else if (type === 'symlink') {
      entries.push({ ...base, linkTarget: extra as string });
    } else {
      entries.push(base);
    }
    previous = path;
  });
  const problems = rawProblems.map((raw: unknown, i): TreeProblem => {
    const ok = Array.isArray(raw) && raw.length === 4 && typeof raw[0] === 'string' && PROBLEM_KINDS.includes(raw[1])
      && typeof raw[2] === 'string' && typeof raw[3] === 'string';
    if (!ok) throw new ManifestError(`${where}: problem ${i}: not [path, kind, code, reason]`);
    const [path, kind, code, reason] = raw as [string, TreeProblem['kind'], string, string];
    return { path, kind, code, reason };
  });
  const root = parsed['r'] === undefined ? undefined : decodeRoot(parsed['r'], where);
  return root === undefined ? { entries, problems } : { entries, problems, root };
}

function decodeRoot(raw: unknown, where: string): ManifestEntry {
  const bad = (field: string, why: string): never => { throw new ManifestError(`${where}: the folder itself (r) field ${field}: ${why}`); };
  if (!Array.isArray(raw) || raw.length < 4 || raw.length > 5) bad('(all)', 'not a list of 4 values (5 with extended attributes)');
  const [mode, mtimeMs, uid, gid, xattrs] = raw as unknown[];
  checkMetadata(mode, mtimeMs, uid, gid, bad);
  if (xattrs !== undefined && (typeof xattrs !== 'string' || !HEX_XATTRS.test(xattrs))) bad('xattrs', `${JSON.stringify(xattrs)} is not an attributes digest (32 lowercase hex digits)`);
  return {
    path: '', type: 'dir', size: 0, mode: mode as number, mtimeMs: mtimeMs as number, uid: uid as number, gid: gid as number,
    ...(xattrs === undefined ? {} : { xattrs: xattrs as string }),
  };
}

function checkMetadata(mode: unknown, mtimeMs: unknown, uid: unknown, gid: unknown, bad: (field: string, why: string) => never): void {
  if (!isCount(mode) || mode > 0o7777) bad('mode', `${String(mode)} is not a permission mode`);
  if (typeof mtimeMs !== 'number' || !Number.isFinite(mtimeMs)) bad('mtimeMs', `${String(mtimeMs)} is not a time`);
  if (!isCount(uid)) bad('uid', `${String(uid)} is not a user id`);
  if (!isCount(gid)) bad('gid', `${String(gid)} is not a group id`);
}

function sharedPrefix(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  // Never split a surrogate pair: each part must stay a valid string on its own.
  if (i > 0 && i < b.length && isHighSurrogate(b.charCodeAt(i - 1))) i--;
  return i;
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

function isCount(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}
