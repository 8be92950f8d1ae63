// bench:mirror's CPU accounting from /proc: a process's own CPU while it runs, and its children's once waited for.
// The child spins for a given amount of its own CPU (not of wall time), so the figures do not depend on the load.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { cpuTime, hasChildren, reapedChildrenCpu } from '../../../scripts/bench/cpu-time.js';

const SPIN_SECONDS = 0.3;
// Spins until it has had SPIN_SECONDS of CPU, says so, then waits for stdin to close.
const SPINNER = `const { user, system } = process.cpuUsage(); const start = user + system;
while ((({ user, system }) => user + system)(process.cpuUsage()) - start < ${SPIN_SECONDS * 1e6}) ;
process.stdout.write('spun\\n'); process.stdin.resume(); process.stdin.on('end', () => process.exit(0));`;
// Spins as SPINNER does, then exits.
const SPIN_AND_EXIT = SPINNER.slice(0, SPINNER.indexOf('process.stdout.write'));

test('cpuTime counts a running process\'s own CPU, and a child\'s once its parent has waited for it; hasChildren sees it', async (t) => {
  const before = cpuTime(process.pid)!;
  const child = spawn(process.execPath, ['-e', SPINNER], { stdio: ['pipe', 'pipe', 'inherit'] });
  // A failed assertion before its stdin closes must not leave it waiting.
  t.after(() => child.kill());
  await once(child.stdout!, 'data');
  assert.ok(hasChildren(process.pid), 'a running child is seen');
  const running = cpuTime(child.pid!)!;
  assert.ok(running.own >= SPIN_SECONDS - 0.05, `the child's own CPU while it runs: ${running.own} s`);
  assert.equal(cpuTime(process.pid)!.children, before.children, 'not counted as ours before it is waited for');
  child.stdin!.end();
  await once(child, 'exit');
  const after = cpuTime(process.pid)!;
  assert.ok(after.children - before.children >= SPIN_SECONDS - 0.05, `counted once waited for: ${after.children - before.children} s`);
  assert.ok(after.own >= before.own);
  assert.equal(cpuTime(child.pid!), undefined, 'gone once reaped');
});

test('reapedChildrenCpu waits until a process has reaped its children, then counts their CPU', async (t) => {
  // A parent (as rsync's daemon is to its receiver) that starts a spinning child, says so, and outlives it.
  const parentScript = `const c = require('node:child_process').spawn(process.execPath, ['-e', ${JSON.stringify(SPIN_AND_EXIT)}], { stdio: 'inherit' });
process.stdout.write('started\\n'); c.on('exit', () => setInterval(() => undefined, 1000));`;
  const parent = spawn(process.execPath, ['-e', parentScript], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => parent.kill());
  await once(parent.stdout!, 'data');
  const cpu = reapedChildrenCpu(parent.pid!, 30_000);
  assert.ok(cpu >= SPIN_SECONDS - 0.05, `the child's CPU, counted once its parent reaped it: ${cpu} s`);
  assert.equal(hasChildren(parent.pid!), false);
});
