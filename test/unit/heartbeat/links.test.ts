// The transports on their own: name resolution off the send path, and a TCP listener that cannot be hoarded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { Endpoint } from '../../../agent/heartbeat/endpoint.js';
import { TcpLink } from '../../../agent/heartbeat/tcp-link.js';
import { systemClock } from '../../../agent/util/clock.js';
import { freePort, until } from './helpers.js';

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
