// The agent bundle the installers ship: built by scripts/bundle-agent.mjs into a folder outside the repo (so no
// node_modules above it), its CLI runs, its package.json names only the native dependencies, and its vigild
// (with its guard) runs a node of a real configuration once those are found through NODE_PATH, and not without.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { buildAgentBundle, type AgentProgram } from '../support/agent-bundle.js';
import { AgentProcess, isRunning, LocalCluster, REPO, WEB_GROUP_YAML as GROUP } from '../support/agent-cluster.js';

/** Start `node` of cluster `c` from the bundle, logging to its state folder; dispose() stops it, its guard and resources. */
function startBundled(c: LocalCluster, bundle: AgentProgram, node: string): AgentProcess {
  mkdirSync(c.stateDir(node), { recursive: true });
  const logPath = join(c.stateDir(node), 'vigild.log');
  const log = openSync(logPath, 'a');
  const child = spawn(process.execPath, [bundle.script, '--config', c.configPath, '--node', node, '--state-dir', c.stateDir(node)], {
    stdio: ['ignore', log, log], env: { PATH: process.env.PATH, ...bundle.env },
  });
  closeSync(log);
  const agent = new AgentProcess(node, child, logPath);
  c.agents.set(node, agent);
  return agent;
}

test('agent bundle: built outside the repo, vigil --help runs, vigild runs a node with the native deps from NODE_PATH', async (t) => {
  const home = mkdtempSync(join(tmpdir(), 'vigil-agent-bundle-'));
  t.after(() => rmSync(home, { recursive: true, force: true }));
  const bundle = join(home, 'agent');
  const program = buildAgentBundle(bundle);

  const pkg = JSON.parse(readFileSync(join(bundle, 'package.json'), 'utf8')) as { type: string; bin: Record<string, string>; dependencies: Record<string, string>; optionalDependencies: Record<string, string>; version: string };
  const repoPkg = JSON.parse(readFileSync(resolve(REPO, 'package.json'), 'utf8')) as { version: string; dependencies: Record<string, string> };
  assert.deepEqual(pkg.dependencies, { 'better-sqlite3': repoPkg.dependencies['better-sqlite3'], serialport: repoPkg.dependencies.serialport });
  assert.deepEqual(pkg.optionalDependencies, { 'vigil-native': 'file:native' });
  // The addon ships as source beside the scripts, for npm install to build on the server.
  assert.deepEqual(readdirSync(join(bundle, 'native')).sort(), ['binding.gyp', 'common.c', 'holes.c', 'module.c', 'native.h', 'package.json', 'xattrs.c']);
  assert.deepEqual([pkg.type, pkg.version, pkg.bin], ['module', repoPkg.version, { vigild: 'vigild.js', vigil: 'vigil.js' }]);
  assert.match(readFileSync(join(bundle, 'README.md'), 'utf8'), /npm install --omit=dev/);
  assert.ok(readdirSync(bundle).includes('guard-process.js'), 'the guard is bundled next to vigild');
  // Whatever a bundled script starts by file name beside itself (the guard, the mirror's worker threads) is there.
  const files = readdirSync(bundle);
  for (const script of files.filter((f) => f.endsWith('.js'))) {
    for (const [, sibling] of readFileSync(join(bundle, script), 'utf8').matchAll(/new URL\("\.\/([^"]+)", import\.meta\.url\)/g)) {
      assert.ok(files.includes(sibling!), `${script} starts ./${sibling}, which the bundle lacks`);
    }
  }
  assert.ok(files.includes('read-thread-worker.js') && files.includes('write-thread-worker.js'), 'the mirror\'s worker threads are bundled');
  assert.ok(files.includes('checkpoint-thread-worker.js'), 'the databases\' checkpoint thread is bundled');
  // The agent reads its TLS files but makes no certificate: the X.509 library (30-40 ms of every start) stays out.
  assert.doesNotMatch(readFileSync(join(bundle, 'vigild.js'), 'utf8'), /node_modules\/@peculiar\/x509\//, 'vigild.js does not carry @peculiar/x509');
  assert.match(readFileSync(join(bundle, 'vigil.js'), 'utf8'), /node_modules\/@peculiar\/x509\//, 'vigil.js (vigil init) does');

  const run = (script: string, args: string[], env: NodeJS.ProcessEnv = {}): { code: number | null; out: string } => {
    const r = spawnSync(process.execPath, [join(bundle, script), ...args], { encoding: 'utf8', timeout: 20_000, env: { PATH: process.env.PATH, ...env } });
    return { code: r.status, out: r.stdout + r.stderr };
  };
  const help = run('vigil.js', ['--help']);
  assert.equal(help.code, 0, help.out);
  assert.match(help.out, /^usage: vigil \[CONNECTION\] COMMAND/);

  // Outside the repo, without NODE_PATH, nothing provides the native packages: the externals are really external.
  const c = await LocalCluster.create(GROUP); // alpha and beta; only alpha runs, and takes web after the start-up grace
  t.after(() => c.dispose());
  const withoutDeps = run('vigild.js', ['--config', c.configPath, '--node', 'alpha', '--state-dir', c.stateDir('alpha')]);
  assert.notEqual(withoutDeps.code, 0);
  assert.match(withoutDeps.out, /Cannot find module 'better-sqlite3'/);

  // With them: a real node, its guard started from the bundle's folder, the group running.
  const alpha = startBundled(c, program, 'alpha');
  await c.waitFor('web running on alpha from the bundled agent', async () => {
    assert.equal(alpha.child.exitCode, null, `vigild exited: ${alpha.log()}`);
    const s = await c.status('alpha');
    return s.groups[0]?.runningOn.join() === 'alpha' && c.runningOn('web-app').join() === 'alpha';
  });
  const guard = c.guardPid('alpha');
  assert.ok(guard !== undefined && isRunning(guard), 'the bundled guard runs');
  // The databases' checkpoint thread loaded from the bundle's folder (a failure would be logged at once).
  assert.doesNotMatch(alpha.log(), /checkpoint thread/);
  const status = run('vigil.js', ['--socket', c.socket('alpha'), 'status'], { ...program.env });
  assert.equal(status.code, 0, status.out);
  assert.match(status.out, /web/);
  assert.ok(existsSync(join(c.stateDir('alpha'), 'vigild.sock')));
});

// serialport is loaded with the first serial link, not at every start: through the bundle's lazy require too.
test('agent bundle: two bundled agents heartbeat over a serial cable (socat ptys)', async (t) => {
  const home = mkdtempSync(join(tmpdir(), 'vigil-agent-bundle-serial-'));
  t.after(() => rmSync(home, { recursive: true, force: true }));
  const bundle = buildAgentBundle(join(home, 'agent'));
  const a = join(home, 'tty-alpha');
  const b = join(home, 'tty-beta');
  const socat = spawn('socat', [`pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], { stdio: 'ignore' });
  t.after(() => { socat.kill('SIGKILL'); });
  const c = await LocalCluster.create(GROUP);
  t.after(() => c.dispose());
  await c.waitFor('socat made the ptys', () => existsSync(a) && existsSync(b));
  const serial = `    - { name: rs232, kind: serial, baudRate: 115200, interval: 100ms, deadTime: 500ms, endpoints: { alpha: "${a}", beta: "${b}" } }\n`;
  writeFileSync(c.configPath, readFileSync(c.configPath, 'utf8').replace('  links:\n', `  links:\n${serial}`));
  const agents = ['alpha', 'beta'].map((node) => startBundled(c, bundle, node));
  await c.waitFor('alpha hears beta on the serial link', async () => {
    for (const a of agents) assert.equal(a.child.exitCode, null, `${a.node}'s vigild exited: ${a.log()}`);
    return (await c.status('alpha')).nodes.flatMap((n) => n.links).some((l) => l.link === 'rs232' && l.peer === 'beta' && l.up);
  });
});
