import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createLinuxPlatform } from '../../../agent/platform/linux/index.js';
import { readPidfile } from '../../../agent/platform/linux/pidfile.js';
import { servicePaths } from '../../../agent/platform/linux/process-service-manager.js';
import { createResourceAgent } from '../../../agent/resources/index.js';
import { ServiceResourceAgent } from '../../../agent/resources/service.js';
import type { ResourceAgent } from '../../../agent/resources/types.js';
import { defer, isRunning, killOnExit, readPids, serviceConfig, tempDir, waitFor } from './support.js';

/** A service that forks a worker into its group and records the worker's pid. */
const WITH_WORKER = ['/bin/sh', '-c', 'sleep 300 & echo $! > "$WORKER_PIDFILE"; wait'];

interface Fixture {
  readonly stateDir: string;
  readonly agent: (overrides?: Record<string, unknown>) => ResourceAgent;
  readonly pid: () => number | undefined;
  readonly workerPidfile: string;
}

/** Every process the test's services started is killed at the end, whatever happened. */
function setUp(t: TestContext, input: Record<string, unknown> = {}): Fixture {
  const stateDir = tempDir(t);
  const workerPidfile = join(stateDir, 'worker.pid');
  const { pidFile } = servicePaths(stateDir, 'svc');
  const started: number[] = [];
  const pid = (): number | undefined => readPidfile(pidFile)?.pid;
  killOnExit(t, () => [...started, ...readPids(workerPidfile)]);
  defer(t, () => started.forEach((p) => { try { process.kill(-p, 'SIGKILL'); } catch { /* gone */ } }));
  const platform = createLinuxPlatform({ systemdMarker: join(stateDir, 'no-systemd-here') });
  return {
    stateDir, workerPidfile, pid,
    agent: (overrides = {}) => {
      const agent = createResourceAgent(serviceConfig({ command: WITH_WORKER, env: { WORKER_PIDFILE: workerPidfile }, ...input, ...overrides }), { stateDir, platform, nodeId: 'alpha' });
      const run = agent.run.bind(agent);
      // Remember every pid the service ever had, for the cleanup.
      agent.run = async (op) => { const r = await run(op); const p = pid(); if (p !== undefined) started.push(p); return r; };
      defer(t, () => agent.dispose());
      return agent;
    },
  };
}

test('manager auto is the process manager where systemd does not run', (t) => {
  const { agent } = setUp(t);
  assert.equal((agent() as ServiceResourceAgent).managerKind, 'process');
});

test('start, monitor 0, kill -9 gives monitor 7, start again, stop kills the whole group', async (t) => {
  const f = setUp(t);
  const agent = f.agent();
  assert.equal((await agent.run('probe')).rc, 7);
  const started = await agent.run('start');
  assert.equal(started.rc, 0, started.message);
  const first = f.pid()!;
  assert.ok(isRunning(first));
  assert.equal((await agent.run('monitor')).rc, 0);
  const again = await agent.run('start');
  assert.equal(again.rc, 0);
  assert.equal(f.pid(), first, 'a second start does not start a second process');

  await waitFor('the first worker to be recorded', () => readPids(f.workerPidfile).length === 1);
  const firstWorker = readPids(f.workerPidfile)[0]!;
  process.kill(first, 'SIGKILL');
  let monitor = await agent.run('monitor');
  await waitFor('monitor to see the service gone', async () => (monitor = await agent.run('monitor')).rc === 7);
  assert.match(monitor.message, new RegExp(`processes ${firstWorker} of its group remain`));
  assert.ok(isRunning(firstWorker));

  // The new start first ends what the dead instance left behind.
  assert.equal((await agent.run('start')).rc, 0);
  assert.ok(!isRunning(firstWorker), 'the dead instance\'s worker was stopped');
  const second = f.pid()!;
  assert.notEqual(second, first);
  await waitFor('the second worker to be recorded', () => readPids(f.workerPidfile)[0] !== firstWorker && readPids(f.workerPidfile).length === 1);
  const worker = readPids(f.workerPidfile)[0]!;
  assert.ok(isRunning(worker));

  const stopped = await agent.run('stop');
  assert.equal(stopped.rc, 0, stopped.message);
  assert.ok(!isRunning(second) && !isRunning(worker), 'the service and its worker are gone');
  assert.equal((await agent.run('monitor')).rc, 7);
  assert.equal((await agent.run('stop')).rc, 0, 'stop of a stopped service succeeds');
});

test('kill -9 of the whole group: monitor 7 and the stale pidfile is removed', async (t) => {
  const f = setUp(t);
  const agent = f.agent();
  assert.equal((await agent.run('start')).rc, 0);
  process.kill(-f.pid()!, 'SIGKILL');
  // The worker may outlive its leader by a moment: until then monitor keeps the pidfile and says so.
  const messages: string[] = [];
  await waitFor('monitor to see the whole group gone', async () => {
    const monitor = await agent.run('monitor');
    messages.push(monitor.message);
    return monitor.rc === 7 && !existsSync(servicePaths(f.stateDir, 'svc').pidFile);
  });
  assert.ok(messages.some((m) => /has exited \(stale pidfile removed\)/.test(m)), messages.join('; '));
  assert.equal(existsSync(servicePaths(f.stateDir, 'svc').pidFile), false);
});

test('stop escalates to SIGKILL when the service ignores SIGTERM past stopTimeout', async (t) => {
  const f = setUp(t);
  const agent = f.agent({ command: ['/bin/sh', '-c', 'trap "" TERM; while :; do sleep 0.05; done'], stopTimeout: 300 });
  assert.equal((await agent.run('start')).rc, 0);
  const pid = f.pid()!;
  const stopped = await agent.run('stop');
  assert.equal(stopped.rc, 0);
  assert.match(stopped.message, /SIGKILL after 300 ms/);
  assert.ok(stopped.durationMs >= 300);
  assert.ok(!isRunning(pid));
});

test('the service outlives the agent process; a new agent finds it by its pidfile', async (t) => {
  const f = setUp(t);
  // Another Node process creates an agent, starts the service and exits, as an agent that restarts would.
  const script = `
    import { createLinuxPlatform } from ${JSON.stringify(resolve('dist/agent/platform/linux/index.js'))};
    import { createResourceAgent } from ${JSON.stringify(resolve('dist/agent/resources/index.js'))};
    const config = ${JSON.stringify({ id: 'svc', kind: 'service', name: 'svc', manager: 'process', command: ['sleep', '300'], env: {}, startTimeout: 5000, stopTimeout: 5000, monitorTimeout: 5000, monitorInterval: 1000 })};
    const agent = createResourceAgent(config, { stateDir: ${JSON.stringify(f.stateDir)}, platform: createLinuxPlatform() });
    const result = await agent.run('start');
    agent.dispose();
    console.log(result.rc);`;
  const previous = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 10_000 });
  assert.equal(previous.stdout.trim(), '0', previous.stderr);
  const pid = f.pid()!;
  assert.ok(isRunning(pid), 'the service runs after its agent exited');

  const agent = f.agent({ command: ['sleep', '300'] });
  assert.equal((await agent.run('probe')).rc, 0);
  assert.equal((await agent.run('stop')).rc, 0);
  await waitFor('the service to be reaped by init', () => !isRunning(pid));
});

test('a pidfile whose pid now belongs to another process reads as not running, and that process is left alone', async (t) => {
  const f = setUp(t);
  const stranger = spawn('sleep', ['300'], { stdio: 'ignore', detached: true });
  defer(t, () => stranger.kill('SIGKILL'));
  const { dir, pidFile } = servicePaths(f.stateDir, 'svc');
  mkdirSync(dir, { recursive: true });
  const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  writeFileSync(pidFile, JSON.stringify({ pid: stranger.pid, startTime: '1', bootId }));

  const agent = f.agent();
  const probe = await agent.run('probe');
  assert.equal(probe.rc, 7);
  assert.match(probe.message, /now belongs to another process/);
  assert.equal(existsSync(pidFile), false);

  writeFileSync(pidFile, JSON.stringify({ pid: stranger.pid, startTime: '1', bootId }));
  assert.equal((await agent.run('stop')).rc, 0);
  assert.ok(isRunning(stranger.pid!), 'stop did not touch the stranger');
});

test('a command that exits at once is a failed start, with the end of its log', async (t) => {
  const f = setUp(t);
  const result = await f.agent({ command: ['/bin/sh', '-c', 'echo "cannot bind port 80" >&2; exit 3'] }).run('start');
  assert.equal(result.rc, 1);
  assert.match(result.message, /exited at once \(exit code 3\): cannot bind port 80/);
  assert.equal(f.pid(), undefined);
  assert.match(readFileSync(servicePaths(f.stateDir, 'svc').logFile, 'utf8'), /cannot bind port 80/);
});

test('a command that does not exist is 5 (not installed); validate-all says so first', async (t) => {
  const f = setUp(t);
  const agent = f.agent({ command: ['/nonexistent/daemon', '--flag'] });
  assert.equal((await agent.run('validate-all')).rc, 5);
  const result = await agent.run('start');
  assert.equal(result.rc, 5);
  assert.match(result.message, /\/nonexistent\/daemon/);
  assert.equal((await f.agent({ command: ['sleep', '1'] }).run('validate-all')).rc, 0);
});

test('env and cwd come from the configuration; output goes to the service log', async (t) => {
  const f = setUp(t);
  const agent = f.agent({ command: ['/bin/sh', '-c', 'echo "$GREETING from $(pwd) on $VIGIL_NODE"; exec sleep 300'], env: { GREETING: 'hello' }, cwd: '/tmp' });
  assert.equal((await agent.run('start')).rc, 0);
  const log = servicePaths(f.stateDir, 'svc').logFile;
  await waitFor('the log line', () => existsSync(log) && readFileSync(log, 'utf8').includes('hello from /tmp on alpha'));
  assert.equal((await agent.run('stop')).rc, 0);
});

test('a process service without a command is 6 (not configured)', async (t) => {
  const f = setUp(t);
  const agent = f.agent({ command: undefined });
  assert.equal((await agent.run('validate-all')).rc, 6);
  assert.equal((await agent.run('start')).rc, 6);
});

test('readyPort: start returns once the service accepts connections; one that never listens times out, one that dies fails', async (t) => {
  const { freePort } = await import('../../support/process.js');
  const port = await freePort();
  const f = setUp(t);
  // Listens only after 300 ms, so start must wait for it, not for a fixed grace.
  const listener = `setTimeout(() => require('net').createServer().listen(${port}, '127.0.0.1'), 300)`;
  const ready = f.agent({ command: [process.execPath, '-e', listener], readyPort: port, startTimeout: 10_000 });
  const started = await ready.run('start');
  assert.equal(started.rc, 0, started.message);
  assert.match(started.message, new RegExp(`accepting connections on port ${port}`));
  assert.equal((await ready.run('stop')).rc, 0);

  const silent = f.agent({ command: [process.execPath, '-e', 'setInterval(() => {}, 1000)'], readyPort: port, startTimeout: 700 });
  const late = await silent.run('start');
  assert.equal(late.rc, -1);
  assert.match(late.message, new RegExp(`port ${port} accepted no connection within 700 ms`));
  assert.equal((await silent.run('stop')).rc, 0);

  const dying = f.agent({ command: [process.execPath, '-e', 'process.exit(3)'], readyPort: port, startTimeout: 10_000 });
  const died = await dying.run('start');
  assert.equal(died.rc, 1);
  assert.match(died.message, /exited at once \(exit code 3\)/);
});

test('an agent at raised CPU priority starts its services at normal priority', async (t) => {
  const { getPriority, setPriority } = await import('node:os');
  const before = getPriority();
  setPriority(-5); // as vigild does (it runs as root)
  t.after(() => setPriority(before));
  const f = setUp(t);
  const agent = f.agent();
  assert.equal((await agent.run('start')).rc, 0);
  assert.equal(getPriority(f.pid()!), 0, 'the service runs at nice 0, not at the agent\'s -5');
  assert.equal((await agent.run('stop')).rc, 0);
});
