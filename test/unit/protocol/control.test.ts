import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_FRAME_BYTES, ProtocolError, decodeRequest, decodeResponse, encodeError, encodeRequest, encodeResult } from '../../../common/protocol/control.js';

function rejects(text: string, code: string, message?: RegExp): void {
  assert.throws(() => decodeRequest(text), (e: unknown) => {
    assert.ok(e instanceof ProtocolError, String(e));
    assert.equal(e.code, code, e.message);
    if (message) assert.match(e.message, message);
    return true;
  });
}

test('a request survives encoding and decoding', () => {
  const frame = decodeRequest(encodeRequest(7, 'switchover', { group: 'web', node: 'beta' }));
  assert.deepEqual(frame, { v: 1, id: 7, method: 'switchover', params: { group: 'web', node: 'beta' } });
});

test('bad frames are refused with the code callers match on, naming what is wrong', () => {
  rejects('{not json', 'BAD_FRAME', /not JSON/);
  rejects('[1,2]', 'BAD_FRAME', /not a request/);
  rejects(JSON.stringify({ v: 1, id: 1 }), 'BAD_FRAME', /method/);
  rejects(JSON.stringify({ v: 2, id: 1, method: 'status' }), 'BAD_VERSION', /version 2/);
  rejects(JSON.stringify({ v: 1, id: 1, method: 'reboot' }), 'UNKNOWN_METHOD', /"reboot"/);
  rejects(JSON.stringify({ v: 1, id: 1, method: 'switchover', params: { group: 5 } }), 'BAD_PARAMS', /params\.group/);
  rejects(JSON.stringify({ v: 1, id: 1, method: 'maintenance', params: { on: 'yes' } }), 'BAD_PARAMS', /params\.on/);
  rejects(JSON.stringify({ v: 1, id: 1, method: 'status', params: { extra: 1 } }), 'BAD_PARAMS', /extra/);
  rejects(JSON.stringify({ v: 1, id: 1, method: 'events', params: { kinds: ['nonsense'] } }), 'BAD_PARAMS', /params\.kinds\.0/);
  rejects('x'.repeat(MAX_FRAME_BYTES + 1), 'BAD_FRAME', /exceeds/);
});

test('the request id travels back in errors raised after the envelope was read', () => {
  try {
    decodeRequest(JSON.stringify({ v: 1, id: 42, method: 'nope' }));
    assert.fail('should throw');
  } catch (e) {
    assert.ok(e instanceof ProtocolError);
    assert.equal(e.id, 42);
  }
});

test('responses decode; a malformed response is refused', () => {
  assert.deepEqual(decodeResponse(encodeResult<'maintenance'>(3, { on: true })), { v: 1, id: 3, ok: true, result: { on: true } });
  const error = decodeResponse(encodeError(4, 'NOT_FOUND', 'no group "x"'));
  assert.equal(error.ok, false);
  assert.throws(() => decodeResponse('{"v":1,"id":1,"ok":false,"error":{"code":"WHATEVER","message":""}}'), ProtocolError);
  assert.throws(() => decodeResponse('garbage'), ProtocolError);
});
