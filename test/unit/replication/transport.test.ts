// The replication transport end to end over real TLS on 127.0.0.1: order and acks, resume after either side goes
// away, the window under a slow applier, a cut cable, refused keys, calls both ways, and close() releasing everything.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect as tcpConnect, createServer as createTcpServer, type Socket } from 'node:net';
import { ReplicationError, ReplicationServer, type RecordSource, type ReplicationRecord } from '../../../agent/replication/transport.js';
import {
  closedPromise, KEY, MemoryJournal, MemoryTarget, MIRROR, payloadFor, resourceCounts, sleep, startClient, startServer, until,
} from './transport-helpers.js';

const LONG = 60_000; // a safety net for a wedged test, never a measure of speed

function fill(journal: MemoryJournal, count: number, size: (seq: number) => number): void {
  for (let seq = journal.records.length + 1, end = journal.records.length + count; seq <= end; seq++) journal.append(payloadFor(seq, size(seq)));
}

test('10,000 records arrive in order, each once, and are acknowledged; notify() sends what is appended later', async (t) => {
  const journal = new MemoryJournal();
  fill(journal, 10_000, (seq) => 16 + (seq % 700));
  const target = new MemoryTarget();
  const { server, errors: serverErrors } = await startServer(t, { [MIRROR]: target });
  const h = startClient(t, server.port, journal);
  await until('every record acknowledged', () => h.client.stats().ackedSeq === 10_000, LONG);
  assert.ok(target.isExactly(10_000), 'applied 1..10000 in order, none twice');
  assert.ok(h.acks.every((s, i) => i === 0 || s > h.acks[i - 1]!), 'acks only move forward');
  assert.ok(h.acks.length < 10_000, `acks are coalesced (${h.acks.length} for 10,000 records)`);
  fill(journal, 5, () => 100);
  h.client.notify();
  await until('the appended records acknowledged', () => h.client.stats().ackedSeq === 10_005, LONG);
  assert.ok(target.isExactly(10_005));
  assert.deepEqual(h.errors, []);
  assert.deepEqual(serverErrors, []);
  assert.equal(h.client.stats().inFlightBytes, 0);
});

test('the source resumes after the server is closed and reopened mid-stream: none lost, none applied twice', async (t) => {
  const journal = new MemoryJournal();
  fill(journal, 3000, () => 4096);
  const target = new MemoryTarget();
  target.applyDelayMs = 0;
  let first: ReplicationServer | undefined = await ReplicationServer.listen({ host: '127.0.0.1', port: 0, clusterId: 'test-cluster', nodeId: 'beta', key: KEY, mirror: () => target });
  t.after(() => first?.close());
  const port = first.port;
  let closing: Promise<void> | undefined;
  target.onApply = (seq) => {
    if (seq === 700) closing = first!.close(); // in the middle of an apply, with more queued behind it
  };
  const h = startClient(t, port, journal);
  await until('the server closed mid-stream', () => closing !== undefined, LONG);
  await closing;
  first = undefined;
  target.onApply = undefined;
  const appliedWhenClosed = target.applied.length;
  assert.ok(appliedWhenClosed >= 700 && appliedWhenClosed < 3000, `closed mid-stream (at ${appliedWhenClosed})`);
  await until('the client noticed', () => !h.client.stats().connected, LONG);
  const { server: second } = await startServer(t, { [MIRROR]: target }, { port });
  assert.equal(second.port, port);
  await until('every record acknowledged after the restart', () => h.client.stats().ackedSeq === 3000, LONG);
  assert.ok(target.isExactly(3000), 'applied 1..3000 in order, none twice');
  assert.ok(h.states.some((s) => s.startsWith('disconnected')) && h.states.filter((s) => s.startsWith('connected')).length >= 2);
});

test('a client destroyed mid-stream and created again resumes where the target is: none lost, none applied twice', async (t) => {
  const journal = new MemoryJournal();
  fill(journal, 2000, () => 2048);
  const target = new MemoryTarget();
  target.applyDelayMs = 1; // an apply is still running when the new connection arrives
  const { server, errors } = await startServer(t, { [MIRROR]: target });
  const first = startClient(t, server.port, journal);
  let closing: Promise<void> | undefined;
  target.onApply = (seq) => {
    if (seq === 500) closing = first.client.close();
  };
  await until('the first client closed', () => closing !== undefined, LONG);
  await closing;
  target.onApply = undefined;
  assert.ok(target.applied.length < 2000, 'closed mid-stream');
  const second = startClient(t, server.port, journal);
  await until('every record acknowledged by the second client', () => second.client.stats().ackedSeq === 2000, LONG);
  assert.ok(target.isExactly(2000), 'applied 1..2000 in order, none twice');
  assert.ok(second.acks[0]! >= 500, `the second client starts from what the target holds (first ack ${second.acks[0]})`);
  assert.deepEqual(errors.filter((e) => e.code !== 'VIGIL_REPL_REPLACED'), []);
});

test('a slow applier holds the sender to its window: in-flight bytes never exceed it', async (t) => {
  const window = 256 * 1024;
  const journal = new MemoryJournal();
  fill(journal, 150, () => 16 * 1024);
  const target = new MemoryTarget();
  target.applyDelayMs = 3;
  const { server } = await startServer(t, { [MIRROR]: target });
  let sampledMax = 0;
  const h = startClient(t, server.port, journal, { window });
  target.onApply = () => { sampledMax = Math.max(sampledMax, h.client.stats().inFlightBytes); };
  await until('every record acknowledged', () => h.client.stats().ackedSeq === 150, LONG);
  const { maxInFlightBytes } = h.client.stats();
  t.diagnostic(`window ${window} bytes; most in flight ${maxInFlightBytes} bytes (sampled during applies: ${sampledMax})`);
  assert.ok(maxInFlightBytes <= window, `${maxInFlightBytes} in flight, the window is ${window}`);
  assert.ok(maxInFlightBytes > window / 2, 'the window was filled: the applier, not the sender, set the pace');
  assert.ok(target.isExactly(150));
});

test('a record larger than the window still goes, alone', async (t) => {
  const journal = new MemoryJournal();
  fill(journal, 3, () => 100_000);
  const target = new MemoryTarget();
  const { server } = await startServer(t, { [MIRROR]: target });
  const h = startClient(t, server.port, journal, { window: 10_000 });
  await until('every record acknowledged', () => h.client.stats().ackedSeq === 3, LONG);
  assert.equal(h.client.stats().maxInFlightBytes, 100_000 + 14);
  assert.ok(target.isExactly(3));
});

test('a bandwidth limit changed while the source waits on it is taken at once; a limit that is not positive is refused', async (t) => {
  const journal = new MemoryJournal();
  fill(journal, 40, () => 64 * 1024);
  const target = new MemoryTarget();
  const { server } = await startServer(t, { [MIRROR]: target });
  // 1 KiB/s: the first record goes at once, the next would wait about a minute, all of them forty.
  const h = startClient(t, server.port, journal, { maxBytesPerSecond: 1024 });
  await until('the first record acknowledged', () => h.client.stats().ackedSeq === 1, LONG);
  await sleep(200);
  assert.equal(h.client.stats().ackedSeq, 1, 'the second waits for the rate');
  assert.throws(() => h.client.setMaxBytesPerSecond(0), (e: ReplicationError) => e.code === 'VIGIL_REPL_CONFIG' && /maxBytesPerSecond: 0/.test(e.message));
  h.client.setMaxBytesPerSecond(undefined);
  await until('every record acknowledged once the limit is gone', () => h.client.stats().ackedSeq === 40, LONG);
  assert.ok(target.isExactly(40));
});

test('a record read in parts goes as their concatenation; a part that is not a Buffer is refused, naming it', async (t) => {
  const journal = new MemoryJournal();
  fill(journal, 300, (seq) => 8 + ((seq * 7919) % 70_000));
  // Each payload in 1 to 4 parts cut at varying places, empty parts included, as the journal hands out held records.
  const parted: RecordSource = {
    async read(fromSeq, maxBytes) {
      return (await journal.read(fromSeq, maxBytes)).map((r) => {
        const cuts = [0, (r.seq * 31) % (r.payload.length + 1), (r.seq * 17) % (r.payload.length + 1), r.payload.length].slice(0, 2 + (r.seq % 3)).sort((a, b) => a - b);
        const parts = cuts.slice(1).map((end, i) => r.payload.subarray(cuts[i]!, end));
        return { seq: r.seq, payload: r.seq % 5 === 0 ? r.payload : [...parts, r.payload.subarray(cuts.at(-1)!)] };
      });
    },
  };
  const received = new Map<number, Buffer>();
  const target = new (class extends MemoryTarget {
    override async apply(r: ReplicationRecord): Promise<void> {
      received.set(r.seq, Buffer.from(r.payload)); // the transport's memory is used again once apply returns
      await super.apply(r);
    }
  })();
  const { server } = await startServer(t, { [MIRROR]: target });
  const h = startClient(t, server.port, parted);
  await until('every record acknowledged', () => h.client.stats().ackedSeq === 300, LONG);
  assert.ok(target.isExactly(300));
  for (let seq = 1; seq <= 300; seq++) assert.ok(received.get(seq)!.equals(journal.records[seq - 1]!), `record ${seq} arrives whole`);

  const bad: RecordSource = { read: async (fromSeq) => [{ seq: fromSeq, payload: [Buffer.from('ok'), 'not a buffer' as unknown as Buffer] }] };
  const failing = startClient(t, (await startServer(t, { [MIRROR]: new MemoryTarget() })).server.port, bad);
  await until('the bad record is refused', () => failing.errors.length > 0, LONG);
  assert.equal(failing.errors[0]!.code, 'VIGIL_REPL_SOURCE');
  assert.match(failing.errors[0]!.message, /record 1 has no Buffer payload \(part 1\)/);
});

/**
 * A TCP relay whose cable can be cut: bytes stop flowing both ways and no FIN or RST is sent. Until it is mended,
 * new connections are dropped at once.
 */
async function relay(t: import('node:test').TestContext, to: number): Promise<{ port: number; cut(): void; mend(): void }> {
  const all: Socket[] = [];
  let live: Array<[Socket, Socket]> = [];
  let isCut = false;
  const server = createTcpServer((inbound) => {
    if (isCut) {
      inbound.destroy();
      return;
    }
    const outbound = tcpConnect(to, '127.0.0.1');
    all.push(inbound, outbound);
    live.push([inbound, outbound]);
    inbound.pipe(outbound);
    outbound.pipe(inbound);
    inbound.on('error', () => outbound.destroy());
    outbound.on('error', () => inbound.destroy());
    inbound.on('close', () => outbound.destroy());
    outbound.on('close', () => inbound.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(async () => {
    for (const s of all) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  });
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    mend: () => { isCut = false; },
    cut: () => {
      isCut = true;
      for (const [a, b] of live) {
        a.unpipe(b);
        b.unpipe(a);
        a.pause();
        b.pause();
      }
      live = [];
    },
  };
}

test('a cut cable (no FIN, no RST) is noticed on both sides by silence; the source reconnects and resumes', async (t) => {
  const journal = new MemoryJournal();
  fill(journal, 400, () => 1024);
  const target = new MemoryTarget();
  target.applyDelayMs = 1;
  const { server, errors: serverErrors } = await startServer(t, { [MIRROR]: target }, { keepaliveMs: 300 });
  const cable = await relay(t, server.port);
  const h = startClient(t, cable.port, journal, { keepaliveMs: 300 });
  await until('some records applied', () => target.applied.length >= 50, LONG);
  cable.cut();
  await until('the source noticed the silence', () => h.errors.some((e) => e.code === 'VIGIL_REPL_PEER_SILENT'), LONG);
  await until('the target noticed the silence', () => serverErrors.some((e) => e.code === 'VIGIL_REPL_PEER_SILENT'), LONG);
  cable.mend();
  await until('every record acknowledged over a new connection', () => h.client.stats().ackedSeq === 400, LONG);
  assert.ok(target.isExactly(400), 'applied 1..400 in order, none twice');
});

test('a wrong key is refused at the handshake on both sides, and nothing is applied', async (t) => {
  const journal = new MemoryJournal();
  fill(journal, 10, () => 64);
  const target = new MemoryTarget();
  const { server, errors: serverErrors } = await startServer(t, { [MIRROR]: target });
  const h = startClient(t, server.port, journal, { key: Buffer.alloc(32, 0x11) });
  await until('the client refused', () => h.errors.length > 0, LONG);
  await until('the server refused', () => serverErrors.length > 0, LONG);
  assert.equal(h.errors[0]!.code, 'VIGIL_REPL_AUTH', h.errors[0]!.message);
  assert.equal(serverErrors[0]!.code, 'VIGIL_REPL_AUTH', serverErrors[0]!.message);
  assert.match(serverErrors[0]!.message, /cluster key differs/);
  assert.ok(!h.client.stats().connected);
  await h.client.close();
  assert.deepEqual(target.applied, []);
});

test('a plain TCP client is refused at the handshake; one that says nothing is dropped after the handshake time', async (t) => {
  const target = new MemoryTarget();
  const { server, errors } = await startServer(t, { [MIRROR]: target }, { keepaliveMs: 300 });
  const plain = tcpConnect(server.port, '127.0.0.1');
  plain.on('error', () => undefined);
  t.after(() => { plain.destroy(); });
  plain.write('HELLO replication, this is not TLS\r\n');
  await closedPromise(plain);
  await until('the server reported it', () => errors.length > 0, LONG);
  assert.equal(errors[0]!.code, 'VIGIL_REPL_HANDSHAKE', errors[0]!.message);
  const silent = tcpConnect(server.port, '127.0.0.1');
  silent.on('error', () => undefined);
  t.after(() => { silent.destroy(); });
  await closedPromise(silent);
  await until('the server reported it', () => errors.length > 1, LONG);
  assert.equal(errors[1]!.code, 'VIGIL_REPL_TIMEOUT', errors[1]!.message);
  assert.deepEqual(target.applied, []);
});

test('HELLO refusals: another cluster, an unknown mirror, and onHello throwing a coded error', async (t) => {
  const target = new MemoryTarget();
  target.onHello = (peer) => {
    if (peer.lineage !== '1') throw Object.assign(new Error(`lineage ${peer.lineage} is not ours`), { code: 'SPLIT_BRAIN' });
  };
  const { server, errors: serverErrors } = await startServer(t, { [MIRROR]: target });
  const journal = new MemoryJournal();
  fill(journal, 3, () => 64);
  const cases: Array<[Parameters<typeof startClient>[3], string, string | undefined]> = [
    [{ clusterId: 'other-cluster' }, 'VIGIL_REPL_WRONG_CLUSTER', undefined],
    [{ mirror: 'nope' }, 'VIGIL_REPL_UNKNOWN_MIRROR', undefined],
    [{ lineage: () => '9' }, 'VIGIL_REPL_REFUSED', 'SPLIT_BRAIN'],
  ];
  for (const [options, code, appCode] of cases) {
    const h = startClient(t, server.port, journal, options);
    await until(`${code} reported to the client`, () => h.errors.length > 0, LONG);
    await h.client.close();
    const e = h.errors[0]!;
    assert.equal(e.code, code, e.message);
    assert.equal(e.fromPeer, true);
    assert.equal(e.appCode, appCode);
    await until(`${code} reported by the server`, () => serverErrors.some((s) => s.code === code), LONG);
  }
  assert.match(serverErrors.find((e) => e.code === 'VIGIL_REPL_WRONG_CLUSTER')!.message, /HELLO\.clusterId/);
  assert.deepEqual(target.applied, []);
});

test('calls both ways: results, coded errors, timeouts, unknown methods, and calls cut by a close', async (t) => {
  const target = new MemoryTarget();
  let releaseSlow: (() => void) | undefined;
  target.handle = async (method, body) => {
    if (method === 'block-hashes') return Buffer.concat([Buffer.from('hashes of '), body]);
    if (method === 'missing') throw Object.assign(new Error('no such file: /data/x'), { code: 'NO_SUCH_FILE' });
    if (method === 'slow') {
      await new Promise<void>((r) => { releaseSlow = r; });
      return Buffer.from('late');
    }
    throw new Error(`unknown method ${method}`);
  };
  const { server } = await startServer(t, { [MIRROR]: target });
  const journal = new MemoryJournal();
  await assert.rejects(server.call(MIRROR, 'manifest', Buffer.alloc(0)), { code: 'VIGIL_REPL_NOT_CONNECTED' });
  const h = startClient(t, server.port, journal, { handle: async (method, body) => Buffer.from(`${method}:${body.toString()}`) });
  await until('connected', () => h.client.stats().connected, LONG);

  assert.equal((await h.client.call('block-hashes', Buffer.from('/data/a'))).toString(), 'hashes of /data/a');
  await assert.rejects(h.client.call('missing', Buffer.alloc(0)), (e: ReplicationError) => e.code === 'VIGIL_REPL_REMOTE' && e.appCode === 'NO_SUCH_FILE' && /no such file/.test(e.message));
  await assert.rejects(h.client.call('bogus', Buffer.alloc(0)), { code: 'VIGIL_REPL_REMOTE' });
  await assert.rejects(h.client.call('slow', Buffer.alloc(0), 50), { code: 'VIGIL_REPL_TIMEOUT' });
  releaseSlow!(); // its late answer is dropped; the connection carries on
  const big = Buffer.alloc(3 * 1024 * 1024, 7);
  assert.equal((await h.client.call('block-hashes', big)).length, 10 + big.length);
  assert.equal((await server.call(MIRROR, 'manifest', Buffer.from('v1'))).toString(), 'manifest:v1');
  await assert.rejects(h.client.call('not a method!', Buffer.alloc(0)), { code: 'VIGIL_REPL_CONFIG' });

  // A source without a handler answers the target's calls with VIGIL_REPL_UNKNOWN_METHOD.
  await h.client.close();
  const bare = startClient(t, server.port, journal);
  await until('connected', () => bare.client.stats().connected && server.connectedMirrors().includes(MIRROR), LONG);
  await assert.rejects(server.call(MIRROR, 'manifest', Buffer.alloc(0)), (e: ReplicationError) => e.code === 'VIGIL_REPL_UNKNOWN_METHOD' && e.fromPeer);
  releaseSlow = undefined;
  const cut = assert.rejects(bare.client.call('slow', Buffer.alloc(0), LONG), { code: 'VIGIL_REPL_CLOSED' });
  await until('the slow handler runs', () => releaseSlow !== undefined, LONG);
  await bare.client.close();
  await cut;
  releaseSlow!();
});

test('close() releases every socket and timer on both sides, mid-stream and with a call waiting', async (t) => {
  const before = resourceCounts();
  const journal = new MemoryJournal();
  fill(journal, 2000, () => 8192);
  const target = new MemoryTarget();
  target.applyDelayMs = 1;
  let release: (() => void) | undefined;
  target.handle = () => new Promise((r) => { release = () => r(Buffer.alloc(0)); });
  const server = await ReplicationServer.listen({ host: '127.0.0.1', port: 0, clusterId: 'test-cluster', nodeId: 'beta', key: KEY, mirror: () => target, keepaliveMs: 200 });
  const h = startClient(t, server.port, journal, { keepaliveMs: 200 });
  await until('streaming', () => target.applied.length > 100, LONG);
  const waiting = assert.rejects(h.client.call('hang', Buffer.alloc(0), LONG), { code: 'VIGIL_REPL_CLOSED' });
  await until('the call reached its handler', () => release !== undefined, LONG);
  await h.client.close();
  await server.close();
  await waiting;
  release!();
  assert.ok(target.applied.length < 2000, 'closed mid-stream');
  const after = resourceCounts();
  for (const kind of ['TCPSocketWrap', 'TCPServerWrap', 'TLSWrap', 'Timeout']) {
    assert.equal(after[kind] ?? 0, before[kind] ?? 0, `${kind}: ${JSON.stringify({ before, after })}`);
  }
  // And a client that never got through (nothing listens) releases its retry timer.
  const lonely = startClient(t, server.port, journal);
  await until('a failed attempt', () => lonely.errors.length > 0, LONG);
  assert.equal(lonely.errors[0]!.code, 'VIGIL_REPL_CONNECT');
  await lonely.client.close();
  const end = resourceCounts();
  for (const kind of ['TCPSocketWrap', 'TLSWrap', 'Timeout']) assert.equal(end[kind] ?? 0, before[kind] ?? 0, `${kind} after a failed client`);
});

test('bad options are refused at construction, naming the option', async () => {
  const journal = new MemoryJournal();
  const base = { host: '127.0.0.1', port: 1, clusterId: 'c', nodeId: 'alpha', key: KEY, mirror: MIRROR, lineage: () => '1', source: journal, onAck: () => undefined };
  const { ReplicationClient } = await import('../../../agent/replication/transport.js');
  assert.throws(() => new ReplicationClient({ ...base, key: Buffer.alloc(16) }), (e: ReplicationError) => e.code === 'VIGIL_REPL_CONFIG' && /key: 16 bytes/.test(e.message));
  assert.throws(() => new ReplicationClient({ ...base, window: 0 }), (e: ReplicationError) => e.code === 'VIGIL_REPL_CONFIG' && /window/.test(e.message));
  assert.throws(() => new ReplicationClient({ ...base, maxBytesPerSecond: 0 }), (e: ReplicationError) => e.code === 'VIGIL_REPL_CONFIG' && /maxBytesPerSecond: 0 is not a positive number/.test(e.message));
  assert.throws(() => new ReplicationClient({ ...base, nodeId: 'has space' }), (e: ReplicationError) => e.code === 'VIGIL_REPL_CONFIG' && /nodeId/.test(e.message));
  await assert.rejects(ReplicationServer.listen({ host: '127.0.0.1', port: 0, clusterId: 'c', nodeId: 'beta', key: Buffer.alloc(31), mirror: () => undefined }), { code: 'VIGIL_REPL_CONFIG' });
});

test('an endpoint that applies records at once gets them in order, and acknowledgements only ever cover a whole prefix', async (t) => {
  // Records finish out of order (a random delay each); record 150 fails on its first attempt.
  const target = new (class extends MemoryTarget {
    readonly concurrency = 8;
    readonly done = new Set<number>();
    readonly gaps: string[] = [];
    inFlight = 0;
    widest = 0;
    failedOnce = false;
    override async apply(r: ReplicationRecord): Promise<void> {
      this.inFlight++;
      this.widest = Math.max(this.widest, this.inFlight);
      try {
        await sleep(Math.floor(Math.random() * 4));
        if (r.seq === 150 && !this.failedOnce) {
          this.failedOnce = true;
          throw new Error('disk hiccup');
        }
        this.done.add(r.seq);
      } finally {
        this.inFlight--;
      }
    }
    appliedThrough(seq: number): void {
      for (let k = 1; k <= seq; k++) if (!this.done.has(k)) this.gaps.push(`${seq} reported applied before ${k}`);
      this.last = seq;
    }
  })();
  const { server, errors } = await startServer(t, { [MIRROR]: target });
  const journal = new MemoryJournal();
  for (let seq = 1; seq <= 300; seq++) journal.append(payloadFor(seq));
  const { client } = startClient(t, server.port, journal);
  await until('all 300 acknowledged', () => client.stats().ackedSeq === 300, 30_000);
  assert.ok(target.widest > 1, `applies overlapped (at most ${target.widest} at once)`);
  assert.deepEqual(target.gaps, []);
  assert.ok(target.failedOnce);
  assert.ok(errors.some((e) => e.code === 'VIGIL_REPL_APPLY' && /record 150 failed: disk hiccup/.test(e.message)), errors.map((e) => e.message).join('; '));
  for (let seq = 1; seq <= 300; seq++) assert.ok(target.done.has(seq), `record ${seq} applied`);
});

test('during a key rotation the target accepts sources on the old and the new key, and no other', async (t) => {
  const NEW_KEY = Buffer.alloc(32, 0x6b);
  const target = new MemoryTarget();
  const { server, errors: serverErrors } = await startServer(t, { [MIRROR]: target }, { key: NEW_KEY, acceptKeys: [KEY] });
  for (const [name, key, records] of [['old key', KEY, 5], ['new key', NEW_KEY, 10]] as const) {
    const journal = new MemoryJournal();
    fill(journal, records, () => 64);
    const h = startClient(t, server.port, journal, { key });
    await until(`the source on the ${name} is acknowledged`, () => h.client.stats().ackedSeq === records, LONG);
    await h.client.close();
  }
  const journal = new MemoryJournal();
  fill(journal, 3, () => 64);
  const stranger = startClient(t, server.port, journal, { key: Buffer.alloc(32, 0x11) });
  await until('a third key is refused', () => stranger.errors.length > 0 && serverErrors.length > 0, LONG);
  assert.equal(stranger.errors[0]!.code, 'VIGIL_REPL_AUTH');
  await stranger.client.close();
});
