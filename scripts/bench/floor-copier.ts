/**
 * bench:floor's copier: the least a Node.js program must do to copy a folder to another host, as a yardstick for
 * the mirror engine (scripts/bench/floor.ts). One connection, one stream of frames, no journal, no acknowledgement,
 * no index, no attributes but mode and times: what is left is reading, the transport and writing.
 *
 *   node floor-copier.js receive ADDRESS PORT ROOT tls|tcp          (prints "listening", exits after one copy)
 *   node floor-copier.js send ADDRESS PORT ROOT tls|tcp inline|thread   (prints JSON: seconds, CPU of both ends)
 *
 * `tls` is the replication transport's own TLS (transport-tls.ts: TLS 1.3, PSK from a cluster key, AES-128-GCM).
 * `inline` reads with synchronous calls on the main thread; `thread` reads on a worker thread and hashes every
 * 64 KiB block as it goes (floor-reader.ts), as the mirror's source does. The receiver writes synchronously on its
 * main thread, as the mirror's target does with large records (inline-writes.ts).
 */
import { chmodSync, closeSync, constants, futimesSync, lstatSync, mkdirSync, openSync, readdirSync, readSync, utimesSync, writevSync } from 'node:fs';
import { connect as tcpConnect, createServer as tcpServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { connect as tlsConnect, createServer as tlsServer } from 'node:tls';
import { isMainThread, Worker } from 'node:worker_threads';
import { clientTlsOptions, serverTlsOptions } from '../../agent/replication/transport-tls.js';

export type FloorTransport = 'tls' | 'tcp';
export type FloorReads = 'inline' | 'thread';

/** What the sender prints. */
export interface FloorResult {
  readonly seconds: number;
  readonly sender_cpu_seconds: number;
  readonly receiver_cpu_seconds: number;
}

/** A read the thread does: a small file whole, or one chunk of a large one. */
export interface FloorRead { readonly path: string; readonly offset: number; readonly length: number }
export interface FloorReadReply { readonly bytes: ArrayBuffer; readonly length: number }

const DIR = 0x44;
const FILE = 0x46;
const END = 0x45;
/** type, path length (u16), mode (u32), mtime in ms (f64), size (f64), a spare byte; the path follows. */
const HEADER_BYTES = 24;
const CHUNK = 1024 * 1024;
/** A stand-in for the cluster key: both ends are this benchmark. */
const KEY = Buffer.alloc(32, 0x5a);
const NODE = 'floor';

function header(type: number, rel: string, mode: number, mtimeMs: number, size: number): Buffer {
  const path = Buffer.from(rel);
  const h = Buffer.alloc(HEADER_BYTES + path.length);
  h[0] = type;
  h.writeUInt16LE(path.length, 1);
  h.writeUInt32LE(mode & 0o7777, 3);
  h.writeDoubleLE(mtimeMs, 7);
  h.writeDoubleLE(size, 15);
  path.copy(h, HEADER_BYTES);
  return h;
}

const cpuSeconds = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

/** The tree in order: a folder's header before its entries; a file's header, then its reads. */
interface Step { readonly head?: Buffer; readonly read?: FloorRead }

function plan(root: string, rel = '', steps: Step[] = []): Step[] {
  for (const name of readdirSync(join(root, rel)).sort()) {
    const path = rel === '' ? name : `${rel}/${name}`;
    const abs = join(root, path);
    const st = lstatSync(abs);
    if (st.isDirectory()) {
      steps.push({ head: header(DIR, path, st.mode, st.mtimeMs, 0) });
      plan(root, path, steps);
    } else if (st.isFile()) {
      const head = header(FILE, path, st.mode, st.mtimeMs, st.size);
      if (st.size <= CHUNK) {
        steps.push({ head, read: { path: abs, offset: 0, length: st.size } });
      } else {
        steps.push({ head });
        for (let at = 0; at < st.size; at += CHUNK) steps.push({ read: { path: abs, offset: at, length: Math.min(CHUNK, st.size - at) } });
      }
    }
  }
  return steps;
}

export function readInline(r: FloorRead): Buffer {
  const fd = openSync(r.path, 'r');
  try {
    const bytes = Buffer.allocUnsafeSlow(r.length);
    return bytes.subarray(0, readSync(fd, bytes, 0, r.length, r.offset));
  } finally {
    closeSync(fd);
  }
}

/** Reads on floor-reader.ts's thread, up to AHEAD ahead, handed back in order. */
class ReadAhead {
  private static readonly AHEAD = 16;
  private readonly worker = new Worker(new URL('./floor-reader.js', import.meta.url));
  private readonly replies: FloorReadReply[] = [];
  private wake: (() => void) | undefined;
  private failure: Error | undefined;
  private asked = 0;
  private taken = 0;

  constructor(private readonly reads: readonly FloorRead[]) {
    this.worker.on('message', (batch: readonly FloorReadReply[]) => {
      this.replies.push(...batch);
      this.wake?.();
    });
    this.worker.on('error', (e) => {
      this.failure = e;
      this.wake?.();
    });
    this.ask();
  }

  async next(): Promise<Buffer> {
    while (this.replies.length === 0) {
      if (this.failure !== undefined) throw this.failure;
      await new Promise<void>((resolve) => { this.wake = resolve; });
      this.wake = undefined;
    }
    const reply = this.replies.shift()!;
    this.taken++;
    if (this.asked - this.taken <= ReadAhead.AHEAD / 2) this.ask();
    return Buffer.from(reply.bytes, 0, reply.length);
  }

  close(): Promise<number> {
    return this.worker.terminate();
  }

  private ask(): void {
    const batch = this.reads.slice(this.asked, this.taken + ReadAhead.AHEAD);
    if (batch.length === 0) return;
    this.asked += batch.length;
    this.worker.postMessage(batch);
  }
}

export async function send(address: string, port: number, root: string, transport: FloorTransport, reads: FloorReads): Promise<FloorResult> {
  const started = performance.now();
  const socket: Socket = transport === 'tls'
    ? tlsConnect({ host: address, port, ...clientTlsOptions(KEY, NODE) })
    : tcpConnect({ host: address, port });
  await new Promise<void>((resolve, reject) => {
    socket.once(transport === 'tls' ? 'secureConnect' : 'connect', () => resolve());
    socket.once('error', reject);
  });
  const put = async (bytes: Buffer): Promise<void> => {
    if (!socket.write(bytes)) await new Promise((resolve) => socket.once('drain', resolve));
  };
  const top = lstatSync(root);
  // The folder itself first: its mode and time travel as any folder's.
  const steps = plan(root, '', [{ head: header(DIR, '', top.mode, top.mtimeMs, 0) }]);
  const reader = reads === 'thread' ? new ReadAhead(steps.flatMap((s) => (s.read === undefined ? [] : [s.read]))) : undefined;
  for (const { head, read } of steps) {
    if (read === undefined) {
      if (head !== undefined) await put(head);
      continue;
    }
    const bytes = reader === undefined ? readInline(read) : await reader.next();
    if (bytes.length !== read.length) throw new Error(`${read.path}: ${bytes.length} bytes read at ${read.offset}, ${read.length} expected (changed meanwhile?)`);
    // A small file goes as one write: its header and bytes in one TLS record where they fit.
    await put(head === undefined ? bytes : Buffer.concat([head, bytes]));
  }
  await reader?.close();
  await put(header(END, '', 0, 0, 0));
  let answer = '';
  socket.setEncoding('utf8');
  socket.on('data', (text: string) => { answer += text; });
  await new Promise((resolve, reject) => {
    socket.once('end', resolve);
    socket.once('error', reject);
  });
  const receiver = JSON.parse(answer) as { cpu_seconds: number };
  return { seconds: (performance.now() - started) / 1000, sender_cpu_seconds: cpuSeconds(), receiver_cpu_seconds: receiver.cpu_seconds };
}

/** Takes frames from one connection and writes them under `root`, then answers with its CPU time and ends. */
class FrameWriter {
  private pending: Buffer[] = [];
  private file: { fd: number; left: number; at: number; mtime: number; parts: Buffer[]; held: number } | undefined;
  /** Folder times are set last, deepest first, as their entries move them. */
  private readonly folders: { path: string; mtime: number }[] = [];

  constructor(private readonly root: string, private readonly done: () => void) {}

  take(chunk: Buffer): void {
    this.pending.push(chunk);
    let buf = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending);
    for (;;) {
      if (this.file !== undefined) {
        if (buf.length === 0) break;
        buf = this.fileBytes(buf);
        continue;
      }
      if (buf.length < HEADER_BYTES) break;
      const pathBytes = buf.readUInt16LE(1);
      if (buf.length < HEADER_BYTES + pathBytes) break;
      const type = buf[0]!;
      const mode = buf.readUInt32LE(3);
      const mtime = buf.readDoubleLE(7) / 1000;
      const size = buf.readDoubleLE(15);
      const rel = buf.toString('utf8', HEADER_BYTES, HEADER_BYTES + pathBytes);
      const path = join(this.root, rel);
      buf = buf.subarray(HEADER_BYTES + pathBytes);
      if (type === DIR) {
        if (rel === '') chmodSync(path, mode);
        else mkdirSync(path, { mode });
        this.folders.push({ path, mtime });
      } else if (type === FILE) {
        const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, mode);
        this.file = { fd, left: size, at: 0, mtime, parts: [], held: 0 };
        if (size === 0) this.endFile();
      } else if (type === END) {
        for (let k = this.folders.length - 1; k >= 0; k--) utimesSync(this.folders[k]!.path, this.folders[k]!.mtime, this.folders[k]!.mtime);
        this.done();
        return;
      } else {
        throw new Error(`frame type ${type} at a frame's start: the stream is out of step`);
      }
    }
    this.pending = buf.length === 0 ? [] : [buf];
  }

  /** Gathers a file's bytes up to CHUNK and writes them with one writev, as they came (no copy). */
  private fileBytes(buf: Buffer): Buffer {
    const file = this.file!;
    const n = Math.min(file.left, buf.length);
    file.parts.push(buf.subarray(0, n));
    file.held += n;
    file.left -= n;
    if (file.held >= CHUNK || file.left === 0) {
      writevSync(file.fd, file.parts, file.at);
      file.at += file.held;
      file.parts = [];
      file.held = 0;
    }
    if (file.left === 0) this.endFile();
    return buf.subarray(n);
  }

  private endFile(): void {
    const file = this.file!;
    futimesSync(file.fd, file.mtime, file.mtime);
    closeSync(file.fd);
    this.file = undefined;
  }
}

export function receive(address: string, port: number, root: string, transport: FloorTransport, listening: () => void): void {
  const accept = (socket: Socket): void => {
    const writer = new FrameWriter(root, () => {
      socket.end(JSON.stringify({ cpu_seconds: cpuSeconds() }), () => server.close());
    });
    socket.on('data', (chunk: Buffer) => writer.take(chunk));
  };
  const server = transport === 'tls' ? tlsServer(serverTlsOptions([KEY], new WeakMap(), 10_000), accept) : tcpServer(accept);
  server.listen(port, address, listening);
}

function main(argv: readonly string[]): void {
  const [role, address, portText, root, transport, reads] = argv;
  const port = Number(portText);
  if ((role !== 'send' && role !== 'receive') || address === undefined || !(port > 0) || root === undefined || (transport !== 'tls' && transport !== 'tcp')
    || (role === 'send' && reads !== 'inline' && reads !== 'thread')) {
    process.stderr.write('usage: floor-copier.js receive ADDRESS PORT ROOT tls|tcp | send ADDRESS PORT ROOT tls|tcp inline|thread\n');
    process.exit(2);
  }
  if (role === 'receive') {
    receive(address, port, root, transport, () => console.log('listening'));
    return;
  }
  send(address, port, root, transport, reads as FloorReads).then((r) => {
    console.log(JSON.stringify(r));
    process.exit(0);
  }, (e: unknown) => {
    process.stderr.write(`${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
    process.exit(1);
  });
}

// The read thread imports this module too, with the same argv.
if (isMainThread && process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href) main(process.argv.slice(2));
