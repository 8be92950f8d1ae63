// Abuse of the API port of real agents: frames that are not messages, requests before hello, a request flood,
// a connection flood; and the plain HTTP routes: /metrics (checked by the real promtool), /health, the web root.
// Each abuse is answered with its code and the agent keeps serving everyone else.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { request as httpsRequest } from 'node:https';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import WebSocket from 'ws';
import { LocalCluster, WEB_GROUP_YAML as GROUP } from '../support/agent-cluster.js';
import { MAX_FRAME_BYTES } from '../../common/protocol/api.js';

const INDEX = '<!doctype html><title>Vigil monitoring center</title>';

/** A raw WebSocket to a node's API: every frame it receives, how it was closed, or how the upgrade was refused. */
class RawSession {
  readonly frames: Record<string, unknown>[] = [];
  readonly closed: Promise<number>;
  /** The HTTP status of a refused upgrade, or 101 once open. */
  readonly upgraded: Promise<number>;
  private waiters: (() => void)[] = [];

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data: WebSocket.RawData) => {
      this.frames.push(JSON.parse(String(data)) as Record<string, unknown>);
      for (const w of this.waiters.splice(0)) w();
    });
    ws.on('error', () => undefined);
    this.closed = new Promise((resolve) => ws.once('close', (code: number) => resolve(code)));
    this.upgraded = new Promise((resolve) => {
      ws.once('open', () => resolve(101));
      ws.once('unexpected-response', (_req, res) => { res.resume(); resolve(res.statusCode ?? 0); ws.terminate(); });
      ws.once('close', () => resolve(0));
    });
  }

  send(frame: string | Buffer, binary = false): void {
    this.ws.send(frame, { binary });
  }

  /** The first frame received after `from` frames that matches, within 20 s. */
  async next(match: (frame: Record<string, unknown>) => boolean = () => true, from = 0): Promise<Record<string, unknown>> {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const found = this.frames.slice(from).find(match);
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`no matching frame within 20 s; got ${JSON.stringify(this.frames.slice(-3))}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 1000);
        this.waiters.push(() => { clearTimeout(timer); resolve(); });
      });
    }
  }

  response(id: number): Promise<Record<string, unknown>> {
    return this.next((f) => f['type'] === 'response' && f['id'] === id);
  }
}

function errorOf(frame: Record<string, unknown>): { code: string; message: string } {
  return frame['error'] as { code: string; message: string };
}

/** An HTTPS GET without any client certificate; `path` goes on the wire as written. */
function get(c: LocalCluster, node: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string; type: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port: c.apiPorts[node], path, method: 'GET', ca: c.trust(), headers, agent: false, timeout: 20_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, type: String(res.headers['content-type'] ?? '') }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path}: no answer within 20 s`)));
    req.on('error', reject);
    req.end();
  });
}

/** An upgrade request without Sec-WebSocket-Key: the HTTP status it is answered with. */
function badUpgrade(c: LocalCluster, node: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({
      host: '127.0.0.1', port: c.apiPorts[node], path: '/api', ca: c.trust(), agent: false, timeout: 20_000,
      headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', Authorization: `Bearer ${c.adminToken}` },
    }, (res) => { res.resume(); resolve(res.statusCode ?? 0); });
    req.on('upgrade', (res, socket) => { socket.destroy(); resolve(res.statusCode ?? 101); });
    req.on('timeout', () => req.destroy(new Error('bad upgrade: no answer within 20 s')));
    req.on('error', reject);
    req.end();
  });
}

test('API abuse: bad frames, floods of requests and of connections; /metrics, /health and the web root', async (t) => {
  const c = await LocalCluster.createWithApi(GROUP, { apiYaml: 'webRoot: web' });
  t.after(() => c.dispose());
  mkdirSync(join(c.dir, 'web', 'assets'), { recursive: true });
  writeFileSync(join(c.dir, 'web', 'index.html'), INDEX);
  writeFileSync(join(c.dir, 'web', 'assets', 'app.js'), 'console.log("vigil");\n');
  symlinkSync(join(c.dir, 'cluster.yaml'), join(c.dir, 'web', 'leak.yaml'));
  symlinkSync(c.dir, join(c.dir, 'web', 'up'));
  await c.startSettled();
  const sessions: RawSession[] = [];
  t.after(() => { for (const s of sessions) s.ws.terminate(); });
  const raw = (options: { token?: string } = { token: c.adminToken }): RawSession => {
    const session = new RawSession(new WebSocket(`${c.apiUrl('alpha')}/api`, {
      ca: c.trust(), perMessageDeflate: false, maxPayload: 16 * 1024 * 1024,
      headers: options.token === undefined ? {} : { Authorization: `Bearer ${options.token}` },
    }));
    sessions.push(session);
    return session;
  };
  const welcomed = async (): Promise<RawSession> => {
    const s = raw();
    assert.equal(await s.upgraded, 101);
    s.send(JSON.stringify({ type: 'hello', versions: [2], client: 'abuse-test' }));
    assert.equal((await s.next())['type'], 'welcome');
    return s;
  };
  const healthy = async (): Promise<void> => {
    const client = await c.connect('alpha');
    try {
      assert.equal((await client.call('status', {})).reportedBy, 'alpha');
    } finally {
      await client.close();
    }
  };

  await t.test('before hello: a request, malformed JSON or an unknown type end the session with its code', async () => {
    const early = raw();
    assert.equal(await early.upgraded, 101);
    early.send(JSON.stringify({ type: 'request', id: 1, method: 'status', params: {} }));
    assert.deepEqual(await early.next(), { type: 'refused', error: { code: 'UNAUTHENTICATED', message: 'a session starts with hello' } });
    assert.equal(await early.closed, 4401);

    const garbage = raw();
    assert.equal(await garbage.upgraded, 101);
    garbage.send('{"type":"hello",');
    const refused = await garbage.next();
    assert.equal(errorOf(refused).code, 'BAD_FRAME');
    assert.match(errorOf(refused).message, /^not JSON/);
    assert.equal(await garbage.closed, 1008);

    const unauthenticated = raw({});
    assert.equal(await unauthenticated.upgraded, 101);
    unauthenticated.send(JSON.stringify({ type: 'hello', versions: [2], client: 'x' }));
    assert.equal(errorOf(await unauthenticated.next()).code, 'UNAUTHENTICATED');
    assert.equal(await unauthenticated.closed, 4401);

    const oldClient = raw();
    assert.equal(await oldClient.upgraded, 101);
    oldClient.send(JSON.stringify({ type: 'hello', versions: [1], client: 'x' }));
    assert.equal(errorOf(await oldClient.next()).code, 'BAD_VERSION');
    await healthy();
  });

  await t.test('after hello: each bad frame answered with its code, the session goes on', async () => {
    const s = await welcomed();
    const answers = (from: number) => s.next((f) => f['type'] === 'response', from);
    let from = s.frames.length;
    s.send('{not json');
    let r = await answers(from);
    assert.deepEqual([r['id'], errorOf(r).code], [-1, 'BAD_FRAME']);
    assert.match(errorOf(r).message, /^not JSON/);

    from = s.frames.length;
    s.send(JSON.stringify({ type: 'subscribe', id: 2 }));
    r = await answers(from);
    assert.deepEqual([r['id'], errorOf(r).code], [-1, 'BAD_FRAME']);
    assert.match(errorOf(r).message, /unknown message type "subscribe"/);

    s.send(JSON.stringify({ type: 'request', id: 3, method: 'reboot', params: {} }));
    r = await s.response(3);
    assert.equal(errorOf(r).code, 'UNKNOWN_METHOD');
    assert.match(errorOf(r).message, /^unknown method "reboot"/);

    s.send(JSON.stringify({ type: 'request', id: 4, method: 'switchover', params: { group: 42 } }));
    r = await s.response(4);
    assert.equal(errorOf(r).code, 'BAD_PARAMS');
    assert.match(errorOf(r).message, /^params\.group: /);

    s.send(JSON.stringify({ type: 'request', id: 5, method: 'events', params: { limit: 'all', kinds: ['nope'] } }));
    r = await s.response(5);
    assert.equal(errorOf(r).code, 'BAD_PARAMS');
    assert.match(errorOf(r).message, /(^|; )params\.limit: /, 'both fields named');
    assert.match(errorOf(r).message, /(^|; )params\.kinds\.0: /);

    from = s.frames.length;
    s.send(Buffer.from(JSON.stringify({ type: 'request', id: 6, method: 'status', params: {} })), true);
    r = await answers(from);
    assert.deepEqual([r['id'], errorOf(r).code], [-1, 'BAD_FRAME']);
    assert.match(errorOf(r).message, /binary frames/);

    s.send(JSON.stringify({ type: 'hello', versions: [2], client: 'again' }));
    assert.equal(errorOf(await s.next((f) => f['type'] === 'response' && errorOf(f).message === 'hello was already said')).code, 'BAD_FRAME');

    s.send(JSON.stringify({ type: 'request', id: 7, method: 'status', params: {} }));
    assert.equal((await s.response(7))['ok'], true, 'the session still serves');
  });

  await t.test('a frame over 1 MiB closes the connection with 1009; the agent goes on', async () => {
    const s = await welcomed();
    s.send(JSON.stringify({ type: 'request', id: 1, method: 'config.validate', params: { text: 'x'.repeat(MAX_FRAME_BYTES) } }));
    assert.equal(await s.closed, 1009);
    await healthy();
  });

  await t.test('a request flood: RATE_LIMITED, then cut off; others are served and the peers stay alive', async () => {
    const floodStarted = Date.now();
    const flooder = await welcomed();
    const other = await c.connect('alpha', { token: c.token('calm', 'viewer') });
    t.after(() => other.close());
    const FLOOD = 3000;
    for (let id = 1; id <= FLOOD; id++) flooder.send(JSON.stringify({ type: 'request', id, method: 'status', params: {} }));
    // While the agent works through the flood, the other session is answered.
    const during = await Promise.all([other.call('status', {}), other.call('status', {}), other.call('status', {})]);
    assert.ok(during.every((s) => s.reportedBy === 'alpha'));
    assert.equal(await flooder.closed, 1008);
    const responses = flooder.frames.filter((f) => f['type'] === 'response');
    const limited = responses.filter((f) => f['ok'] === false && errorOf(f).code === 'RATE_LIMITED');
    assert.ok(responses.some((f) => f['ok'] === true), 'the burst is served');
    // Frames that arrive together are parsed before any handler runs: past 32 in flight they are refused too.
    assert.ok(limited.some((f) => /more than \d+ requests per second/.test(errorOf(f).message)), 'then RATE_LIMITED for the rate');
    assert.ok(responses.length < FLOOD, `cut off before the end (${responses.length} answers)`);

    assert.equal((await other.call('status', {})).reportedBy, 'alpha');
    const s = await other.call('status', {});
    assert.ok(s.nodes.every((n) => n.alive), 'both nodes alive');
    const lost = await other.call('events', { since: floodStarted, kinds: ['peer-lost', 'link-down'] });
    assert.deepEqual(lost, [], 'no link went down during the flood');
  });

  await t.test('a connection flood from one address: refused with 503 at the upgrade beyond the limit; open sessions unharmed', async () => {
    const kept = await c.connect('alpha');
    t.after(() => kept.close());
    const FLOOD = 48;
    const crowd = Array.from({ length: FLOOD }, () => raw());
    const statuses = await Promise.all(crowd.map((s) => s.upgraded));
    const refused = statuses.filter((code) => code === 503).length;
    const opened = statuses.filter((code) => code === 101).length;
    assert.equal(refused + opened, FLOOD, `every attempt opened or got 503: ${statuses.join(',')}`);
    // The default limit is 32 per address; this test's own sessions and the peer agent's count too.
    assert.ok(refused >= FLOOD - 32, `${refused} refused`);
    assert.ok(opened <= 32, `${opened} opened`);
    assert.equal((await kept.call('status', {})).reportedBy, 'alpha', 'an open session still works');
    for (const s of crowd) s.ws.terminate();
    await c.waitFor('a new connection is admitted once the crowd is gone', async () => { await healthy(); return true; });
    assert.ok((await kept.call('status', {})).nodes.every((n) => n.alive));
  });

  await t.test('upgrades the WebSocket server rejects (no key) do not use up the address\'s allowance', async () => {
    // More than the per-address limit: were each counted and never released, the address would be locked out.
    const answers = await Promise.all(Array.from({ length: 40 }, () => badUpgrade(c, 'alpha')));
    assert.ok(answers.every((status) => status === 400), answers.join(','));
    await healthy();
  });

  await t.test('/metrics: 401 without credentials; with a token, text the real promtool accepts', async () => {
    const anonymous = await get(c, 'alpha', '/metrics');
    assert.equal(anonymous.status, 401);
    assert.equal((await get(c, 'alpha', '/metrics', { Authorization: 'Bearer vgl_0123456789abcdef_wrong' })).status, 401);
    const metrics = await get(c, 'alpha', '/metrics', { Authorization: `Bearer ${c.token('prometheus', 'viewer')}` });
    assert.equal(metrics.status, 200);
    assert.match(metrics.type, /^text\/plain; version=0\.0\.4/);
    const check = spawnSync('promtool', ['check', 'metrics'], { input: metrics.body, encoding: 'utf8', timeout: 30_000 });
    assert.equal(check.status, 0, `promtool: ${check.stdout}${check.stderr}`);
    assert.equal(check.stdout + check.stderr, '', 'promtool has nothing to say');
    for (const link of ['lan-udp', 'lan-tcp']) assert.match(metrics.body, new RegExp(`^vigil_link_up\\{[^}]*link="${link}"[^}]*\\} 1$`, 'm'), link);
    assert.match(metrics.body, /^vigil_api_requests_total\{method="status",code="ok"\} \d+$/m);
    assert.match(metrics.body, /^vigil_api_requests_total\{method="status",code="RATE_LIMITED"\} \d+$/m);
  });

  await t.test('/health: 200 with JSON, no credentials needed', async () => {
    const health = await get(c, 'beta', '/health');
    assert.equal(health.status, 200);
    assert.match(health.type, /^application\/json/);
    const body = JSON.parse(health.body) as { ok: boolean; node: string; detail: string };
    assert.deepEqual([body.ok, body.node], [true, 'beta']);
  });

  await t.test('web root: index.html for / and client routes; nothing outside the folder', async () => {
    for (const path of ['/', '/some/route', '/groups/web']) {
      const r = await get(c, 'alpha', path);
      assert.deepEqual([r.status, r.body], [200, INDEX], path);
      assert.match(r.type, /^text\/html/);
    }
    const js = await get(c, 'alpha', '/assets/app.js');
    assert.deepEqual([js.status, js.type], [200, 'text/javascript; charset=utf-8']);
    for (const path of ['/../cluster.yaml', '/%2e%2e/cluster.yaml', '/assets/%2E%2E/%2E%2E/cluster.yaml', '/..%2fcluster.yaml', '/leak.yaml', '/up/cluster.yaml', '/up/pki/tokens.json', '/missing.js', '/%00.js', '/%e0%a4%a.js']) {
      const r = await get(c, 'alpha', path);
      assert.equal(r.status, 404, `${path}: ${r.status} ${r.body.slice(0, 80)}`);
      assert.doesNotMatch(r.body, /cluster:|vgl_/, path);
    }
  });
});
