// The reader of bench:mirror's lag test, run inside the target host: it polls the writer's files in --dir every
// --every ms and, for each complete record that has arrived (header and trailer agree, so a half-applied record
// is not counted), prints {"f":file,"seq":n,"lag":ms}: its own clock minus the writer's timestamp. Files may be
// replaced by a rename (rsync does that), so each poll opens them by name. With --ring N (the writer's), the next
// record expected of a file is looked for in its slot; one found already overwritten by a later lap is skipped
// (the bench counts it missing). Exits after --duration seconds.
import { Buffer } from 'node:buffer';
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout } from 'node:timers';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    dir: { type: 'string' },
    files: { type: 'string', default: '4' },
    every: { type: 'string', default: '2' },
    record: { type: 'string', default: '4096' },
    duration: { type: 'string', default: '60' },
    ring: { type: 'string', default: '0' },
  },
  strict: true,
});
if (values.dir === undefined) {
  process.stderr.write('usage: mirror-lag-reader.mjs --dir DIR [--files N] [--every MS] [--record BYTES] [--duration S] [--ring N]\n');
  process.exit(2);
}
const files = Number(values.files);
const everyMs = Number(values.every);
const recordBytes = Number(values.record);
const stopAt = Date.now() + Number(values.duration) * 1000;
const now = () => performance.timeOrigin + performance.now();
const ring = Number(values.ring);
const offsets = new Array(files).fill(0);
const nextSeq = new Array(files).fill(0);
const HEAD = /^#VGL (\d+) (\d+) ([\d.]+)\n/;

function poll(f) {
  const path = join(values.dir, `lag-${f}.log`);
  let size;
  try { size = statSync(path).size; } catch { return; }
  const whole = Math.floor((size - offsets[f]) / recordBytes);
  if (whole <= 0) return;
  const buf = Buffer.allocUnsafe(whole * recordBytes);
  let fd;
  try { fd = openSync(path, 'r'); } catch { return; }
  let got;
  try { got = readSync(fd, buf, 0, buf.length, offsets[f]); } finally { closeSync(fd); }
  const t = now();
  for (let at = 0; at + recordBytes <= got; at += recordBytes) {
    const rec = buf.subarray(at, at + recordBytes);
    const head = HEAD.exec(rec.subarray(0, 64).toString('latin1'));
    const tail = head ? `${head[2]} ${head[3]}\n` : '';
    // Bytes not yet written (a sparse gap or a partial apply) read as zeros or old data: wait for the next poll.
    if (!head || rec.subarray(recordBytes - tail.length).toString('latin1') !== tail) return;
    process.stdout.write(`{"f":${head[1]},"seq":${head[2]},"lag":${(t - Number(head[3])).toFixed(3)}}\n`);
    offsets[f] += recordBytes;
  }
}

/** Ring mode: the next expected records of file f, each in its slot. */
function pollRing(f) {
  const path = join(values.dir, `lag-${f}.log`);
  let fd;
  try { fd = openSync(path, 'r'); } catch { return; }
  try {
    const buf = Buffer.allocUnsafe(recordBytes);
    for (;;) {
      const got = readSync(fd, buf, 0, recordBytes, (nextSeq[f] % ring) * recordBytes);
      const t = now();
      const head = got === recordBytes ? HEAD.exec(buf.subarray(0, 64).toString('latin1')) : null;
      if (!head) return;
      const seq = Number(head[2]);
      const tail = `${head[2]} ${head[3]}\n`;
      if (buf.subarray(recordBytes - tail.length).toString('latin1') !== tail) return; // half applied
      if (seq < nextSeq[f]) return; // the slot still holds the previous lap
      if (seq === nextSeq[f]) process.stdout.write(`{"f":${head[1]},"seq":${head[2]},"lag":${(t - Number(head[3])).toFixed(3)}}\n`);
      nextSeq[f]++;
    }
  } finally {
    closeSync(fd);
  }
}

function loop() {
  for (let f = 0; f < files; f++) (ring > 0 ? pollRing : poll)(f);
  if (Date.now() < stopAt) setTimeout(loop, everyMs);
}
loop();
