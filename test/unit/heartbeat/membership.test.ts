// Membership logic with a clock moved by hand and links in memory: exact, with no sockets and no sleeping.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { parseConfig } from '../../../common/config/load.js';
import type { MembershipChange } from '../../../common/model/index.js';
import { Heartbeat, pauseGrace } from '../../../agent/heartbeat/heartbeat.js';
import { encodePacket } from '../../../agent/heartbeat/packet.js';
import { ManualClock, MemoryNetwork, status } from './helpers.js';

const key = randomBytes(32);
const config = parseConfig(`
cluster: { id: mem, key: "${key.toString('hex')}" }
nodes: [{ id: alpha }, { id: beta }]
heartbeat:
  links:
    - { name: a, kind: udp, endpoints: { alpha: "10.0.0.1:7405", beta: "10.0.0.2:7405" } }
    - { name: b, kind: tcp, endpoints: { alpha: "10.1.0.1:7405", beta: "10.1.0.2:7405" } }
`, 'mem.yaml');

function cluster() {
  const clock = new ManualClock();
  const net = new MemoryNetwork();
  const changes: Record<string, MembershipChange[]> = { alpha: [], beta: [] };
  const make = (node: string, incarnation: number) => new Heartbeat({
    config, localNode: node, key, incarnation, clock, createLink: net.factory(node), onChange: (c) => changes[node]!.push(c),
  });
  /** alpha and beta started, each with its first status. */
  const startBoth = async () => {
    const alpha = make('alpha', 1);
    const beta = make('beta', 2);
    await alpha.start(); await beta.start();
    alpha.setStatus(status('alpha')); beta.setStatus(status('beta'));
    return { alpha, beta };
  };
  return { clock, net, changes, make, startBoth };
}

const kinds = (changes: MembershipChange[]) => changes.map((c) => ('link' in c && c.kind !== 'rejected' ? `${c.kind} ${c.link}` : c.kind));

test('defaults: a heartbeat every 200 ms, a link down after 800 ms of silence', () => {
  assert.equal(config.heartbeat.links[0]!.interval, 200);
  assert.equal(config.heartbeat.links[0]!.deadTime, 800);
});

test('a node answers a peer it starts hearing at once: a late starter is known on both sides without waiting an interval', async () => {
  const { clock, net, changes, make } = cluster();
  const alpha = make('alpha', 1);
  await alpha.start();
  alpha.setStatus(status('alpha'));
  clock.advance(150); // alpha's first beats went to a beta that was not there yet
  const beta = make('beta', 2);
  await beta.start();
  const sentBefore = net.sent;
  beta.setStatus(status('beta')); // beta's first beat on each link goes out with its first status
  assert.equal(alpha.peers()['beta']!.alive, true);
  assert.equal(beta.peers()['alpha']!.alive, true, 'alpha answered beta\'s first beat, 49 ms before its own next one');
  assert.deepEqual(kinds(changes['beta']!).filter((k) => k.startsWith('link-up')).sort(), ['link-up a', 'link-up b']);
  // Per link: beta's beat, alpha's answer, and beta's answer to the first it heard of alpha; then nothing more.
  assert.equal(net.sent - sentBefore, 6);
  clock.advance(49);
  assert.equal(net.sent - sentBefore, 6, 'no other beat until alpha\'s next interval');
  clock.advance(1);
  assert.equal(net.sent - sentBefore, 8, 'alpha\'s next interval: one beat per link');
});

test('a peer is alive while any link is up and lost only when every link is down, after exactly the dead time', async () => {
  const { clock, net, changes, startBoth } = cluster();
  const { alpha, beta } = await startBoth();
  clock.advance(200);
  assert.deepEqual(kinds(changes['alpha']!), ['link-up a', 'peer-alive', 'peer-status', 'link-up b']);
  const aliveSince = alpha.peers()['beta']!.aliveSince!;
  assert.equal(alpha.peers()['beta']!.status?.node, 'beta');

  net.cut.add('a');
  clock.advance(2000);
  assert.deepEqual(kinds(changes['alpha']!).slice(4), ['link-down a'], 'one link down, the peer stays alive');
  assert.equal(alpha.peers()['beta']!.alive, true);
  assert.equal(alpha.peers()['beta']!.aliveSince, aliveSince);

  net.cut.add('b');
  const cutAt = clock.now();
  clock.advance(599);
  assert.equal(alpha.peers()['beta']!.alive, true, 'not before the dead time');
  while (alpha.peers()['beta']!.alive) clock.advance(1);
  assert.ok(clock.now() - cutAt <= 800, `lost ${clock.now() - cutAt} ms after the cut`);
  assert.deepEqual(kinds(changes['alpha']!).slice(5), ['link-down b', 'peer-lost']);
  assert.equal(alpha.peers()['beta']!.alive, false);
  assert.equal(alpha.peers()['beta']!.status?.node, 'beta', 'the last status heard is kept');

  net.cut.clear();
  clock.advance(200);
  assert.equal(alpha.peers()['beta']!.alive, true);
  assert.ok(alpha.peers()['beta']!.aliveSince! > aliveSince, 'alive again since now');
  await alpha.close(); await beta.close();
  assert.equal(clock.pending, 0, 'no timer left');
});

test('a node that stood still (SIGSTOP) reads what waited before it takes a peer as lost; a peer that really died is lost a short grace after the thaw', async () => {
  // One clock per node: while alpha is stopped its timers do not fire, and beta's beats wait in its sockets.
  const alphaClock = new ManualClock();
  const betaClock = new ManualClock();
  const net = new MemoryNetwork();
  const changes: MembershipChange[] = [];
  const alpha = new Heartbeat({ config, localNode: 'alpha', key, incarnation: 1, clock: alphaClock, createLink: net.factory('alpha'), onChange: (c) => changes.push(c) });
  const beta = new Heartbeat({ config, localNode: 'beta', key, incarnation: 2, clock: betaClock, createLink: net.factory('beta'), onChange: () => undefined });
  const both = (ms: number) => { for (let t = 0; t < ms; t += 10) { alphaClock.advance(10); betaClock.advance(10); } };
  await alpha.start(); await beta.start();
  alpha.setStatus(status('alpha')); beta.setStatus(status('beta'));
  both(300);
  assert.equal(alpha.peers()['beta']!.alive, true);
  const aliveSince = alpha.peers()['beta']!.aliveSince;

  // Stopped for 2 s, well past the 800 ms dead time.
  const before = changes.length;
  net.hold('alpha');
  for (let t = 0; t < 2000; t += 10) betaClock.advance(10);
  alphaClock.stall(2000);
  // The thaw, in the event loop's order: the timers, all of them late, then what waited in the sockets.
  alphaClock.advance(0);
  assert.ok(net.release('alpha') >= 2 * 2000 / 200, 'beta\'s beats of the pause were waiting');
  both(1000);
  const since = kinds(changes.slice(before));
  assert.deepEqual(since.filter((k) => k === 'paused'), ['paused'], 'the pause is reported once, whatever the links and peers');
  assert.ok(!since.some((k) => k.startsWith('link-down') || k === 'peer-lost'), `beta was never lost: ${since.join(', ')}`);
  assert.equal(alpha.peers()['beta']!.alive, true);
  assert.equal(alpha.peers()['beta']!.aliveSince, aliveSince);
  const paused = changes.slice(before).find((c) => c.kind === 'paused');
  assert.ok(paused?.kind === 'paused' && paused.ms >= 2000 - 800, `paused for ${JSON.stringify(paused)}`);

  // Stopped again, and beta dies meanwhile: nothing waits, and beta is lost once the grace has passed.
  net.hold('alpha');
  await beta.close();
  alphaClock.stall(2000);
  alphaClock.advance(0);
  assert.equal(net.release('alpha'), 0);
  const grace = pauseGrace(config.heartbeat.links[0]!);
  assert.equal(grace, 400);
  alphaClock.advance(grace - 1);
  assert.equal(alpha.peers()['beta']!.alive, true, 'not within the grace');
  alphaClock.advance(1);
  assert.equal(alpha.peers()['beta']!.alive, false, 'lost when the grace ends');
  assert.equal(changes.at(-1)?.kind, 'peer-lost');
  await alpha.close();
  assert.equal(alphaClock.pending, 0, 'no timer left');
});

test('a loop late all the time (a starved machine) still loses a dead peer: the grace after a pause is not extended', async () => {
  const { clock, changes, startBoth } = cluster();
  const { alpha, beta } = await startBoth();
  clock.advance(300);
  assert.equal(alpha.peers()['beta']!.alive, true);
  await beta.close();
  // Every timer fires 300 ms late (more than a quarter interval), as on a machine whose loop never catches up.
  let stalls = 0;
  for (; stalls < 20 && alpha.peers()['beta']!.alive; stalls++) {
    clock.stall(300);
    clock.advance(0);
  }
  assert.equal(alpha.peers()['beta']!.alive, false, 'beta is lost');
  assert.ok(stalls <= 6, `within the dead time and one grace, late each time (${stalls} stalls of 300 ms)`);
  assert.equal(changes['alpha']!.at(-1)?.kind, 'peer-lost');
  await alpha.close();
});

test('a status change is sent at once, at most one triggered update per 20 ms', async () => {
  const { clock, net, startBoth } = cluster();
  const { alpha, beta } = await startBoth();
  clock.advance(50);
  const before = net.sent;
  alpha.setStatus(status('alpha', { configDigest: 'v2' }));
  assert.equal(net.sent - before, 2, 'one packet per link at once');
  assert.equal(beta.peers()['alpha']!.status?.configDigest, 'v2');
  for (let v = 3; v < 10; v++) alpha.setStatus(status('alpha', { configDigest: `v${v}` }));
  assert.equal(net.sent - before, 2, 'a burst waits for the next slot');
  alpha.setStatus(status('alpha', { configDigest: 'v9' }));
  clock.advance(19);
  assert.equal(net.sent - before, 2, 'not before 20 ms have passed');
  clock.advance(1);
  assert.equal(net.sent - before, 4, 'then the latest goes in one triggered update');
  assert.equal(beta.peers()['alpha']!.status?.configDigest, 'v9');
  alpha.setStatus(status('alpha', { configDigest: 'v9' }));
  clock.advance(25);
  assert.equal(net.sent - before, 4, 'an unchanged status triggers nothing');
  assert.throws(() => alpha.setStatus(status('beta')), /status of beta given to the heartbeat of alpha/);
  await alpha.close(); await beta.close();
});

test('the newest status wins across links; a restarted peer is believed; its old packets are replays', async () => {
  const { clock, net, changes, make } = cluster();
  const alpha = make('alpha', 1);
  const beta = make('beta', 2);
  await alpha.start(); await beta.start();
  alpha.setStatus(status('alpha')); beta.setStatus(status('beta', { configDigest: 'new' }));
  clock.advance(10);
  // A genuine but older beat (same incarnation, earlier send time, unseen seq) arriving late on link b.
  const late = encodePacket({ c: 'mem', n: 'beta', a: 'alpha', l: 'b', i: 2, s: 50, t: clock.now() - 50, p: status('beta', { configDigest: 'old' }) }, key);
  net.inject('b', 'alpha', late);
  assert.equal(alpha.peers()['beta']!.status?.configDigest, 'new', 'an older status never overwrites a newer one');

  await beta.close();
  const reborn = make('beta', 3);
  await reborn.start();
  reborn.setStatus(status('beta', { configDigest: 'reborn' }));
  clock.advance(200);
  assert.equal(alpha.peers()['beta']!.status?.configDigest, 'reborn');
  assert.ok(!changes['alpha']!.some((c) => c.kind === 'peer-lost'), 'a restart within the dead time loses nobody');
  net.inject('a', 'alpha', encodePacket({ c: 'mem', n: 'beta', a: 'alpha', l: 'a', i: 2, s: 10_000, t: clock.now(), p: status('beta') }, key));
  assert.equal(alpha.linkStatuses().find((l) => l.link === 'a')!.rejected.replay, 1, 'the previous incarnation is over');
  await alpha.close(); await reborn.close();
  assert.equal(clock.pending, 0);
});

test('round trip from echoes and loss from gaps, measured on the receiving side', async () => {
  const { clock, startBoth } = cluster();
  const { alpha, beta } = await startBoth();
  clock.advance(2000);
  for (const l of alpha.linkStatuses()) {
    assert.equal(l.rttMs, 0, 'memory links deliver at once: the holding time is all there is');
    assert.equal(l.lossPercent, 0);
    assert.equal(l.up, true);
    assert.equal(l.lastSeenAt, clock.now());
  }
  await alpha.close(); await beta.close();
});

test('a status too large for one packet loses operation messages first, and heartbeats go on', async () => {
  const { clock, make } = cluster();
  const alpha = make('alpha', 1);
  const beta = make('beta', 2);
  await alpha.start(); await beta.start();
  const resources = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`r${i}`, {
    state: 'failed' as const, lastResult: { operation: 'monitor' as const, rc: 7, at: 1, durationMs: 5, message: 'x'.repeat(4000) },
  }]));
  alpha.setStatus(status('alpha', { groups: { g: { resources, failures: 1 } } }));
  beta.setStatus(status('beta'));
  clock.advance(200);
  const seen = beta.peers()['alpha']!.status!;
  assert.equal(Object.keys(seen.groups['g']!.resources).length, 40);
  assert.equal(seen.groups['g']!.resources['r0']!.state, 'failed');
  assert.ok(seen.groups['g']!.resources['r0']!.lastResult!.message.length < 200);
  await alpha.close(); await beta.close();
});

test('configuration mistakes are named', async () => {
  const { make } = cluster();
  assert.throws(() => make('gamma', 1), /"gamma" is not a node of cluster mem/);
  const alpha = make('alpha', 1);
  await assert.rejects(alpha.closeLink('nope'), /no link named "nope" \(links: a, b\)/);
  await alpha.start();
  await assert.rejects(alpha.start(), /start\(\) called on a heartbeat that is running/);
  await alpha.close();
});
