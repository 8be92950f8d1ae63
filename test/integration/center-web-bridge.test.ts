// The page's half of the web bridge (renderer/web/web-bridge.ts) against the real center:web server, over `ws` in
// place of the browser's WebSocket: calls answered by id, pushes delivered, a wrong token refused for good, and a
// restarted center reconnected to (calls made while it is down fail with UNAVAILABLE rather than hang). Beyond
// loopback the center refuses to serve without TLS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import type { CenterChange } from '../../common/ipc/contract.js';
import { createCenterHandlers } from '../../main/core/center-handlers.js';
import { ConnectionManager } from '../../main/core/connection-manager.js';
import { CenterWeb, isLoopback } from '../../main/web/center-web.js';
import { initCluster } from '../../agent/security/pki.js';
import { WebBridge, type BrowserSocket, type WebBridgeState } from '../../renderer/web/web-bridge.js';

/** `ws` in place of the browser's WebSocket, which reports errors only through close (ws would also throw them). */
const openWs = (url: string, options: WebSocket.ClientOptions = {}): BrowserSocket => {
  const ws = new WebSocket(url, options);
  ws.on('error', () => undefined);
  return ws as unknown as BrowserSocket;
};

async function until(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('the page bridge: calls, pushes, a refused token, and reconnecting to a restarted center', async (t) => {
  const home = mkdtempSync(join(tmpdir(), 'vigil-web-bridge-'));
  t.after(() => rmSync(home, { recursive: true, force: true }));
  const manager = new ConnectionManager({ knownHostsFile: join(home, 'known-hosts.json'), client: 'web-bridge-test', timeoutMs: 2000, backoff: { initialMs: 100, maxMs: 500 } });
  t.after(() => manager.dispose());
  const handlers = createCenterHandlers(manager);
  let web = await CenterWeb.start({ manager, handlers, token: 'the-token' });
  t.after(() => web.close());
  const url = `ws://127.0.0.1:${web.port}/ipc`;

  const states: WebBridgeState[] = [];
  const bridge = new WebBridge({ url, token: 'the-token', openSocket: openWs, onConnection: (s) => states.push(s) });
  t.after(() => bridge.close());
  const changes: CenterChange[] = [];
  bridge.on('center.change', (c) => changes.push(c));

  // A call made before the socket is open waits for it.
  const list = await bridge.invoke('clusters.list', {});
  assert.deepEqual(list, { ok: true, result: [] });
  assert.deepEqual(states, ['open']);

  const bad = await bridge.invoke('clusters.remove', { cluster: 'no such cluster!' });
  assert.equal(bad.ok, false);
  assert.equal(!bad.ok && bad.error.code, 'BAD_PARAMS');

  // A cluster whose only node listens nowhere: added, and its node's state changes are pushed.
  const added = await bridge.invoke('clusters.add', {
    id: 'c1', name: 'One', credentials: { ca: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n', token: 't' },
    nodes: [{ id: 'a', url: 'wss://127.0.0.1:1' }],
  });
  assert.equal(added.ok, true);
  await until('the cluster-added push', () => changes.some((c) => c.kind === 'cluster-added' && c.cluster === 'c1'));
  await until('a node push', () => changes.some((c) => c.kind === 'node' && c.node === 'a'));

  await t.test('a wrong token is refused with the center\'s reason and not retried', async () => {
    const refused: { state: WebBridgeState; message?: string }[] = [];
    const wrong = new WebBridge({ url, token: 'not-it', openSocket: openWs, onConnection: (state, message) => refused.push({ state, ...(message === undefined ? {} : { message }) }) });
    t.after(() => wrong.close());
    const r = await wrong.invoke('clusters.list', {});
    assert.equal(!r.ok && r.error.code, 'UNAVAILABLE');
    await until('the refusal', () => refused.length > 0);
    assert.deepEqual(refused, [{ state: 'refused', message: 'UNAUTHENTICATED: a missing or wrong access token' }]);
  });

  await t.test('the center restarts: the bridge reconnects by itself and calls work again', async () => {
    const port = web.port;
    await web.close();
    await until('reconnecting', () => states.at(-1) === 'reconnecting');
    const meanwhile = await bridge.invoke('clusters.list', {});
    assert.equal(!meanwhile.ok && meanwhile.error.code, 'UNAVAILABLE');
    web = await CenterWeb.start({ manager, handlers, token: 'the-token', port });
    await until('open again', () => states.at(-1) === 'open', 15_000);
    const again = await bridge.invoke('clusters.list', {});
    assert.equal(again.ok && again.result.map((c) => c.id).join(), 'c1');
  });
});

test('beyond loopback the center serves only over TLS, and the page bridge speaks wss to it', async (t) => {
  const home = mkdtempSync(join(tmpdir(), 'vigil-web-bridge-tls-'));
  t.after(() => rmSync(home, { recursive: true, force: true }));
  const manager = new ConnectionManager({ knownHostsFile: join(home, 'known-hosts.json'), client: 'web-bridge-tls-test' });
  t.after(() => manager.dispose());
  const handlers = createCenterHandlers(manager);

  await assert.rejects(CenterWeb.start({ manager, handlers, host: '0.0.0.0' }), /host 0\.0\.0\.0: serving beyond loopback needs TLS/);
  await assert.rejects(CenterWeb.start({ manager, handlers, host: '198.51.100.7' }), /needs TLS/);
  assert.equal(isLoopback('127.0.0.2') && isLoopback('::1') && isLoopback('localhost'), true);
  assert.equal(isLoopback('127.example') || isLoopback('0.0.0.0') || isLoopback('::'), false);

  // A certificate for 127.0.0.1 from a cluster PKI (as `vigil init` issues a node's).
  const pki = join(home, 'pki');
  await initCluster({ dir: pki, clusterId: 'center', nodes: [{ id: 'console', hosts: ['127.0.0.1'] }] });
  const tls = { cert: readFileSync(join(pki, 'nodes', 'console.crt'), 'utf8'), key: readFileSync(join(pki, 'nodes', 'console.key'), 'utf8') };
  const web = await CenterWeb.start({ manager, handlers, token: 'tls-token', tls });
  t.after(() => web.close());
  assert.match(web.url, /^https:\/\/127\.0\.0\.1:\d+\/$/);
  const ca = readFileSync(join(pki, 'trust.pem'), 'utf8');

  const bridge = new WebBridge({ url: `wss://127.0.0.1:${web.port}/ipc`, token: 'tls-token', openSocket: (u) => openWs(u, { ca }) });
  t.after(() => bridge.close());
  assert.deepEqual(await bridge.invoke('clusters.list', {}), { ok: true, result: [] });

  // Plain ws:// to the TLS port gets nowhere.
  const states: WebBridgeState[] = [];
  const plain = new WebBridge({ url: `ws://127.0.0.1:${web.port}/ipc`, token: 'tls-token', openSocket: openWs, onConnection: (s) => states.push(s) });
  t.after(() => plain.close());
  await until('a failed plain connection', () => states.includes('reconnecting'));
});
