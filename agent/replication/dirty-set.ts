/**
 * The paths that need a differential resync because their changes never reached the journal (it was full, or a
 * pause outlasted it). Kept in memory, persisted by save() as JSON {version: 1, all: {reason} | null, paths: [...]},
 * replaced atomically so a crash leaves the old or the new set, never a mix.
 *
 * To work through the set without losing changes that arrive meanwhile: read `all` and paths(), clear(), resync
 * them, and add() back whatever failed. Changes made during the resync land in the cleared set.
 */
import { mkdir, readFile, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';
import { replaceFileAtomically } from './journal.js';

export type DirtySetErrorCode = 'VIGIL_DIRTY_SET_CORRUPT' | 'VIGIL_DIRTY_PATH_INVALID';

export class DirtySetError extends Error {
  constructor(readonly code: DirtySetErrorCode, message: string) {
    super(message);
    this.name = 'DirtySetError';
  }
}

const fileSchema = z.strictObject({
  version: z.literal(1),
  all: z.strictObject({ reason: z.string() }).nullable(),
  paths: z.array(z.string()),
});

/** Relative, '/'-separated, no empty, '.' or '..' segment: the same file always has the same spelling. */
export function checkDirtyPath(path: string): void {
  const bad = (why: string): DirtySetError => new DirtySetError('VIGIL_DIRTY_PATH_INVALID', `dirty path ${JSON.stringify(path)}: ${why}`);
  if (typeof path !== 'string' || path === '') throw bad('empty');
  if (path.includes('\0')) throw bad('contains a NUL byte');
  if (path.startsWith('/')) throw bad('absolute; paths are relative to the mirrored tree');
  for (const part of path.split('/')) {
    if (part === '') throw bad('has an empty segment (a doubled or trailing "/")');
    if (part === '.' || part === '..') throw bad(`has a "${part}" segment`);
  }
}

export class DirtySet {
  private readonly set = new Set<string>();
  private allReason: string | undefined;
  /** save() calls run one after another, so an older snapshot never replaces a newer one. */
  private saving: Promise<void> = Promise.resolve();

  private constructor(readonly file: string, private readonly durable: boolean) {}

  /** Load the set saved in `file` (empty if there is none). `durable: false` skips fsync (tests, tmpfs). */
  static async open(file: string, options: { readonly durable?: boolean } = {}): Promise<DirtySet> {
    const set = new DirtySet(file, options.durable ?? true);
    await mkdir(dirname(file), { recursive: true });
    await rm(`${file}.tmp`, { force: true });
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return set;
      throw e;
    }
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (e) {
      throw new DirtySetError('VIGIL_DIRTY_SET_CORRUPT', `${file}: not JSON (${(e as Error).message})`);
    }
    const parsed = fileSchema.safeParse(raw);
    if (!parsed.success) {
      throw new DirtySetError('VIGIL_DIRTY_SET_CORRUPT', `${file}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
    }
    parsed.data.paths.forEach((path, i) => {
      try {
        checkDirtyPath(path);
      } catch (e) {
        throw new DirtySetError('VIGIL_DIRTY_SET_CORRUPT', `${file}: paths.${i}: ${(e as Error).message}`);
      }
      set.set.add(path);
    });
    set.allReason = parsed.data.all?.reason;
    return set;
  }

  /** A no-op while everything is dirty: the whole-tree resync covers it. */
  add(path: string): void {
    checkDirtyPath(path);
    if (this.allReason === undefined) this.set.add(path);
  }

  addAll(paths: Iterable<string>): void {
    for (const path of paths) this.add(path);
  }

  /** Dirty by itself or because everything is. */
  has(path: string): boolean {
    return this.allReason !== undefined || this.set.has(path);
  }

  delete(path: string): void {
    this.set.delete(path);
  }

  /** Everything is dirty: the individual paths are dropped, a whole-tree differential resync covers them. */
  markAll(reason: string): void {
    this.allReason ??= reason;
    this.set.clear();
  }

  get all(): { readonly reason: string } | undefined {
    return this.allReason === undefined ? undefined : { reason: this.allReason };
  }

  /** The paths dirty one by one, sorted (empty while `all` is set). */
  paths(): string[] {
    return [...this.set].sort();
  }

  get size(): number {
    return this.set.size;
  }

  /** Persist the set as it is now. */
  save(): Promise<void> {
    const text = JSON.stringify({ version: 1, all: this.all ?? null, paths: this.paths() }) + '\n';
    const done = this.saving.then(() => replaceFileAtomically(this.file, text, this.durable));
    this.saving = done.catch(() => undefined);
    return done;
  }

  /** Forget everything, and persist that. */
  clear(): Promise<void> {
    this.set.clear();
    this.allReason = undefined;
    return this.save();
  }
}
