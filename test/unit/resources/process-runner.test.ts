import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OUTPUT_LIMIT_BYTES, runProcess } from '../../../agent/platform/process-runner.js';
import { SANE_PATH } from '../../../agent/platform/environment.js';
import { isRunning, killOnExit, waitFor } from './support.js';

const env = { PATH: SANE_PATH };
const sh = (script: string, timeoutMs = 5_000, extraEnv: Record<string, string> = {}) =>
  runProcess({ file: '/bin/sh', args: ['-c', script], env: { ...env, ...extraEnv }, timeoutMs });

/** Pipes and child processes this test process holds open right now. */
function openHandles(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'PipeWrap' || r === 'ProcessWrap').length;
}

test('the exit code, stdout, stderr and the given environment (and only it) pass through', async () => {
  process.env.VIGIL_MUST_NOT_LEAK = 'leak';
  const result = await sh('echo "$GREETING ${VIGIL_MUST_NOT_LEAK:-none}"; echo first >&2; echo last >&2; exit 3', 5_000, { GREETING: 'hello' });
  delete process.env.VIGIL_MUST_NOT_LEAK;
  assert.equal(result.rc, 3);
  assert.equal(result.stdout, 'hello none\n');
  assert.equal(result.stderr, 'first\nlast\n');
  assert.equal(result.stderrTail, 'first\nlast');
  assert.equal(result.timedOut, false);
  assert.equal(result.signal, null);
});

test('output is bounded: the head of stdout and the tail of stderr, 64 KiB each', async () => {
  const result = await sh('head -c 200000 /dev/zero | tr "\\0" a; yes line | head -n 30000 >&2; echo the-end >&2');
  assert.equal(result.rc, 0);
  assert.equal(result.stdout.length, OUTPUT_LIMIT_BYTES);
  assert.ok(result.stderr.length <= OUTPUT_LIMIT_BYTES);
  assert.ok(result.stderr.endsWith('line\nthe-end\n'));
  assert.ok(result.stderrTail.endsWith('the-end'));
});

test('a timeout kills the whole process group, children included', async (t) => {
  let childPid = 0;
  killOnExit(t, () => [childPid]);
  const started = Date.now();
  // The child's pid reaches stdout before the shell hangs.
  const result = await sh('trap "" TERM; sleep 300 & echo $!; wait', 200);
  childPid = Number(result.stdout.trim());
  assert.equal(result.rc, -1);
  assert.equal(result.timedOut, true);
  assert.equal(result.signal, 'SIGKILL');
  assert.ok(Date.now() - started < 2_000);
  assert.ok(childPid > 0);
  await waitFor(`child ${childPid} to die`, () => !isRunning(childPid));
});

test('resolves when the program exits even if a daemon it left holds its stdout, and releases the pipes', async (t) => {
  let daemonPid = 0;
  killOnExit(t, () => [daemonPid]);
  const before = openHandles();
  const started = Date.now();
  const result = await sh('sleep 300 & echo $!; exit 0');
  daemonPid = Number(result.stdout.trim());
  assert.equal(result.rc, 0);
  assert.ok(Date.now() - started < 2_000, 'did not wait for the daemon');
  assert.ok(isRunning(daemonPid), 'the daemon keeps running');
  assert.ok(openHandles() <= before, 'no pipe or process handle of this run left open');
});

test('a program that cannot be started is rc -1 with the reason', async () => {
  const result = await runProcess({ file: '/nonexistent/program', args: [], env, timeoutMs: 1_000 });
  assert.equal(result.rc, -1);
  assert.equal(result.spawnError?.code, 'ENOENT');
});

test('aborting kills the group at once', async (t) => {
  let childPid = 0;
  killOnExit(t, () => [childPid]);
  const controller = new AbortController();
  const running = runProcess({ file: '/bin/sh', args: ['-c', 'sleep 300 & echo $!; wait'], env, timeoutMs: 60_000, signal: controller.signal });
  setTimeout(() => controller.abort(), 200);
  const result = await running;
  childPid = Number(result.stdout.trim());
  assert.equal(result.rc, -1);
  assert.equal(result.aborted, true);
  await waitFor(`child ${childPid} to die`, () => !isRunning(childPid));
});
