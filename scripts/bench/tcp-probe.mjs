// The client of bench:failover, run inside the client's namespace: starts a real TCP connection + HTTP GET to the
// VIP every --every ms, whether or not earlier ones have answered, and writes one JSON line per probe to stdout
// (the fixture points stdout at a log file, where writes are synchronous, so a SIGKILL loses no finished line):
//   {"t":<start, epoch ms>,"ok":true,"by":"alpha","ms":<latency>}  or  {"t":...,"ok":false,"err":"ETIMEDOUT","ms":...}
// It stops starting probes after --duration seconds and exits once the last one has ended, so it never outlives
// a bench that forgot it.
import { connect } from 'node:net';
import { clearTimeout, setTimeout } from 'node:timers';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    host: { type: 'string' },
    port: { type: 'string', default: '8080' },
    every: { type: 'string', default: '10' },
    timeout: { type: 'string', default: '1000' },
    duration: { type: 'string', default: '60' },
  },
  strict: true,
});
if (values.host === undefined) {
  process.stderr.write('usage: tcp-probe.mjs --host ADDRESS [--port 8080] [--every MS] [--timeout MS] [--duration S]\n');
  process.exit(2);
}
const host = values.host;
const port = Number(values.port);
const everyMs = Number(values.every);
const timeoutMs = Number(values.timeout);
const stopAt = Date.now() + Number(values.duration) * 1000;

function record(line) {
  process.stdout.write(JSON.stringify(line) + '\n');
}

function probe() {
  const t = Date.now();
  let answer = '';
  let ended = false;
  const socket = connect({ host, port, noDelay: true });
  const end = (result) => {
    if (ended) return;
    ended = true;
    clearTimeout(timer);
    socket.destroy();
    record({ t, ...result, ms: Date.now() - t });
  };
  // One deadline for the whole exchange: a SYN to a vanished MAC is retried for seconds by the kernel.
  const timer = setTimeout(() => end({ ok: false, err: 'ETIMEDOUT' }), timeoutMs);
  socket.on('connect', () => socket.write(`GET / HTTP/1.0\r\nHost: ${host}\r\n\r\n`));
  socket.on('data', (chunk) => {
    answer += chunk;
    const served = /served by (\S+)/.exec(answer);
    if (served) end({ ok: true, by: served[1] });
  });
  socket.on('end', () => end({ ok: false, err: 'no answer' }));
  socket.on('error', (err) => end({ ok: false, err: err.code ?? err.message }));
}

// A fixed cadence from the start time rather than setInterval's drift; slots missed while the event loop was busy
// are skipped, not fired in a burst that would look like a recovery.
const origin = Date.now();
let slot = 0;
function tick() {
  if (Date.now() >= stopAt) {
    setTimeout(() => process.exit(0), timeoutMs + 100);
    return;
  }
  probe();
  slot = Math.max(slot + 1, Math.floor((Date.now() - origin) / everyMs) + 1);
  setTimeout(tick, Math.max(0, origin + slot * everyMs - Date.now()));
}
tick();
