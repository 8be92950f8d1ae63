// The center's web bridge against two real agents: a `ws` client on /ipc speaks the IPC contract as the UI will.
// The access token is required first; clusters.add connects both nodes (seen through center.change pushes);
// agent.call reaches an agent; bad requests are refused naming the channel or the field.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import type { CenterChange, ClusterConfigInput, IpcResult } from '../../common/ipc/contract.js';
import type { ClusterStatus } from '../../common/model/index.js';
import { createCenterHandlers } from '../../main/core/center-handlers.js';
import { ConnectionManager } from '../../main/core/connection-manager.js';
import { CLOSE_UNAUTHENTICATED, CenterWeb } from '../../main/web/center-web.js';
import { LocalCluster, WEB_GROUP_YAML as GROUP } from '../support/agent-cluster.js';

interface Frame { id?: number; ok?: boolean; result?: unknown; error?: { code: string; message: string }; channel?: string; data?: CenterChange; auth?: IpcResult<unknown> }

/** A test client: every frame it receives, and request() that resolves with the answer to its id. */
class Client {
  readonly frames: Frame[] = [];
  readonly closed: Promise<number>;
  private nextId = 1;
  private waiters: (() => void)[] = [];
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (d) => { this.frames.push(JSON.parse(d.toString()) as Frame); for (const w of this.waiters.splice(0)) w(); });
    this.closed = new Promise((res) => ws.once('close', (code) => res(code)));
  }
  static async open(url: string): Promise<Client> {
    const ws = new WebSocket(url);
    await new Promise<void>((res, rej) => { ws.once('open', () => res()); ws.once('error', rej); });
    return new Client(ws);
  }
  send(frame: unknown): void { this.ws.send(JSON.stringify(frame)); }
  async next(match: (f: Frame) => boolean, timeoutMs = 20_000): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.frames.find(match);
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`no matching frame; got ${JSON.stringify(this.frames.slice(-5)).slice(0, 2000)}`);
      await new Promise<void>((res) => { this.waiters.push(res); setTimeout(res, 200); });
    }
  }
  async request(channel: string, params?: unknown): Promise<Frame> {
    const id = this.nextId++;
    this.send({ id, channel, ...(params === undefined ? {} : { params }) });
    return this.next((f) => f.id === id);
  }
}

test('center web bridge: access token, clusters.add, center.change pushes, agent.call, refusals', async (t) => {
  const c = await LocalCluster.createWithApi(GROUP);
  t.after(() => c.dispose());
  const home = mkdtempSync(join(tmpdir(), 'vigil-center-web-'));
  t.after(() => rmSync(home, { recursive: true, force: true }));
  await c.startSettled();

  const manager = new ConnectionManager({ knownHostsFile: join(home, 'known-hosts.json'), client: 'center-web-test', timeoutMs: 10_000, backoff: { initialMs: 100, maxMs: 1000 } });
  t.after(() => manager.dispose());
  const staticDir = join(home, 'ui');
  mkdirSync(staticDir);
  writeFileSync(join(staticDir, 'index.html'), '<!doctype html><title>vigil</title>');
  // A link inside the folder to a file outside it is not a way out.
  writeFileSync(join(home, 'outside.txt'), 'not for the web');
  symlinkSync(join(home, 'outside.txt'), join(staticDir, 'linked.txt'));
  writeFileSync(join(home, 'secret.txt'), 'not served');
  const web = await CenterWeb.start({ manager, handlers: createCenterHandlers(manager), staticDir, authTimeoutMs: 2000 });
  t.after(() => web.close());
  const ipc = `ws://127.0.0.1:${web.port}/ipc`;
  const clients: Client[] = [];
  t.after(() => { for (const x of clients) x.ws.terminate(); });
  const open = async (): Promise<Client> => { const x = await Client.open(ipc); clients.push(x); return x; };

  await t.test('the static folder is served, and nothing outside it', async () => {
    const index = await fetch(web.url);
    assert.equal(index.status, 200);
    assert.match(await index.text(), /<title>vigil/);
    for (const path of ['/../secret.txt', '/%2e%2e/secret.txt', '/..%2fsecret.txt', '/linked.txt']) {
      assert.equal((await fetch(`${web.url.slice(0, -1)}${path}`)).status, 404, path);
    }
  });

  await t.test('a wrong or missing access token is refused and the socket closed; nothing is answered', async () => {
    const wrong = await open();
    wrong.send({ token: `${web.token.slice(0, -1)}x` });
    assert.equal((await wrong.next((f) => f.auth !== undefined)).auth?.ok, false);
    assert.equal(await wrong.closed, CLOSE_UNAUTHENTICATED);

    // A request first, without the token: refused the same way, not executed.
    const none = await open();
    none.send({ id: 1, channel: 'clusters.list', params: {} });
    const refusal = await none.next((f) => f.auth !== undefined);
    assert.equal(refusal.auth?.ok === false && refusal.auth.error.code, 'UNAUTHENTICATED');
    assert.equal(await none.closed, CLOSE_UNAUTHENTICATED);
    assert.ok(!none.frames.some((f) => f.id === 1));

    // Silence: closed after the auth timeout.
    const silent = await open();
    assert.equal(await silent.closed, CLOSE_UNAUTHENTICATED);

    // Any other path is not a WebSocket endpoint.
    await assert.rejects(Client.open(`ws://127.0.0.1:${web.port}/other`));
  });

  const ui = await open();
  ui.send({ token: web.token });
  const welcome = await ui.next((f) => f.auth !== undefined);
  assert.equal(welcome.auth?.ok, true);

  await t.test('clusters.add with the admin token and trust: center.change shows both nodes connected', async () => {
    const cluster: ClusterConfigInput = {
      id: 'it', name: 'Integration', credentials: { ca: c.trust(), token: c.adminToken },
      nodes: c.nodes.map((n) => ({ id: n, url: c.apiUrl(n) })),
    };
    const added = await ui.request('clusters.add', cluster);
    assert.equal(added.ok, true, JSON.stringify(added.error));
    assert.equal((added.result as { name: string }).name, 'Integration');
    await ui.next((f) => f.channel === 'center.change' && f.data?.kind === 'cluster-added' && f.data.cluster === 'it');
    for (const n of c.nodes) {
      await ui.next((f) => f.channel === 'center.change' && f.data?.kind === 'node' && f.data.node === n && f.data.view.state === 'connected');
    }
    const list = await ui.request('clusters.list');
    const nodes = (list.result as { id: string; nodes: { node: string; state: string }[] }[])[0]!.nodes;
    assert.deepEqual(nodes.map((n) => `${n.node}:${n.state}`), ['alpha:connected', 'beta:connected']);
    // Adding the same id again is a conflict, answered, not a crash.
    assert.equal((await ui.request('clusters.add', cluster)).error?.code, 'CONFLICT');
  });

  await t.test('agent.call reaches the named agent', async () => {
    const r = await ui.request('agent.call', { cluster: 'it', node: 'beta', method: 'status', params: {} });
    assert.equal(r.ok, true, JSON.stringify(r.error));
    const status = r.result as ClusterStatus;
    assert.equal(status.reportedBy, 'beta');
    assert.deepEqual(status.nodes.map((n) => n.id).sort(), ['alpha', 'beta']);
    const missing = await ui.request('agent.call', { cluster: 'it', node: 'gamma', method: 'status', params: {} });
    assert.equal(missing.error?.code, 'NOT_FOUND');
  });

  await t.test('bad requests are refused naming the channel or the field; the connection stays usable', async () => {
    const unknown = await ui.request('shell.exec', { cmd: 'id' });
    assert.equal(unknown.error?.code, 'UNKNOWN_CHANNEL');
    assert.match(unknown.error!.message, /"shell\.exec"/);
    const bad = await ui.request('agent.call', { cluster: 'it', node: 'alpha', method: 'switchover', params: { group: 7 } });
    assert.equal(bad.error?.code, 'BAD_PARAMS');
    assert.match(bad.error!.message, /params\.group/);
    const badUrl = await ui.request('clusters.add', { id: 'x', name: 'x', credentials: { ca: 'x', token: 't' }, nodes: [{ id: 'a', url: 'ftp://h' }] });
    assert.match(badUrl.error!.message, /nodes\.0\.url/);
    assert.equal((await ui.request('connection.retry', { cluster: 'it', node: 'gamma' })).error?.code, 'NOT_FOUND');
    assert.equal((await ui.request('clusters.list')).ok, true);
  });

  await t.test('clusters.remove: a cluster-removed push, and the list is empty', async () => {
    assert.deepEqual((await ui.request('clusters.remove', { cluster: 'it' })).result, { removed: true });
    await ui.next((f) => f.channel === 'center.change' && f.data?.kind === 'cluster-removed');
    assert.deepEqual((await ui.request('clusters.list')).result, []);
  });

  await t.test('a frame that is not a request closes the connection', async () => {
    ui.send({ hello: 'world' });
    assert.equal(await ui.closed, 4400);
  });
});
