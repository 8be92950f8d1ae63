// The protocol session on a scripted socket and a fake clock: the handshake, refusals, response matching,
// timeouts and events, with no network and no sleeping.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProtocolSession, type SessionSocket, type SessionTimers } from '../../../common/protocol/session.js';
import type { Welcome } from '../../../common/protocol/api.js';

class FakeClock implements SessionTimers {
  now = 0;
  private timers = new Map<number, { at: number; cb: () => void }>();
  private next = 1;
  setTimeout(cb: () => void, ms: number): unknown { const id = this.next++; this.timers.set(id, { at: this.now + ms, cb }); return id; }
  clearTimeout(handle: unknown): void { this.timers.delete(handle as number); }
  advance(ms: number): void {
    this.now += ms;
    for (const [id, t] of [...this.timers]) if (t.at <= this.now) { this.timers.delete(id); t.cb(); }
  }
  get pending(): number { return this.timers.size; }
}

class FakeSocket implements SessionSocket {
  sent: unknown[] = [];
  closed = 0;
  handlers: { message(text: string): void; closed(reason: Error): void } | undefined;
  send(text: string): void { this.sent.push(JSON.parse(text)); }
  close(): void { this.closed++; }
  listen(h: { message(text: string): void; closed(reason: Error): void }): void { this.handlers = h; }
  receive(message: object): void { this.handlers!.message(JSON.stringify(message)); }
}

const WELCOME: Welcome = {
  type: 'welcome', version: 2, node: 'alpha', cluster: 'it', agentVersion: '0.1.0',
  principal: { name: 'olga', role: 'operator', via: 'token' }, methods: ['status'], capabilities: ['events'],
};

async function opened(clock = new FakeClock()): Promise<{ session: ProtocolSession; socket: FakeSocket; clock: FakeClock }> {
  const socket = new FakeSocket();
  const opening = ProtocolSession.open(socket, { timers: clock, timeoutMs: 1000, client: 'unit', token: 'tok' });
  assert.deepEqual(socket.sent, [{ type: 'hello', versions: [2], client: 'unit', token: 'tok' }]);
  socket.receive(WELCOME);
  return { session: await opening, socket, clock };
}

test('session: welcome, then responses matched by id in any order, errors as ProtocolError, events to listeners', async () => {
  const { session, socket, clock } = await opened();
  assert.equal(session.welcome.node, 'alpha');
  assert.equal(clock.pending, 0, 'the handshake timer is cleared');
  const a = session.call('status', {});
  const b = session.call('switchover', { group: 'web' });
  assert.deepEqual(socket.sent.slice(1), [
    { type: 'request', id: 1, method: 'status', params: {} }, { type: 'request', id: 2, method: 'switchover', params: { group: 'web' } },
  ]);
  socket.receive({ type: 'response', id: 2, ok: false, error: { code: 'NOT_ELIGIBLE', message: 'no' } });
  socket.receive({ type: 'response', id: 1, ok: true, result: { cluster: 'it' } });
  assert.deepEqual(await a, { cluster: 'it' });
  await assert.rejects(b, { name: 'ProtocolError', code: 'NOT_ELIGIBLE' });
  const seen: number[] = [];
  const sub = session.onEvent((e) => seen.push(e.seq));
  socket.receive({ type: 'event', seq: 1, topic: 'alerts', data: [] });
  sub.dispose();
  socket.receive({ type: 'event', seq: 2, topic: 'alerts', data: [] });
  assert.deepEqual(seen, [1]);
  assert.equal(clock.pending, 0);
});

test('session: a refusal rejects with its code and closes; silence times out', async () => {
  const clock = new FakeClock();
  const socket = new FakeSocket();
  const refused = ProtocolSession.open(socket, { timers: clock, timeoutMs: 1000 });
  socket.receive({ type: 'refused', error: { code: 'BAD_CREDENTIALS', message: 'unknown token' } });
  await assert.rejects(refused, { code: 'BAD_CREDENTIALS', message: 'unknown token' });
  assert.equal(socket.closed, 1);

  const quiet = new FakeSocket();
  const waiting = ProtocolSession.open(quiet, { timers: clock, timeoutMs: 1000 });
  clock.advance(1000);
  await assert.rejects(waiting, { code: 'TIMEOUT' });
  assert.equal(clock.pending, 0);
});

test('session: a request times out; the socket closing fails what is pending, and later calls', async () => {
  const { session, socket, clock } = await opened();
  const slow = session.call('status', {}, 500);
  clock.advance(500);
  await assert.rejects(slow, { code: 'TIMEOUT' });
  const pending = session.call('status', {});
  socket.handlers!.closed(new Error('gone'));
  await assert.rejects(pending, { message: 'gone' });
  await assert.rejects(session.call('status', {}), { message: 'gone' });
  assert.equal(session.closed, true);
  assert.equal((await session.ended).message, 'gone');
  assert.equal(clock.pending, 0);
});

test('session: garbage from the agent ends the session with BAD_FRAME', async () => {
  const { session, socket } = await opened();
  const pending = session.call('status', {});
  socket.handlers!.message('{not json');
  await assert.rejects(pending, { code: 'BAD_FRAME' });
  assert.equal(socket.closed, 1);
});
