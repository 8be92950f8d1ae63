import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ERROR_CODES, MAX_FRAME_BYTES, METHODS, ProtocolError, decodeClientMessage, decodeServerMessage, encodeMessage, errorRequestId,
  methods, methodsFor, requiredRole, type ErrorCode,
} from '../../../common/protocol/api.js';

/** The decoder's verdict on a frame: the code and message it refused it with, and the request id it kept. */
function refusal(frame: string): { code: ErrorCode; message: string; id: number | undefined } {
  try {
    decodeClientMessage(frame);
  } catch (e) {
    assert.ok(e instanceof ProtocolError, `a ProtocolError, not ${String(e)}`);
    return { code: e.code, message: e.message, id: errorRequestId(e) };
  }
  assert.fail(`${frame.slice(0, 80)} was accepted`);
}

const request = (method: unknown, params?: unknown, id: unknown = 7): string => JSON.stringify({ type: 'request', id, method, ...(params === undefined ? {} : { params }) });

test('valid messages decode to themselves; absent params are an empty object', () => {
  assert.deepEqual(decodeClientMessage('{"type":"hello","versions":[2],"client":"cli","token":"t"}'), { type: 'hello', versions: [2], client: 'cli', token: 't' });
  assert.deepEqual(decodeClientMessage(request('switchover', { group: 'web', node: 'beta' })), { type: 'request', id: 7, method: 'switchover', params: { group: 'web', node: 'beta' } });
  assert.deepEqual(decodeClientMessage(request('status')), { type: 'request', id: 7, method: 'status', params: {} });
  assert.deepEqual(decodeClientMessage(request('subscribe', { topics: ['status', 'events'] }, 0)), { type: 'request', id: 0, method: 'subscribe', params: { topics: ['status', 'events'] } });
  const message = { type: 'request', id: 3, method: 'config.propose', params: { text: 'a: 1\n', baseGeneration: 4, comment: 'x' } } as const;
  assert.deepEqual(decodeClientMessage(encodeMessage(message)), message);
});

test('frames that are not messages: BAD_FRAME, saying why', () => {
  const truncated = refusal('{"type":');
  assert.deepEqual([truncated.code, truncated.id], ['BAD_FRAME', undefined]);
  assert.match(truncated.message, /^not JSON: /);
  assert.match(refusal('').message, /^not JSON/);
  assert.match(refusal('[1,2]').message, /^a message is a JSON object$/);
  assert.match(refusal('null').message, /^a message is a JSON object$/);
  assert.match(refusal('"hello"').message, /^a message is a JSON object$/);
  assert.match(refusal('{"type":"bogus"}').message, /^unknown message type "bogus" \(expected "hello" or "request"\)$/);
  assert.match(refusal('{"id":1}').message, /^unknown message type undefined/);
  assert.match(refusal('{"type":["hello"]}').message, /^unknown message type \["hello"\]/);
  const big = refusal(JSON.stringify({ type: 'hello', versions: [2], client: 'x'.repeat(MAX_FRAME_BYTES) }));
  assert.equal(big.code, 'BAD_FRAME');
  assert.match(big.message, /exceeds 1048576/);
});

test('a bad hello names its field', () => {
  assert.match(refusal('{"type":"hello","client":"c"}').message, /^not a hello: versions: /);
  assert.match(refusal('{"type":"hello","versions":[],"client":"c"}').message, /^not a hello: versions: /);
  assert.match(refusal('{"type":"hello","versions":["2"],"client":"c"}').message, /^not a hello: versions\.0: /);
  assert.match(refusal('{"type":"hello","versions":[2.5],"client":"c"}').message, /versions\.0: /);
  assert.match(refusal('{"type":"hello","versions":[2],"client":5}').message, /^not a hello: client: /);
  assert.match(refusal(`{"type":"hello","versions":[2],"client":"c","token":"${'t'.repeat(401)}"}`).message, /token: /);
  assert.match(refusal('{"type":"hello","versions":[2],"client":"c","role":"admin"}').message, /^not a hello: \(message\): .*role/);
  assert.equal(refusal('{"type":"hello","versions":[2],"client":"c","role":"admin"}').code, 'BAD_FRAME');
});

test('a bad request envelope names its field and keeps the id when it has one', () => {
  const noId = refusal('{"type":"request","method":"status"}');
  assert.deepEqual([noId.code, noId.id], ['BAD_FRAME', undefined]);
  assert.match(noId.message, /^not a request: id: /);
  assert.match(refusal(request('status', {}, -1)).message, /^not a request: id: /);
  assert.equal(refusal(request('status', {}, -1)).id, undefined);
  assert.equal(refusal(request('status', {}, 1.5)).id, undefined);
  assert.equal(refusal(request('status', {}, '7')).id, undefined);
  const badMethod = refusal(request(42, {}, 9));
  assert.deepEqual([badMethod.code, badMethod.id], ['BAD_FRAME', 9]);
  assert.match(badMethod.message, /^not a request: method: /);
  assert.match(refusal('{"type":"request","id":1,"method":"status","extra":true}').message, /not a request: \(message\): .*extra/);
});

test('an unknown method: UNKNOWN_METHOD listing the known ones, with the id', () => {
  const r = refusal(request('reboot', {}, 12));
  assert.deepEqual([r.code, r.id], ['UNKNOWN_METHOD', 12]);
  assert.match(r.message, /^unknown method "reboot" \(known: status, snapshot, /);
  // Names an object inherits are no methods of ours.
  for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) assert.equal(refusal(request(name, {})).code, 'UNKNOWN_METHOD', name);
});

test('wrong parameters: BAD_PARAMS naming the field as params.<path>, with the id', () => {
  const cases: [string, unknown, RegExp][] = [
    ['switchover', {}, /^params\.group: /],
    ['switchover', { group: 5 }, /^params\.group: /],
    ['switchover', { group: '' }, /^params\.group: /],
    ['switchover', { group: 'web', node: 'x'.repeat(64) }, /^params\.node: /],
    ['switchover', { group: 'web', force: true }, /^params: .*force/],
    ['maintenance', { on: 'yes' }, /^params\.on: /],
    ['subscribe', { topics: ['status', 'weather'] }, /^params\.topics\.1: /],
    ['subscribe', { topics: [] }, /^params\.topics: /],
    ['events', { limit: 0 }, /^params\.limit: /],
    ['events', { kinds: ['explosion'] }, /^params\.kinds\.0: /],
    ['mirror', { action: 'explode' }, /^params\.action: /],
    ['mirror', { action: 'full', name: 'data', thorough: true }, /^params\.thorough: goes with the action diff only/],
    ['mirror', { action: 'diff', name: 'data', thorough: 'yes' }, /^params\.thorough: /],
    ['config.propose', { text: 'a: 1' }, /^params\.baseGeneration: /],
    ['config.prepare', { version: { generation: 2, text: '', digest: 'nothex', author: 'a', at: 0, comment: '', parent: 1 } }, /^params\.version\.digest: a sha-256 in hex/],
    ['status', [], /^params: /],
    ['status', 'x', /^params: /],
  ];
  for (const [method, params, message] of cases) {
    const r = refusal(request(method, params, 21));
    assert.equal(r.code, 'BAD_PARAMS', `${method} ${JSON.stringify(params)}`);
    assert.equal(r.id, 21);
    assert.match(r.message, message, `${method} ${JSON.stringify(params)}: ${r.message}`);
  }
  // Two problems: both named.
  assert.match(refusal(request('config.rollback', { toGeneration: 0, baseGeneration: 'x' })).message, /params\.toGeneration: .*; params\.baseGeneration: /);
});

test('server messages: the envelope is checked', () => {
  assert.deepEqual(decodeServerMessage('{"type":"response","id":1,"ok":false,"error":{"code":"FORBIDDEN","message":"no"}}'),
    { type: 'response', id: 1, ok: false, error: { code: 'FORBIDDEN', message: 'no' } });
  assert.throws(() => decodeServerMessage('{"type":"response","id":1,"ok":false,"error":{"code":"OOPS","message":"no"}}'), (e: unknown) => e instanceof ProtocolError && e.code === 'BAD_FRAME');
  assert.throws(() => decodeServerMessage('{"type":"event","seq":1,"topic":"weather","data":{}}'), /agent sent a message that is not of this protocol/);
});

test('methodsFor: each role sees what it may call, nothing more', () => {
  const viewer = methodsFor('viewer');
  const operator = methodsFor('operator');
  const admin = methodsFor('admin');
  const node = methodsFor('node');
  for (const m of ['status', 'snapshot', 'subscribe', 'unsubscribe', 'events', 'alerts.list', 'config.get', 'config.history', 'mirror'] as const) {
    assert.ok(viewer.includes(m), `viewer: ${m}`);
  }
  for (const m of ['switchover', 'switchback', 'maintenance', 'cleanup', 'group.stop', 'group.start', 'alerts.ack', 'alerts.test', 'audit.list', 'config.propose', 'config.check'] as const) {
    assert.ok(!viewer.includes(m), `not viewer: ${m}`);
  }
  assert.deepEqual(operator.filter((m) => !viewer.includes(m)).sort(), ['alerts.ack', 'alerts.test', 'cleanup', 'group.start', 'group.stop', 'maintenance', 'switchback', 'switchover']);
  assert.deepEqual(admin.filter((m) => !operator.includes(m)).sort(), ['audit.list', 'config.propose', 'config.rollback', 'config.validate']);
  assert.ok(!admin.some((m) => m.startsWith('config.') && methods[m].role === 'node'), 'an admin is no agent: no two-phase methods');
  // Agents: the viewer's methods (to read each other) and the two-phase ones; never a user's control command.
  assert.deepEqual(node.filter((m) => !viewer.includes(m)).sort(), ['config.abort', 'config.check', 'config.commit', 'config.current', 'config.fetch', 'config.prepare']);
  assert.deepEqual([...new Set([...admin, ...node])].sort(), [...METHODS].sort(), 'every method is callable by someone');
});

test('requiredRole: a mirror status is a viewer\'s, other mirror actions an operator\'s; otherwise the method\'s role', () => {
  assert.equal(requiredRole('mirror', { action: 'status' }), 'viewer');
  assert.equal(requiredRole('mirror', { action: 'status', name: 'data' }), 'viewer');
  for (const action of ['full', 'diff', 'pause-target', 'pause-source', 'resume', 'verify'] as const) assert.equal(requiredRole('mirror', { action, name: 'data' }), 'operator', action);
  assert.equal(requiredRole('status', {}), 'viewer');
  assert.equal(requiredRole('switchover', { group: 'web' }), 'operator');
  assert.equal(requiredRole('audit.list', {}), 'admin');
  assert.equal(requiredRole('config.commit', { generation: 2, digest: '0'.repeat(64) }), 'node');
  assert.ok(ERROR_CODES.includes('RATE_LIMITED'));
});
