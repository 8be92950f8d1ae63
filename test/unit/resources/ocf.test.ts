import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLinuxPlatform } from '../../../agent/platform/linux/index.js';
import { OcfResourceAgent } from '../../../agent/resources/ocf.js';
import { createResourceAgent } from '../../../agent/resources/index.js';
import type { ResourceAgent } from '../../../agent/resources/types.js';
import { defer, fixture, isRunning, killOnExit, ocfConfig, readPids, tempDir, waitFor } from './support.js';

function agentFor(t: TestContext, input: Record<string, unknown>, ocfRoot?: string, nodeId?: string): { agent: ResourceAgent; stateDir: string } {
  const stateDir = tempDir(t);
  const platform = createLinuxPlatform(ocfRoot === undefined ? {} : { ocfRoot });
  const agent = createResourceAgent(ocfConfig(input), { stateDir, platform, ...(nodeId === undefined ? {} : { nodeId }) });
  defer(t, () => agent.dispose());
  return { agent, stateDir };
}

/** print-env's stdout as a map. */
function envOf(stdout: string | undefined): Map<string, string> {
  return new Map((stdout ?? '').split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}

test('a Dummy-like agent: start, monitor 0, stop, monitor 7; start and stop are idempotent', async (t) => {
  const dir = tempDir(t);
  const state = join(dir, 'dummy.state');
  const { agent } = agentFor(t, { agent: fixture('dummy'), params: { state }, monitorInterval: '5s' });

  assert.equal((await agent.run('probe')).rc, 7);
  assert.equal((await agent.run('validate-all')).rc, 0);
  const started = await agent.run('start');
  assert.equal(started.operation, 'start');
  assert.equal(started.rc, 0);
  assert.equal(started.message, 'success');
  assert.ok(started.durationMs >= 0 && started.at > 0);
  assert.equal(readFileSync(state, 'utf8'), 'res\n');
  assert.equal((await agent.run('start')).rc, 0);
  assert.equal((await agent.run('monitor')).rc, 0);
  assert.equal((await agent.run('probe')).rc, 0);
  assert.equal((await agent.run('stop')).rc, 0);
  assert.equal((await agent.run('stop')).rc, 0);
  const stopped = await agent.run('monitor');
  assert.equal(stopped.rc, 7);
  assert.equal(stopped.message, 'not running');

  const metaData = await agent.run('meta-data');
  assert.equal(metaData.rc, 0);
  assert.match(metaData.stdout ?? '', /<resource-agent name="dummy"/);

  // A probe is a monitor with interval 0; each operation gets its own timeout (defaults: 20 s start/stop, 10 s monitor).
  assert.deepEqual(readFileSync(`${state}.calls`, 'utf8').trim().split('\n'), [
    'monitor interval=0 timeout=10000',
    'validate-all interval=0 timeout=10000',
    'start interval=0 timeout=20000',
    'start interval=0 timeout=20000',
    'monitor interval=5000 timeout=10000',
    'monitor interval=0 timeout=10000',
    'stop interval=0 timeout=20000',
    'stop interval=0 timeout=20000',
    'monitor interval=5000 timeout=10000',
  ]);
});

test('validate-all of an agent missing its parameter is 6 (not configured), with its stderr as the message', async (t) => {
  const { agent } = agentFor(t, { agent: fixture('dummy') });
  const result = await agent.run('validate-all');
  assert.equal(result.rc, 6);
  assert.equal(result.message, 'not configured: parameter state is required');
});

test('every OCF exit code 0..7 passes through; anything else is a generic error', async (t) => {
  for (let rc = 0; rc <= 7; rc++) {
    const { agent } = agentFor(t, { agent: fixture('exit-code'), params: { rc } });
    const result = await agent.run('monitor');
    assert.equal(result.rc, rc);
    assert.match(result.message, new RegExp(`exiting with ${rc}$`));
  }
  const { agent } = agentFor(t, { agent: fixture('exit-code'), params: { rc: 42 } });
  const odd = await agent.run('start');
  assert.equal(odd.rc, 1);
  assert.match(odd.message, /exited with 42/);
});

test('the OCF environment: parameters as OCF_RESKEY_*, booleans as true/false, and nothing of ours', async (t) => {
  process.env.VIGIL_MUST_NOT_LEAK = 'leak';
  defer(t, () => delete process.env.VIGIL_MUST_NOT_LEAK);
  const { agent, stateDir } = agentFor(t, {
    id: 'web-ip', agent: fixture('print-env'), startTimeout: '7s',
    params: { ip: '192.0.2.10', cidr_netmask: 24, enabled: true, debug: false, label: 'with spaces and $dollar' },
  });
  const result = await agent.run('start');
  assert.equal(result.rc, 0);
  const env = envOf(result.stdout);
  assert.equal(env.get('ACTION'), 'start');
  assert.equal(env.get('OCF_RESKEY_ip'), '192.0.2.10');
  assert.equal(env.get('OCF_RESKEY_cidr_netmask'), '24');
  assert.equal(env.get('OCF_RESKEY_enabled'), 'true');
  assert.equal(env.get('OCF_RESKEY_debug'), 'false');
  assert.equal(env.get('OCF_RESKEY_label'), 'with spaces and $dollar');
  assert.equal(env.get('OCF_RESKEY_CRM_meta_timeout'), '7000');
  assert.equal(env.get('OCF_RESKEY_CRM_meta_interval'), '0');
  assert.equal(env.get('OCF_RESOURCE_INSTANCE'), 'web-ip');
  assert.equal(env.get('OCF_RESOURCE_TYPE'), 'print-env');
  assert.equal(env.get('OCF_ROOT'), '/usr/lib/ocf');
  assert.equal(env.get('OCF_FUNCTIONS_DIR'), '/usr/lib/ocf/lib/heartbeat');
  assert.equal(env.get('OCF_RA_VERSION_MAJOR'), '1');
  assert.equal(env.get('OCF_RA_VERSION_MINOR'), '1');
  assert.equal(env.get('HA_RSCTMP'), join(stateDir, 'run'));
  assert.match(env.get('PATH') ?? '', /(^|:)\/usr\/bin(:|$)/);
  assert.equal(env.has('VIGIL_MUST_NOT_LEAK'), false);
  assert.equal(env.has('OCF_RESKEY_CRM_meta_on_node'), false, 'no node id given, none passed');
});

test('an OCF agent learns which node runs it, as under Pacemaker', async (t) => {
  const { agent } = agentFor(t, { id: 'web-ip', agent: fixture('print-env') }, undefined, 'alpha');
  const result = await agent.run('monitor');
  assert.equal(envOf(result.stdout).get('OCF_RESKEY_CRM_meta_on_node'), 'alpha');
});

test('ocf:PROVIDER:TYPE is $OCF_ROOT/resource.d/PROVIDER/TYPE', async (t) => {
  const ocfRoot = tempDir(t);
  mkdirSync(join(ocfRoot, 'resource.d', 'acme'), { recursive: true });
  copyFileSync(fixture('print-env'), join(ocfRoot, 'resource.d', 'acme', 'Echo'));
  const { agent } = agentFor(t, { agent: 'ocf:acme:Echo' }, ocfRoot);
  assert.equal((agent as OcfResourceAgent).location.path, join(ocfRoot, 'resource.d', 'acme', 'Echo'));
  const result = await agent.run('monitor');
  assert.equal(result.rc, 0);
  const env = envOf(result.stdout);
  assert.equal(env.get('OCF_RESOURCE_PROVIDER'), 'acme');
  assert.equal(env.get('OCF_RESOURCE_TYPE'), 'Echo');
  assert.equal(env.get('OCF_ROOT'), ocfRoot);
  assert.equal(env.get('OCF_FUNCTIONS_DIR'), join(ocfRoot, 'lib', 'heartbeat'));
});

test('a missing or non-executable agent is 5 (not installed), naming the path', async (t) => {
  const dir = tempDir(t);
  const missing = join(dir, 'no-such-agent');
  const { agent } = agentFor(t, { agent: missing });
  const result = await agent.run('start');
  assert.equal(result.rc, 5);
  assert.match(result.message, new RegExp(`${missing} does not exist`));

  const plain = join(dir, 'not-executable');
  writeFileSync(plain, '#!/bin/sh\nexit 0\n', { mode: 0o644 });
  const notExecutable = await agentFor(t, { agent: plain }).agent.run('monitor');
  assert.equal(notExecutable.rc, 5);
  assert.match(notExecutable.message, /not-executable is not executable/);

  const ocfRoot = tempDir(t);
  const byName = await agentFor(t, { agent: 'ocf:nobody:Nothing' }, ocfRoot).agent.run('probe');
  assert.equal(byName.rc, 5);
  assert.ok(byName.message.includes(join(ocfRoot, 'resource.d', 'nobody', 'Nothing')));
});

test('a start that hangs is killed at its timeout, with every process it forked', async (t) => {
  const pidsFile = join(tempDir(t), 'pids');
  killOnExit(t, () => readPids(pidsFile));
  const { agent } = agentFor(t, { agent: fixture('hang-and-fork'), params: { pids: pidsFile }, startTimeout: 300 });
  const result = await agent.run('start');
  assert.equal(result.rc, -1);
  assert.equal(result.message, 'timeout after 300 ms');
  assert.ok(result.durationMs >= 300 && result.durationMs < 2_000, `took ${result.durationMs} ms`);
  const pids = readPids(pidsFile);
  assert.equal(pids.length, 4, 'the script, two children and a grandchild');
  await waitFor('every process of the group to die', () => pids.every((pid) => !isRunning(pid)));
});

test('a start that leaves a daemon holding its stdout returns at once; the daemon lives on', async (t) => {
  const pidsFile = join(tempDir(t), 'pids');
  killOnExit(t, () => readPids(pidsFile));
  const { agent } = agentFor(t, { agent: fixture('daemonize'), params: { pids: pidsFile } });
  const result = await agent.run('start');
  assert.equal(result.rc, 0);
  assert.equal(result.stdout, 'started\n');
  assert.ok(result.durationMs < 2_000, `took ${result.durationMs} ms`);
  const [daemon] = readPids(pidsFile);
  assert.ok(daemon !== undefined && isRunning(daemon));
});

test('dispose kills an operation in flight; later operations are rc -1 without running anything', async (t) => {
  const pidsFile = join(tempDir(t), 'pids');
  killOnExit(t, () => readPids(pidsFile));
  const { agent } = agentFor(t, { agent: fixture('hang-and-fork'), params: { pids: pidsFile } });
  const running = agent.run('start');
  await waitFor('the start to fork', () => readPids(pidsFile).length === 4);
  agent.dispose();
  const result = await running;
  assert.equal(result.rc, -1);
  assert.match(result.message, /disposed/);
  await waitFor('every process of the group to die', () => readPids(pidsFile).every((pid) => !isRunning(pid)));
  const later = await agent.run('monitor');
  assert.equal(later.rc, -1);
  assert.match(later.message, /disposed/);
});
