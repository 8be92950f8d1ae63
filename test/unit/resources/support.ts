/** Shared by the resource tests: temp dirs and processes that are always cleaned up, and the real config schema. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { TestContext } from 'node:test';
import { resourceSchema, type OcfResourceConfig, type ServiceResourceConfig } from '../../../common/config/schema.js';

/** Tests run from the repo root. */
export const fixture = (name: string): string => resolve('test/fixtures/ocf', name);

const cleanups = new WeakMap<TestContext, (() => void)[]>();

/**
 * Runs `fn` when the test ends, pass or fail, last deferred first: processes are killed (reading their
 * pidfiles) before the temp dir holding those pidfiles is removed.
 */
export function defer(t: TestContext, fn: () => void): void {
  let list = cleanups.get(t);
  if (list === undefined) {
    const fns: (() => void)[] = [];
    cleanups.set(t, fns);
    t.after(() => {
      while (fns.length > 0) fns.pop()!();
    });
    list = fns;
  }
  list.push(fn);
}

export function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-resources-'));
  defer(t, () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export { isRunning } from '../../support/process.js';

/** SIGKILL whatever of these still runs, when the test ends (pass or fail). */
export function killOnExit(t: TestContext, pids: () => readonly number[]): void {
  defer(t, () => {
    for (const pid of pids()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });
}

export function readPids(path: string): number[] {
  try {
    return readFileSync(path, 'utf8').split('\n').filter((l) => l.trim() !== '').map(Number);
  } catch {
    return [];
  }
}

export async function waitFor(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Through the real schema, so defaults and durations are what the agent really gets. */
export function ocfConfig(input: Record<string, unknown>): OcfResourceConfig {
  const parsed = resourceSchema.parse({ id: 'res', kind: 'ocf', ...input });
  if (parsed.kind !== 'ocf') throw new Error('not an OCF resource');
  return parsed;
}

export function serviceConfig(input: Record<string, unknown>): ServiceResourceConfig {
  const parsed = resourceSchema.parse({ id: 'svc', kind: 'service', name: 'svc', ...input });
  if (parsed.kind !== 'service') throw new Error('not a service resource');
  return parsed;
}
