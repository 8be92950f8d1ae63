/**
 * The machine's state before a timed phase, shared by the benches that copy data between the namespace hosts
 * (bench:mirror, bench:floor): dirty pages flushed, free memory warm or given back to the host.
 */
import { spawnSync } from 'node:child_process';
import { freemem } from 'node:os';

const MiB = 1024 * 1024;

/** Flush dirty pages, so a timed phase does not pay for the previous phase's writeback. */
export function syncDisks(): void {
  spawnSync('sync', [], { stdio: 'ignore', timeout: 300_000 });
}

/**
 * Touch `bytes` of fresh memory in a child process, which then exits. On a virtual machine the host takes back
 * guest memory that stays free for a while, and the guest pays for it again at first touch: filling 1 GiB of page
 * cache took 1.9 s after 50 s idle on this machine, 0.19 s right after such a warm-up. Run before each timed
 * phase, so that no contender pays for it (or is spared it) by its turn in the order.
 */
function warmMemory(bytes: number): void {
  // Never so much that the source's cached files would be pushed out of memory.
  const chunks = Math.floor(Math.min(bytes, freemem() / 2) / (256 * MiB));
  if (chunks === 0) return;
  spawnSync(process.execPath, ['-e', `const kept = []; for (let i = 0; i < ${chunks}; i++) kept.push(Buffer.alloc(${256 * MiB}, 1));`], { stdio: 'ignore', timeout: 120_000 });
}

/**
 * The state of free memory each timed phase starts in. `warm`: just touched (warmMemory), so none of it has gone
 * back to the host yet. But the guest hands free memory back about 2 s after it was freed (here: filling 1 GiB of
 * page cache took 0.24-0.45 s within a second of a warm-up, 1.16-1.22 s two to five seconds after it), so a
 * contender whose copy lasts longer than that pays for the rest of its copy, and one that finishes sooner does not:
 * the warm start favours the faster one beyond its own work. `idle`: no warm-up, and 3 s of waiting after `sync`,
 * so every contender fills its page cache from memory the host took back, for the whole copy.
 */
export type MemoryState = 'warm' | 'idle';

/** Seconds after which memory freed by the guest has gone back to the host (page reporting waits 2 s). */
export const MEMORY_RETURN_SECONDS = 3;

/** Before each timed phase: dirty pages flushed, and free memory in the state asked for (see MemoryState). */
export function settleMachine(dataBytes: number, memory: MemoryState): void {
  syncDisks();
  if (memory === 'warm') warmMemory(dataBytes + 512 * MiB);
  else spawnSync('sleep', [String(MEMORY_RETURN_SECONDS)], { stdio: 'ignore' });
}
