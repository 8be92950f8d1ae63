/**
 * What a node remembers of a mirror across restarts: its copy's lineage, whether the copy is consistent (a target
 * mid-resync is not, and must not be promoted), the last record it applied as target, and the operator's pauses.
 * Written atomically (temp file, fsync, rename, fsync of the folder), so a crash leaves the old or the new state.
 */
import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';
import { replaceFileAtomically } from './journal.js';
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

/**
 * Writes a node's state file, one save after another. The fsyncs run on libuv's threads, never on the event loop:
 * right after a resync wrote a gigabyte, one fsync of this small file waited 0.6 s for the disk (ext4 commits its
 * journal with the data it orders), and an event loop stopped that long misses heartbeats and is taken for frozen
 * by the agent's guard, which then stops the node's services.
 */
export class MirrorStateFile {
  private last: Promise<void> = Promise.resolve();

  constructor(readonly path: string) {}

  /** Resolves once `state` is on disk; saves land in the order asked, so the file ends with the newest. */
  save(state: MirrorNodeState): Promise<void> {
    const text = JSON.stringify(state, null, 2) + '\n';
    const saved = this.last.then(async () => {
      await mkdir(dirname(this.path), { recursive: true });
      await replaceFileAtomically(this.path, text);
    });
    // A failed save fails its caller; the next one still runs.
    this.last = saved.catch(() => undefined);
    return saved;
  }
}
