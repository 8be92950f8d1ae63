// Mutated client messages against the decoder: whatever arrives, the answer is a valid message or a
// ProtocolError with one of our codes, never another exception (a TypeError or a RangeError would reach the
// session as INTERNAL, or worse, escape). Seeded, so a failure replays; bounded in cases and in time.
import { test } from 'node:test';
import { prng } from '../../support/dataset.js';
import assert from 'node:assert/strict';
import {
  ERROR_CODES, METHODS, ProtocolError, decodeClientMessage, encodeMessage, helloSchema, methods, type ClientMessage, type Method,
} from '../../../common/protocol/api.js';

const SEED = 'vigil-api-fuzz';
const MAX_CASES = 200_000;
const MAX_MS = 3_000;

const SEEDS: object[] = [
  { type: 'hello', versions: [2], client: 'vigil', token: 'vgl_0123456789abcdef_secret' },
  { type: 'hello', versions: [1, 2, 3], client: 'monitoring-center' },
  { type: 'request', id: 1, method: 'status', params: {} },
  { type: 'request', id: 2, method: 'switchover', params: { group: 'web', node: 'beta' } },
  { type: 'request', id: 3, method: 'subscribe', params: { topics: ['status', 'events', 'alerts'] } },
  { type: 'request', id: 4, method: 'events', params: { since: 1, until: 2, kinds: ['failover', 'peer-lost'], group: 'web', limit: 10 } },
  { type: 'request', id: 5, method: 'mirror', params: { action: 'verify', name: 'data' } },
  { type: 'request', id: 6, method: 'maintenance', params: { on: true } },
  { type: 'request', id: 7, method: 'alerts.ack', params: { id: 'a-1' } },
  { type: 'request', id: 8, method: 'config.propose', params: { text: 'cluster: { id: it }\n', baseGeneration: 3, comment: 'c' } },
  { type: 'request', id: 9, method: 'config.prepare', params: { version: { generation: 2, text: 'x', digest: 'a'.repeat(64), author: 'admin', at: 1, comment: '', parent: 1 } } },
  { type: 'request', id: 10, method: 'config.commit', params: { generation: 2, digest: 'b'.repeat(64) } },
];

const ODD_STRINGS = ['', '\u0000', '\ud800', '\udfff\ud800', '😀'.repeat(20), '\u202e\u200b\ufeff', 'é'.repeat(70), '__proto__', 'constructor', 'x'.repeat(600_000), 'hello', 'request', '-1', '1e999'];
const ODD_NUMBERS = [0, -0, -1, 1.5, 2 ** 53, 2 ** 53 + 2, Number.MAX_VALUE, -Number.MAX_VALUE, Number.MIN_VALUE, 1e21, 4294967297];
/** Written into JSON text as is: numbers JSON.stringify cannot produce. */
const ODD_NUMBER_LITERALS = ['1e999', '-1e999', '123456789012345678901234567890', '0.0000000000000000000000001', '-0', '1E+2', '9007199254740993'];

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function pick<T>(rand: () => number, items: readonly T[]): T {
  return items[Math.floor(rand() * items.length)]!;
}

function oddValue(rand: () => number, depth = 0): Json {
  switch (Math.floor(rand() * 9)) {
    case 0: return null;
    case 1: return rand() < 0.5;
    case 2: return pick(rand, ODD_NUMBERS);
    case 3: return pick(rand, ODD_STRINGS);
    case 4: return depth > 2 ? [] : [oddValue(rand, depth + 1), oddValue(rand, depth + 1)];
    case 5: return depth > 2 ? {} : { [pick(rand, ['type', 'id', 'method', 'params', 'group', 'topics', '__proto__', 'x'])]: oddValue(rand, depth + 1) };
    case 6: return pick(rand, METHODS);
    case 7: return Math.floor(rand() * 100);
    default: return 'web';
  }
}

/** Every container and the key of one of its values, so one can be replaced or removed. */
function slots(value: Json, out: { parent: Json[] | { [key: string]: Json }; key: string | number }[] = []): typeof out {
  if (Array.isArray(value)) value.forEach((v, i) => { out.push({ parent: value, key: i }); slots(v, out); });
  else if (value !== null && typeof value === 'object') for (const [k, v] of Object.entries(value)) { out.push({ parent: value, key: k }); slots(v, out); }
  return out;
}

function deepNest(rand: () => number): string {
  const depth = 1 + Math.floor(rand() * 20_000);
  const open = rand() < 0.5 ? '[' : '{"a":';
  const close = open === '[' ? ']' : '}';
  return `{"type":"request","id":1,"method":"status","params":{"x":${open.repeat(depth)}1${close.repeat(depth)}}}`;
}

/** One mutated frame: structural changes to a seed's JSON, or byte-level damage to its text. */
function mutate(rand: () => number): string {
  const seed = structuredClone(pick(rand, SEEDS)) as Json;
  const kind = Math.floor(rand() * 9);
  if (kind <= 3) {
    // Type swaps, removals, additions, odd values in any field.
    for (let n = 1 + Math.floor(rand() * 3); n > 0; n--) {
      const all = slots(seed);
      const slot = all.length === 0 ? undefined : pick(rand, all);
      if (slot === undefined) break;
      const { parent, key } = slot;
      const action = rand();
      if (action < 0.2 && !Array.isArray(parent)) Reflect.deleteProperty(parent, key);
      else if (action < 0.3 && !Array.isArray(parent)) parent[pick(rand, ['extra', '__proto__', 'constructor', 'token', 'id'])] = oddValue(rand);
      else (parent as Record<string | number, Json>)[key] = oddValue(rand);
    }
    return JSON.stringify(seed);
  }
  let text = JSON.stringify(seed);
  switch (kind) {
    case 4: { // byte flips
      const chars = [...text];
      for (let n = 1 + Math.floor(rand() * 4); n > 0; n--) chars[Math.floor(rand() * chars.length)] = String.fromCharCode(Math.floor(rand() * 0x10000));
      return chars.join('');
    }
    case 5: return text.slice(0, Math.floor(rand() * text.length)); // truncation
    case 6: { // a number written as JSON allows but JavaScript cannot hold exactly
      const literal = pick(rand, ODD_NUMBER_LITERALS);
      const replaced = text.replace(/(?<=[:[,])\d+(?=[,}\]])/g, (m) => (rand() < 0.5 ? literal : m));
      return replaced === text ? text.replace('"id":', `"id":${literal},"_":`) : replaced;
    }
    case 7: return deepNest(rand);
    default: { // splices: repeated sections, duplicate keys, raw unicode
      const at = Math.floor(rand() * text.length);
      const insert = pick(rand, [text.slice(0, at), '"type":"hello",', ',"id":2', '\\ud800', '\u0000', '}', ']', '"', '\\u0000', '😀']);
      text = text.slice(0, at) + insert + text.slice(at);
      return text;
    }
  }
}

/** A decoded message must be one the schemas admit: the decoder never hands a handler what it should have refused. */
function assertValid(message: ClientMessage, frame: string): void {
  if (message.type === 'hello') {
    assert.ok(helloSchema.safeParse(message).success, `invalid hello accepted: ${frame.slice(0, 200)}`);
    return;
  }
  assert.equal(message.type, 'request');
  assert.ok(Number.isSafeInteger(message.id) && message.id >= 0, `bad id accepted: ${frame.slice(0, 200)}`);
  assert.ok((METHODS as string[]).includes(message.method), `unknown method accepted: ${frame.slice(0, 200)}`);
  assert.ok(methods[message.method as Method].params.safeParse(message.params).success, `bad params accepted: ${frame.slice(0, 200)}`);
}

test('fuzz: mutated client messages decode to valid messages or ProtocolErrors with our codes, nothing else', (t) => {
  const rand = prng(SEED);
  const outcomes = new Map<string, number>();
  const started = Date.now();
  let cases = 0;
  while (cases < MAX_CASES && Date.now() - started < MAX_MS) {
    const frame = cases < SEEDS.length ? encodeMessage(SEEDS[cases] as ClientMessage) : mutate(rand);
    cases += 1;
    let outcome: string;
    try {
      const message = decodeClientMessage(frame);
      assertValid(message, frame);
      outcome = `accepted ${message.type}`;
    } catch (e) {
      if (e instanceof assert.AssertionError) throw e;
      assert.ok(e instanceof ProtocolError, `case ${cases}: ${String(e)} for ${JSON.stringify(frame.slice(0, 300))}`);
      assert.ok((ERROR_CODES as readonly string[]).includes(e.code), `case ${cases}: unknown code ${e.code}`);
      assert.equal(typeof e.message, 'string');
      outcome = e.code;
    }
    outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
  }
  const summary = `${cases} cases in ${Date.now() - started} ms: ${[...outcomes].map(([k, n]) => `${k} ${n}`).join(', ')}`;
  t.diagnostic(summary);
  console.log(`api fuzz: ${summary}`);
  // Every kind of outcome showed up, so the mutations reach past the first check.
  for (const expected of ['accepted request', 'accepted hello', 'BAD_FRAME', 'BAD_PARAMS', 'UNKNOWN_METHOD']) assert.ok(outcomes.has(expected), `no case ended in ${expected}: ${summary}`);
});
