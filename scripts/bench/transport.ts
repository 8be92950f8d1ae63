/**
 * bench:transport: throughput of the replication transport, 64 KiB records over TLS on loopback, from the first
 * record read to the last acknowledged, with an applier that does nothing (the transport's ceiling, not the disk's).
 * Both ends run in this one process, so the figure is conservative: a real pair has a CPU each. Prints JSON.
 *   node dist/scripts/bench/transport.js [--runs N] [--records N] [--record-kib N] [--window-mib N]
 */
import { performance } from 'node:perf_hooks';
import { ReplicationClient, ReplicationServer, type ReplicationRecord } from '../../agent/replication/transport.js';
import { summarize } from './stats.js';

function option(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  const value = at >= 0 ? Number(process.argv[at + 1]) : fallback;
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name}: ${process.argv[at + 1]} is not a positive number`);
  return value;
}

const runs = option('runs', 7);
const perRun = option('records', 1024);
const recordBytes = option('record-kib', 64) * 1024;
const window = option('window-mib', 32) * 1024 * 1024;
const key = Buffer.alloc(32, 0x42);
const payload = Buffer.alloc(recordBytes, 0xa5);

// The journal: every record shares one payload; only its seq differs.
let written = 0;
const source = {
  read: async (fromSeq: number, maxBytes: number): Promise<ReplicationRecord[]> => {
    const out: ReplicationRecord[] = [];
    for (let seq = fromSeq; seq <= written && (out.length === 0 || (out.length + 1) * recordBytes <= maxBytes); seq++) out.push({ seq, payload });
    return out;
  },
};
let applied = 0;
const server = await ReplicationServer.listen({
  host: '127.0.0.1', port: 0, clusterId: 'bench', nodeId: 'target', key,
  mirror: () => ({ lastApplied: () => applied, lineage: () => '1', apply: async (r) => { applied = r.seq; } }),
  onError: (e) => { throw e; },
});
let acked = 0;
let onAcked: (() => void) | undefined;
const client = new ReplicationClient({
  host: '127.0.0.1', port: server.port, clusterId: 'bench', nodeId: 'source', key, mirror: 'm', lineage: () => '1', source, window,
  onAck: (seq) => { acked = seq; if (seq === written) onAcked?.(); },
  onError: (e) => { throw e; },
});
client.start();

async function run(): Promise<number> {
  const done = new Promise<void>((resolve) => { onAcked = resolve; });
  const t0 = performance.now();
  written += perRun;
  client.notify();
  await done;
  return (perRun * recordBytes) / 1e6 / ((performance.now() - t0) / 1000);
}

await run(); // warm up: connect, TLS, JIT
const mbPerSecond: number[] = [];
for (let i = 0; i < runs; i++) mbPerSecond.push(await run());
const { maxInFlightBytes } = client.stats();
await client.close();
await server.close();
process.stdout.write(JSON.stringify({
  bench: 'transport', node: process.version, cipher: 'TLS 1.3 PSK (ECDHE), TLS_AES_128_GCM_SHA256',
  recordBytes, recordsPerRun: perRun, window, acked, maxInFlightBytes,
  throughput_MBps: summarize(mbPerSecond),
}, null, 2) + '\n');
