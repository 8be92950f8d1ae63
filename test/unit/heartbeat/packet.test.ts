import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import {
  decodePacket, encodePacket, frameLength, PacketError, HEADER_BYTES, MAC_BYTES, MAX_BODY_BYTES, type RejectReason,
} from '../../../agent/heartbeat/packet.js';
import { ReplayWindow } from '../../../agent/heartbeat/replay.js';
import type { HeartbeatBody } from '../../../common/protocol/heartbeat.js';

const key = randomBytes(32);
const expect = { clusterId: 'c1', localNode: 'alpha', nodes: new Set(['alpha', 'beta']) };
const body: HeartbeatBody = {
  c: 'c1', n: 'beta', a: 'alpha', l: 'u', i: 1000, s: 7, t: 123456, e: { s: 3, h: 12 },
  p: { node: 'beta', incarnation: 1000, configDigest: 'abc', groups: { web: { resources: { ip: { state: 'running', lastMonitorAt: 5 } }, failures: 1 } }, intents: { targets: {} } },
};

function refused(packet: Buffer, reason: RejectReason, k = key): void {
  assert.throws(() => decodePacket(packet, k, expect), (e: unknown) => e instanceof PacketError && e.code === reason, reason);
}

/** A correctly signed packet around any body bytes: what a peer with the key but a bug would send. */
function signed(json: string, k = key): Buffer {
  const payload = Buffer.from(json);
  const header = Buffer.alloc(HEADER_BYTES);
  header.write('VGHB', 0); header.writeUInt8(1, 4); header.writeUInt8(1, 5); header.writeUInt16BE(payload.length, 6);
  return Buffer.concat([header, payload, createHmac('sha256', k).update(header).update(payload).digest()]);
}

test('a packet round-trips', () => {
  assert.deepEqual(decodePacket(encodePacket(body, key), key, expect), body);
  const { e: _echo, ...first } = body;
  assert.deepEqual(decodePacket(encodePacket(first, key), key, expect), first, 'the echo is optional');
});

test('operator-stopped groups travel in the intents; an older peer\'s intents without them still pass', () => {
  const stopped = { ...body, p: { ...body.p, intents: { targets: {}, stopped: { web: { value: true, version: 2, by: 'beta', at: 9 } } } } };
  assert.deepEqual(decodePacket(encodePacket(stopped, key), key, expect), stopped);
  const bad = { ...body, p: { ...body.p, intents: { targets: {}, stopped: { web: { value: 'yes', version: 2, by: 'beta', at: 9 } } } } };
  assert.throws(() => decodePacket(signed(JSON.stringify(bad)), key, expect), (e: unknown) => e instanceof PacketError && e.code === 'malformed');
});

test('every malformed form is refused as malformed', () => {
  const good = encodePacket(body, key);
  refused(Buffer.alloc(0), 'malformed');
  refused(good.subarray(0, 10), 'malformed');
  refused(good.subarray(0, good.length - 1), 'malformed');
  refused(Buffer.concat([good, Buffer.from([0])]), 'malformed');
  const badMagic = Buffer.from(good); badMagic.write('XXXX', 0);
  refused(badMagic, 'malformed');
  const badVersion = Buffer.from(good); badVersion.writeUInt8(2, 4);
  refused(badVersion, 'malformed');
  const badType = Buffer.from(good); badType.writeUInt8(9, 5);
  refused(badType, 'malformed');
  const oversized = Buffer.from(good); oversized.writeUInt16BE(65535, 6);
  refused(oversized, 'malformed');
  const longest = Buffer.alloc(HEADER_BYTES + MAX_BODY_BYTES + 1 + MAC_BYTES); good.copy(longest, 0, 0, HEADER_BYTES); longest.writeUInt16BE(MAX_BODY_BYTES + 1, 6);
  refused(longest, 'malformed');
  refused(Buffer.from('garbage'), 'malformed');
  refused(Buffer.alloc(200), 'malformed');
});

test('a correctly signed body that is not JSON, or not of the right shape, is malformed', () => {
  const shapes = [
    'not json', '', '[]', 'null', '{"c":"c1","n":"beta"}',
    JSON.stringify({ ...body, s: 0 }), JSON.stringify({ ...body, s: 2 ** 32 }), JSON.stringify({ ...body, s: 1.5 }),
    JSON.stringify({ ...body, i: -1 }), JSON.stringify({ ...body, t: 'now' }), JSON.stringify({ ...body, e: { s: 1 } }),
    JSON.stringify({ ...body, p: undefined }), JSON.stringify({ ...body, p: 'status' }),
    JSON.stringify({ ...body, p: { ...body.p, groups: { web: { resources: { ip: { state: 'exploded' } }, failures: 0 } } } }),
    JSON.stringify({ ...body, p: { ...body.p, intents: undefined } }),
    JSON.stringify({ ...body, p: { ...body.p, node: 'alpha' } }), // beta speaking for alpha
  ];
  for (const json of shapes) {
    assert.throws(() => decodePacket(signed(json), key, expect), (e: unknown) => e instanceof PacketError && e.code === 'malformed', json);
  }
});

test('one flipped byte anywhere is refused: bad-mac in body and MAC, malformed in the header', () => {
  const good = encodePacket(body, key);
  const json = good.subarray(HEADER_BYTES, good.length - MAC_BYTES).toString('utf8');
  // Flipping a byte of the cluster id makes the packet claim another cluster: foreign, as documented.
  const idStart = HEADER_BYTES + json.indexOf('"c1"') + 1;
  for (let i = 0; i < good.length; i++) {
    const tampered = Buffer.from(good);
    tampered[i]! ^= 0x01;
    const want: RejectReason = i < HEADER_BYTES ? 'malformed' : i >= idStart && i < idStart + 2 ? 'foreign' : 'bad-mac';
    assert.throws(() => decodePacket(tampered, key, expect), (e: unknown) => e instanceof PacketError && e.code === want, `byte ${i}: ${want}`);
  }
});

test('another key is bad-mac; another cluster is foreign, with or without its key', () => {
  refused(encodePacket(body, key), 'bad-mac', randomBytes(32));
  refused(encodePacket({ ...body, c: 'other' }, randomBytes(32)), 'foreign');
  refused(encodePacket({ ...body, c: 'other' }, key), 'foreign');
});

test('an authentic packet from ourselves or from a node we do not know is foreign', () => {
  refused(encodePacket({ ...body, n: 'alpha', p: { ...body.p, node: 'alpha' } }, key), 'foreign');
  refused(encodePacket({ ...body, n: 'gamma', p: { ...body.p, node: 'gamma' } }, key), 'foreign');
});

test('decoding throws nothing but PacketError, whatever the bytes', () => {
  for (let n = 0; n < 2000; n++) {
    const junk = randomBytes(n % 120);
    if (n % 3 === 0) junk.write('VGHB\x01\x01', 0, 'latin1');
    try {
      decodePacket(junk, key, expect);
      assert.fail('random bytes were accepted');
    } catch (e) {
      assert.ok(e instanceof PacketError, String(e));
    }
  }
});

test('frames delimit themselves on a stream; garbage and oversized lengths are refused at once', () => {
  const good = encodePacket(body, key);
  assert.equal(frameLength(good.subarray(0, 0)), undefined);
  assert.equal(frameLength(good.subarray(0, 3)), undefined);
  assert.equal(frameLength(good.subarray(0, HEADER_BYTES)), good.length);
  assert.equal(frameLength(Buffer.concat([good, good])), good.length);
  assert.throws(() => frameLength(Buffer.from('GET / HTTP/1.1')), PacketError);
  assert.throws(() => frameLength(Buffer.from('VGX')), PacketError, 'refused before the header is complete');
  const oversized = Buffer.from(good.subarray(0, HEADER_BYTES)); oversized.writeUInt16BE(65535, 6);
  assert.throws(() => frameLength(oversized), (e: unknown) => e instanceof PacketError && e.code === 'malformed');
});

test('encoding refuses a body larger than one packet', () => {
  const huge = { ...body, p: { ...body.p, configDigest: 'x'.repeat(MAX_BODY_BYTES) } };
  assert.throws(() => encodePacket(huge, key), (e: unknown) => e instanceof PacketError && e.code === 'malformed');
});

test('replay window: each sequence once; older incarnations and too-old sequences refused', () => {
  const w = new ReplayWindow();
  assert.equal(w.accept(100, 5), true);
  assert.equal(w.accept(100, 5), false, 'a duplicate');
  assert.equal(w.accept(100, 3), true, 'late but new');
  assert.equal(w.accept(100, 3), false);
  assert.equal(w.accept(100, 200), true);
  assert.equal(w.accept(100, 136), false, 'older than the 64-wide window');
  assert.equal(w.accept(100, 137), true, 'the oldest inside the window');
  assert.equal(w.accept(100, 137), false);
  assert.equal(w.accept(100, 199), true);
  assert.equal(w.accept(100, 201), true);
  assert.equal(w.accept(100, 199), false, 'remembered across a slide');
  assert.equal(w.accept(99, 1000), false, 'an older incarnation is a replay');
  assert.equal(w.accept(101, 1), true, 'a restart starts a new window');
  assert.equal(w.accept(100, 202), false, 'the old incarnation stays refused');
  assert.equal(w.accept(101, 1), false);
  assert.equal(w.accept(101, 1_000_000), true, 'a jump far ahead clears the window');
  assert.equal(w.accept(101, 2), false, 'and leaves the past behind');
});

test('during a key rotation a packet signed with any accepted key passes, and one signed with another key does not', () => {
  const next = randomBytes(32);
  assert.deepEqual(decodePacket(encodePacket(body, key), [next, key], expect), body, 'the old key, still accepted');
  assert.deepEqual(decodePacket(encodePacket(body, next), [next, key], expect), body, 'the new key');
  assert.throws(() => decodePacket(encodePacket(body, randomBytes(32)), [next, key], expect), (e: unknown) => e instanceof PacketError && e.code === 'bad-mac');
});
