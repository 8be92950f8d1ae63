// The guard as a real process: it is told its configuration as its first line and then says it is ready, refuses a
// first line that is not one, and counts a frozen agent's silence from when the agent last spoke, however late it
// reads that.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import Database from 'better-sqlite3';
import { configDigest } from '../../../common/config/digest.js';
import { parseConfig } from '../../../common/config/load.js';
import type { ClusterConfig } from '../../../common/config/schema.js';
import { EarlyGuard } from '../../../agent/guard/early-guard.js';
import { GuardLink, guardRespawnDelay } from '../../../agent/guard/guard-link.js';
import { parseGuardMessage, systemMonotonicMs, type GuardMessage } from '../../../agent/guard/messages.js';
import { StateStore } from '../../../agent/store/state-store.js';
import { LocalCluster, REPO, WEB_GROUP_YAML, isRunning } from '../../support/agent-cluster.js';

const GUARD = resolve(REPO, 'dist/agent/guard/guard-process.js');

async function alphaOf(t: TestContext): Promise<{ cluster: LocalCluster; stateDir: string; config: ClusterConfig }> {
  const cluster = await LocalCluster.create(WEB_GROUP_YAML);
  t.after(() => cluster.dispose());
  const stateDir = cluster.stateDir('alpha');
  mkdirSync(stateDir, { recursive: true });
  return { cluster, stateDir, config: parseConfig(readFileSync(cluster.configPath, 'utf8'), cluster.configPath) };
}

const exited = (child: ChildProcess) => new Promise<number | null>((r) => child.once('exit', (code) => r(code)));

test('a frozen agent\'s ticks read late: the guard counts the silence from when they were sent and releases at once', async (t) => {
  const { cluster, stateDir, config } = await alphaOf(t);
  const started = spawnSync(cluster.resourceAgentPath(), ['start'], { env: { ...process.env, HA_RSCTMP: cluster.rscTmp('alpha'), OCF_RESOURCE_INSTANCE: 'web-app' } });
  assert.equal(started.status, 0, String(started.stderr));
  const app = cluster.resourcePid('alpha', 'web-app')!;
  assert.ok(isRunning(app));
  const out = openSync(join(stateDir, 'guard.log'), 'a');
  // A release period of a minute: a guard that counted from its own reading would wait that long.
  const guard = spawn(process.execPath, [GUARD, '--node', 'alpha', '--state-dir', stateDir, '--release-after', '60000', '--ready-fd', '3'], { stdio: ['pipe', out, out, 'pipe'] });
  closeSync(out);
  guard.stdin!.write(`${JSON.stringify({ t: 'config', digest: configDigest(config), config } satisfies GuardMessage)}\n`);
  t.after(() => { if (guard.exitCode === null) guard.kill('SIGKILL'); });
  const gone = exited(guard);
  const said = guard.stdio[3] as Readable;
  await new Promise<void>((r) => said.on('data', (chunk: Buffer) => { if (chunk.toString().includes('ready')) r(); }));
  // What waited in the pipe while the guard itself stood still: the agent's report, then its last two ticks,
  // sent a minute and more ago.
  const now = systemMonotonicMs();
  guard.stdin!.write(`${JSON.stringify({ t: 'active', groups: { web: ['web-app'] } })}\n${JSON.stringify({ t: 'tick', at: now - 62_000 })}\n${JSON.stringify({ t: 'tick', at: now - 61_000 })}\n`);
  const timeout = setTimeout(() => guard.kill('SIGKILL'), 20_000);
  const code = await gone;
  clearTimeout(timeout);
  assert.equal(code, 0, 'the guard released and exited on its own');
  assert.equal(isRunning(app), false, 'web-app was stopped');
  assert.match(readFileSync(join(stateDir, 'guard.log'), 'utf8'), /the agent is frozen \(no word for 60000 ms\): stopping what it ran \(web\)[^]*stopped web-app/);
});

test('GuardLink.start() resolves once the guard is listening, and rejects, naming its log, when it cannot start', async (t) => {
  const { cluster, stateDir, config } = await alphaOf(t);
  const lines: string[] = [];
  const link = new GuardLink({ config, node: 'alpha', stateDir, log: (l) => lines.push(l), releaseAfterMs: 200, onGuardLost: () => undefined });
  t.after(() => link.stop());
  await link.start();
  assert.match(lines.join('\n'), /guard ready \(pid \d+, \d+ ms\)/);
  const pid = cluster.guardPid('alpha')!;
  assert.ok(isRunning(pid));
  await link.stop();
  assert.equal(isRunning(pid), false, 'told goodbye, the guard left');
  assert.doesNotMatch(readFileSync(join(stateDir, 'guard.log'), 'utf8'), /frozen|died/, 'and released nothing');

  // A first line that is not a configuration: the guard says so and exits before it is ready.
  const notAConfig = { ...config, groups: 'web' } as unknown as ClusterConfig;
  const broken = new GuardLink({ config: notAConfig, node: 'alpha', stateDir, log: () => undefined, releaseAfterMs: 200, onGuardLost: () => undefined });
  t.after(() => broken.stop());
  await assert.rejects(broken.start(), new RegExp(`the guard exited \\(1\\) before it was ready; see ${join(stateDir, 'guard.log')}`));
  assert.match(readFileSync(join(stateDir, 'guard.log'), 'utf8'), /guard: the agent's first line is not its configuration: \{"t":"config","digest":"\w+","config":\{/);
  await broken.stop();
});

test('the first line the guard reads: a configuration with its groups and resources, or nothing', () => {
  const config = { groups: [{ id: 'web', resources: [{ id: 'ip' }] }] };
  assert.deepEqual(parseGuardMessage(JSON.stringify({ t: 'config', digest: 'abc', config })), { t: 'config', digest: 'abc', config });
  for (const bad of [{ t: 'config', config }, { t: 'config', digest: 'abc' }, { t: 'config', digest: 'abc', config: { groups: {} } },
    { t: 'config', digest: 'abc', config: { groups: [{ id: 'web' }] } }, { t: 'config', digest: 'abc', config: { groups: [{ id: 'web', resources: [{}] }] } },
    { t: 'config', digest: 'abc', config: { groups: [null] } }]) {
    assert.equal(parseGuardMessage(JSON.stringify(bad)), undefined, JSON.stringify(bad));
  }
});

test('a guard that cannot start is started again later each time, not at once; once it starts, it is ready and counted afresh', async (t) => {
  assert.deepEqual([0, 1, 2, 3, 4, 7, 8, 20].map(guardRespawnDelay), [0, 500, 1000, 2000, 4000, 30_000, 30_000, 30_000]);
  const { cluster, stateDir, config } = await alphaOf(t);
  const lines: string[] = [];
  let lost = 0;
  // The link's configuration, which the test spoils and mends: each guard the link starts is told it as it is then.
  const told = { ...config };
  const link = new GuardLink({ config: told, node: 'alpha', stateDir, log: (l) => lines.push(l), releaseAfterMs: 0, onGuardLost: () => { lost++; } });
  t.after(() => link.stop());
  await link.start();
  // The link's log is no agent's: a probe not yet satisfied throws it, and waitFor shows the last one on a time-out.
  const until = (what: string, done: () => boolean): Promise<true> => cluster.waitFor(what, () => done() || assert.fail(lines.join('\n')));
  const failures = (): number => lines.filter((l) => /before it was ready, \d+ in a row; starting a new one in \d+ ms/.test(l)).length;
  // The guard dies and its replacements cannot start (each refuses what it is told: here a configuration spoilt).
  Object.assign(told, { groups: 'spoilt' });
  process.kill(cluster.guardPid('alpha')!, 'SIGKILL');
  await until('a replacement that failed to start', () => failures() > 0);
  await new Promise((r) => setTimeout(r, 3000));
  // After the first failure the next guards start 0.5, 1 and 2 s apart, so at most two more fail within 3 s (a slow
  // machine makes it fewer). Started again at once, a guard fails within its load, a few hundred milliseconds here.
  assert.ok(failures() <= 3, `guards that failed to start within 3 s of the first: ${failures() - 1}\n${lines.join('\n')}`);
  assert.equal(lost, 1, 'the engine is told once, of the guard that was guarding');
  const restoredAt = lines.length;
  Object.assign(told, { groups: config.groups });
  await until('a guard ready again', () => lines.slice(restoredAt).some((l) => /^guard ready \(pid \d+/.test(l)));
  assert.ok(isRunning(cluster.guardPid('alpha')!));
});

test('EarlyGuard: a guard for the newer configuration takes over at once; the one before goes without releasing', async (t) => {
  const { cluster, stateDir } = await alphaOf(t);
  // The file the agent started from, and the one its catch-up brought: they differ in a resource's monitor.
  const older = cluster.configPath;
  const newer = join(cluster.dir, 'newer.yaml');
  writeFileSync(newer, readFileSync(older, 'utf8').replace('monitorInterval: 300ms', 'monitorInterval: 400ms'));
  const [olderConfig, newerConfig] = [parseConfig(readFileSync(older, 'utf8'), older), parseConfig(readFileSync(newer, 'utf8'), newer)];
  assert.notEqual(configDigest(olderConfig), configDigest(newerConfig));
  const links: GuardLink[] = [];
  const guard = new EarlyGuard((config) => {
    const link = new GuardLink({ config, node: 'alpha', stateDir, log: () => undefined, releaseAfterMs: 0, onGuardLost: () => undefined });
    links.push(link);
    return link;
  }, olderConfig);
  t.after(() => Promise.all(links.map((l) => l.stop())));
  const readyLines = (): string[] => [...readFileSync(join(stateDir, 'guard.log'), 'utf8').matchAll(/guard: ready for alpha, configuration (\w+)/g)].map((m) => m[1]!);
  assert.equal(await guard.ready, undefined);
  assert.deepEqual(readyLines(), [configDigest(olderConfig)]);
  const first = cluster.guardPid('alpha')!;
  // Replaced once loaded, and again while the next one still loads (a catch-up quicker than a guard's load).
  guard.replace(newerConfig);
  guard.replace(newerConfig);
  assert.equal(guard.link, links[2]);
  assert.equal(await guard.ready, undefined);
  assert.equal(readyLines().at(-1), configDigest(newerConfig), 'the guard now ready was told the newer configuration');
  const last = cluster.guardPid('alpha')!;
  assert.notEqual(last, first);
  await cluster.waitFor('the first guard has exited', () => !isRunning(first));
  assert.ok(isRunning(last), 'the last guard guards');
  await Promise.all(links.map((l) => l.stop()));
  assert.equal(isRunning(last), false);
  assert.doesNotMatch(readFileSync(join(stateDir, 'guard.log'), 'utf8'), /frozen|died/, 'the guards replaced released nothing');
});

test('EarlyGuard.dismiss: a guard told of nothing is told goodbye; one the engine reports to is left to act', async (t) => {
  const { cluster, stateDir, config } = await alphaOf(t);
  const links: GuardLink[] = [];
  const early = (): EarlyGuard => new EarlyGuard(() => {
    const link = new GuardLink({ config, node: 'alpha', stateDir, log: () => undefined, releaseAfterMs: 0, onGuardLost: () => undefined });
    links.push(link);
    return link;
  }, config);
  t.after(() => Promise.all(links.map((l) => l.stop())));
  // The agent failed before its engine ran.
  const unused = early();
  assert.equal(await unused.ready, undefined);
  const first = cluster.guardPid('alpha')!;
  await unused.dismiss();
  assert.equal(isRunning(first), false, 'told goodbye, it left');
  // The agent failed after its engine ran: the guard stays, to stop what runs once the agent's process ends.
  const engaged = early();
  assert.equal(await engaged.ready, undefined);
  const second = cluster.guardPid('alpha')!;
  engaged.guarding();
  await engaged.dismiss();
  await new Promise((r) => setTimeout(r, 300));
  assert.ok(isRunning(second), 'still guarding');
  await engaged.link.stop();
  assert.doesNotMatch(readFileSync(join(stateDir, 'guard.log'), 'utf8'), /frozen|died/);
});

test('a guard whose event log stays locked (a frozen agent mid-commit) still exits cleanly, saying so in its log', async (t) => {
  const { stateDir, config } = await alphaOf(t);
  const dbPath = join(stateDir, 'state.db');
  StateStore.open(dbPath).close();
  const holder = new Database(dbPath);
  t.after(() => holder.close());
  holder.prepare('BEGIN IMMEDIATE').run();
  const out = openSync(join(stateDir, 'guard.log'), 'a');
  const guard = spawn(process.execPath, [GUARD, '--node', 'alpha', '--state-dir', stateDir, '--release-after', '0'], { stdio: ['pipe', out, out] });
  closeSync(out);
  t.after(() => { if (guard.exitCode === null) guard.kill('SIGKILL'); });
  const gone = exited(guard);
  // The agent dies at once: the guard releases (nothing was active), then finds the database locked past its wait.
  guard.stdin!.end(`${JSON.stringify({ t: 'config', digest: configDigest(config), config } satisfies GuardMessage)}\n`);
  assert.equal(await gone, 0);
  assert.match(readFileSync(join(stateDir, 'guard.log'), 'utf8'), /the agent died: stopping what it ran \(nothing\)[^]*guard: the event log was not written \(database is locked\); what it did is above/);
  holder.prepare('ROLLBACK').run();
});
