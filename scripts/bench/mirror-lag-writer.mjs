// The writer of bench:mirror's lag test, run inside the source host: every --every ms it appends one record of
// --record bytes to each of --files files in --dir. A record starts with "#VGL <file> <seq> <t>\n" and ends with
// "<seq> <t>\n", t being the wall clock in ms (fractional) just before the write: the namespaces share this
// machine's clock, so the reader on the target host can subtract it from its own. Ticks follow a fixed schedule
// (a late tick does not shift the ones after it). Each record is one open-append-close, as a logger that reopens
// would do: lsyncd acts only on close_write, so a file held open would not reach it before the end at all.
// With --ring N, record `seq` is written in place at offset (seq mod N) x --record instead (open, write, close):
// a file of bounded size rewritten in place, as a database or a circular log does; without it the files grow.
// After --duration seconds it prints {"written":N} and exits.
import { Buffer } from 'node:buffer';
import { appendFileSync, closeSync, mkdirSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout } from 'node:timers';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    dir: { type: 'string' },
    files: { type: 'string', default: '4' },
    every: { type: 'string', default: '10' },
    record: { type: 'string', default: '4096' },
    duration: { type: 'string', default: '20' },
    ring: { type: 'string', default: '0' },
  },
  strict: true,
});
if (values.dir === undefined) {
  process.stderr.write('usage: mirror-lag-writer.mjs --dir DIR [--files N] [--every MS] [--record BYTES] [--duration S] [--ring N]\n');
  process.exit(2);
}
const files = Number(values.files);
const everyMs = Number(values.every);
const recordBytes = Number(values.record);
const durationMs = Number(values.duration) * 1000;
const ring = Number(values.ring);
const now = () => performance.timeOrigin + performance.now();

mkdirSync(values.dir, { recursive: true });
const paths = Array.from({ length: files }, (_, i) => join(values.dir, `lag-${i}.log`));
if (ring > 0) for (const path of paths) writeFileSync(path, '');
// Filler that differs per record position, so no two records are alike (no dedup or compression advantage).
const FILLER = Buffer.from('abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ');

function record(file, seq, t) {
  const head = Buffer.from(`#VGL ${file} ${seq} ${t.toFixed(3)}\n`);
  const tail = Buffer.from(`${seq} ${t.toFixed(3)}\n`);
  const buf = Buffer.allocUnsafe(recordBytes);
  for (let at = 0; at < recordBytes; at += FILLER.length) FILLER.copy(buf, at, (seq + file) % FILLER.length);
  head.copy(buf, 0);
  tail.copy(buf, recordBytes - tail.length);
  return buf;
}

const start = now();
let seq = 0;
let written = 0;
function tick() {
  if (now() - start >= durationMs) {
    process.stdout.write(JSON.stringify({ written, files, every_ms: everyMs, record_bytes: recordBytes }) + '\n');
    return;
  }
  for (let f = 0; f < files; f++) {
    if (ring > 0) {
      const fd = openSync(paths[f], 'r+');
      try { writeSync(fd, record(f, seq, now()), 0, recordBytes, (seq % ring) * recordBytes); } finally { closeSync(fd); }
    } else {
      appendFileSync(paths[f], record(f, seq, now()));
    }
    written++;
  }
  seq++;
  setTimeout(tick, Math.max(0, start + seq * everyMs - now()));
}
tick();
