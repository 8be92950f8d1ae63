// Two real agents mirror a folder through their mirror service: files written on the node running the group
// appear on the other; after kill -9 of that node's agent the other one takes over on its own copy and becomes
// the source; the old node returns as target and is brought level. After each step the two trees are equal by
// content hash (verify). Loopback only; the same on network-namespace hosts is in netns-mirror.test.ts.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { callAgent } from '../../agent/control/control-client.js';
import { compileGlobs } from '../../agent/replication/glob.js';
import { verifyTrees } from '../../agent/replication/verify.js';
import type { MirrorStatus } from '../../common/model/index.js';
import { LocalCluster, freePort } from '../support/agent-cluster.js';

interface Mirrored { c: LocalCluster; folder: (node: string) => string; ports: { alpha: number; beta: number } }

async function mirrored(t: TestContext, journalSize = '64MiB', switchback: 'auto' | 'manual' = 'manual'): Promise<Mirrored> {
  const ports = { alpha: await freePort(), beta: await freePort() };
  const c = await LocalCluster.create('groups: []');
  t.after(() => c.dispose());
  const folder = (node: string): string => join(c.dir, `data-${node}`);
  const config = readFileSync(c.configPath, 'utf8').replace('groups: []', `groups:
  - id: files
    nodes: [alpha, beta]
    switchback: ${switchback}
    resources:
      - id: data
        kind: mirror
        folders: [{ alpha: "${folder('alpha')}", beta: "${folder('beta')}" }]
        exclude: ["*.tmp"]
        endpoints: { alpha: "127.0.0.1:${ports.alpha}", beta: "127.0.0.1:${ports.beta}" }
        journalSize: ${journalSize}
        monitorInterval: 1s
`);
  writeFileSync(c.configPath, config);
  mkdirSync(folder('alpha'));
  mkdirSync(folder('beta'));
  return { c, folder, ports };
}

const mirrorStatus = async (c: LocalCluster, node: string): Promise<MirrorStatus> =>
  (await callAgent(c.socket(node), 'mirror', { action: 'status', name: 'data' }, 10_000)).status[0]!;

async function equal(c: LocalCluster, a: string, b: string): Promise<boolean> {
  const report = await verifyTrees(a, b, compileGlobs([], ['*.tmp']));
  return report.equal;
}

test('a mirror follows its group: live changes reach the target, kill -9 fails over onto the copy, the old source returns as target', async (t) => {
  const { c, folder } = await mirrored(t);
  writeFileSync(join(folder('alpha'), 'before.txt'), 'written before the agents started\n');
  c.start('alpha');
  c.start('beta');
  await c.waitFor('alpha is the source and in sync', async () => {
    const s = await mirrorStatus(c, 'alpha').catch(() => undefined);
    return s?.role === 'source' && s.state === 'in-sync' && await equal(c, folder('alpha'), folder('beta'));
  }, 60_000);

  // Live changes: creates in new folders, appends, renames, deletes, an excluded file.
  mkdirSync(join(folder('alpha'), 'deep/er'), { recursive: true });
  writeFileSync(join(folder('alpha'), 'deep/er/new.bin'), Buffer.alloc(300_000, 1));
  appendFileSync(join(folder('alpha'), 'before.txt'), 'and appended to\n');
  writeFileSync(join(folder('alpha'), 'scratch.tmp'), 'not mirrored');
  renameSync(join(folder('alpha'), 'deep/er/new.bin'), join(folder('alpha'), 'moved.bin'));
  writeFileSync(join(folder('alpha'), 'gone.txt'), 'short-lived');
  rmSync(join(folder('alpha'), 'gone.txt'));
  await c.waitFor('the target has every change', () => equal(c, folder('alpha'), folder('beta')), 30_000);
  assert.equal(readFileSync(join(folder('beta'), 'before.txt'), 'utf8'), 'written before the agents started\nand appended to\n');
  const verify = await callAgent(c.socket('alpha'), 'mirror', { action: 'verify', name: 'data' }, 60_000);
  assert.equal(verify.verify?.equal, true, JSON.stringify(verify.verify));

  // Fail over: beta's copy becomes the source.
  await c.kill('alpha');
  await c.waitFor('beta is the source', async () => (await mirrorStatus(c, 'beta')).role === 'source', 30_000);
  writeFileSync(join(folder('beta'), 'after-failover.txt'), 'written on beta\n');
  c.start('alpha');
  await c.waitFor('alpha, back as target, is level with beta', async () => {
    const s = await mirrorStatus(c, 'beta').catch(() => undefined);
    return s?.state === 'in-sync' && await equal(c, folder('beta'), folder('alpha'));
  }, 60_000);
  assert.equal(readFileSync(join(folder('alpha'), 'after-failover.txt'), 'utf8'), 'written on beta\n');
  const alpha = await mirrorStatus(c, 'alpha');
  assert.equal(alpha.role, 'target');
  assert.equal(alpha.generation, (await mirrorStatus(c, 'beta')).generation, 'the target holds the source\'s generation');
});

const mirror = (c: LocalCluster, node: string, action: 'pause-target' | 'pause-source' | 'resume' | 'diff' | 'full') =>
  callAgent(c.socket(node), 'mirror', { action, name: 'data' }, 30_000);

async function inSync(m: Mirrored, source = 'alpha', target = 'beta'): Promise<void> {
  await m.c.waitFor(`${source} is the source and ${target} is level with it`, async () => {
    const s = await mirrorStatus(m.c, source).catch(() => undefined);
    return s?.role === 'source' && s.state === 'in-sync' && await equal(m.c, m.folder(source), m.folder(target));
  }, 60_000);
}

test('target-write pause freezes the target while its spool grows; resume drains it in order', async (t) => {
  const m = await mirrored(t);
  const { c, folder } = m;
  c.start('alpha');
  c.start('beta');
  await inSync(m);
  await mirror(c, 'alpha', 'pause-target');
  writeFileSync(join(folder('alpha'), 'one.txt'), 'first\n');
  appendFileSync(join(folder('alpha'), 'one.txt'), 'second\n');
  renameSync(join(folder('alpha'), 'one.txt'), join(folder('alpha'), 'two.txt'));
  await c.waitFor('the target spools', async () => ((await mirrorStatus(c, 'beta')).targetQueue?.records ?? 0) > 0, 30_000);
  const beta = await mirrorStatus(c, 'beta');
  assert.equal(beta.state, 'paused');
  assert.ok(beta.pausedTarget);
  await new Promise((r) => setTimeout(r, 500));
  assert.ok(!(await equal(c, folder('alpha'), folder('beta'))), 'the target copy stays frozen while paused');
  await mirror(c, 'alpha', 'resume');
  await inSync(m);
  assert.equal(readFileSync(join(folder('beta'), 'two.txt'), 'utf8'), 'first\nsecond\n');
  assert.equal((await mirrorStatus(c, 'beta')).targetQueue?.records, 0);

  // A differential mirror repairs a target changed behind the mirror's back; a full mirror resends everything.
  writeFileSync(join(folder('beta'), 'two.txt'), 'damaged on the target\n');
  writeFileSync(join(folder('beta'), 'stray.txt'), 'not on the source\n');
  await mirror(c, 'alpha', 'diff');
  await c.waitFor('the differential mirror ran and repaired beta', async () => {
    const s = await mirrorStatus(c, 'alpha');
    return s.lastSync?.kind === 'diff' && s.lastSync.finishedAt !== undefined && await equal(c, folder('alpha'), folder('beta'));
  }, 60_000);
  rmSync(join(folder('beta'), 'two.txt'));
  await mirror(c, 'alpha', 'full');
  await c.waitFor('the full mirror ran and beta is whole again', async () => {
    const s = await mirrorStatus(c, 'alpha');
    return s.lastSync?.kind === 'full' && s.lastSync.finishedAt !== undefined && await equal(c, folder('alpha'), folder('beta'));
  }, 60_000);
});

test('source-transmission pause survives an agent restart; the journal holds the changes until resume', async (t) => {
  const m = await mirrored(t);
  const { c, folder } = m;
  c.start('alpha');
  c.start('beta');
  await inSync(m);
  await mirror(c, 'alpha', 'pause-source');
  writeFileSync(join(folder('alpha'), 'held.bin'), Buffer.alloc(200_000, 5));
  await c.waitFor('the source queues', async () => ((await mirrorStatus(c, 'alpha')).sourceQueue?.records ?? 0) > 0, 30_000);
  // Restart alpha's agent without a failover: maintenance keeps the group where it is meanwhile.
  await callAgent(c.socket('alpha'), 'maintenance', { on: true });
  await c.kill('alpha');
  c.start('alpha');
  await c.waitFor('alpha answers', () => callAgent(c.socket('alpha'), 'status', {}).then(() => true, () => false), 30_000);
  await callAgent(c.socket('alpha'), 'maintenance', { on: false });
  await c.waitFor('alpha is the source again, still paused', async () => {
    const s = await mirrorStatus(c, 'alpha').catch(() => undefined);
    return s?.role === 'source' && s.pausedSource && s.state === 'paused';
  }, 30_000);
  assert.ok(!(await equal(c, folder('alpha'), folder('beta'))), 'nothing was sent while paused');
  await mirror(c, 'alpha', 'resume');
  await inSync(m);
});

test('a full journal marks the mirror dirty and a differential mirror brings the target level', async (t) => {
  const m = await mirrored(t, '1MiB');
  const { c, folder } = m;
  c.start('alpha');
  c.start('beta');
  await inSync(m);
  await mirror(c, 'alpha', 'pause-source');
  for (let i = 0; i < 4; i++) writeFileSync(join(folder('alpha'), `big${i}.bin`), Buffer.alloc(700_000, i + 1));
  await c.waitFor('the source reports the dirty mark', async () => {
    const s = await mirrorStatus(c, 'alpha');
    return s.dirtyFiles !== 0 && s.reasons.some((r) => /dirty: the journal was full/.test(r));
  }, 30_000);
  await mirror(c, 'alpha', 'resume');
  await inSync(m);
  assert.equal((await mirrorStatus(c, 'alpha')).dirtyFiles, 0);
});

test('kill -9 of the source agent and of the target agent mid-transfer: both restart and converge', async (t) => {
  const m = await mirrored(t);
  const { c, folder } = m;
  c.start('alpha');
  c.start('beta');
  await inSync(m);
  await callAgent(c.socket('alpha'), 'maintenance', { on: true }); // restarts, not failovers
  for (let i = 0; i < 8; i++) writeFileSync(join(folder('alpha'), `data${i}.bin`), Buffer.alloc(4_000_000, i + 7));
  await c.waitFor('the transfer is under way', async () => ((await mirrorStatus(c, 'alpha')).sourceQueue?.records ?? 0) > 0, 30_000);
  await c.kill('beta');
  c.start('beta');
  await c.kill('alpha');
  c.start('alpha');
  await c.waitFor('both agents answer', () => Promise.all(['alpha', 'beta'].map((n) => callAgent(c.socket(n), 'status', {}))).then(() => true, () => false), 30_000);
  await callAgent(c.socket('alpha'), 'maintenance', { on: false });
  await inSync(m);
});

/** A TLS session to a replication port as node `identity`, with `key`; resolves with what the peer sent until it closed. */
async function rawSession(port: number, key: Buffer, identity: string, send: (socket: import('node:tls').TLSSocket) => void): Promise<{ error?: string; received: Buffer }> {
  const { connect } = await import('node:tls');
  const { clientTlsOptions } = await import('../../agent/replication/transport-tls.js');
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let error: string | undefined;
    const socket = connect({ host: '127.0.0.1', port, ...clientTlsOptions(key, identity) }, () => send(socket));
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('error', (e) => { error = e.message; });
    socket.on('close', () => resolve({ ...(error === undefined ? {} : { error }), received: Buffer.concat(chunks) }));
    setTimeout(() => socket.destroy(), 10_000).unref();
  });
}

test('bad input on the replication port (garbage, a wrong key, a truncated frame, a bad record) is refused and changes nothing', async (t) => {
  const m = await mirrored(t);
  const { c, folder, ports } = m;
  writeFileSync(join(folder('alpha'), 'a.txt'), 'alpha\n');
  c.start('alpha');
  c.start('beta');
  await inSync(m);
  const { treeManifest, encodeManifest } = await import('../../agent/replication/verify.js');
  const before = encodeManifest(await treeManifest(folder('beta'), compileGlobs([], [])));
  const { encodeHello, encodeRecordPrefix } = await import('../../common/protocol/replication.js');
  const { connect: tcpConnect } = await import('node:net');
  const key = Buffer.from(c.key, 'hex');
  await mirror(c, 'alpha', 'pause-source'); // alpha's own stream would replace our sessions

  // Plain garbage, no TLS at all.
  await new Promise<void>((resolve) => {
    const s = tcpConnect(ports.beta, '127.0.0.1', () => s.write(Buffer.from('GET / HTTP/1.0\r\n\r\n\x00\xff garbage')));
    s.on('error', () => undefined);
    s.on('close', () => resolve());
    s.resume();
  });
  // A wrong key: the handshake fails.
  const wrong = await rawSession(ports.beta, Buffer.alloc(32, 9), 'alpha', () => assert.fail('a wrong key must not complete the handshake'));
  assert.ok(wrong.error !== undefined, 'the handshake with a wrong key failed');
  // The right key, a valid HELLO, then a frame cut short, and then a record that is not a change record.
  const target = await mirrorStatus(c, 'beta');
  const hello = Buffer.from(encodeHello({ window: 1 << 20, fromSeq: 1, clusterId: 'it', mirror: 'data', sourceNode: 'alpha', lineage: target.generation }));
  const truncated = await rawSession(ports.beta, key, 'alpha', (s) => {
    s.write(hello);
    s.once('data', () => { s.write(Buffer.concat([Buffer.from(encodeRecordPrefix(1_000_000, 100)), Buffer.alloc(10)])); s.end(); });
  });
  assert.ok(truncated.received.length > 0, 'the target answered the HELLO');
  const garbage = Buffer.from('\x63not a change record at all');
  const badRecord = await rawSession(ports.beta, key, 'alpha', (s) => {
    s.write(hello);
    s.once('data', (d: Buffer) => {
      // HELLO_OK: u64 lastApplied right after the 6-byte header; send the next record with a garbage payload.
      const lastApplied = d.readUInt32BE(6) * 2 ** 32 + d.readUInt32BE(10);
      s.write(Buffer.concat([Buffer.from(encodeRecordPrefix(lastApplied + 1, garbage.length)), garbage]));
    });
  });
  assert.match(badRecord.received.toString('latin1'), /VIGIL_BAD_RECORD.*version at byte 0/, 'refused, naming the byte');
  const after = encodeManifest(await treeManifest(folder('beta'), compileGlobs([], [])));
  assert.equal(after, before, "nothing in the target's folder changed");
  // The agent and the mirror still work.
  await mirror(c, 'alpha', 'resume');
  writeFileSync(join(folder('alpha'), 'b.txt'), 'still mirrored\n');
  await inSync(m);
  assert.equal(readFileSync(join(folder('beta'), 'b.txt'), 'utf8'), 'still mirrored\n');
});

test('failover while the mirror lags; the old source returns, is resynced from the new one, and only then does the group switch back', async (t) => {
  const m = await mirrored(t, '64MiB', 'auto');
  const { c, folder } = m;
  writeFileSync(join(folder('alpha'), 'shared.txt'), 'version 1\n');
  c.start('alpha');
  c.start('beta');
  await inSync(m);
  // Lag: alpha changes things that never reach beta before alpha dies.
  await mirror(c, 'alpha', 'pause-source');
  writeFileSync(join(folder('alpha'), 'shared.txt'), 'version 2, never sent\n');
  writeFileSync(join(folder('alpha'), 'unsent.txt'), 'lost with alpha\n');
  await c.waitFor('the change is queued on alpha', async () => ((await mirrorStatus(c, 'alpha')).sourceQueue?.records ?? 0) > 0, 30_000);
  await c.kill('alpha');
  await c.waitFor('beta took over on its copy', async () => (await mirrorStatus(c, 'beta')).role === 'source', 30_000);
  assert.equal(readFileSync(join(folder('beta'), 'shared.txt'), 'utf8'), 'version 1\n', 'beta runs on the copy it had');
  writeFileSync(join(folder('beta'), 'shared.txt'), 'version 3, written on beta\n');
  writeFileSync(join(folder('beta'), 'big.bin'), Buffer.alloc(20_000_000, 3));
  c.start('alpha');
  // Automatic switchback, but only onto a copy level with beta's: alpha then holds beta's data, not its own.
  await c.waitFor('the group is back on alpha', async () => (await mirrorStatus(c, 'alpha').catch(() => undefined))?.role === 'source', 90_000);
  assert.equal(readFileSync(join(folder('alpha'), 'shared.txt'), 'utf8'), 'version 3, written on beta\n');
  assert.ok(!(await import('node:fs')).existsSync(join(folder('alpha'), 'unsent.txt')), 'the change beta never had is gone: beta\'s newer copy won');
  await inSync(m);
});
