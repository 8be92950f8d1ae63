// The node's mirror service across agent runs (the real MirrorService, its target listening on loopback, its source
// promoted with the peer away): what an unclean stop leaves for the next runs; a mirror's bandwidth limit from its
// configuration to its status and its pace.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { parseConfig } from '../../../common/config/load.js';
import { PACER_ALLOWANCE_MS } from '../../../agent/replication/send-pacer.js';
import { MirrorService } from '../../../agent/replication/service.js';
import { compileGlobs } from '../../../agent/replication/glob.js';
import { verifyTrees } from '../../../agent/replication/verify.js';
import { freePort, until } from '../../support/process.js';

const KEY_HEX = 'ab'.repeat(32);

function twoNodeConfig(base: string, alphaPort: number, betaPort: number, mirrorFields = ''): ReturnType<typeof parseConfig> {
  return parseConfig(`cluster: { id: c1, key: "${KEY_HEX}" }
nodes: [{ id: alpha }, { id: beta }]
heartbeat:
  links:
    - name: l1
      kind: udp
      endpoints: { alpha: "127.0.0.1:7001", beta: "127.0.0.1:7002" }
groups:
  - id: files
    resources:
      - { id: data, kind: mirror, folders: [{ alpha: "${join(base, 'alpha')}", beta: "${join(base, 'beta')}" }], endpoints: { alpha: "127.0.0.1:${alphaPort}", beta: "127.0.0.1:${betaPort}" }${mirrorFields} }
`, 'c.yaml');
}

interface TwoNodes {
  readonly base: string;
  readonly log: string[];
  /** A node's mirror service over `base`, started; closed after the test, the last started first. */
  start(nodeId: 'alpha' | 'beta', config: ReturnType<typeof parseConfig>): Promise<MirrorService>;
  /** Closes a service now (the agent stopped); resolves once it has. */
  stop(service: MirrorService): Promise<void>;
}

function twoNodes(t: TestContext): TwoNodes {
  const base = mkdtempSync(join(tmpdir(), 'vigil-mirror-service-'));
  const running: MirrorService[] = [];
  t.after(async () => {
    for (const service of running.reverse()) await service.close();
    rmSync(base, { recursive: true, force: true });
  });
  const log: string[] = [];
  return {
    base, log,
    start: async (nodeId, config) => {
      const service = new MirrorService({ config, nodeId, stateDir: join(base, `state-${nodeId}`), key: Buffer.from(KEY_HEX, 'hex'), runningAsRoot: false, log: (line) => log.push(`${nodeId}: ${line}`) });
      await service.start();
      running.push(service);
      return service;
    },
    stop: async (service) => {
      running.splice(running.indexOf(service), 1);
      await service.close();
    },
  };
}

test('a node that did not stop cleanly drops its index as the source, and whenever it is the source next, even in a later run, a differential mirror is due first', async (t) => {
  const base = mkdtempSync(join(tmpdir(), 'vigil-mirror-service-'));
  t.after(() => rmSync(base, { recursive: true, force: true }));
  const [alphaPort, betaPort] = [await freePort(), await freePort()];
  const config = twoNodeConfig(base, alphaPort, betaPort);
  const stateDir = join(base, 'state');
  const dir = join(stateDir, 'mirrors', 'data');
  const log: string[] = [];
  /** One run of alpha's agent: its mirror service started, `during` it, closed cleanly. */
  const run = async (during: (service: MirrorService) => Promise<void>): Promise<void> => {
    const service = new MirrorService({ config, nodeId: 'alpha', stateDir, key: Buffer.from(KEY_HEX, 'hex'), runningAsRoot: false, log: (line) => log.push(line) });
    await service.start();
    try {
      await during(service);
    } finally {
      await service.close();
    }
  };
  const sourceReasons = async (service: MirrorService): Promise<readonly string[]> => {
    assert.equal((await service.promote('data')).rc, 0, log.join('\n'));
    const status = await service.command('status', 'data');
    assert.equal(status.status[0]!.role, 'source');
    return status.status[0]!.reasons;
  };
  // A first run as the source (beta away), stopped cleanly: its block index is saved, and a later clean run is due
  // no resync of its own.
  await run(async (service) => {
    writeFileSync(join(base, 'alpha', 'f'), 'data\n');
    await sourceReasons(service);
    // Beta does not answer: the source reconciles on its own after a while, indexing f.
    await until('f is read and queued', async () => ((await service.command('status', 'data')).status[0]!.sourceQueue?.records ?? 0) > 0, 10_000);
  });
  assert.ok(existsSync(join(dir, 'index')), 'the source saved its index');
  await run(async (service) => {
    assert.deepEqual((await sourceReasons(service)).filter((r) => r.startsWith('dirty')), []);
  });
  // A crash: the run's marker is left behind. The next run starts as a target (the group is elsewhere, say).
  writeFileSync(join(dir, 'running'), '1\n');
  await run(async () => {
    assert.ok(log.some((line) => line.includes('mirror data: the agent did not stop cleanly')), log.join('\n'));
    assert.equal(existsSync(join(dir, 'index')), false, 'the index made before the crash is gone');
  });
  // A later run, started cleanly, is the source again: not from the journal and index of before the crash.
  await run(async (service) => {
    assert.ok((await sourceReasons(service)).includes('dirty: the agent did not stop cleanly; a differential mirror follows'), log.join('\n'));
  });
});

test('a source restarted over changes made unwatched says lagging, and why, until its reconcile has brought them over', async (t) => {
  const { base, log, start: startNode, stop } = twoNodes(t);
  const config = twoNodeConfig(base, await freePort(), await freePort());
  const files = 2000;
  const folder = join(base, 'alpha');
  const write = (what: string): void => {
    for (let i = 0; i < files; i++) {
      mkdirSync(join(folder, `d${i % 20}`), { recursive: true });
      writeFileSync(join(folder, `d${i % 20}`, `f${i}`), `${what} ${i}\n`);
    }
  };
  write('first');
  const start = (nodeId: 'alpha' | 'beta'): Promise<MirrorService> => startNode(nodeId, config);
  await start('beta');
  const status = async (service: MirrorService) => (await service.command('status', 'data')).status[0]!;
  let alpha = await start('alpha');
  assert.equal((await alpha.promote('data')).rc, 0, log.join('\n'));
  await until('the first mirror is done', async () => (await status(alpha)).state === 'in-sync', 30_000).catch((e: Error) => { throw new Error(`${e.message}\n${log.join('\n')}`); });
  await stop(alpha);
  write('changed while no agent watched');

  // The same promotion carries on (no resync): only the start's reconcile finds the changes.
  alpha = await start('alpha');
  assert.equal((await alpha.promote('data')).rc, 0, log.join('\n'));
  let firstConnected: { state: string; reasons: readonly string[] } | undefined;
  for (const end = Date.now() + 60_000; ;) {
    const s = await status(alpha);
    if (s.connected === true) firstConnected ??= s;
    if (s.state === 'in-sync') break;
    if (Date.now() > end) throw new Error(`never in-sync: ${JSON.stringify(s)}\n${log.join('\n')}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  // Connected, no resync due: the start's reconcile is under way (seconds for 2,000 files), and the status says so.
  assert.equal(firstConnected?.state, 'lagging', JSON.stringify(firstConnected));
  assert.ok(firstConnected.reasons.includes(`scanning ${folder} for changes no watcher reported`), JSON.stringify(firstConnected));
  // When it says in-sync, it is.
  const report = await verifyTrees(folder, join(base, 'beta'), compileGlobs([], []));
  assert.deepEqual([report.missing, report.extra, report.contentDiffers], [[], [], []], `in-sync with differences: ${JSON.stringify(report).slice(0, 300)}`);
});

test('a mirror configured with a bandwidth limit: the source says so in its status and sends no faster than it', async (t) => {
  const { base, log, start } = twoNodes(t);
  const rate = 512 * 1024;
  const config = twoNodeConfig(base, await freePort(), await freePort(), ', maxSendRate: 512KiB/s');
  mkdirSync(join(base, 'alpha'), { recursive: true });
  writeFileSync(join(base, 'alpha', 'big'), randomBytes(1536 * 1024));
  await start('beta', config);
  const alpha = await start('alpha', config);
  const started = performance.now();
  assert.equal((await alpha.promote('data')).rc, 0, log.join('\n'));
  const status = async () => (await alpha.command('status', 'data')).status[0]!;
  assert.equal((await status()).maxSendRate, rate);
  await until('the first mirror is done', async () => (await status()).state === 'in-sync', 30_000).catch((e: Error) => { throw new Error(`${e.message}\n${log.join('\n')}`); });
  const seconds = (performance.now() - started) / 1000;
  // A lower bound only (a slow machine makes it longer): all but the last record (a 1 MiB chunk at most) paid for.
  const atLeast = (1536 * 1024 - (1024 * 1024 + 1024)) / rate - PACER_ALLOWANCE_MS / 1000;
  assert.ok(seconds >= atLeast, `1.5 MiB in ${seconds.toFixed(2)} s, faster than 512 KiB/s allows (${atLeast.toFixed(2)} s)`);
  const report = await verifyTrees(join(base, 'alpha'), join(base, 'beta'), compileGlobs([], []));
  assert.deepEqual([report.missing, report.extra, report.contentDiffers], [[], [], []]);
});

test('a bandwidth limit applied live reaches the running source: a mirror held to 1 KiB/s finishes once it is lifted', async (t) => {
  const { base, log, start } = twoNodes(t);
  const [alphaPort, betaPort] = [await freePort(), await freePort()];
  const limited = twoNodeConfig(base, alphaPort, betaPort, ', maxSendRate: 1KiB/s');
  mkdirSync(join(base, 'alpha'), { recursive: true });
  writeFileSync(join(base, 'alpha', 'big'), randomBytes(1536 * 1024));
  await start('beta', limited);
  const alpha = await start('alpha', limited);
  assert.equal((await alpha.promote('data')).rc, 0, log.join('\n'));
  const status = async () => (await alpha.command('status', 'data')).status[0]!;
  // At 1 KiB/s the first 1 MiB chunk goes, and the rest would take about half an hour.
  await until('the first chunk is sent', async () => (await status()).connected && (await status()).throughput > 0, 30_000);
  assert.equal((await status()).maxSendRate, 1024);
  alpha.applyLiveConfig(twoNodeConfig(base, alphaPort, betaPort));
  assert.match(log.join('\n'), /alpha: mirror data: bandwidth limit removed/);
  await until('the mirror is level', async () => (await status()).state === 'in-sync', 60_000).catch((e: Error) => { throw new Error(`${e.message}\n${log.join('\n')}`); });
  assert.equal((await status()).maxSendRate, undefined);
  const report = await verifyTrees(join(base, 'alpha'), join(base, 'beta'), compileGlobs([], []));
  assert.deepEqual([report.missing, report.extra, report.contentDiffers], [[], [], []]);
});

test('an agent stopped during a slow resync stops at once, not when the data set has crossed; its next start resyncs', async (t) => {
  const { base, log, start, stop } = twoNodes(t);
  const [alphaPort, betaPort] = [await freePort(), await freePort()];
  mkdirSync(join(base, 'alpha'), { recursive: true });
  writeFileSync(join(base, 'alpha', 'big'), randomBytes(1536 * 1024));
  for (let i = 0; i < 50; i++) writeFileSync(join(base, 'alpha', `small${i}`), `small ${i}\n`);
  const unlimited = twoNodeConfig(base, alphaPort, betaPort);
  await start('beta', unlimited);
  // At 1 KiB/s the first 1 MiB chunk goes and the rest would take about half an hour.
  let alpha = await start('alpha', twoNodeConfig(base, alphaPort, betaPort, ', maxSendRate: 1KiB/s'));
  assert.equal((await alpha.promote('data')).rc, 0, log.join('\n'));
  const status = async (service: MirrorService) => (await service.command('status', 'data')).status[0]!;
  await until('the first chunk is sent', async () => (await status(alpha)).connected && (await status(alpha)).throughput > 0, 30_000);
  // The stop ends well within this bound (a safety net, not a measure: waiting for the resync would take 25 minutes).
  let stopped = false;
  const stopping = stop(alpha).then(() => { stopped = true; });
  await until('the agent\'s mirror service stopped', () => stopped, 60_000).catch((e: Error) => {
    // Failed: lift the limit so that the stop still waiting ends, and the test with it.
    alpha.applyLiveConfig(unlimited);
    throw new Error(`${e.message}\n${log.join('\n')}`);
  });
  await stopping;
  assert.match(log.join('\n'), /alpha: mirror data: reset: the mirror stopped during the resync: a differential mirror follows when it is the source again/);
  // Started again, with no limit: the differential mirror its dirty set asks for makes the copy level, and consistent.
  alpha = await start('alpha', unlimited);
  assert.equal((await alpha.promote('data')).rc, 0, log.join('\n'));
  await until('the mirror is level', async () => (await status(alpha)).state === 'in-sync', 60_000).catch((e: Error) => { throw new Error(`${e.message}\n${log.join('\n')}`); });
  const report = await verifyTrees(join(base, 'alpha'), join(base, 'beta'), compileGlobs([], []));
  assert.deepEqual([report.missing, report.extra, report.contentDiffers], [[], [], []]);
  const target = JSON.parse(readFileSync(join(base, 'state-beta', 'mirrors', 'data', 'state.json'), 'utf8')) as { consistent: boolean };
  assert.equal(target.consistent, true, 'the target\'s copy is consistent again');
});

test('a copy whose file system keeps no extended attributes (ramfs) takes the files, and its status says how many paths\' attributes it could not set', async () => {
  const base = mkdtempSync(join(tmpdir(), 'vigil-mirror-service-'));
  const copy = mkdtempSync(join(tmpdir(), 'vigil-mirror-ramfs-'));
  execFileSync('mount', ['-t', 'ramfs', 'vigil-service-ramfs', copy]);
  const services: MirrorService[] = [];
  try {
    const [alphaPort, betaPort] = [await freePort(), await freePort()];
    mkdirSync(join(base, 'alpha'));
    for (let i = 0; i < 3; i++) {
      writeFileSync(join(base, 'alpha', `f${i}`), `file ${i}\n`);
      execFileSync('setfattr', ['-n', 'user.label', '-v', `label ${i}`, join(base, 'alpha', `f${i}`)]);
    }
    const config = parseConfig(`cluster: { id: c1, key: "${KEY_HEX}" }
nodes: [{ id: alpha }, { id: beta }]
heartbeat:
  links:
    - { name: l1, kind: udp, endpoints: { alpha: "127.0.0.1:7001", beta: "127.0.0.1:7002" } }
groups:
  - id: files
    resources:
      - { id: data, kind: mirror, folders: [{ alpha: "${join(base, 'alpha')}", beta: "${copy}" }], endpoints: { alpha: "127.0.0.1:${alphaPort}", beta: "127.0.0.1:${betaPort}" } }
`, 'c.yaml');
    const log: string[] = [];
    const start = async (nodeId: 'alpha' | 'beta'): Promise<MirrorService> => {
      const service = new MirrorService({ config, nodeId, stateDir: join(base, `state-${nodeId}`), key: Buffer.from(KEY_HEX, 'hex'), runningAsRoot: false, log: (line) => log.push(`${nodeId}: ${line}`) });
      await service.start();
      services.push(service);
      return service;
    };
    const beta = await start('beta');
    const alpha = await start('alpha');
    assert.equal((await alpha.promote('data')).rc, 0, log.join('\n'));
    const status = async (service: MirrorService) => (await service.command('status', 'data')).status[0]!;
    await until('the first mirror is done', async () => (await status(alpha)).state === 'in-sync' && (await status(alpha)).sourceQueue?.records === 0, 30_000)
      .catch((e: Error) => { throw new Error(`${e.message}\n${log.join('\n')}`); });
    assert.equal((await verifyTrees(join(base, 'alpha'), copy, compileGlobs([], []))).equal, true, 'the files themselves are level');
    const reasons = (await status(beta)).reasons;
    assert.equal(reasons.length, 1, JSON.stringify(reasons));
    assert.match(reasons[0]!, new RegExp(`^the extended attributes \\(ACLs\\) of 3 paths could not be set in this copy, the last ${copy}/f\\d: ENOTSUP: .*: \`vigil mirror verify\` lists what differs$`));
    assert.equal(log.filter((line) => /not set in the copy/.test(line)).length, 1, `logged once: ${log.join('\n')}`);
    // Named as the user knows them: under this node's folder (the mirror's paths number its folders).
    const verify = await alpha.command('verify', 'data');
    assert.deepEqual(verify.verify?.metadataDiffers, [0, 1, 2].map((i) => ({ path: join(base, 'alpha', `f${i}`), fields: ['xattrs'] })));
    // One only there: under the peer's folder; and the folder itself by its own path.
    writeFileSync(join(copy, 'stray'), 'only on the copy\n');
    chmodSync(copy, 0o700);
    const again = (await alpha.command('verify', 'data')).verify;
    assert.deepEqual([again?.extra, again?.metadataDiffers[0]], [[join(copy, 'stray')], { path: join(base, 'alpha'), fields: ['mode'] }]);
  } finally {
    for (const service of services.reverse()) await service.close();
    execFileSync('umount', [copy]);
    rmSync(copy, { recursive: true, force: true });
    rmSync(base, { recursive: true, force: true });
  }
});

test('mirrorXattrs: true by default carries a file\'s attributes; false carries none, and the files all the same', async (t) => {
  for (const [fields, carried] of [['', true], [', mirrorXattrs: false', false]] as const) {
    const { base, log, start } = twoNodes(t);
    const config = twoNodeConfig(base, await freePort(), await freePort(), fields);
    mkdirSync(join(base, 'alpha'), { recursive: true });
    writeFileSync(join(base, 'alpha', 'f'), 'tagged\n');
    execFileSync('setfattr', ['-n', 'user.label', '-v', 'finance', join(base, 'alpha', 'f')]);
    await start('beta', config);
    const alpha = await start('alpha', config);
    assert.equal((await alpha.promote('data')).rc, 0, log.join('\n'));
    const status = async () => (await alpha.command('status', 'data')).status[0]!;
    await until('the first mirror is done', async () => (await status()).state === 'in-sync' && (await status()).sourceQueue?.records === 0, 30_000)
      .catch((e: Error) => { throw new Error(`${e.message}\n${log.join('\n')}`); });
    assert.equal(readFileSync(join(base, 'beta', 'f'), 'utf8'), 'tagged\n');
    const label = spawnSync('getfattr', ['--only-values', '-n', 'user.label', join(base, 'beta', 'f')], { encoding: 'utf8' });
    assert.equal(label.status === 0 ? label.stdout : undefined, carried ? 'finance' : undefined, `${fields || 'default'}: ${label.stderr}`);
  }
});
