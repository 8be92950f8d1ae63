// Real Heartbeat instances on loopback, with real UDP and TCP sockets. Timings are asserted loosely: machines are noisy.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { connect, type Socket } from 'node:net';
import { parseConfig } from '../../../common/config/load.js';
import type { LinkStatus, MembershipChange } from '../../../common/model/index.js';
import { Heartbeat, type LinkFactory } from '../../../agent/heartbeat/heartbeat.js';
import { encodePacket } from '../../../agent/heartbeat/packet.js';
import { freePort, sleep, status, tappedFactory, until } from './helpers.js';

const key = randomBytes(32);
const DEAD_TIME = 300;

async function configFor() {
  const ports = { ua: await freePort(), ub: await freePort(), ta: await freePort(), tb: await freePort() };
  const config = parseConfig(`
cluster: { id: hb, key: "${key.toString('hex')}" }
nodes: [{ id: alpha }, { id: beta }]
heartbeat:
  links:
    - { name: u, kind: udp, interval: 50ms, deadTime: ${DEAD_TIME}ms, endpoints: { alpha: "127.0.0.1:${ports.ua}", beta: "127.0.0.1:${ports.ub}" } }
    - { name: t, kind: tcp, interval: 50ms, deadTime: ${DEAD_TIME}ms, endpoints: { alpha: "127.0.0.1:${ports.ta}", beta: "127.0.0.1:${ports.tb}" } }
`, 'hb.yaml');
  return { config, ports };
}

async function pair(t: TestContext, factories: { alpha?: LinkFactory; beta?: LinkFactory } = {}) {
  const { config, ports } = await configFor();
  const changes: Record<string, MembershipChange[]> = { alpha: [], beta: [] };
  const make = (node: 'alpha' | 'beta', incarnation: number) => new Heartbeat({
    config, localNode: node, key, incarnation, onChange: (c) => changes[node]!.push(c),
    ...(factories[node] ? { createLink: factories[node] } : {}),
  });
  const alpha = make('alpha', 1000);
  const beta = make('beta', 2000);
  t.after(async () => { await alpha.close(); await beta.close(); });
  await alpha.start();
  await beta.start();
  alpha.setStatus(status('alpha'));
  beta.setStatus(status('beta'));
  return { alpha, beta, changes, ports, config };
}

const link = (hb: Heartbeat, name: string): LinkStatus => hb.linkStatuses().find((l) => l.link === name)!;

function udpSender(t: TestContext, port: number): (b: Buffer) => Promise<void> {
  const socket = createSocket('udp4');
  t.after(() => new Promise<void>((r) => socket.close(() => r())));
  return (b) => new Promise<void>((r) => socket.send(b, port, '127.0.0.1', () => r()));
}

async function tcpTo(t: TestContext, port: number): Promise<Socket> {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  t.after(() => { socket.destroy(); });
  await new Promise<void>((r) => socket.once('connect', () => r()));
  return socket;
}

test('two nodes become alive to each other on a udp and a tcp link and see each other\'s status', async (t) => {
  const { alpha, beta } = await pair(t);
  await until('alive both ways', () => alpha.peers()['beta']!.alive && beta.peers()['alpha']!.alive);
  await until('both links up', () => alpha.linkStatuses().length === 2 && alpha.linkStatuses().every((l) => l.up));
  assert.equal(alpha.peers()['beta']!.status?.node, 'beta');
  assert.equal(beta.peers()['alpha']!.status?.node, 'alpha');
  assert.ok(alpha.peers()['beta']!.aliveSince! <= Date.now());
  beta.setStatus(status('beta', { leaving: true }));
  await until('a status change travels at once', () => alpha.peers()['beta']!.status?.leaving === true, 1000);
  await until('a round trip is measured on both links', () => alpha.linkStatuses().every((l) => l.rttMs !== undefined));
  for (const l of alpha.linkStatuses()) {
    assert.ok(l.rttMs! >= 0 && l.rttMs! < 1000, `rtt ${l.rttMs}`);
    assert.ok(l.lossPercent < 50, `loss ${l.lossPercent} on a loopback`);
    assert.deepEqual(l.rejected, { badMac: 0, replay: 0, foreign: 0, malformed: 0 });
  }
});

test('closing one link keeps the peer alive; closing the other side loses it within the dead time plus a margin', async (t) => {
  const { alpha, beta, changes } = await pair(t);
  await until('both links up', () => alpha.linkStatuses().every((l) => l.up) && alpha.linkStatuses().length === 2);
  await beta.closeLink('u');
  await until('udp link down on alpha', () => !link(alpha, 'u').up);
  await sleep(2 * DEAD_TIME);
  assert.equal(link(alpha, 't').up, true);
  assert.equal(alpha.peers()['beta']!.alive, true, 'the tcp link still carries heartbeats');
  assert.ok(!changes['alpha']!.some((c) => c.kind === 'peer-lost'));
  assert.ok(changes['alpha']!.some((c) => c.kind === 'link-down' && c.link === 'u' && c.peer === 'beta'));
  const closedAt = Date.now();
  await beta.close();
  await until('peer lost', () => !alpha.peers()['beta']!.alive, DEAD_TIME + 2000);
  assert.ok(Date.now() - closedAt < DEAD_TIME + 2000);
  assert.ok(changes['alpha']!.some((c) => c.kind === 'peer-lost' && c.peer === 'beta'));
  assert.equal(alpha.peers()['beta']!.status?.node, 'beta', 'the last status heard is kept');
});

test('loss is computed from a real gap: every other packet dropped reads about half', async (t) => {
  let n = 0;
  const { alpha } = await pair(t, { beta: tappedFactory((name) => name !== 'u' || n++ % 2 === 0) });
  await until('enough packets', () => (link(alpha, 'u').lastSeenAt ?? 0) > 0 && n >= 40, 10_000);
  const loss = link(alpha, 'u').lossPercent;
  assert.ok(loss > 30 && loss < 70, `loss ${loss}%`);
  assert.ok(link(alpha, 't').lossPercent < 30, 'the other link is not affected');
});

test('forged, foreign, garbage and replayed datagrams are counted by reason', async (t) => {
  const captured: Buffer[] = [];
  const { alpha, ports, changes } = await pair(t, { beta: tappedFactory((name, _peer, frame) => { if (name === 'u') captured.push(frame); }) });
  await until('alive first', () => alpha.peers()['beta']!.alive && captured.length > 0);
  await sleep(100);
  const send = udpSender(t, ports.ua);
  const forged = { c: 'hb', n: 'beta', a: 'alpha', l: 'u', i: 5000, s: 1, t: Date.now(), p: status('beta') };
  await send(encodePacket(forged, randomBytes(32)));                                  // wrong key
  await send(encodePacket({ ...forged, c: 'intruder' }, randomBytes(32)));            // another cluster
  await send(encodePacket({ ...forged, i: 1 }, key));                                 // genuine key, older incarnation
  await send(captured.at(-1)!);                                                         // a captured genuine packet
  await send(Buffer.from('garbage'));
  await send(encodePacket({ ...forged, n: 'gamma', p: status('gamma') }, key));       // not a node of ours
  await send(encodePacket({ ...forged, n: 'alpha', p: status('alpha') }, key));       // ourselves
  await until('all counted', () => {
    const r = link(alpha, 'u').rejected;
    return r.badMac === 1 && r.foreign === 3 && r.replay === 2 && r.malformed === 1;
  });
  const reasons = new Set(changes['alpha']!.flatMap((c) => (c.kind === 'rejected' ? [c.reason] : [])));
  assert.deepEqual([...reasons].sort(), ['bad-mac', 'foreign', 'malformed', 'replay']);
  assert.deepEqual(link(alpha, 't').rejected, { badMac: 0, replay: 0, foreign: 0, malformed: 0 }, 'counted on the link they came in on');
});

test('forgeries on a tcp stream: bad frames are counted, garbage and oversized lengths cut the connection', async (t) => {
  const captured: Buffer[] = [];
  const { alpha, ports } = await pair(t, { beta: tappedFactory((name, _peer, frame) => { if (name === 't') captured.push(frame); }) });
  await until('tcp link up', () => link(alpha, 't').up && captured.length > 0);
  await sleep(100); // the last frame sent has surely arrived: resending it is a replay
  const replayed = captured.at(-1)!;
  const rejected = () => link(alpha, 't').rejected;

  const stream = await tcpTo(t, ports.ta);
  stream.write(encodePacket({ c: 'hb', n: 'beta', a: 'alpha', l: 't', i: 5000, s: 1, t: Date.now(), p: status('beta') }, randomBytes(32)));
  stream.write(replayed);
  await until('a bad MAC and a replay counted', () => rejected().badMac === 1 && rejected().replay === 1, 2000)
    .catch((e: Error) => { throw new Error(`${e.message}: ${JSON.stringify(rejected())}`); });
  assert.equal(stream.destroyed, false, 'a well-framed packet does not cost the connection');

  const garbage = await tcpTo(t, ports.ta);
  garbage.write('GET / HTTP/1.1\r\n\r\n');
  await new Promise<void>((r) => garbage.once('close', () => r()));

  const oversized = await tcpTo(t, ports.ta);
  const header = Buffer.from(replayed.subarray(0, 8));
  header.writeUInt16BE(65535, 6);
  oversized.write(header);
  await new Promise<void>((r) => oversized.once('close', () => r()));

  await until('both counted as malformed', () => rejected().malformed === 2);
  await sleep(2 * DEAD_TIME);
  assert.equal(link(alpha, 't').up, true, 'the real tcp link carried on throughout');
});

test('forgeries and replays alone never bring a silent peer to life', async (t) => {
  const captured: Buffer[] = [];
  const { alpha, beta, ports } = await pair(t, { beta: tappedFactory((name, _peer, frame) => { if (name === 'u') captured.push(frame); }) });
  await until('alive', () => alpha.peers()['beta']!.alive);
  await beta.close();
  await until('lost', () => !alpha.peers()['beta']!.alive);
  const send = udpSender(t, ports.ua);
  for (const frame of captured) await send(frame);
  for (let s = 1; s <= 20; s++) await send(encodePacket({ c: 'hb', n: 'beta', a: 'alpha', l: 'u', i: 9000, s, t: Date.now(), p: status('beta') }, randomBytes(32)));
  await until('all counted', () => link(alpha, 'u').rejected.replay === captured.length && link(alpha, 'u').rejected.badMac === 20);
  await sleep(100);
  assert.equal(alpha.peers()['beta']!.alive, false);
  assert.equal(link(alpha, 'u').up, false);
});

test('start rejects naming the link and endpoint that cannot bind, and releases the links already bound', async (t) => {
  const { config, ports } = await configFor();
  const blocker = createSocket('udp4');
  await new Promise<void>((r) => blocker.bind(ports.ub, '127.0.0.1', () => r()));
  t.after(() => new Promise<void>((r) => blocker.close(() => r())));
  // Link t before u, so one link is bound when the other fails.
  const reordered = { ...config, heartbeat: { links: [...config.heartbeat.links].reverse() } };
  const beta = new Heartbeat({ config: reordered, localNode: 'beta', key, incarnation: 1, onChange: () => undefined });
  await assert.rejects(beta.start(), new RegExp(`heartbeat link u: cannot bind udp 127\\.0\\.0\\.1:${ports.ub}: .*EADDRINUSE`));
  const retry = new Heartbeat({ config, localNode: 'alpha', key, incarnation: 1, onChange: () => undefined });
  await retry.start(); // alpha's ports, untouched
  await retry.close();
  const probe = connect(ports.tb, '127.0.0.1');
  const refused = await new Promise<boolean>((r) => { probe.once('error', () => r(true)); probe.once('connect', () => { probe.destroy(); r(false); }); });
  assert.equal(refused, true, 'the tcp link bound before the failure was released');
});

test('close releases every socket and timer', async (t) => {
  await sleep(20);
  const before = process.getActiveResourcesInfo();
  const { alpha, beta, ports } = await pair(t);
  await until('alive', () => alpha.peers()['beta']!.alive && beta.peers()['alpha']!.alive);
  await alpha.close();
  await beta.close();
  await sleep(20); // closed handles leave the active list on a later turn of the loop
  const count = (list: string[]) => list.filter((r) => /UDPWrap|TCP|Timeout/.test(r)).length;
  assert.equal(count(process.getActiveResourcesInfo()), count(before), `left: ${process.getActiveResourcesInfo().join(', ')}`);
  for (const port of [ports.ua, ports.ub]) {
    const s = createSocket('udp4');
    await new Promise<void>((resolve, reject) => { s.once('error', reject); s.bind(port, '127.0.0.1', () => resolve()); });
    await new Promise<void>((r) => s.close(() => r()));
  }
});

test('a genuine packet played back on another link is refused as a replay', async (t) => {
  const captured: Buffer[] = [];
  const { alpha, ports } = await pair(t, { beta: tappedFactory((name, _peer, frame) => { if (name === 'u') captured.push(frame); }) });
  await until('alive and captured', () => alpha.peers()['beta']!.alive && captured.length > 3);
  // Fresh sequence numbers on link t would be accepted by its own window: only the link binding refuses them.
  const stream = await tcpTo(t, ports.ta);
  for (const frame of captured.slice(-3)) stream.write(frame);
  await until('counted as replays on t', () => alpha.linkStatuses().find((l) => l.link === 't')!.rejected.replay >= 3);
});
