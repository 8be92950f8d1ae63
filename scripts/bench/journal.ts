/**
 * bench:journal: how fast the mirror can queue changes. Append throughput (MB/s, records/s) with fsync 'batch'
 * (a flush every 64 records) and 'always', the latency of one append followed by flush(), and the two
 * checksums the format could have used. Prints JSON. Usage: node dist/scripts/bench/journal.js [--dir DIR]
 * (DIR defaults to the system's temp folder; point it at the disk the journal will live on).
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { crc32c, Journal } from '../../agent/replication/journal.js';
import { summarize } from './stats.js';

const dirFlag = process.argv.indexOf('--dir');
const parent = dirFlag >= 0 && process.argv[dirFlag + 1] !== undefined ? process.argv[dirFlag + 1]! : tmpdir();
const root = mkdtempSync(join(parent, 'vigil-bench-journal-'));
const round = (x: number): number => Math.round(x * 10) / 10;

function checksums(): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const size of [64, 4096, 1024 * 1024]) {
    const bytes = randomBytes(size);
    const iterations = Math.max(20, Math.floor((64 * 1024 * 1024) / size));
    const rate = (f: () => number): number => {
      for (let i = 0; i < iterations / 10; i++) f();
      const t0 = performance.now();
      for (let i = 0; i < iterations; i++) f();
      return round((size * iterations) / 1e6 / ((performance.now() - t0) / 1000));
    };
    out[`${size}B`] = {
      crc32c_MBps: rate(() => crc32c(bytes)),
      sha256_MBps: rate(() => createHash('sha256').update(bytes).digest().readUInt32BE(0)),
    };
  }
  return out;
}

async function throughput(fsync: 'batch' | 'always', payloadBytes: number, records: number): Promise<Record<string, number>> {
  const dir = join(root, `${fsync}-${payloadBytes}-throughput`);
  const journal = await Journal.open(dir, { maxBytes: 2 ** 40, fsync });
  const payload = randomBytes(payloadBytes);
  const t0 = performance.now();
  for (let i = 1; i <= records; i++) {
    await journal.append(payload);
    if (fsync === 'batch' && i % 64 === 0) await journal.flush();
  }
  await journal.flush();
  const seconds = (performance.now() - t0) / 1000;
  await journal.close();
  rmSync(dir, { recursive: true, force: true });
  return { records, MBps: round((records * payloadBytes) / 1e6 / seconds), records_per_s: Math.round(records / seconds) };
}

async function latency(fsync: 'batch' | 'always', payloadBytes: number, samples: number): Promise<ReturnType<typeof summarize>> {
  const dir = join(root, `${fsync}-${payloadBytes}-latency`);
  const journal = await Journal.open(dir, { maxBytes: 2 ** 40, fsync });
  const payload = randomBytes(payloadBytes);
  const ms: number[] = [];
  for (let i = 0; i < samples; i++) {
    const t0 = performance.now();
    await journal.append(payload);
    await journal.flush();
    ms.push(performance.now() - t0);
  }
  await journal.close();
  rmSync(dir, { recursive: true, force: true });
  return summarize(ms);
}

try {
  const results: Record<string, unknown> = { checksum: checksums() };
  for (const payloadBytes of [256, 4096, 65536]) {
    const batchRecords = Math.min(50_000, Math.floor((256 * 1024 * 1024) / payloadBytes));
    results[`${payloadBytes}B`] = {
      batch: await throughput('batch', payloadBytes, batchRecords),
      always: await throughput('always', payloadBytes, 1000),
      append_flush_ms: { batch: await latency('batch', payloadBytes, 500), always: await latency('always', payloadBytes, 500) },
    };
  }
  process.stdout.write(JSON.stringify({ bench: 'journal', node: process.version, dir: parent, results }, null, 2) + '\n');
} finally {
  rmSync(root, { recursive: true, force: true });
}
