// The center's push coalescing: within a window a node's latest view wins, keeping the strongest `what`; other
// nodes and cluster changes are kept in order; a removal drops its cluster's pending views; disposal leaves no timer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CenterChange, CenterNodeView } from '../../../common/ipc/contract.js';
import { ChangeCoalescer, type CoalescerTimers } from '../../../main/core/change-coalescer.js';

class ManualTimers implements CoalescerTimers {
  armed: (() => void)[] = [];
  cleared = 0;
  setTimeout(fn: () => void): unknown { this.armed.push(fn); return fn; }
  clearTimeout(h: unknown): void { const i = this.armed.indexOf(h as () => void); if (i >= 0) { this.armed.splice(i, 1); this.cleared++; } }
  fire(): void { for (const fn of this.armed.splice(0)) fn(); }
}

const view = (node: string, n: number): CenterNodeView => ({ node, url: `wss://${node}:1`, viaSsh: false, state: 'connected', lastError: { code: 'X', message: String(n) } });
const change = (cluster: string, node: string, what: 'state' | 'event' | 'snapshot', n: number): CenterChange => ({ kind: 'node', cluster, node, what, view: view(node, n) });
const label = (c: CenterChange): string => (c.kind === 'node' ? `${c.cluster}/${c.node}:${c.what}:${c.view.lastError?.message}` : `${c.kind}:${c.cluster}`);

test('within a window each node sends its latest view once, with the strongest kind of change', () => {
  const timers = new ManualTimers();
  const sent: CenterChange[] = [];
  const co = new ChangeCoalescer((c) => sent.push(c), 50, timers);
  co.push(change('a', 'n1', 'state', 1));
  co.push(change('a', 'n2', 'event', 2));
  co.push(change('a', 'n1', 'event', 3));
  co.push(change('a', 'n1', 'state', 4));
  co.push(change('b', 'n1', 'snapshot', 5));
  co.push(change('b', 'n1', 'event', 6));
  assert.equal(sent.length, 0);
  assert.equal(timers.armed.length, 1, 'one timer for the window');
  timers.fire();
  assert.deepEqual(sent.map(label), ['a/n1:event:4', 'a/n2:event:2', 'b/n1:snapshot:6']);
  sent.length = 0;
  co.push(change('a', 'n1', 'state', 7));
  timers.fire();
  assert.deepEqual(sent.map(label), ['a/n1:state:7'], 'a new window starts clean');
});

test('cluster changes go at once; a removal drops its pending views but not others', () => {
  const timers = new ManualTimers();
  const sent: CenterChange[] = [];
  const co = new ChangeCoalescer((c) => sent.push(c), 50, timers);
  co.push(change('a', 'n1', 'state', 1));
  co.push(change('b', 'n1', 'state', 2));
  co.push({ kind: 'cluster-removed', cluster: 'a' });
  co.push({ kind: 'cluster-added', cluster: 'c' });
  assert.deepEqual(sent.map(label), ['cluster-removed:a', 'cluster-added:c']);
  timers.fire();
  assert.deepEqual(sent.map(label).slice(2), ['b/n1:state:2']);
});

test('window 0 forwards every change; dispose clears the timer and ignores later pushes', () => {
  const sent: CenterChange[] = [];
  const direct = new ChangeCoalescer((c) => sent.push(c), 0);
  direct.push(change('a', 'n1', 'state', 1));
  direct.push(change('a', 'n1', 'state', 2));
  assert.equal(sent.length, 2);

  const timers = new ManualTimers();
  const co = new ChangeCoalescer((c) => sent.push(c), 50, timers);
  co.push(change('a', 'n1', 'state', 3));
  co.dispose();
  assert.equal(timers.armed.length, 0);
  assert.equal(timers.cleared, 1);
  co.push(change('a', 'n1', 'state', 4));
  co.flush();
  assert.equal(sent.length, 2);
  assert.throws(() => new ChangeCoalescer(() => undefined, -1), /windowMs/);
});

test('with real timers the flush happens by itself', async () => {
  const sent: CenterChange[] = [];
  const co = new ChangeCoalescer((c) => sent.push(c), 10);
  co.push(change('a', 'n1', 'state', 1));
  co.push(change('a', 'n1', 'state', 2));
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(sent.map(label), ['a/n1:state:2']);
  co.dispose();
});
