// The center's remembered clusters and desktop notifications against two real agents: clusters.add saves the
// cluster with its token sealed (not in the file's bytes); a new center restores it and connects, also the real
// `center:web --data-dir` process; a switchover raises an alert that becomes exactly one notice leading to the
// cluster's events; an altered token is reported naming the cluster and the field, and nothing connects.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import WebSocket from 'ws';
import type { CenterClusterView, ClusterConfigInput } from '../../common/ipc/contract.js';
import { AlertNotifier, noticeText, type AlertNotice } from '../../main/core/alert-notifier.js';
import { watchAlerts } from '../../main/core/alert-watch.js';
import { createCenter, invoke } from '../../main/core/center-handlers.js';
import { ClusterStore, describeProblem } from '../../main/core/cluster-store.js';
import { ConnectionManager } from '../../main/core/connection-manager.js';
import { FileKeyCipher } from '../../main/core/secret-cipher.js';
import { LocalCluster, REPO, WEB_GROUP_YAML as GROUP } from '../support/agent-cluster.js';

test('center: clusters remembered sealed and restored; a switchover alert becomes one desktop notice', async (t) => {
  // A syslog channel to a UDP socket of ours: the cheapest real channel, so the agents raise alerts.
  const syslog = createSocket('udp4');
  await new Promise<void>((res) => syslog.bind(0, '127.0.0.1', () => res()));
  t.after(() => syslog.close());
  const c = await LocalCluster.createWithApi(GROUP, {
    extraYaml: `alerts:
  channels:
    - { name: ops-syslog, kind: syslog, transport: udp, address: "127.0.0.1:${(syslog.address() as AddressInfo).port}" }
  rules:
    - { channels: [ops-syslog], kinds: [switchover, failover] }
`,
  });
  t.after(() => c.dispose());
  const home = mkdtempSync(join(tmpdir(), 'vigil-center-store-'));
  t.after(() => rmSync(home, { recursive: true, force: true }));
  await c.startSettled();

  const clustersFile = join(home, 'clusters.json');
  const open = (): { manager: ConnectionManager; center: ReturnType<typeof createCenter> } => {
    const manager = new ConnectionManager({ knownHostsFile: join(home, 'known-hosts.json'), client: 'center-store-test', timeoutMs: 10_000, backoff: { initialMs: 100, maxMs: 1000 } });
    t.after(() => manager.dispose());
    const store = new ClusterStore(clustersFile, new FileKeyCipher(join(home, 'secret.key')));
    return { manager, center: createCenter(manager, { store }) };
  };
  const connected = (manager: ConnectionManager): Promise<boolean> => c.waitFor('both nodes connected', () => manager.view('it')?.nodes.every((n) => n.state === 'connected') === true);

  await t.test('clusters.add saves the cluster with its token sealed', async () => {
    const first = open();
    const cluster: ClusterConfigInput = { id: 'it', name: 'Integration', credentials: { ca: c.trust(), token: c.adminToken }, nodes: c.nodes.map((n) => ({ id: n, url: c.apiUrl(n) })) };
    const added = await invoke(first.center.handlers, 'clusters.add', cluster);
    assert.equal(added.ok, true, JSON.stringify(added));
    await connected(first.manager);
    const bytes = readFileSync(clustersFile);
    assert.equal(bytes.includes(Buffer.from(c.adminToken)), false, 'the admin token is not in the file');
    assert.equal(bytes.includes(Buffer.from(c.adminToken.slice(4, 20))), false, 'nor any part of it');
    assert.ok(bytes.includes(Buffer.from(c.apiUrl('alpha'))));
    await first.manager.dispose();
  });

  const second = open();
  await t.test('a new center restores it from the file and connects to both nodes', async () => {
    assert.deepEqual(await second.center.restore(), []);
    await connected(second.manager);
    const list = await invoke(second.center.handlers, 'clusters.list', {});
    assert.deepEqual(list.ok && (list.result as CenterClusterView[]).map((v) => v.name), ['Integration']);
  });

  await t.test('a switchover raises an alert: one notice, whichever node reports it, leading to the cluster\'s events', async () => {
    const notices: AlertNotice[] = [];
    const watch = watchAlerts(second.manager, new AlertNotifier({ minSeverity: 'info' }), (n) => notices.push(n));
    t.after(() => watch.dispose());
    const switched = await invoke(second.center.handlers, 'agent.call', { cluster: 'it', node: 'alpha', method: 'switchover', params: { group: 'web', node: 'beta' } });
    assert.equal(switched.ok, true, JSON.stringify(switched));
    const notice = await c.waitFor('a switchover notice', () => notices.find((n) => n.headline.alert.event.kind === 'switchover'));
    assert.equal(notice.route, '#/clusters/it/events');
    assert.deepEqual(noticeText(notice, 'en', () => 'Integration'), { title: 'Info: Integration (alpha)', body: 'switchover of web to beta requested' });
    // The record changes again when its delivery settles: still one notice for it.
    await c.waitFor('the alert delivered to syslog', () => second.manager.view('it')?.nodes
      .some((n) => n.snapshot?.alerts.some((a) => a.id === notice.headline.alert.id && a.channels.every((d) => d.status === 'ok'))));
    assert.equal(notices.filter((n) => n.headline.alert.id === notice.headline.alert.id).length, 1);
    assert.deepEqual(notices.map((n) => n.headline.alert.event.kind), ['switchover']);
  });

  await t.test('the real center:web with --data-dir restores the cluster (seen through its /ipc)', async () => {
    await second.manager.dispose();
    const staticDir = join(home, 'ui');
    mkdirSync(staticDir);
    writeFileSync(join(staticDir, 'index.html'), '<!doctype html><title>vigil</title>');
    const child = spawn(process.execPath, [resolve(REPO, 'dist/main/web/cli.js'), '--data-dir', home, '--port', '0', '--static', staticDir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    const exited = new Promise<void>((res) => child.once('exit', () => res()));
    t.after(async () => { child.kill('SIGTERM'); await exited; });
    const url = await c.waitFor('center:web listening', () => /^open: (http:\/\/[^#\s]+)#token=(\S+)$/m.exec(out) ?? undefined);
    const ws = new WebSocket(`${url[1]!.replace('http://', 'ws://')}ipc`);
    t.after(() => ws.terminate());
    const frames: { id?: number; ok?: boolean; result?: unknown; auth?: unknown }[] = [];
    ws.on('message', (d) => frames.push(JSON.parse(d.toString()) as (typeof frames)[number]));
    await new Promise<void>((res, rej) => { ws.once('open', () => res()); ws.once('error', rej); });
    ws.send(JSON.stringify({ token: url[2] }));
    let id = 0;
    await c.waitFor(`both nodes connected in center:web (its output: ${out})`, async () => {
      const mine = ++id;
      ws.send(JSON.stringify({ id: mine, channel: 'clusters.list', params: {} }));
      const answer = await c.waitFor('an answer', () => frames.find((f) => f.id === mine));
      const views = answer.result as { id: string; nodes: { state: string }[] }[] | undefined;
      return views?.[0]?.id === 'it' && views[0].nodes.every((n) => n.state === 'connected');
    });
    assert.doesNotMatch(out, /center:web: cluster/, 'no restore problem printed');
  });

  await t.test('an altered token is reported naming the cluster and the field; nothing is connected', async () => {
    const file = JSON.parse(readFileSync(clustersFile, 'utf8')) as { clusters: { credentials: { token: { sealed: string } } }[] };
    const sealed = Buffer.from(file.clusters[0]!.credentials.token.sealed, 'base64');
    sealed[20] = sealed[20]! ^ 0x80;
    file.clusters[0]!.credentials.token.sealed = sealed.toString('base64');
    writeFileSync(clustersFile, JSON.stringify(file));
    const third = open();
    const problems = await third.center.restore();
    assert.deepEqual(problems.map(describeProblem), [`cluster it: credentials.token: cannot be decrypted: altered, or sealed with another key than ${join(home, 'secret.key')}`]);
    assert.deepEqual(third.manager.list(), []);
  });
});
