// The transports on their own: name resolution off the send path, and a TCP listener that cannot be hoarded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { encodePacket } from '../../../agent/heartbeat/packet.js';
import { Endpoint } from '../../../agent/heartbeat/endpoint.js';
import { TcpLink } from '../../../agent/heartbeat/tcp-link.js';
import { systemClock } from '../../../agent/util/clock.js';
import { freePort, ManualClock, status, until } from './helpers.js';

test('an endpoint by name resolves in the background; one by address needs no lookup', async () => {
  assert.equal(new Endpoint('127.0.0.1:7405', () => 0).address(), '127.0.0.1');
  assert.equal(new Endpoint('[::1]:7405', () => 0).address(), '::1');
  const named = new Endpoint('localhost:7405', () => Date.now());
  assert.equal(named.address(), undefined, 'never waits for the lookup');
  await until('resolved', () => named.address() !== undefined);
  assert.match(named.address()!, /^(127\.0\.0\.1|::1)$/);
  assert.equal(named.port, 7405);
});

test('a tcp link drops idle incoming connections and evicts the oldest beyond its limit', async (t) => {
  const port = await freePort();
  const peerPort = await freePort();
  const link = new TcpLink({ name: 't', local: `127.0.0.1:${port}`, peers: new Map([['beta', `127.0.0.1:${peerPort}`]]), interval: 50, deadTime: 150 }, systemClock);
  await link.start(() => undefined, () => undefined);
  t.after(() => link.close());
  const open = async (): Promise<Socket> => {
    const s = connect(port, '127.0.0.1');
    s.on('error', () => undefined);
    s.resume(); // so that the server's close is seen as 'end'
    t.after(() => { s.destroy(); });
    await new Promise<void>((r) => s.once('connect', () => r()));
    return s;
  };
  // One peer: room for 2 + 1 connections; the fourth pushes out the first.
  const sockets = [await open(), await open(), await open(), await open()];
  await until('the oldest is evicted', () => sockets[0]!.readableEnded || sockets[0]!.destroyed, 1000);
  assert.ok(!sockets[3]!.readableEnded, 'the newest is kept');
  await until('silent connections are dropped after twice the dead time', () => sockets.every((s) => s.readableEnded || s.destroyed), 3000);
});

test('a tcp link that stood still reads what waited on an incoming connection before taking it as idle', async (t) => {
  const port = await freePort();
  const link = new TcpLink({ name: 't', local: `127.0.0.1:${port}`, peers: new Map([['beta', `127.0.0.1:${await freePort()}`]]), interval: 50, deadTime: 150 }, systemClock);
  const frames: Buffer[] = [];
  await link.start((frame) => frames.push(frame), () => undefined);
  t.after(() => link.close());
  const frame = encodePacket({ c: 'c', n: 'beta', a: 'alpha', l: 't', i: 1, s: 1, t: Date.now(), p: status('beta') }, randomBytes(32));
  // The peer is another thread, so it writes while this one stands still.
  const peer = new Worker(`
    const { parentPort, workerData } = require('node:worker_threads');
    const socket = require('node:net').connect(workerData.port, '127.0.0.1', () => parentPort.postMessage('connected'));
    parentPort.on('message', () => setTimeout(() => socket.write(Buffer.from(workerData.frame)), 100));
  `, { eval: true, workerData: { port, frame } });
  t.after(() => peer.terminate());
  await new Promise((r) => peer.once('message', r));
  await new Promise((r) => setTimeout(r, 50)); // accepted, and its idle timer armed: 300 ms
  peer.postMessage('write');
  // Stand still for twice the idle time; the frame arrives 100 ms in. On waking the idle timer fires first.
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 600);
  await until('the frame that waited is read', () => frames.length === 1, 1000);
  assert.deepEqual(frames[0], frame);
});

test('a tcp link whose timers are late all the time still drops a silent connection: the extra wait is given once', async (t) => {
  const clock = new ManualClock();
  const port = await freePort();
  const link = new TcpLink({ name: 't', local: `127.0.0.1:${port}`, peers: new Map([['beta', `127.0.0.1:${await freePort()}`]]), interval: 50, deadTime: 150 }, clock);
  await link.start(() => undefined, () => undefined);
  t.after(() => link.close());
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  socket.resume();
  t.after(() => { socket.destroy(); });
  const pendingBefore = clock.pending;
  await until('accepted, its idle timer armed', () => clock.pending > pendingBefore);
  let stalls = 0;
  let dropped = false;
  while (!dropped && stalls < 5) {
    clock.stall(400); // the idle timer (300 ms) fires 100 ms late each time
    clock.advance(0);
    stalls++;
    dropped = await until('dropped', () => socket.readableEnded || socket.destroyed, 2000).then(() => true, () => false);
  }
  assert.ok(dropped, 'dropped');
  assert.equal(stalls, 2, 'the first late firing waits once more, the second drops it');
});
