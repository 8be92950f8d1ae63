import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createLinuxPlatform } from '../../../agent/platform/linux/index.js';
import type { ProcessRunner, RunRequest, RunResult } from '../../../agent/platform/types.js';
import { createResourceAgent } from '../../../agent/resources/index.js';
import { ServiceResourceAgent } from '../../../agent/resources/service.js';
import { defer, serviceConfig, tempDir } from './support.js';

/** The one fake in these tests: there is no systemd here, so we check the commands we would run. */
class RecordingRunner implements ProcessRunner {
  readonly requests: RunRequest[] = [];
  constructor(private readonly reply: (request: RunRequest) => Partial<RunResult>) {}
  async run(request: RunRequest): Promise<RunResult> {
    this.requests.push(request);
    return { rc: 0, signal: null, timedOut: false, aborted: false, durationMs: 1, stdout: '', stderr: '', stderrTail: '', ...this.reply(request) };
  }
  commands(): string[] {
    return this.requests.map((r) => [r.file, ...r.args].join(' '));
  }
}

function setUp(t: TestContext, reply: (r: RunRequest) => Partial<RunResult>, input: Record<string, unknown> = {}) {
  const stateDir = tempDir(t);
  const marker = join(stateDir, 'run-systemd-system');
  mkdirSync(marker);
  const runner = new RecordingRunner(reply);
  const platform = createLinuxPlatform({ systemdMarker: marker, commandRunner: runner });
  const agent = createResourceAgent(serviceConfig({ name: 'nginx', startTimeout: '30s', stopTimeout: '40s', monitorTimeout: '5s', ...input }), { stateDir, platform });
  defer(t, () => agent.dispose());
  return { agent, runner };
}

test('manager auto picks systemd when /run/systemd/system exists', (t) => {
  const { agent } = setUp(t, () => ({}));
  assert.equal((agent as ServiceResourceAgent).managerKind, 'systemd');
});

test('start and stop are systemctl start/stop of the unit, with the configured timeouts', async (t) => {
  const { agent, runner } = setUp(t, () => ({ rc: 0 }));
  assert.equal((await agent.run('start')).rc, 0);
  assert.equal((await agent.run('stop')).rc, 0);
  assert.deepEqual(runner.commands(), [
    'systemctl --no-ask-password start -- nginx.service',
    'systemctl --no-ask-password stop -- nginx.service',
  ]);
  assert.deepEqual(runner.requests.map((r) => r.timeoutMs), [30_000, 40_000]);
  assert.match(runner.requests[0]!.env.PATH ?? '', /\/usr\/bin/);
});

test('a name that already is a unit is used as is; a name starting with "-" cannot become an option', async (t) => {
  const timer = setUp(t, () => ({}), { name: 'backup.timer' });
  await timer.agent.run('start');
  const dash = setUp(t, () => ({}), { name: '-rf' });
  await dash.agent.run('start');
  assert.deepEqual([...timer.runner.commands(), ...dash.runner.commands()], [
    'systemctl --no-ask-password start -- backup.timer',
    'systemctl --no-ask-password start -- -rf.service',
  ]);
});

test('monitor and probe are systemctl is-active: active 0, inactive or failed 7, anything else 1', async (t) => {
  const states: Record<string, number> = { active: 0, inactive: 7, failed: 7, activating: 1, deactivating: 1, reloading: 1, unknown: 1 };
  for (const [state, rc] of Object.entries(states)) {
    // is-active exits 3 for every state but active: the printed state decides.
    const { agent, runner } = setUp(t, () => ({ rc: state === 'active' ? 0 : 3, stdout: `${state}\n` }));
    const result = await agent.run(state === 'inactive' ? 'probe' : 'monitor');
    assert.equal(result.rc, rc, state);
    assert.equal(result.message, `nginx.service is ${state}`);
    assert.deepEqual(runner.commands(), ['systemctl --no-ask-password is-active -- nginx.service']);
    assert.equal(runner.requests[0]!.timeoutMs, 5_000);
  }
});

test('failures: a unit that does not exist, a failed start, a timeout', async (t) => {
  const missing = setUp(t, () => ({ rc: 5, stderrTail: 'Failed to start nginx.service: Unit nginx.service not found.' }));
  const start = await missing.agent.run('start');
  assert.equal(start.rc, 5);
  assert.match(start.message, /not found/);
  assert.equal((await missing.agent.run('stop')).rc, 0, 'stopping a unit that does not exist succeeds');

  const failing = setUp(t, () => ({ rc: 1, stderrTail: 'Job for nginx.service failed because the control process exited with error code.' }));
  const failed = await failing.agent.run('start');
  assert.equal(failed.rc, 1);
  assert.match(failed.message, /control process exited/);

  const slow = setUp(t, () => ({ rc: -1, timedOut: true, signal: 'SIGKILL', durationMs: 30_000 }));
  const timedOut = await slow.agent.run('start');
  assert.equal(timedOut.rc, -1);
  assert.match(timedOut.message, /timeout/);
  assert.equal((await slow.agent.run('monitor')).rc, -1);
});

test('validate-all: systemd present is 0; meta-data describes the service', async (t) => {
  const { agent, runner } = setUp(t, () => ({}));
  assert.equal((await agent.run('validate-all')).rc, 0);
  const meta = await agent.run('meta-data');
  assert.equal(meta.rc, 0);
  assert.match(meta.stdout ?? '', /<action name="start" timeout="30s"\/>/);
  assert.deepEqual(runner.requests, [], 'neither runs systemctl');
});

test('manager systemd where systemd does not run: validate-all is 5', async (t) => {
  const stateDir = tempDir(t);
  const platform = createLinuxPlatform({ systemdMarker: join(stateDir, 'absent'), commandRunner: new RecordingRunner(() => ({})) });
  const agent = createResourceAgent(serviceConfig({ manager: 'systemd' }), { stateDir, platform });
  defer(t, () => agent.dispose());
  const result = await agent.run('validate-all');
  assert.equal(result.rc, 5);
  assert.match(result.message, /systemd is not running/);
});
