/**
 * Change records: what the active node's mirror engine sends and the standby's Applier applies. Their bytes are
 * stored in the journal and carried by the transport as opaque payloads, so decoding trusts nothing:
 *   version u8 | op u8 | the op's fields, in the order of the ChangeRecord type
 * Strings are u16 BE length + UTF-8; sizes and offsets are u64 BE (at most 2^53 - 1); modes, ids and data
 * lengths u32 BE; mtimeMs f64 BE; meta's optional fields follow a presence bitmap u8, as put's uid and gid do.
 */

import { MAX_XATTR_VALUE_BYTES, MAX_XATTRS_PER_PATH, xattrNameProblem, type Xattr } from './xattrs.js';
import { mayHoldOddSegment } from './tree.js';

/**
 * Mtimes this close are the same: a time set in seconds (a double) lands within about a microsecond of what was
 * asked, and the nanoseconds the kernel keeps never read back exactly as the milliseconds sent.
 */
const MTIME_TOLERANCE_MS = 0.002;

export function sameMtime(a: number, b: number): boolean {
  return Math.abs(a - b) < MTIME_TOLERANCE_MS;
}

export type ChangeRecord =
  | { op: 'write'; path: string; offset: number; data: Buffer }
  | { op: 'truncate'; path: string; size: number }
  | { op: 'create'; path: string; mode: number }
  | { op: 'mkdir'; path: string; mode: number }
  | { op: 'symlink'; path: string; target: string }
  | { op: 'rename'; from: string; to: string }
  | { op: 'delete'; path: string }
  | { op: 'meta'; path: string; mode?: number; mtimeMs?: number; uid?: number; gid?: number }
  | { op: 'file-hash'; path: string; size: number; sha256: Buffer }
  /**
   * A whole small file at once (create, write and meta in one record): what a resync sends for a file the target
   * lacks. Only to a target that lists it among its features (MirrorTarget's FEATURES): an older one refuses the op.
   */
  | { op: 'put'; path: string; mode: number; mtimeMs: number; uid?: number; gid?: number; data: Buffer }
  /**
   * `path` becomes another name of the file at `existing` (a hard link), replacing whatever `path` was: both
   * names then share their content, mode, owner and mtime on the target as on the source. Only to a target that
   * lists it among its features; within one mirrored folder.
   */
  | { op: 'link'; path: string; existing: string }
  /**
   * Bytes `offset` to `offset + length` of the file read as zeros, and the file is at least that long: what a run
   * of zero bytes (a sparse file's hole, most often) travels as instead of its bytes. The target leaves a hole
   * where that run lies past its file's end. Only to a target that lists it among its features.
   */
  | { op: 'zeros'; path: string; offset: number; length: number }
  /**
   * The path's extended attributes that travel (xattrs.ts: user, trusted, security but the SELinux label, the
   * POSIX ACLs), all of them, sorted by name: the target sets those that differ and removes the others it has in
   * those namespaces. Only to a target that lists it among its features.
   */
  | { op: 'xattrs'; path: string; xattrs: readonly Xattr[] };

/** One file of a puts record: a put record's fields. */
export type PutEntry = Omit<Extract<ChangeRecord, { op: 'put' }>, 'op'>;

/**
 * Several whole small files, applied in order as that many put records: what a resync sends for a run of files
 * the target lacks, so that a file does not cost a record's trip through the journal, the transport and the
 * target's scheduling. Only to a target that lists it among its features. Made by the source from the put
 * records the detector yields (a record of one path each), never by the detector.
 */
export interface PutsRecord { op: 'puts'; files: PutEntry[] }

/** What travels and is applied: a change to one path, or a batch of puts. */
export type WireRecord = ChangeRecord | PutsRecord;

export type ChangeOp = WireRecord['op'];

export const RECORD_VERSION = 1;
/** Longest path or symlink target, in UTF-8 bytes (Linux's PATH_MAX). */
export const MAX_PATH_BYTES = 4096;
/** One write record carries at most this much data; the engine splits larger ranges. */
export const MAX_WRITE_BYTES = 16 * 1024 * 1024;
/** A puts record holds 2 to this many files, of at most MAX_WRITE_BYTES of data in all. */
export const MAX_PUTS_FILES = 4096;
const MAX_MODE = 0o7777;
const MAX_U32 = 0xffff_ffff;
const SHA256_BYTES = 32;
const EMPTY = Buffer.alloc(0);

const OPS: readonly ChangeOp[] = ['write', 'truncate', 'create', 'mkdir', 'symlink', 'rename', 'delete', 'meta', 'file-hash', 'put', 'puts', 'link', 'zeros', 'xattrs'];
const opCode = (op: ChangeOp): number => OPS.indexOf(op) + 1;

const META_MODE = 1;
const META_MTIME = 2;
const META_UID = 4;
const META_GID = 8;
const META_ALL = META_MODE | META_MTIME | META_UID | META_GID;

/** A record that cannot be encoded or decoded; `field` and (when decoding) `offset` say where. */
export class RecordError extends Error {
  readonly code = 'VIGIL_BAD_RECORD';
  constructor(readonly field: string, readonly offset: number | undefined, problem: string) {
    super(offset === undefined ? `change record: ${field}: ${problem}` : `change record: ${field} at byte ${offset}: ${problem}`);
    this.name = 'RecordError';
  }
}

/** Why `path` is not a clean relative posix path inside the mirror root, or undefined when it is. */
export function relativePathProblem(path: string): string | undefined {
  if (path === '') return 'empty';
  if (path.includes('\0')) return 'contains NUL';
  if (path.startsWith('/')) return 'absolute';
  if (path.includes('\\')) return 'contains a backslash';
  // This runs for every record, on both sides, and again as the target applies it: most paths need no split.
  if (!mayHoldOddSegment(path)) return undefined;
  for (const segment of path.split('/')) {
    if (segment === '') return 'has an empty segment';
    if (segment === '.' || segment === '..') return `has a "${segment}" segment`;
  }
  return undefined;
}

export function encodeRecord(r: WireRecord): Buffer {
  const parts = encodeRecordParts(r);
  return Buffer.isBuffer(parts) ? Buffer.from(parts) : Buffer.concat(parts);
}

/** The record's bytes as one buffer or as [fields, data], for a consumer that copies them anyway (the journal). */
export function encodeRecordParts(r: WireRecord): Buffer | readonly [Buffer, Buffer] {
  const w = new Writer();
  w.u8(RECORD_VERSION);
  w.u8(opCode(r.op));
  switch (r.op) {
    case 'write':
      w.path('path', r.path);
      w.u64('offset', r.offset);
      if (r.data.length > MAX_WRITE_BYTES) throw new RecordError('data', undefined, `${r.data.length} bytes exceeds ${MAX_WRITE_BYTES}`);
      w.u32('data length', r.data.length);
      w.bytes(r.data);
      break;
    case 'truncate':
      w.path('path', r.path);
      w.u64('size', r.size);
      break;
    case 'create':
    case 'mkdir':
      w.path('path', r.path);
      w.mode('mode', r.mode);
      break;
    case 'symlink':
      w.path('path', r.path);
      w.string('target', r.target, targetProblem(r.target));
      break;
    case 'rename':
      w.path('from', r.from);
      w.path('to', r.to);
      break;
    case 'delete':
      w.path('path', r.path);
      break;
    case 'link':
      w.path('path', r.path);
      w.path('existing', r.existing);
      break;
    case 'zeros':
      w.path('path', r.path);
      w.u64('offset', r.offset);
      if (r.length < 1) throw new RecordError('length', undefined, `${r.length}: a run of zeros holds at least one byte`);
      w.u64('length', r.length);
      if (r.offset + r.length > Number.MAX_SAFE_INTEGER) throw new RecordError('length', undefined, `the run ends at ${r.offset + r.length}, beyond 2^53 - 1`);
      break;
    case 'meta': {
      w.path('path', r.path);
      const flags = (r.mode !== undefined ? META_MODE : 0) | (r.mtimeMs !== undefined ? META_MTIME : 0)
        | (r.uid !== undefined ? META_UID : 0) | (r.gid !== undefined ? META_GID : 0);
      w.u8(flags);
      if (r.mode !== undefined) w.mode('mode', r.mode);
      if (r.mtimeMs !== undefined) w.f64('mtimeMs', r.mtimeMs);
      if (r.uid !== undefined) w.u32('uid', r.uid);
      if (r.gid !== undefined) w.u32('gid', r.gid);
      break;
    }
    case 'put':
      if (r.data.length > MAX_WRITE_BYTES) throw new RecordError('data', undefined, `${r.data.length} bytes exceeds ${MAX_WRITE_BYTES}`);
      writePut(w, r, '');
      w.bytes(r.data);
      break;
    case 'puts': {
      const count = r.files.length;
      if (count < 2 || count > MAX_PUTS_FILES) throw new RecordError('files', undefined, `${count} files; a puts record holds 2 to ${MAX_PUTS_FILES}`);
      let total = 0;
      for (const file of r.files) total += file.data.length;
      if (total > MAX_WRITE_BYTES) throw new RecordError('files', undefined, `${total} bytes of data exceeds ${MAX_WRITE_BYTES}`);
      w.u16(count);
      // The files' data is copied in: one buffer per record, however many files.
      w.reserve(total + count * 64);
      r.files.forEach((file, i) => {
        writePut(w, file, `files[${i}].`);
        w.copy(file.data);
      });
      break;
    }
    case 'xattrs':
      w.path('path', r.path);
      writeXattrs(w, r.xattrs);
      break;
    case 'file-hash':
      w.path('path', r.path);
      w.u64('size', r.size);
      if (r.sha256.length !== SHA256_BYTES) throw new RecordError('sha256', undefined, `${r.sha256.length} bytes, expected ${SHA256_BYTES}`);
      w.bytes(r.sha256);
      break;
    default:
      throw new RecordError('op', undefined, `unknown op ${JSON.stringify((r as { op: unknown }).op)}`);
  }
  return w.parts();
}

/** Parse one whole record. Throws only RecordError. */
export function decodeRecord(b: Buffer): WireRecord {
  return decode(b, true);
}

/**
 * As decodeRecord, but a write's data and a checkpoint's hash are views of `b`, not copies: for a caller that
 * applies the record and lets go of it while `b` stays as it is (the target: copying every byte it received
 * cost a sixth of its CPU in a full mirror).
 */
export function decodeRecordInPlace(b: Buffer): WireRecord {
  return decode(b, false);
}

function decode(b: Buffer, copy: boolean): WireRecord {
  const r = new Reader(b, copy);
  const version = r.u8('version');
  if (version !== RECORD_VERSION) throw new RecordError('version', 0, `${version}, expected ${RECORD_VERSION}`);
  const code = r.u8('op');
  const op = OPS[code - 1];
  if (op === undefined) throw new RecordError('op', 1, `unknown op code ${code}`);
  const record = decodeBody(op, r);
  if (r.offset !== b.length) throw new RecordError('end', r.offset, `${b.length - r.offset} trailing bytes`);
  return record;
}

function decodeBody(op: ChangeOp, r: Reader): WireRecord {
  switch (op) {
    case 'write': {
      const path = r.path('path');
      const offset = r.u64('offset');
      return { op, path, offset, data: r.data() };
    }
    case 'truncate':
      return { op, path: r.path('path'), size: r.u64('size') };
    case 'create':
    case 'mkdir':
      return { op, path: r.path('path'), mode: r.mode('mode') };
    case 'symlink':
      return { op, path: r.path('path'), target: r.string('target', targetProblem) };
    case 'rename':
      return { op, from: r.path('from'), to: r.path('to') };
    case 'delete':
      return { op, path: r.path('path') };
    case 'link':
      return { op, path: r.path('path'), existing: r.path('existing') };
    case 'zeros': {
      const path = r.path('path');
      const offset = r.u64('offset');
      const at = r.offset;
      const length = r.u64('length');
      if (length < 1) throw new RecordError('length', at, `${length}: a run of zeros holds at least one byte`);
      if (offset + length > Number.MAX_SAFE_INTEGER) throw new RecordError('length', at, `the run ends at ${offset + length}, beyond 2^53 - 1`);
      return { op, path, offset, length };
    }
    case 'meta': {
      const path = r.path('path');
      const at = r.offset;
      const flags = r.u8('meta flags');
      if ((flags & ~META_ALL) !== 0) throw new RecordError('meta flags', at, `unknown bits 0x${(flags & ~META_ALL).toString(16)}`);
      const meta: Extract<ChangeRecord, { op: 'meta' }> = { op, path };
      if (flags & META_MODE) meta.mode = r.mode('mode');
      if (flags & META_MTIME) meta.mtimeMs = r.f64('mtimeMs');
      if (flags & META_UID) meta.uid = r.u32('uid');
      if (flags & META_GID) meta.gid = r.u32('gid');
      return meta;
    }
    case 'xattrs':
      return { op, path: r.path('path'), xattrs: readXattrs(r) };
    case 'file-hash':
      return { op, path: r.path('path'), size: r.u64('size'), sha256: r.bytes('sha256', SHA256_BYTES) };
    case 'put':
      return { op, ...readPut(r, '') };
    case 'puts': {
      const at = r.offset;
      const count = r.u16('files');
      if (count < 2 || count > MAX_PUTS_FILES) throw new RecordError('files', at, `${count} files; a puts record holds 2 to ${MAX_PUTS_FILES}`);
      const files: PutEntry[] = [];
      let total = 0;
      for (let i = 0; i < count; i++) {
        const file = readPut(r, `files[${i}].`);
        total += file.data.length;
        if (total > MAX_WRITE_BYTES) throw new RecordError(`files[${i}].data`, r.offset - file.data.length, `the record's data reaches ${total} bytes, beyond ${MAX_WRITE_BYTES}`);
        files.push(file);
      }
      return { op, files };
    }
  }
}

/** A put's fields up to its data length (its bytes follow); `field` prefixes each field's name in errors. */
function writePut(w: Writer, put: PutEntry, field: string): void {
  w.path(`${field}path`, put.path);
  w.mode(`${field}mode`, put.mode);
  w.f64(`${field}mtimeMs`, put.mtimeMs);
  w.u8((put.uid !== undefined ? META_UID : 0) | (put.gid !== undefined ? META_GID : 0));
  if (put.uid !== undefined) w.u32(`${field}uid`, put.uid);
  if (put.gid !== undefined) w.u32(`${field}gid`, put.gid);
  w.u32(`${field}data length`, put.data.length);
}

function readPut(r: Reader, field: string): PutEntry {
  const put: PutEntry = { path: r.path(`${field}path`), mode: r.mode(`${field}mode`), mtimeMs: r.f64(`${field}mtimeMs`), data: EMPTY };
  const at = r.offset;
  const flags = r.u8(`${field}put flags`);
  if ((flags & ~(META_UID | META_GID)) !== 0) throw new RecordError(`${field}put flags`, at, `unknown bits 0x${(flags & ~(META_UID | META_GID)).toString(16)}`);
  if (flags & META_UID) put.uid = r.u32(`${field}uid`);
  if (flags & META_GID) put.gid = r.u32(`${field}gid`);
  put.data = r.data(field);
  return put;
}

function targetProblem(target: string): string | undefined {
  if (target === '') return 'empty';
  if (target.includes('\0')) return 'contains NUL';
  return undefined;
}

/**
 * Fields are written into one small buffer (from Node's pool: no allocation of its own per field or record);
 * a write's data is kept as a separate part, so it can reach the journal without being copied first.
 */
/** An xattrs record's set: count u16, then per attribute its name (u16 length + UTF-8) and value (u32 length + bytes). */
function writeXattrs(w: Writer, xattrs: readonly Xattr[]): void {
  if (xattrs.length > MAX_XATTRS_PER_PATH) throw new RecordError('xattrs', undefined, `${xattrs.length} attributes; at most ${MAX_XATTRS_PER_PATH}`);
  w.u16(xattrs.length);
  xattrs.forEach((x, i) => {
    const field = `xattrs[${i}]`;
    const previous = xattrs[i - 1];
    w.string(`${field}.name`, x.name, xattrNameProblem(x.name) ?? (previous !== undefined && !(previous.name < x.name) ? `does not follow ${JSON.stringify(previous.name)} in order` : undefined));
    if (x.value.length > MAX_XATTR_VALUE_BYTES) throw new RecordError(`${field}.value`, undefined, `${x.value.length} bytes exceeds ${MAX_XATTR_VALUE_BYTES}`);
    w.u32(`${field}.value length`, x.value.length);
    w.copy(x.value);
  });
}

function readXattrs(r: Reader): Xattr[] {
  const count = r.u16('xattrs count');
  if (count > MAX_XATTRS_PER_PATH) throw new RecordError('xattrs count', r.offset - 2, `${count} exceeds ${MAX_XATTRS_PER_PATH}`);
  const xattrs: Xattr[] = [];
  for (let i = 0; i < count; i++) {
    const field = `xattrs[${i}]`;
    const previous = xattrs[i - 1];
    const name = r.string(`${field}.name`, (n) => xattrNameProblem(n) ?? (previous !== undefined && !(previous.name < n) ? `does not follow ${JSON.stringify(previous.name)} in order` : undefined));
    const at = r.offset;
    const length = r.u32(`${field}.value length`);
    if (length > MAX_XATTR_VALUE_BYTES) throw new RecordError(`${field}.value length`, at, `${length} exceeds ${MAX_XATTR_VALUE_BYTES}`);
    xattrs.push({ name, value: r.bytes(`${field}.value`, length) });
  }
  return xattrs;
}

class Writer {
  private buffer = Buffer.allocUnsafe(128);
  private length = 0;
  private data: Buffer | undefined;

  private room(bytes: number): number {
    if (this.data !== undefined) throw new Error('change record: no field may follow the data');
    const at = this.length;
    if (at + bytes > this.buffer.length) {
      const bigger = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, at + bytes));
      this.buffer.copy(bigger, 0, 0, at);
      this.buffer = bigger;
    }
    this.length += bytes;
    return at;
  }

  // Each write takes its offset from room() first: room() may replace this.buffer, and `this.buffer.f(v,
  // this.room(n))` would write into the old one, leaving the new one's bytes uninitialized.
  u8(value: number): void {
    const at = this.room(1);
    this.buffer[at] = value;
  }

  u16(value: number): void {
    const at = this.room(2);
    this.buffer.writeUInt16BE(value, at);
  }

  /** Room for `bytes` more at once, where many fields and data follow (a puts record). */
  reserve(bytes: number): void {
    if (this.length + bytes > this.buffer.length) {
      const bigger = Buffer.allocUnsafe(this.length + bytes);
      this.buffer.copy(bigger, 0, 0, this.length);
      this.buffer = bigger;
    }
  }

  u32(field: string, value: number): void {
    if (!Number.isInteger(value) || value < 0 || value > MAX_U32) throw new RecordError(field, undefined, `${value} is not a u32`);
    const at = this.room(4);
    this.buffer.writeUInt32BE(value, at);
  }

  u64(field: string, value: number): void {
    if (!Number.isSafeInteger(value) || value < 0) throw new RecordError(field, undefined, `${value} is not a non-negative safe integer`);
    const at = this.room(8);
    // Two u32 halves: exact for every safe integer, without a BigInt per field.
    this.buffer.writeUInt32BE(Math.floor(value / 0x1_0000_0000), at);
    this.buffer.writeUInt32BE(value >>> 0, at + 4);
  }

  f64(field: string, value: number): void {
    if (!Number.isFinite(value)) throw new RecordError(field, undefined, `${value} is not finite`);
    const at = this.room(8);
    this.buffer.writeDoubleBE(value, at);
  }

  mode(field: string, value: number): void {
    if (!Number.isInteger(value) || value < 0 || value > MAX_MODE) throw new RecordError(field, undefined, `${value} is not a mode (0 to 0o7777)`);
    this.u32(field, value);
  }

  path(field: string, value: string): void {
    this.string(field, value, relativePathProblem(value));
  }

  string(field: string, value: string, problem: string | undefined): void {
    if (problem !== undefined) throw new RecordError(field, undefined, `${JSON.stringify(value)} ${problem}`);
    const bytes = Buffer.byteLength(value, 'utf8');
    if (bytes > MAX_PATH_BYTES) throw new RecordError(field, undefined, `${bytes} bytes exceeds ${MAX_PATH_BYTES}`);
    const at = this.room(2 + bytes);
    this.buffer.writeUInt16BE(bytes, at);
    this.buffer.write(value, at + 2, bytes, 'utf8');
  }

  /** Raw bytes; a large block of data (only as the last field) is kept by reference, not copied. */
  bytes(value: Buffer): void {
    if (value.length > 1024) this.data = value;
    else {
      const at = this.room(value.length);
      value.copy(this.buffer, at);
    }
  }

  /** Raw bytes, always copied: data that more fields follow. */
  copy(value: Uint8Array): void {
    const at = this.room(value.length);
    this.buffer.set(value, at);
  }

  /** The fields, then the data when it was kept apart. */
  parts(): Buffer | readonly [Buffer, Buffer] {
    const fields = this.buffer.subarray(0, this.length);
    return this.data === undefined ? fields : [fields, this.data];
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

class Reader {
  offset = 0;
  constructor(private readonly buffer: Buffer, private readonly copy: boolean) {}

  private need(field: string, bytes: number): number {
    const at = this.offset;
    if (at + bytes > this.buffer.length) {
      throw new RecordError(field, at, `truncated: needs ${bytes} bytes, ${this.buffer.length - at} left`);
    }
    this.offset += bytes;
    return at;
  }

  u8(field: string): number {
    return this.buffer.readUInt8(this.need(field, 1));
  }

  u16(field: string): number {
    return this.buffer.readUInt16BE(this.need(field, 2));
  }

  u32(field: string): number {
    return this.buffer.readUInt32BE(this.need(field, 4));
  }

  u64(field: string): number {
    const at = this.need(field, 8);
    const value = this.buffer.readBigUInt64BE(at);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new RecordError(field, at, `${value} exceeds 2^53 - 1`);
    return Number(value);
  }

  f64(field: string): number {
    const at = this.need(field, 8);
    const value = this.buffer.readDoubleBE(at);
    if (!Number.isFinite(value)) throw new RecordError(field, at, `${value} is not finite`);
    return value;
  }

  mode(field: string): number {
    const at = this.offset;
    const value = this.u32(field);
    if (value > MAX_MODE) throw new RecordError(field, at, `0o${value.toString(8)} is beyond 0o7777`);
    return value;
  }

  bytes(field: string, length: number): Buffer {
    const at = this.need(field, length);
    const view = this.buffer.subarray(at, at + length);
    // A copy, so a record outlives the (possibly pooled or reused) buffer it was decoded from.
    return this.copy ? Buffer.from(view) : view;
  }

  /** A data length (u32, at most MAX_WRITE_BYTES) and that many bytes; `field` prefixes the fields' names. */
  data(field = ''): Buffer {
    const at = this.offset;
    const length = this.u32(`${field}data length`);
    if (length > MAX_WRITE_BYTES) throw new RecordError(`${field}data length`, at, `${length} exceeds ${MAX_WRITE_BYTES}`);
    return this.bytes(`${field}data`, length);
  }

  string(field: string, problemOf: (s: string) => string | undefined): string {
    const at = this.offset;
    const length = this.buffer.readUInt16BE(this.need(field, 2));
    if (length > MAX_PATH_BYTES) throw new RecordError(field, at, `length ${length} exceeds ${MAX_PATH_BYTES}`);
    const start = this.need(field, length);
    let value: string;
    try {
      value = utf8.decode(this.buffer.subarray(start, start + length));
    } catch {
      throw new RecordError(field, start, 'not valid UTF-8');
    }
    const problem = problemOf(value);
    if (problem !== undefined) throw new RecordError(field, start, `${JSON.stringify(value)} ${problem}`);
    return value;
  }

  path(field: string): string {
    return this.string(field, relativePathProblem);
  }
}
