/**
 * A fresh ext4 file system for a benchmark's folders: an image file in `parent` (sparse, on the same disk), made
 * with mkfs.ext4 and loop-mounted. Why: ext4 avoids reusing recently deleted inodes, and on a disk where earlier
 * runs and tests deleted tens of thousands of files, creating a file then costs a scan of inode tables (seen
 * here: 400-600 us per create instead of ~50). Whoever ran later paid more; on a fresh file system all
 * contenders see the same disk. Root only; `undefined` (the caller stays on its own folder) when mkfs.ext4 or
 * loop devices are missing.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

export interface FreshFileSystem {
  readonly mountPoint: string;
  dispose(): void;
}

function run(argv: readonly string[]): { ok: boolean; output: string } {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: 120_000 });
  return { ok: r.status === 0, output: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error?.message ?? ''}`.trim() };
}

export function freshExt4(parent: string, sizeMiB: number, log: (line: string) => void): FreshFileSystem | undefined {
  const image = join(parent, 'fs.img');
  const mountPoint = join(parent, 'fs');
  mkdirSync(mountPoint, { recursive: true });
  const steps: (readonly string[])[] = [
    ['truncate', '-s', `${Math.ceil(sizeMiB)}M`, image],
    // No lazy init: the kernel would otherwise zero inode tables in the background during the timed phases.
    ['mkfs.ext4', '-q', '-F', '-E', 'lazy_itable_init=0,lazy_journal_init=0', image],
    ['mount', '-o', 'loop', image, mountPoint],
  ];
  for (const step of steps) {
    const r = run(step);
    if (!r.ok) {
      log(`fresh file system: ${step.join(' ')} failed (${r.output}): the folders stay on ${parent}`);
      rmSync(image, { force: true });
      return undefined;
    }
  }
  return {
    mountPoint,
    dispose(): void {
      const r = run(['umount', mountPoint]);
      if (!r.ok) log(`fresh file system: umount ${mountPoint}: ${r.output}`);
      rmSync(image, { force: true });
    },
  };
}
