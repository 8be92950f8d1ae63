/**
 * What a node remembers of a mirror across restarts: its copy's lineage, whether the copy is consistent (a target
 * mid-resync is not, and must not be promoted), the last record it applied as target, and the operator's pauses.
 * Written atomically (temp file, fsync, rename, fsync of the folder), so a crash leaves the old or the new state.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { z } from 'zod';
import { EMPTY_LINEAGE } from './lineage.js';

const stateSchema = z.strictObject({
  lineage: z.strictObject({ current: z.string().min(1), history: z.array(z.string()) }),
  consistent: z.boolean(),
  /** Highest journal seq of the current source stream applied here (as target); reset when the source changes. */
  lastApplied: z.number().int().min(0),
  /** The source whose stream lastApplied counts, and its lineage id when it started sending. */
  streamOf: z.string().optional(),
  pausedSource: z.boolean(),
  pausedTarget: z.boolean(),
  /** The current generation was started here (this node was its source), not adopted from the peer. */
  promotedHere: z.boolean().default(false),
});

export type MirrorNodeState = z.output<typeof stateSchema>;

export const INITIAL_STATE: MirrorNodeState = { lineage: { ...EMPTY_LINEAGE, history: [] }, consistent: true, lastApplied: 0, pausedSource: false, pausedTarget: false, promotedHere: false };

export class MirrorStateError extends Error {
  readonly code = 'VIGIL_MIRROR_STATE';
  constructor(message: string) {
    super(message);
    this.name = 'MirrorStateError';
  }
}

export function loadMirrorState(file: string): MirrorNodeState {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { ...INITIAL_STATE };
    throw new MirrorStateError(`${file}: ${(e as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new MirrorStateError(`${file}: not JSON (${(e as Error).message}); the mirror will not guess its generation: restore the file or remove it and resync`);
  }
  const parsed = stateSchema.safeParse(raw);
  if (!parsed.success) {
    throw new MirrorStateError(`${file}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
  }
  return parsed.data;
}

export function saveMirrorState(file: string, state: MirrorNodeState): void {
  mkdirSync(dirname(file), { recursive: true });
  const temp = `${file}.tmp`;
  const fd = openSync(temp, 'w', 0o600);
  try {
    writeSync(fd, JSON.stringify(state, null, 2) + '\n');
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temp, file);
  const dir = openSync(dirname(file), 'r');
  try { fsyncSync(dir); } finally { closeSync(dir); }
}
