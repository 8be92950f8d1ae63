// The center core's connection layer against real agents and a real sshd: direct and tunnelled connections, the
// host-key rules, SSH authentication failures, reconnection after an agent restart, and a dispose that leaves
// nothing open.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalCluster, WEB_GROUP_YAML as GROUP } from '../support/agent-cluster.js';
import { Sshd, createUser } from '../support/sshd.js';
import { ConnectionManager, type ClusterSpec, type ManagerChange, type NodeView } from '../../main/core/connection-manager.js';
import type { SshTarget } from '../../main/core/ssh-tunnel.js';

/** TCP connections this process holds to any of these ports, as the kernel sees them. */
function openConnections(ports: readonly number[]): string[] {
  const out = spawnSync('ss', ['-tnpH', 'state', 'established'], { encoding: 'utf8' }).stdout;
  return out.split('\n').filter((l) => l.includes(`pid=${process.pid},`) && ports.some((p) => l.includes(`127.0.0.1:${p} `)));
}

test('center core: direct and tunnelled connections, host keys, SSH auth, reconnect, dispose', async (t) => {
  const c = await LocalCluster.createWithApi(GROUP);
  t.after(() => c.dispose());
  const user = createUser();
  t.after(() => user.remove());
  const sshd = await Sshd.start([user.name]);
  t.after(() => sshd.stop());
  const other = await Sshd.start([user.name]);
  t.after(() => other.stop());
  const home = mkdtempSync(join(tmpdir(), 'vigil-center-'));
  t.after(() => rmSync(home, { recursive: true, force: true }));
  const knownHostsFile = join(home, 'known-hosts.json');

  await c.startSettled();

  const managers: ConnectionManager[] = [];
  const manager = (): ConnectionManager => {
    const m = new ConnectionManager({ knownHostsFile, client: 'center-test', timeoutMs: 10_000, backoff: { initialMs: 100, maxMs: 1000 } });
    managers.push(m);
    t.after(() => m.dispose());
    return m;
  };
  const credentials = { ca: c.trust(), token: c.adminToken };
  const ssh = (over: Partial<SshTarget> = {}): SshTarget => ({ host: '127.0.0.1', port: sshd.port, username: user.name, password: user.password, ...over });
  const node = (m: ConnectionManager, cluster: string, id: string): NodeView => m.view(cluster)!.nodes.find((n) => n.node === id)!;
  const settled = (m: ConnectionManager, cluster: string, id: string, state: string): Promise<NodeView> =>
    c.waitFor(`${cluster}/${id} ${state}`, () => { const v = node(m, cluster, id); return v.state === state && v; });

  await t.test('direct to both nodes: the merged view shows both, their snapshots and links; requests go through', async () => {
    const m = manager();
    m.add({ id: 'it', credentials, nodes: c.nodes.map((n) => ({ id: n, endpoint: { url: c.apiUrl(n) } })) });
    for (const n of c.nodes) await settled(m, 'it', n, 'connected');
    // A node counts as alive once one link is up: the TCP link may connect a moment after the UDP one, and the
    // statuses the center holds follow the agents' pushes.
    await c.waitFor('both nodes report every link up', () => m.list()[0]!.nodes.every((n) => n.status?.nodes.flatMap((x) => x.links).every((l) => l.up) === true));
    const view = m.list();
    assert.deepEqual(view.map((v) => v.id), ['it']);
    for (const n of view[0]!.nodes) {
      assert.equal(n.snapshot?.node, n.node);
      assert.equal(n.welcome?.principal.role, 'admin');
      assert.deepEqual(n.status?.nodes.map((x) => x.id).sort(), ['alpha', 'beta']);
      // Each node reports its heartbeat links (both kinds), up.
      const links = n.status!.nodes.flatMap((x) => x.links);
      assert.deepEqual([...new Set(links.map((l) => l.link))].sort(), ['lan-tcp', 'lan-udp']);
      assert.ok(links.every((l) => l.up), JSON.stringify(links));
    }
    assert.equal((await m.call('it', 'beta', 'status', {})).reportedBy, 'beta');
    await assert.rejects(m.call('it', 'gamma', 'status', {}), { code: 'NOT_FOUND' });
  });

  await t.test('a wrong token is a refusal: no retrying', async () => {
    const m = manager();
    m.add({ id: 'bad', credentials: { ca: c.trust(), token: 'vgl_0123456789abcdef_nottherightsecretatall' }, nodes: [{ id: 'alpha', endpoint: { url: c.apiUrl('alpha') } }] });
    const v = await settled(m, 'bad', 'alpha', 'refused');
    assert.equal(v.lastError?.code, 'BAD_CREDENTIALS');
  });

  await t.test('through sshd: an unknown host key is refused with its fingerprint, accepted explicitly, then remembered', async () => {
    const m = manager();
    const spec: ClusterSpec = { id: 'tun', credentials, nodes: [{ id: 'beta', endpoint: { url: c.apiUrl('beta'), via: ssh() } }] };
    m.add(spec);
    const refused = await settled(m, 'tun', 'beta', 'refused');
    assert.equal(refused.lastError?.code, 'HOST_KEY_UNKNOWN');
    assert.equal((refused.lastError?.details as { fingerprint?: string }).fingerprint, sshd.fingerprint);
    assert.match(refused.lastError!.message, new RegExp(sshd.fingerprint.replace(/[+/]/g, '\\$&')));
    // Accepting another fingerprint than the host's gets nowhere.
    m.acceptHostKey('tun', 'beta', 'SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA');
    assert.equal((await settled(m, 'tun', 'beta', 'refused')).lastError?.code, 'HOST_KEY_UNKNOWN');
    m.acceptHostKey('tun', 'beta', sshd.fingerprint);
    const connected = await settled(m, 'tun', 'beta', 'connected');
    assert.equal(connected.snapshot?.node, 'beta');
    assert.equal((await m.call('tun', 'beta', 'status', {})).reportedBy, 'beta');
    assert.equal(JSON.parse(readFileSync(knownHostsFile, 'utf8'))[`127.0.0.1:${sshd.port}`], sshd.fingerprint);

    // A fresh center with the same store needs no acceptance.
    const again = manager();
    again.add(spec);
    await settled(again, 'tun', 'beta', 'connected');
  });

  await t.test('a changed host key is refused, even when the new one is "accepted"', async () => {
    const store = JSON.parse(readFileSync(knownHostsFile, 'utf8')) as Record<string, string>;
    // The other sshd's address, remembered with the first one's key: as if the host had been replaced.
    writeFileSync(knownHostsFile, JSON.stringify({ ...store, [`127.0.0.1:${other.port}`]: sshd.fingerprint }));
    const m = manager();
    m.add({ id: 'changed', credentials, nodes: [{ id: 'alpha', endpoint: { url: c.apiUrl('alpha'), via: ssh({ port: other.port }) } }] });
    const v = await settled(m, 'changed', 'alpha', 'refused');
    assert.equal(v.lastError?.code, 'HOST_KEY_CHANGED');
    assert.deepEqual(v.lastError?.details, { host: '127.0.0.1', port: other.port, fingerprint: other.fingerprint, known: sshd.fingerprint });
    m.acceptHostKey('changed', 'alpha', other.fingerprint);
    assert.equal((await settled(m, 'changed', 'alpha', 'refused')).lastError?.code, 'HOST_KEY_CHANGED');
    assert.equal(JSON.parse(readFileSync(knownHostsFile, 'utf8'))[`127.0.0.1:${other.port}`], sshd.fingerprint, 'the remembered key is untouched');
  });

  await t.test('a wrong password is SSH_AUTH_FAILED, and not retried', async () => {
    const m = manager();
    m.add({ id: 'pw', credentials, nodes: [{ id: 'alpha', endpoint: { url: c.apiUrl('alpha'), via: ssh({ password: 'not-the-password' }) } }] });
    const v = await settled(m, 'pw', 'alpha', 'refused');
    assert.equal(v.lastError?.code, 'SSH_AUTH_FAILED');
    assert.match(v.lastError!.message, new RegExp(`as ${user.name}: the host refused the password`));
  });

  await t.test('beta restarted: direct and tunnelled connections go reconnecting, then connected with a new snapshot', async () => {
    const m = manager();
    m.add({ id: 'r', credentials, nodes: [
      { id: 'beta', endpoint: { url: c.apiUrl('beta') } },
      { id: 'beta-ssh', endpoint: { url: c.apiUrl('beta'), via: ssh() } },
    ] });
    const before = await settled(m, 'r', 'beta', 'connected');
    await settled(m, 'r', 'beta-ssh', 'connected');
    const seen: Record<string, string[]> = { beta: [], 'beta-ssh': [] };
    m.on('change', (ch: ManagerChange) => { if (ch.kind === 'node') seen[ch.node]!.push(ch.what === 'state' ? ch.view.state : ch.what); });
    await c.kill('beta');
    c.start('beta');
    for (const id of ['beta', 'beta-ssh']) {
      const after = await c.waitFor(`r/${id} connected to the restarted agent`, () => {
        const v = node(m, 'r', id);
        return v.state === 'connected' && v.snapshot!.startedAt > before.snapshot!.startedAt && v;
      }, 30_000);
      assert.equal(after.snapshot?.node, 'beta');
      const states = seen[id]!;
      const reconnecting = states.indexOf('reconnecting');
      assert.ok(reconnecting >= 0, `${id}: ${states.join(' ')}`);
      assert.ok(states.lastIndexOf('connected') > reconnecting, `${id}: ${states.join(' ')}`);
      assert.ok(states.lastIndexOf('snapshot') > reconnecting, `${id}: the snapshot came again (${states.join(' ')})`);
    }
    assert.equal((await m.call('r', 'beta-ssh', 'status', {})).reportedBy, 'beta');
  });

  await t.test('dispose leaves no socket to the agents or to sshd', async () => {
    await Promise.all(managers.map((m) => m.dispose()));
    const ports = [...Object.values(c.apiPorts), sshd.port, other.port];
    await c.waitFor('no connection left', () => openConnections(ports).length === 0, 10_000);
    assert.deepEqual(m0(managers), []);
  });
});

/** What the disposed managers still list: nothing. */
function m0(managers: readonly ConnectionManager[]): unknown[] {
  return managers.flatMap((m) => m.list());
}
