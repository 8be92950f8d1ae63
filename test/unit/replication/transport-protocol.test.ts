// A peer holding the right key but sending bad frames: each is refused with its code, the connection is closed with
// an ERROR frame naming the offending byte, the server reports it, and the applier is never called.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { encodeHello, encodeRecordPrefix, FRAME_TYPES, REPLICATION_PROTOCOL_VERSION, type ReplicationMessage } from '../../../common/protocol/replication.js';
import { FrameReader } from '../../../agent/replication/transport-framing.js';
import { closedPromise, CLUSTER, MemoryTarget, MIRROR, rawClient, startServer, until } from './transport-helpers.js';

const LONG = 30_000;

const hello = (over: Partial<Parameters<typeof encodeHello>[0]> = {}): Buffer =>
  Buffer.from(encodeHello({ window: 1 << 20, lineage: '1', fromSeq: 1, clusterId: CLUSTER, mirror: MIRROR, sourceNode: 'alpha', ...over }));
const record = (seq: number, payload = Buffer.alloc(16)): Buffer => Buffer.concat([encodeRecordPrefix(seq, payload.length), payload]);

function framesOf(received: Buffer[]): ReplicationMessage[] {
  return new FrameReader().push(Buffer.concat(received)).map((f) => f.message);
}

async function setup(t: TestContext) {
  const target = new MemoryTarget();
  const { server, errors } = await startServer(t, { [MIRROR]: target });
  const raw = await rawClient(t, server.port);
  return { target, errors, raw };
}

/** Write `bytes`, expect the server to close with `code`: reported, sent to us in an ERROR frame, nothing applied. */
async function refused(t: TestContext, code: string, send: (raw: Awaited<ReturnType<typeof rawClient>>) => Promise<void> | void, message?: RegExp): Promise<void> {
  const { target, errors, raw } = await setup(t);
  await send(raw);
  await closedPromise(raw);
  await until(`${code} reported`, () => errors.length > 0, LONG);
  assert.equal(errors[0]!.code, code, errors[0]!.message);
  if (message) assert.match(errors[0]!.message, message);
  const error = framesOf(raw.received).find((m) => m.type === 'ERROR');
  if (code !== 'VIGIL_REPL_TRUNCATED') assert.deepEqual(error && { type: error.type, code: error.type === 'ERROR' ? error.code : '' }, { type: 'ERROR', code });
  assert.deepEqual(target.applied, [], 'the applier is never called');
}

test('garbage bytes are refused as an unknown frame type, naming the stream byte', async (t) => {
  await refused(t, 'VIGIL_REPL_UNKNOWN_FRAME', (raw) => { raw.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'); }, /stream byte 0.*unknown frame type 71/);
});

test('an unknown frame type after a valid HELLO is refused at its offset', async (t) => {
  await refused(t, 'VIGIL_REPL_UNKNOWN_FRAME', async (raw) => {
    const h = hello();
    raw.write(h);
    await until('HELLO_OK', () => framesOf(raw.received).some((m) => m.type === 'HELLO_OK'), LONG);
    raw.write(Buffer.from([0xee, 0, 0, 0, 0, 0]));
  }, /stream byte 46 \(frame at 46, byte 0: unknown frame type 238/);
});

test('an oversized length is refused from the header alone, before any body arrives', async (t) => {
  await refused(t, 'VIGIL_REPL_FRAME_TOO_LARGE', (raw) => {
    const header = Buffer.alloc(6);
    header.writeUInt8(FRAME_TYPES.RECORD, 0);
    header.writeUInt32BE(0xffffffff, 2);
    raw.write(header); // six bytes, and nothing more: the refusal cannot have waited for 4 GiB
  }, /stream byte 2 .*RECORD frame announces a body of 4294967295 bytes/);
});

test('a frame cut short by the end of the connection is refused as truncated', async (t) => {
  await refused(t, 'VIGIL_REPL_TRUNCATED', async (raw) => {
    raw.write(hello());
    await until('HELLO_OK', () => framesOf(raw.received).some((m) => m.type === 'HELLO_OK'), LONG);
    raw.end(record(1, Buffer.alloc(1000)).subarray(0, 500));
  }, /closed 500 bytes into a frame of 1014 bytes/);
});

test('a seq gap is refused, naming the seq expected', async (t) => {
  await refused(t, 'VIGIL_REPL_SEQ_GAP', async (raw) => {
    raw.write(hello());
    await until('HELLO_OK', () => framesOf(raw.received).some((m) => m.type === 'HELLO_OK'), LONG);
    raw.write(record(2));
  }, /RECORD\.seq 2, expected 1/);
});

test('a RECORD before HELLO is refused', async (t) => {
  await refused(t, 'VIGIL_REPL_UNEXPECTED', (raw) => { raw.write(record(1)); }, /RECORD before HELLO_OK/);
});

test('a HELLO of another protocol version is refused with VIGIL_REPL_VERSION', async (t) => {
  await refused(t, 'VIGIL_REPL_VERSION', (raw) => {
    const h = hello();
    h.writeUInt16BE(REPLICATION_PROTOCOL_VERSION + 1, 6);
    raw.write(h);
  }, /HELLO\.version: protocol version 2/);
});

test('a HELLO naming another node than the TLS identity is refused with VIGIL_REPL_AUTH', async (t) => {
  await refused(t, 'VIGIL_REPL_AUTH', (raw) => { raw.write(hello({ sourceNode: 'gamma' })); }, /"gamma".*"alpha"/);
});

test('a malformed HELLO field is refused, naming the field and offset', async (t) => {
  await refused(t, 'VIGIL_REPL_FRAME', (raw) => {
    const h = hello();
    h.writeUInt32BE(0x00400000, 12); // fromSeq's high word beyond 2^53
    raw.write(h);
  }, /byte 12: HELLO\.fromSeq: beyond 2\^53 - 1/);
});

test('records with seqs already applied are acknowledged and skipped, never applied twice', async (t) => {
  const target = new MemoryTarget();
  const { server } = await startServer(t, { [MIRROR]: target });
  const raw = await rawClient(t, server.port);
  raw.write(hello());
  await until('HELLO_OK', () => framesOf(raw.received).some((m) => m.type === 'HELLO_OK'), LONG);
  const payload = (seq: number) => { const b = Buffer.alloc(8); b.writeUInt32BE(seq, 0); return b; };
  raw.write(Buffer.concat([record(1, payload(1)), record(2, payload(2)), record(1, payload(1)), record(2, payload(2)), record(3, payload(3))]));
  await until('acked 3', () => framesOf(raw.received).some((m) => m.type === 'ACK' && m.seq === 3), LONG);
  assert.deepEqual(target.applied, [1, 2, 3]);
});

test('the session is TLS 1.3 with a pre-shared key and an ephemeral ECDHE exchange (forward secrecy)', async (t) => {
  const { raw } = await setup(t);
  assert.equal(raw.getProtocol(), 'TLSv1.3');
  assert.equal(raw.getCipher().name, 'TLS_AES_128_GCM_SHA256');
  assert.equal(raw.getPeerCertificate().subject, undefined, 'no certificate: the key is the credential');
  const ephemeral = raw.getEphemeralKeyInfo();
  assert.ok(ephemeral && 'type' in ephemeral && ephemeral.type === 'ECDH', JSON.stringify(ephemeral));
});
