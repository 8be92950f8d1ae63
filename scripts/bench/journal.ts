/**
 * bench:journal: how fast the mirror can queue changes. Append throughput (MB/s, records/s) with fsync 'batch'
 * (a flush every 64 records) and 'always', the latency of one append followed by flush(), the two
 * checksums the format could have used, and read-back as the mirror source does it (appendMany of a ~1 MiB batch
 * with fsync 'never', then read() of what was just appended, then ack), and again after reopening (from disk).
 * Prints JSON. Usage: node dist/scripts/bench/journal.js [--dir DIR]
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

/**
 * The source's pattern: append a batch, read it straight back in reads of up to 4 MiB (the transport's
 * READ_BATCH_BYTES), acknowledge it. `tail` times those reads, `cold` reads everything again after reopening.
 */
async function readBack(payloadBytes: number, totalBytes: number): Promise<Record<string, number>> {
  const dir = join(root, `readback-${payloadBytes}`);
  const options = { maxBytes: 2 ** 40, fsync: 'never' } as const;
  const perBatch = Math.max(1, Math.floor((1024 * 1024) / payloadBytes));
  const batches = Math.max(1, Math.floor(totalBytes / (perBatch * payloadBytes)));
  const batch = Array.from({ length: perBatch }, () => randomBytes(payloadBytes));
  const readMaxBytes = 4 * 1024 * 1024;
  let appendMs = 0;
  let readMs = 0;
  let readBytes = 0;
  let journal = await Journal.open(dir, options);
  let next = 1;
  for (let b = 0; b < batches; b++) {
    const t0 = performance.now();
    const last = await journal.appendMany(batch);
    const t1 = performance.now();
    while (next <= last) {
      const records = await journal.read(next, readMaxBytes);
      for (const r of records) readBytes += r.payload.length;
      next = records[records.length - 1]!.seq + 1;
    }
    readMs += performance.now() - t1;
    appendMs += t1 - t0;
    // Acknowledged in steps, as the target does, so the journal does not grow without bound.
    if (b % 8 === 7) await journal.ack(next - 1 - perBatch);
  }
  const appended = batches * perBatch * payloadBytes;
  if (readBytes !== appended) throw new Error(`read back ${readBytes} bytes of ${appended}`);
  await journal.close();

  // Nothing acknowledged this time, so the reopened journal reads all of it from disk.
  rmSync(dir, { recursive: true, force: true });
  journal = await Journal.open(dir, options);
  for (let b = 0; b < batches; b++) await journal.appendMany(batch);
  await journal.close();
  journal = await Journal.open(dir, options);
  const t0 = performance.now();
  let coldBytes = 0;
  for (let seq = 1; seq <= batches * perBatch;) {
    const records = await journal.read(seq, readMaxBytes);
    for (const r of records) coldBytes += r.payload.length;
    seq = records[records.length - 1]!.seq + 1;
  }
  const coldMs = performance.now() - t0;
  await journal.close();
  rmSync(dir, { recursive: true, force: true });
  const mbps = (bytes: number, ms: number): number => round(bytes / 1e3 / ms);
  return { MB: round(appended / 1e6), appendMany_MBps: mbps(appended, appendMs), tail_read_MBps: mbps(readBytes, readMs), cold_read_MBps: mbps(coldBytes, coldMs) };
}

try {
  const results: Record<string, unknown> = { checksum: checksums(), read_back: {} };
  for (const payloadBytes of [256, 4096, 65536]) {
    (results['read_back'] as Record<string, unknown>)[`${payloadBytes}B`] = await readBack(payloadBytes, payloadBytes === 256 ? 64 * 1024 * 1024 : 256 * 1024 * 1024);
  }
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
