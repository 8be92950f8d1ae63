// Cluster-wide configuration through the admin API, against two real agents that each keep their own file: a live
// change, a change one node rejects, a node that was down catching up, optimistic concurrency and rollback, and
// changes that rebuild the agents in-process (a new group, the API's settings) while the resources keep running;
// an inline cluster key read whole by an administrator only; a mirror's bandwidth limit changed live.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REDACTED_KEY } from '../../common/config/redact.js';
import { ProtocolError } from '../../common/protocol/api.js';
import type { MirrorStatus, NodeProblem } from '../../common/model/index.js';
import { freePort, LocalCluster, WEB_GROUP_YAML as GROUP } from '../support/agent-cluster.js';

const NODES = ['alpha', 'beta'] as const;

async function started(t: TestContext): Promise<LocalCluster> {
  const c = await LocalCluster.createWithApi(GROUP, { separateConfigs: true });
  t.after(() => c.dispose());
  await c.startSettled();
  return c;
}

/** The error code a call fails with, and the error; throws if it succeeds. */
async function failure(work: Promise<unknown>): Promise<ProtocolError> {
  try {
    await work;
  } catch (e) {
    assert.ok(e instanceof ProtocolError, `a ProtocolError, not ${String(e)}`);
    return e;
  }
  assert.fail('the call succeeded');
}

/** GET /metrics over HTTPS without credentials: the status code. */
function anonymousMetrics(c: LocalCluster, node: string): Promise<number> {
  return new Promise((resolve, reject) => {
    get(`https://127.0.0.1:${c.apiPorts[node]}/metrics`, { ca: c.trust() }, (res) => { res.resume(); resolve(res.statusCode ?? 0); }).on('error', reject);
  });
}

/** Both nodes at `generation`, with `text` in their files. */
async function everywhere(c: LocalCluster, generation: number, text: string): Promise<void> {
  for (const node of NODES) {
    // The history records a version first, then the file is rewritten from it. A change that needs a reload restarts
    // the node's API meanwhile: every call is inside the wait, which retries.
    const current = await c.waitFor(`${node} at generation ${generation}, in its file too`, async () => {
      const v = await c.call(node, 'config.get', {});
      return v.generation === generation && readFileSync(c.configFile(node), 'utf8') === text ? v : undefined;
    });
    assert.equal(current.text, text, `${node} runs the text of generation ${generation}`);
  }
}

test('configuration: live change, one node rejecting, stale base, rollback, a node catching up, an in-process reload', async (t) => {
  const c = await started(t);
  const pids = { alpha: c.agents.get('alpha')!.pid, beta: c.agents.get('beta')!.pid };
  const webPid = c.resourcePid('alpha', 'web-app');
  assert.ok(webPid !== undefined);
  const gen1 = await c.call('alpha', 'config.get', {});
  assert.equal(gen1.generation, 1);
  const digestBefore = (await c.status('alpha')).nodes.find((n) => n.local)?.configDigest;

  await t.test('a live change is committed on both nodes, written to both files, and applied without a restart', async () => {
    const text = gen1.text.replace('switchback: manual', 'switchback: manual\n    switchbackDelay: 5s');
    const outcome = await c.call('alpha', 'config.propose', { text, baseGeneration: 1, comment: 'wait before switching back' });
    assert.deepEqual({ generation: outcome.generation, committed: [...outcome.committed].sort(), pending: outcome.pending, partial: outcome.partial },
      { generation: 2, committed: ['alpha', 'beta'], pending: [], partial: [] });
    assert.deepEqual(outcome.live, ['groups[web].switchbackDelay']);
    assert.deepEqual(outcome.reload, []);
    await everywhere(c, 2, text);

    const history = await c.call('beta', 'config.history', {});
    assert.deepEqual(history.map((v) => [v.generation, v.author, v.comment]), [[2, 'admin', 'wait before switching back'], [1, 'node:beta', 'installed']]);
    // Each node runs the new configuration (the digest peers compare) and sees the other run the same.
    for (const node of NODES) {
      await c.waitFor(`${node} reports the new configuration for both nodes`, async () => {
        const status = await c.status(node);
        const digests = new Set(status.nodes.map((n) => n.configDigest));
        return digests.size === 1 && !digests.has(digestBefore) && status.faults.length === 0;
      });
    }
    assert.deepEqual({ alpha: c.agents.get('alpha')!.pid, beta: c.agents.get('beta')!.pid }, pids, 'the agents were not restarted');
    for (const node of NODES) assert.doesNotMatch(c.agents.get(node)!.log(), /reloading the agent/, `${node} applied the change live`);
    assert.equal(c.resourcePid('alpha', 'web-app'), webPid, 'the resource kept running');
    assert.deepEqual(c.runningOn('web-app'), ['alpha']);
  });
  const gen2 = await c.call('alpha', 'config.get', {});

  await t.test('a change that fails validation on beta only is applied on neither node', async () => {
    const moved = gen2.text.replace(`beta: "127.0.0.1:${c.ports.udp.beta}"`, `beta: "127.0.0.2:${c.ports.udp.beta}"`);
    assert.notEqual(moved, gen2.text);
    const error = await failure(c.call('alpha', 'config.propose', { text: moved, baseGeneration: 2 }));
    assert.equal(error.code, 'VALIDATION_FAILED');
    assert.match(error.message, /beta: heartbeat\.links\[0\]\.endpoints\.beta: 127\.0\.0\.2 is not an address of this host/);
    const problems = (error.details as { problems: NodeProblem[] }).problems;
    assert.deepEqual(problems.map((p) => [p.node, p.path]), [['beta', 'heartbeat.links[0].endpoints.beta']]);
    await everywhere(c, 2, gen2.text);
  });

  await t.test('a proposal on a stale base is refused; a rollback commits generation 1\'s text as a new generation', async () => {
    const stale = await failure(c.call('beta', 'config.propose', { text: gen1.text.replace('300ms', '400ms'), baseGeneration: 1 }));
    assert.equal(stale.code, 'STALE_GENERATION');
    // The refused proposals left nothing staged: a rollback goes through at once.
    const outcome = await c.call('beta', 'config.rollback', { toGeneration: 1, baseGeneration: 2 });
    assert.equal(outcome.generation, 3);
    assert.deepEqual(outcome.reload, []);
    await everywhere(c, 3, gen1.text);
    const gen3 = await c.call('alpha', 'config.get', { generation: 3 });
    assert.deepEqual([gen3.author, gen3.comment, gen3.parent], ['admin', 'rollback to generation 1', 2]);
  });

  await t.test('a node that was down when a change was committed catches up when it is back', async () => {
    await c.kill('beta', 'SIGTERM');
    await c.waitFor('alpha sees beta down', async () => (await c.status('alpha')).nodes.find((n) => n.id === 'beta')?.alive === false);
    const text = gen1.text.replace('switchback: manual', 'switchback: manual\n    switchbackDelay: 3s');
    const outcome = await c.call('alpha', 'config.propose', { text, baseGeneration: 3, comment: 'while beta is away' });
    assert.deepEqual([outcome.generation, outcome.committed, outcome.pending], [4, ['alpha'], ['beta']]);
    assert.equal((await c.call('alpha', 'config.get', {})).generation, 4);
    assert.equal(readFileSync(c.configFile('beta'), 'utf8'), gen1.text, 'beta\'s file is untouched while it is down');

    pids.beta = c.start('beta').pid;
    await everywhere(c, 4, text);
    const history = await c.call('beta', 'config.history', {});
    assert.deepEqual(history.map((v) => v.generation), [4, 3, 2, 1], 'beta adopted the history it missed');
    assert.equal(history[0]?.comment, 'while beta is away');
  });

  await t.test('a change that needs a reload rebuilds the agents in-process; running resources are not restarted', async () => {
    const before = await c.call('alpha', 'config.get', {});
    await c.waitFor('both alive with web on alpha', async () => {
      const s = await c.status('beta');
      return s.nodes.every((n) => n.alive) && s.groups[0]?.runningOn.join() === 'alpha';
    });
    // Sample where web runs for the whole change: it must never run on two nodes.
    const webPlaces: string[][] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        webPlaces.push(c.runningOn('web-app'));
        await new Promise((r) => setTimeout(r, 25));
      }
    })();
    t.after(async () => { sampling = false; await sampler; });

    const webLine = before.text.split('\n').find((line) => line.includes('id: web-app'))!;
    const text = before.text.replace(webLine, `${webLine}
  - id: db
    nodes: [beta, alpha]
    resources:
      - { id: db-app, kind: ocf, agent: "${c.resourceAgentPath()}", monitorInterval: 300ms }`);
    const outcome = await c.call('alpha', 'config.propose', { text, baseGeneration: before.generation, comment: 'add db' });
    assert.ok(outcome.reload.includes('groups[db] (added)'), `reload lists the new group: ${outcome.reload.join(', ')}`);
    await everywhere(c, before.generation + 1, text);
    for (const node of NODES) await c.waitFor(`${node} reloaded`, () => /reloading the agent/.test(c.agents.get(node)!.log()));
    await c.waitFor('db running on beta, web still on alpha, seen from both', async () => {
      for (const node of NODES) {
        const s = await c.status(node);
        const where = Object.fromEntries(s.groups.map((g) => [g.id, g.runningOn.join()]));
        if (where['web'] !== 'alpha' || where['db'] !== 'beta' || s.faults.length > 0) return false;
      }
      return c.runningOn('db-app').join() === 'beta';
    });
    sampling = false;
    await sampler;

    assert.deepEqual({ alpha: c.agents.get('alpha')!.pid, beta: c.agents.get('beta')!.pid }, pids, 'reloaded in-process');
    assert.equal(c.resourcePid('alpha', 'web-app'), webPid, 'web\'s process was not restarted');
    assert.deepEqual(c.runningOn('web-app'), ['alpha']);
    assert.ok(webPlaces.length > 0 && webPlaces.every((places) => places.length <= 1), `web never ran on two nodes: ${JSON.stringify(webPlaces.filter((p) => p.length > 1))}`);
  });

  await t.test('a change of the API settings takes effect: /metrics becomes public on both nodes', async () => {
    const before = await c.call('alpha', 'config.get', {});
    for (const node of NODES) assert.equal(await anonymousMetrics(c, node), 401);
    const text = before.text.replace(/^api: \{ pki: (.*) \}$/m, 'api: { pki: $1, metricsPublic: true }');
    assert.notEqual(text, before.text);
    const outcome = await c.call('beta', 'config.propose', { text, baseGeneration: before.generation, comment: 'let Prometheus scrape' });
    assert.deepEqual([outcome.live, outcome.reload], [[], ['api']]);
    await everywhere(c, before.generation + 1, text);
    for (const node of NODES) await c.waitFor(`${node} serves /metrics without credentials`, async () => (await anonymousMetrics(c, node)) === 200);
    assert.deepEqual({ alpha: c.agents.get('alpha')!.pid, beta: c.agents.get('beta')!.pid }, pids, 'reloaded in-process');
    assert.equal(c.resourcePid('alpha', 'web-app'), webPid, 'web\'s process was not restarted');
  });
});

test('an inline cluster key is read whole by an administrator only', async (t) => {
  const c = await LocalCluster.createWithApi(GROUP);
  t.after(() => c.dispose());
  const text = readFileSync(c.configPath, 'utf8');
  writeFileSync(c.configPath, text.replace('keyFile: cluster.key', `key: "${c.key}"`));
  c.start('alpha');
  await c.waitFor('the API answers', async () => (await c.call('alpha', 'status', {})).nodes.length === 2);

  const admin = await c.call('alpha', 'config.get', {});
  assert.ok(admin.text.includes(c.key), 'the administrator reads the key');
  for (const role of ['viewer', 'operator'] as const) {
    const seen = await c.call('alpha', 'config.get', {}, { token: c.token(`a-${role}`, role) });
    assert.equal(seen.text.includes(c.key), false, `${role} must not read the key`);
    assert.match(seen.text, new RegExp(REDACTED_KEY.replace(/[[\]:]/g, '\\$&')));
    assert.equal(seen.generation, admin.generation);
  }
});

test('a mirror\'s bandwidth limit lifted by a committed change applies live: the first mirror held to 1 KiB/s goes on and ends, no reload', async (t) => {
  const folders = mkdtempSync(join(tmpdir(), 'vigil-it-mirror-'));
  t.after(() => rmSync(folders, { recursive: true, force: true }));
  for (const node of NODES) mkdirSync(join(folders, node));
  writeFileSync(join(folders, 'alpha', 'big'), randomBytes(1536 * 1024));
  const endpoints = `{ alpha: "127.0.0.1:${await freePort()}", beta: "127.0.0.1:${await freePort()}" }`;
  const c = await LocalCluster.createWithApi(`groups:
  - id: files
    nodes: [alpha, beta]
    switchback: manual
    resources:
      - { id: data, kind: mirror, folders: [{ alpha: "${join(folders, 'alpha')}", beta: "${join(folders, 'beta')}" }], endpoints: ${endpoints}, maxSendRate: 1KiB/s }
`, { separateConfigs: true });
  t.after(() => c.dispose());
  for (const node of NODES) c.start(node);
  const mirror = async (): Promise<MirrorStatus | undefined> => (await c.call('alpha', 'mirror', { action: 'status', name: 'data' })).status[0];
  // At 1 KiB/s the first 1 MiB chunk goes and the rest would take about half an hour.
  await c.waitFor('alpha sends the first mirror at its limit', async () => {
    const s = await mirror();
    return s?.role === 'source' && s.connected && s.throughput > 0 && s.maxSendRate === 1024;
  });
  const pids = { alpha: c.agents.get('alpha')!.pid, beta: c.agents.get('beta')!.pid };
  const before = await c.call('alpha', 'config.get', {});
  const text = before.text.replace(', maxSendRate: 1KiB/s', '');
  assert.notEqual(text, before.text);
  const outcome = await c.call('alpha', 'config.propose', { text, baseGeneration: before.generation, comment: 'no limit' });
  assert.deepEqual([outcome.live, outcome.reload], [['groups[files].resources[data].maxSendRate'], []]);
  await everywhere(c, before.generation + 1, text);
  await c.waitFor('the mirror is level', async () => (await mirror())?.state === 'in-sync', 60_000);
  assert.equal((await mirror())?.maxSendRate, undefined);
  assert.deepEqual({ alpha: c.agents.get('alpha')!.pid, beta: c.agents.get('beta')!.pid }, pids, 'the agents were not restarted');
  assert.doesNotMatch(c.agents.get('alpha')!.log(), /reloading the agent/);
  assert.match(c.agents.get('alpha')!.log(), /mirror data: bandwidth limit removed/);
  assert.deepEqual(readFileSync(join(folders, 'beta', 'big')), readFileSync(join(folders, 'alpha', 'big')));
});
