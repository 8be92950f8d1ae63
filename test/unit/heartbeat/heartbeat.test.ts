// Two real Heartbeat instances on loopback, with real UDP and TCP sockets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { parseConfig } from '../../../common/config/load.js';
import type { MembershipChange, NodeStatus } from '../../../common/model/index.js';
import { Heartbeat } from '../../../agent/heartbeat/heartbeat.js';
import { encodePacket } from '../../../agent/heartbeat/packet.js';
import { LinkStats } from '../../../agent/heartbeat/link-stats.js';
import { freePort } from '../../support/agent-cluster.js';

const key = randomBytes(32);

async function pair(t: { after: (fn: () => Promise<void>) => void }) {
  const [ua, ub, ta, tb] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const config = parseConfig(`
cluster: { id: hb, key: "${key.toString('hex')}" }
nodes: [{ id: alpha }, { id: beta }]
heartbeat:
  links:
    - { name: u, kind: udp, interval: 50ms, deadTime: 300ms, endpoints: { alpha: "127.0.0.1:${ua}", beta: "127.0.0.1:${ub}" } }
    - { name: t, kind: tcp, interval: 50ms, deadTime: 300ms, endpoints: { alpha: "127.0.0.1:${ta}", beta: "127.0.0.1:${tb}" } }
`, 'hb.yaml');
  const changes: Record<string, MembershipChange[]> = { alpha: [], beta: [] };
  const make = (node: string, incarnation: number) => new Heartbeat({ config, localNode: node, key, incarnation, onChange: (c) => changes[node]!.push(c) });
  const alpha = make('alpha', 1000);
  const beta = make('beta', 2000);
  t.after(async () => { await alpha.close(); await beta.close(); });
  await alpha.start();
  await beta.start();
  alpha.setStatus(status('alpha'));
  beta.setStatus(status('beta'));
  return { alpha, beta, changes, ports: { ua, ub, ta, tb }, make };
}

function status(node: string, extra: Partial<NodeStatus> = {}): NodeStatus {
  return { node, incarnation: 1, configDigest: 'd', groups: {}, intents: { targets: {} }, ...extra };
}

async function until(what: string, condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('two nodes become alive to each other on both links and see each other\'s status', async (t) => {
  const { alpha, beta } = await pair(t);
  await until('alive', () => alpha.peers()['beta']!.alive && beta.peers()['alpha']!.alive);
  await until('both links up', () => alpha.linkStatuses().every((l) => l.up));
  assert.equal(alpha.peers()['beta']!.status?.node, 'beta');
  beta.setStatus(status('beta', { leaving: true }));
  await until('status change travels at once', () => alpha.peers()['beta']!.status?.leaving === true, 1000);
  await until('a round trip is measured', () => alpha.linkStatuses().every((l) => l.rttMs !== undefined));
  for (const l of alpha.linkStatuses()) assert.ok(l.rttMs! >= 0 && l.rttMs! < 1000, `rtt ${l.rttMs}`);
});

test('one link down keeps the peer alive; all links down loses it', async (t) => {
  const { alpha, beta, changes } = await pair(t);
  await until('both links up', () => alpha.linkStatuses().length === 2 && alpha.linkStatuses().every((l) => l.up));
  await beta.closeLink('u');
  await until('udp link down on alpha', () => alpha.linkStatuses().find((l) => l.link === 'u')?.up === false);
  await new Promise((r) => setTimeout(r, 400));
  assert.equal(alpha.peers()['beta']!.alive, true, 'the tcp link still carries heartbeats');
  assert.ok(!changes['alpha']!.some((c) => c.kind === 'peer-lost'));
  await beta.close();
  await until('peer lost', () => !alpha.peers()['beta']!.alive);
  assert.ok(changes['alpha']!.some((c) => c.kind === 'peer-lost' && c.peer === 'beta'));
  assert.equal(alpha.peers()['beta']!.status?.node, 'beta', 'the last status heard is kept');
});

test('forged, replayed, foreign and garbage packets are counted and never make a peer alive', async (t) => {
  const { alpha, ports, changes } = await pair(t);
  // Only alpha listens to our forgeries; beta's real heartbeats would make it alive, so stop beta first.
  await until('alive first', () => alpha.peers()['beta']!.alive);
  const socket = createSocket('udp4');
  t.after(() => new Promise<void>((r) => socket.close(() => r())));
  const send = (b: Buffer) => new Promise<void>((r) => socket.send(b, ports.ua, '127.0.0.1', () => r()));
  const forged = { c: 'hb', n: 'beta', i: 5, s: 1, t: Date.now(), p: status('beta') };
  await send(encodePacket(forged, randomBytes(32)));                       // wrong key
  await send(encodePacket({ ...forged, c: 'intruder' }, randomBytes(32))); // another cluster
  await send(encodePacket({ ...forged, i: 1 }, key));                      // genuine key, older incarnation: a replay
  await send(Buffer.from('garbage'));
  await send(encodePacket({ ...forged, n: 'gamma', p: status('gamma'), i: 9_999_999 }, key)); // not a node of ours
  const stats = () => alpha.linkStatuses().find((l) => l.link === 'u')!.rejected;
  await until('all counted', () => { const r = stats(); return r.badMac >= 1 && r.foreign >= 2 && r.replay >= 1 && r.malformed >= 1; });
  const reasons = new Set(changes['alpha']!.filter((c) => c.kind === 'rejected').map((c) => c.kind === 'rejected' ? c.reason : ''));
  assert.deepEqual([...reasons].sort(), ['bad-mac', 'foreign', 'malformed', 'replay']);

  // Garbage on the TCP link: the connection is dropped and counted; the link itself keeps working.
  const tcp = connect(ports.ta, '127.0.0.1');
  await new Promise<void>((r) => tcp.once('connect', () => r()));
  tcp.write('GET / HTTP/1.1\r\n\r\n');
  await new Promise<void>((r) => tcp.once('close', () => r()));
  await until('tcp garbage counted', () => alpha.linkStatuses().find((l) => l.link === 't')!.rejected.malformed >= 1);
  await until('the tcp link carries heartbeats all the same', () => alpha.linkStatuses().find((l) => l.link === 't')!.up);
});

test('forgeries alone never bring a silent peer to life', async (t) => {
  const port = await freePort();
  const other = await freePort();
  const config = parseConfig(`
cluster: { id: hb, key: "${key.toString('hex')}" }
nodes: [{ id: alpha }, { id: beta }]
heartbeat: { links: [{ name: u, kind: udp, interval: 50ms, deadTime: 300ms, endpoints: { alpha: "127.0.0.1:${port}", beta: "127.0.0.1:${other}" } }] }
`, 'hb.yaml');
  const alpha = new Heartbeat({ config, localNode: 'alpha', key, incarnation: 1, onChange: () => undefined });
  t.after(() => alpha.close());
  await alpha.start();
  const socket = createSocket('udp4');
  t.after(() => new Promise<void>((r) => socket.close(() => r())));
  for (let s = 1; s <= 20; s++) {
    await new Promise<void>((r) => socket.send(encodePacket({ c: 'hb', n: 'beta', i: 5, s, t: Date.now(), p: status('beta') }, randomBytes(32)), port, '127.0.0.1', () => r()));
  }
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(alpha.peers()['beta']!.alive, false);
  assert.equal(alpha.peers()['beta']!.status, undefined);
  assert.equal(alpha.linkStatuses()[0]!.rejected.badMac, 20);
});

test('loss is computed from sequence gaps; round trip subtracts the peer\'s holding time', () => {
  const stats = new LinkStats('u', 'udp', 'beta');
  // Seqs 1..101 with every fourth lost: the window is the last 100 (2..101), of which 25 never came.
  for (let seq = 1; seq <= 101; seq++) if (seq % 4 !== 0) stats.noteReceived(1, seq, seq * 10);
  assert.equal(stats.lossPercent(), 25);
  stats.noteReceived(2, 1, 2000);
  assert.equal(stats.lossPercent(), 0, 'a restarted peer starts a new window');
  stats.noteSent(41, 5000);
  stats.noteReceived(2, 2, 5030, { s: 41, h: 20 });
  assert.equal(stats.rttMs, 10);
});

test('close releases every socket and timer: the ports can be bound again', async (t) => {
  const { alpha, beta, ports } = await pair(t);
  await until('alive', () => alpha.peers()['beta']!.alive);
  await alpha.close();
  await beta.close();
  for (const port of [ports.ua, ports.ub]) {
    const s = createSocket('udp4');
    await new Promise<void>((resolve, reject) => { s.once('error', reject); s.bind(port, '127.0.0.1', () => resolve()); });
    await new Promise<void>((r) => s.close(() => r()));
  }
  // Closed handles leave the active list on the loop's next turn.
  await new Promise((r) => setTimeout(r, 20));
  const handles = process.getActiveResourcesInfo().filter((r) => /UDPWrap|TCP|Timeout/.test(r));
  assert.deepEqual(handles, [], `left: ${handles.join(', ')}`);
});
