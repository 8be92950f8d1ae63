/**
 * bench:holes: reading a thin image from cold, as the mirror's source reads a large file (1 MiB chunks on its read
 * thread), around its holes (file-holes.ts: SEEK_DATA through the agent's native addon) and plainly (every byte,
 * as before), against coreutils' `cat` (a plain reader in C). Each read starts with the file's pages dropped from
 * the page cache (posix_fadvise DONTNEED, this file only). Reports seconds, CPU seconds (the readers' own) and the
 * page cache the read left filled with the file (fincore): a hole read plainly fills it with zeros, evicting what
 * the machine had cached.
 * Usage: node dist/scripts/bench/holes.js [--size-gib N (8)] [--rounds N (5)] [--dir DIR (/var/tmp)]
 * Prints JSON (medians and p99 of the rounds).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, ftruncateSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileHoles, readSkippingHoles } from '../../agent/replication/file-holes.js';
import { summarize } from './stats.js';

const MiB = 1024 * 1024;
/** One extent of data in every STRIDE: a thin image's scattered writes. */
const EXTENT = 64 * 1024;
const STRIDE = 4 * MiB;

const { values } = parseArgs({ options: { 'size-gib': { type: 'string', default: '8' }, rounds: { type: 'string', default: '5' }, dir: { type: 'string', default: '/var/tmp' } } });
const sizeGiB = Number(values['size-gib']);
const rounds = Number(values.rounds);
if (!Number.isInteger(sizeGiB) || sizeGiB < 1) throw new Error(`--size-gib wants a whole number of at least 1, not ${values['size-gib']}`);
if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds wants a whole number of at least 1, not ${values.rounds}`);
const holes = fileHoles();
if (holes === undefined) throw new Error('bench:holes needs the agent\'s native addon (vigil-native): npm install builds it');

const dir = mkdtempSync(join(values.dir, 'vigil-bench-holes-'));
const path = join(dir, 'thin.img');
const size = sizeGiB * 1024 * MiB;

function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** Bytes of the file in the page cache. */
function cachedBytes(): number {
  return Number(execFileSync('fincore', ['--bytes', '--noheadings', '--output', 'RES', path], { encoding: 'utf8' }).trim());
}

/** The file's pages out of the page cache, and nothing else's. */
function dropFile(): void {
  execFileSync('python3', ['-c', 'import os,sys; f=os.open(sys.argv[1], os.O_RDONLY); os.posix_fadvise(f, 0, 0, os.POSIX_FADV_DONTNEED); os.close(f)', path]);
}

type Sample = { seconds: number; cpu_seconds: number; page_cache_bytes: number };

function readInChunks(fd: number, aroundHoles: boolean): Sample {
  const chunk = Buffer.allocUnsafe(MiB);
  const started = performance.now();
  const cpu = cpuSeconds();
  for (let at = 0; at < size; at += MiB) readSkippingHoles(fd, chunk, 0, MiB, at, size, aroundHoles ? holes : undefined);
  return { seconds: (performance.now() - started) / 1000, cpu_seconds: cpuSeconds() - cpu, page_cache_bytes: cachedBytes() };
}

function cat(): Sample {
  const started = performance.now();
  const r = spawnSync('bash', ['-c', 'TIMEFORMAT="%U %S"; { time cat "$1" > /dev/null; } 2>&1', 'bench', path], { encoding: 'utf8' });
  const seconds = (performance.now() - started) / 1000;
  const [user, sys] = r.stdout.trim().split(/\s+/).map(Number);
  return { seconds, cpu_seconds: (user ?? NaN) + (sys ?? NaN), page_cache_bytes: cachedBytes() };
}

try {
  const fd = openSync(path, 'w+');
  const data = Buffer.alloc(EXTENT, 0x5a);
  for (let at = 0; at < size; at += STRIDE) writeSync(fd, data, 0, EXTENT, at);
  ftruncateSync(fd, size);
  execFileSync('sync');
  const samples: Record<string, Sample[]> = { vigil_around_holes: [], vigil_plain: [], cat: [] };
  for (let i = 0; i < rounds; i++) {
    // The order turns each round, so that none always runs right after another's writeback or memory churn.
    const order = ['vigil_around_holes', 'vigil_plain', 'cat'];
    for (let k = 0; k < i % order.length; k++) order.push(order.shift()!);
    for (const name of order) {
      dropFile();
      samples[name]!.push(name === 'cat' ? cat() : readInChunks(fd, name === 'vigil_around_holes'));
    }
  }
  closeSync(fd);
  const report = (list: readonly Sample[]): Record<string, unknown> => ({
    seconds: summarize(list.map((s) => s.seconds)),
    cpu_seconds: summarize(list.map((s) => s.cpu_seconds)),
    page_cache_bytes: summarize(list.map((s) => s.page_cache_bytes)),
  });
  const median = (name: string): number => summarize(samples[name]!.map((s) => s.seconds)).median;
  console.log(JSON.stringify({
    file: { bytes: size, data_bytes: (size / STRIDE) * EXTENT, layout: `${EXTENT / 1024} KiB of data every ${STRIDE / MiB} MiB, holes elsewhere` },
    rounds,
    vigil_around_holes: report(samples.vigil_around_holes!),
    vigil_plain: report(samples.vigil_plain!),
    cat: report(samples.cat!),
    ratios: {
      time_plain_over_around_holes: Math.round((median('vigil_plain') / median('vigil_around_holes')) * 100) / 100,
      time_cat_over_around_holes: Math.round((median('cat') / median('vigil_around_holes')) * 100) / 100,
    },
    notes: [
      'vigil_*: the read loop of the mirror source\'s read thread (1 MiB chunks), in this process; cat: coreutils, to /dev/null.',
      'page_cache_bytes: the file\'s bytes in the page cache after the read (fincore); the file\'s pages are dropped (posix_fadvise) before each read.',
    ],
  }, null, 2));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
