import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { decodePacket, encodePacket, frameLength, PacketError, HEADER_BYTES, type RejectReason } from '../../../agent/heartbeat/packet.js';
import { ReplayWindow } from '../../../agent/heartbeat/replay.js';
import { decodeClusterKey, ClusterKeyError } from '../../../agent/security/cluster-key.js';
import type { HeartbeatBody } from '../../../common/protocol/heartbeat.js';

const key = randomBytes(32);
const body: HeartbeatBody = {
  c: 'c1', n: 'beta', i: 1000, s: 7, t: 123456, e: { s: 3, h: 12 },
  p: { node: 'beta', incarnation: 1000, configDigest: 'abc', groups: { web: { resources: { ip: { state: 'running', lastMonitorAt: 5 } }, failures: 1 } }, intents: { targets: {} } },
};

function rejected(packet: Buffer, reason: RejectReason, k = key): void {
  assert.throws(() => decodePacket(packet, k, 'c1'), (e: unknown) => e instanceof PacketError && e.reason === reason, reason);
}

test('a packet round-trips', () => {
  assert.deepEqual(decodePacket(encodePacket(body, key), key, 'c1'), body);
});

test('every malformed form is refused as malformed', () => {
  const good = encodePacket(body, key);
  rejected(good.subarray(0, 10), 'malformed');
  rejected(good.subarray(0, good.length - 1), 'malformed');
  rejected(Buffer.concat([good, Buffer.from([0])]), 'malformed');
  const badMagic = Buffer.from(good); badMagic.write('XXXX', 0);
  rejected(badMagic, 'malformed');
  const badVersion = Buffer.from(good); badVersion.writeUInt8(9, 4);
  rejected(badVersion, 'malformed');
  const badType = Buffer.from(good); badType.writeUInt8(9, 5);
  rejected(badType, 'malformed');
  const oversized = Buffer.from(good); oversized.writeUInt16BE(65535, 6);
  rejected(oversized, 'malformed');
  rejected(Buffer.from('garbage'), 'malformed');
});

test('a correctly signed body of the wrong shape is malformed', async () => {
  const { createHmac } = await import('node:crypto');
  for (const json of ['not json', '{"c":"c1","n":"beta"}', JSON.stringify({ ...body, p: { ...body.p, groups: { web: { resources: { ip: { state: 'exploded' } }, failures: 0 } } } })]) {
    const payload = Buffer.from(json);
    const header = Buffer.alloc(HEADER_BYTES);
    header.write('VGHB', 0); header.writeUInt8(1, 4); header.writeUInt8(1, 5); header.writeUInt16BE(payload.length, 6);
    const mac = createHmac('sha256', key).update(header).update(payload).digest();
    rejected(Buffer.concat([header, payload, mac]), 'malformed');
  }
});

test('one flipped bit anywhere fails authentication', () => {
  const good = encodePacket(body, key);
  for (let i = HEADER_BYTES; i < good.length; i += 7) {
    const tampered = Buffer.from(good);
    tampered[i]! ^= 0x01;
    assert.throws(() => decodePacket(tampered, key, 'c1'), (e: unknown) => e instanceof PacketError && (e.reason === 'bad-mac' || e.reason === 'foreign'), `byte ${i}`);
  }
});

test('another key is bad-mac; another cluster is foreign, with or without its key', () => {
  rejected(encodePacket(body, key), 'bad-mac', randomBytes(32));
  rejected(encodePacket({ ...body, c: 'other' }, randomBytes(32)), 'foreign');
  rejected(encodePacket({ ...body, c: 'other' }, key), 'foreign');
});

test('frames delimit themselves on a stream; garbage is refused at once', () => {
  const good = encodePacket(body, key);
  assert.equal(frameLength(good.subarray(0, 3)), undefined);
  assert.equal(frameLength(good.subarray(0, HEADER_BYTES)), good.length);
  assert.throws(() => frameLength(Buffer.from('GET / HTTP/1.1')), PacketError);
});

test('replay window: each sequence once; older incarnations and too-old sequences refused', () => {
  const w = new ReplayWindow();
  assert.equal(w.accept(100, 5), true);
  assert.equal(w.accept(100, 5), false);
  assert.equal(w.accept(100, 3), true, 'late but new');
  assert.equal(w.accept(100, 3), false);
  assert.equal(w.accept(100, 200), true);
  assert.equal(w.accept(100, 136), false, 'older than the 64-wide window');
  assert.equal(w.accept(100, 137), true, 'inside the window');
  assert.equal(w.accept(99, 1000), false, 'an older incarnation is a replay');
  assert.equal(w.accept(101, 1), true, 'a restart starts a new window');
  assert.equal(w.accept(100, 201), false);
});

test('cluster keys: hex or base64 of at least 32 bytes, errors name where', () => {
  assert.equal(decodeClusterKey('ab'.repeat(32), 'k').length, 32);
  assert.equal(decodeClusterKey(randomBytes(48).toString('base64') + '\n', 'k').length, 48);
  assert.throws(() => decodeClusterKey('abcd', 'cluster.key'), (e: unknown) => e instanceof ClusterKeyError && /cluster\.key: decodes to 2 bytes, at least 32/.test(e.message));
  assert.throws(() => decodeClusterKey('not a key!', 'cluster.keyFile /k'), /cluster\.keyFile \/k: neither hex nor base64/);
  assert.throws(() => decodeClusterKey('  ', 'k'), /k: empty/);
});
