// The frame codec on its own: every type round-trips, errors name the field and byte, the stream reader cuts any
// chunking the same way, and a bounded fuzz of random and mutated frames only ever yields a message or the
// protocol's own error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  decodeFrame, decodeUtf8, encodeAck, encodeError, encodeHello, encodeHelloOk, encodePing, encodeRecordPrefix, encodeRequestPrefix,
  encodeResponseError, encodeResponsePrefix, isReplicationErrorCode, ReplicationError, truncatedUtf8, type ReplicationMessage,
} from '../../../common/protocol/replication.js';
import { FrameMemory, FrameReader } from '../../../agent/replication/transport-framing.js';
import { prng } from '../../support/dataset.js';

const concat = (...parts: Uint8Array[]): Buffer => Buffer.concat(parts);
const helloFields = { window: 32 << 20, fromSeq: 2 ** 53 - 1, clusterId: 'c1', mirror: 'data', sourceNode: 'alpha', lineage: '9f3a,0' };

/** One valid frame of each type, and what it decodes to. */
function samples(): Array<[Buffer, ReplicationMessage]> {
  const payload = Buffer.from('payload bytes');
  return [
    [concat(encodeHello(helloFields)), { type: 'HELLO', version: 1, ...helloFields }],
    [concat(encodeHelloOk(41, '7,0')), { type: 'HELLO_OK', lastApplied: 41, lineage: '7,0' }],
    [concat(encodeRecordPrefix(9, payload.length), payload), { type: 'RECORD', seq: 9, payload: new Uint8Array(payload) }],
    [concat(encodeAck(2 ** 33)), { type: 'ACK', seq: 2 ** 33 }],
    [concat(encodeRequestPrefix(5, 'block-hashes', 3), Buffer.from('abc')), { type: 'REQUEST', id: 5, method: 'block-hashes', body: new Uint8Array(Buffer.from('abc')) }],
    [concat(encodeResponsePrefix(5, 2), Buffer.from('ok')), { type: 'RESPONSE', id: 5, body: new Uint8Array(Buffer.from('ok')) }],
    [concat(encodeResponseError(6, 'NO_SUCH_FILE', 'no such file: /données/€')), { type: 'RESPONSE_ERROR', id: 6, code: 'NO_SUCH_FILE', message: 'no such file: /données/€' }],
    [concat(encodeError('VIGIL_REPL_SEQ_GAP', 'seq 3, expected 2 😀')), { type: 'ERROR', code: 'VIGIL_REPL_SEQ_GAP', message: 'seq 3, expected 2 😀' }],
    [concat(encodePing()), { type: 'PING' }],
  ];
}

/** Compare with byte fields as plain arrays (a decoded field is a view into the frame). */
const plain = (m: ReplicationMessage): unknown => Object.fromEntries(Object.entries(m).map(([k, v]: [string, unknown]) => [k, v instanceof Uint8Array ? [...v] : v]));

test('every frame type round-trips', () => {
  for (const [frame, expected] of samples()) assert.deepEqual(plain(decodeFrame(frame)), plain(expected), expected.type);
});

test('decode errors name the field and the byte offset', () => {
  const hello = concat(encodeHello(helloFields));
  const cases: Array<[Buffer, string, RegExp]> = [
    [Buffer.from([3, 1, 0, 0, 0, 8]), 'VIGIL_REPL_FRAME', /byte 1: RECORD frame with flags 0x1/],
    [concat(encodeAck(1)).subarray(0, 10), 'VIGIL_REPL_FRAME', /byte 2: ACK frame announces 8 body bytes, 4 given/],
    [(() => { const b = Buffer.from(hello); b[14 + 6] = 0x05; return b; })(), 'VIGIL_REPL_FRAME', /HELLO\.clusterId/],
    [(() => { const b = concat(encodeRecordPrefix(1, 0)); b.writeUInt32BE(0, 6); b.writeUInt32BE(0, 10); return b; })(), 'VIGIL_REPL_FRAME', /byte 6: RECORD\.seq: 0/],
    [(() => { const b = concat(encodeError('X', 'ab')); b[b.length - 1] = 0xff; return b; })(), 'VIGIL_REPL_FRAME', /byte 11: ERROR\.message: not UTF-8/],
    [Buffer.concat([concat(encodeAck(1)).subarray(0, 2), Buffer.from([0, 0, 0, 9]), Buffer.alloc(9)]), 'VIGIL_REPL_FRAME_TOO_LARGE', /byte 2: ACK frame announces a body of 9 bytes, at most 8/],
    [Buffer.from([5, 0, 0, 0, 0, 5, 0, 0, 0, 1, 0]), 'VIGIL_REPL_FRAME', /REQUEST\.method: "" is not a method name/],
  ];
  for (const [frame, code, message] of cases) {
    assert.throws(() => decodeFrame(frame), (e: ReplicationError) => e instanceof ReplicationError && e.code === code && message.test(e.message), `${code} ${message}`);
  }
  assert.throws(() => encodeHello({ ...helloFields, lineage: 'not hex' }), (e: ReplicationError) => e.code === 'VIGIL_REPL_CONFIG' && /HELLO\.lineage/.test(e.message));
  assert.throws(() => encodeRequestPrefix(1, 'has space', 0), (e: ReplicationError) => e.code === 'VIGIL_REPL_CONFIG' && /REQUEST\.method/.test(e.message));
});

test('UTF-8: well-formed text round-trips, malformed bytes are found, long messages are cut at a character', () => {
  for (const text of ['', 'ascii', 'é€😀', '\u{10ffff}']) assert.equal(decodeUtf8(truncatedUtf8(text)), text);
  assert.equal(decodeUtf8(new Uint8Array([0x61, 0xc0, 0x80])), 1, 'overlong');
  assert.equal(decodeUtf8(new Uint8Array([0xed, 0xa0, 0x80])), 0, 'surrogate');
  assert.equal(decodeUtf8(new Uint8Array([0xf4, 0x90, 0x80, 0x80])), 0, 'beyond U+10FFFF');
  assert.equal(decodeUtf8(new Uint8Array([0xe2, 0x82])), 0, 'cut short');
  assert.equal(truncatedUtf8('€€', 5).length, 3, 'never half a character');
  assert.equal(decodeUtf8(truncatedUtf8('\ud800')), '\ufffd', 'a lone surrogate is replaced');
});


test('the stream reader yields the same frames however the bytes are chunked', () => {
  const frames = samples();
  const stream = Buffer.concat(frames.map(([f]) => f));
  const random = prng('codec 7');
  for (let round = 0; round < 200; round++) {
    const reader = new FrameReader();
    const got: ReplicationMessage[] = [];
    for (let at = 0; at < stream.length;) {
      const size = 1 + Math.floor(random() * 40);
      got.push(...reader.push(stream.subarray(at, at + size)).map((f) => f.message));
      at += size;
    }
    reader.finish();
    assert.deepEqual(got.map(plain), frames.map(([, m]) => plain(m)));
  }
  const reader = new FrameReader();
  reader.push(stream.subarray(0, stream.length - 1));
  assert.throws(() => reader.finish(), { code: 'VIGIL_REPL_TRUNCATED' });
});

test('records spanning chunks are put together in pooled memory of two sizes, used again only once given back', () => {
  const memory = new FrameMemory(2);
  const reader = new FrameReader(memory);
  const record = (seq: number, size: number): Buffer => {
    const payload = Buffer.alloc(size, seq);
    return concat(encodeRecordPrefix(seq, size), payload);
  };
  const sizes = [1024 * 1024, 300 * 1024, 1000, 1024 * 1024 + 40, 2 * 1024 * 1024, 64 * 1024, 20 * 1024];
  const stream = Buffer.concat(sizes.map((size, i) => record(i + 1, size)));
  const got: { seq: number; payload: Uint8Array }[] = [];
  for (let at = 0; at < stream.length; at += 16 * 1024) {
    for (const f of reader.push(stream.subarray(at, at + 16 * 1024))) {
      assert.equal(f.message.type, 'RECORD');
      if (f.message.type === 'RECORD') got.push({ seq: f.message.seq, payload: f.message.payload });
    }
  }
  reader.finish();
  // Each payload intact, although two of them will share memory once given back.
  assert.deepEqual(got.map((r) => [r.seq, r.payload.length, r.payload.every((b) => b === r.seq)]), sizes.map((size, i) => [i + 1, size, true]));
  const pooled = got.filter((r) => r.payload.length >= FrameMemory.MIN_POOLED_BYTES && r.payload.length + 14 <= FrameMemory.BUFFER_BYTES);
  assert.equal(pooled.length, 5, 'the 1 MiB, 300 KiB, 1 MiB + 40, 64 KiB and 20 KiB records; not the 1000-byte one nor the 2 MiB one');
  assert.equal(new Set(pooled.map((r) => r.payload.buffer)).size, 5, 'no two records in flight share memory');
  assert.deepEqual(pooled.map((r) => r.payload.buffer.byteLength), [1, 1, 1, 0, 0].map((large) => (large ? FrameMemory.BUFFER_BYTES : FrameMemory.SMALL_BUFFER_BYTES)),
    'a block\'s record and smaller ones in the small size');
  // Given back (twice for the first: counted once), the next large frame reuses the memory; a foreign buffer is ignored.
  memory.give(pooled[0]!.payload);
  memory.give(pooled[0]!.payload);
  memory.give(Buffer.alloc(FrameMemory.BUFFER_BYTES));
  const ninth = record(9, 512 * 1024);
  assert.deepEqual(reader.push(ninth.subarray(0, 1000)), []);
  const next = reader.push(ninth.subarray(1000));
  assert.equal(next.length, 1);
  const payload = next[0]!.message.type === 'RECORD' ? next[0]!.message.payload : undefined;
  assert.ok(payload !== undefined && payload.every((b) => b === 9));
  assert.ok(payload.buffer === pooled[0]!.payload.buffer, 'the memory given back');
  // A block's record takes the small size's memory given back, never the large one.
  memory.give(pooled[4]!.payload);
  const tenth = record(10, 64 * 1024);
  reader.push(tenth.subarray(0, 1000));
  const block = reader.push(tenth.subarray(1000))[0]!.message;
  assert.ok(block.type === 'RECORD' && block.payload.buffer === pooled[4]!.payload.buffer && block.payload.every((b) => b === 10));
});

test('fuzz (about 3 s): random and mutated frames yield a valid message or a ReplicationError, nothing else', (t) => {
  const seed = Date.now() >>> 0;
  t.diagnostic(`seed ${seed}`);
  const random = prng(`codec ${seed}`);
  const int = (n: number): number => Math.floor(random() * n);
  const valid = samples().map(([f]) => f);
  const deadline = Date.now() + 3000;
  const counts = { cases: 0, decoded: 0, refused: 0 };
  const codes = new Set<string>();
  while (Date.now() < deadline) {
    for (let i = 0; i < 200; i++) {
      let frame: Buffer;
      const kind = int(5);
      if (kind === 0) {
        frame = Buffer.alloc(int(80));
        for (let k = 0; k < frame.length; k++) frame[k] = int(256);
      } else {
        frame = Buffer.from(valid[int(valid.length)]!);
        const mutations = 1 + int(4);
        for (let m = 0; m < mutations; m++) {
          const what = kind === 1 ? 0 : int(4);
          if (what === 0 && frame.length > 0) frame[int(frame.length)] = int(256);
          else if (what === 1) frame = frame.subarray(0, int(frame.length + 1));
          else if (what === 2) frame = Buffer.concat([frame, Buffer.from([int(256), int(256)])]);
          else if (frame.length >= 6) frame.writeUInt32BE(int(4) === 0 ? int(0x100000000) : Math.max(0, frame.length - 6 + int(5) - 2), 2);
        }
      }
      counts.cases++;
      try {
        const m = decodeFrame(frame);
        assert.ok(typeof m.type === 'string', 'a decoded message has a type');
        counts.decoded++;
      } catch (e) {
        if (!(e instanceof ReplicationError) || !isReplicationErrorCode(e.code) || !/byte \d+/.test(e.message)) {
          assert.fail(`seed ${seed}: ${frame.toString('hex')} threw ${String(e)}`);
        }
        codes.add(e.code);
        counts.refused++;
      }
      // The stream reader must agree: the same bytes as one chunk either decode or throw the protocol's error.
      try {
        new FrameReader().push(frame);
      } catch (e) {
        if (!(e instanceof ReplicationError)) assert.fail(`seed ${seed}: reader threw ${String(e)} on ${frame.toString('hex')}`);
      }
    }
  }
  t.diagnostic(`${JSON.stringify(counts)}; codes seen: ${[...codes].sort().join(', ')}`);
  assert.ok(counts.decoded > 0 && counts.refused > 0, 'the fuzz reached both outcomes');
});
