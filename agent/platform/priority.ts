/**
 * The agent runs at a raised CPU priority (as corosync and keepalived do), so that a loaded machine does not starve
 * its heartbeat and make a healthy node look dead. What it starts for the user, services and resource agents, must
 * not inherit that priority: they are put back to normal right after they are spawned.
 */
import { getPriority, setPriority } from 'node:os';

export const NORMAL_PRIORITY = 0;

/** Raise this process's priority (a negative nice value; root only). Returns why it could not, if it could not. */
export function raiseOwnPriority(nice: number): string | undefined {
  try {
    setPriority(nice);
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

/** Put a child we just spawned back to normal priority, if ours is raised. Best effort: the child may be gone. */
export function normalPriority(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    if (getPriority() < NORMAL_PRIORITY) setPriority(pid, NORMAL_PRIORITY);
  } catch {
    // It exited already, or we may not change it: it then runs as we do.
  }
}
