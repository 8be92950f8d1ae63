// bench:floor itself, on a data set small enough for CI: every contender copies it (each copy is compared with the
// source by the bench, which fails on a difference), every ratio is computed, and nothing is left behind. Its
// timings are not judged here: they are the figures it prints.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO } from '../support/agent-cluster.js';
import { runScript } from '../support/process.js';

const BENCH = join(REPO, 'dist/scripts/bench/floor.js');

const run = (args: readonly string[], timeoutMs: number, tmp = tmpdir()): ReturnType<typeof runScript> => runScript(BENCH, args, timeoutMs, tmp);

const namespaces = (): string[] => spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout.split('\n').filter((l) => l !== '').map((l) => l.split(' ')[0]!).sort();

interface Summary { readonly n: number; readonly median: number }
interface Contender { readonly seconds: Summary; readonly cpu_seconds: Summary; readonly sender_cpu_seconds: Summary; readonly receiver_cpu_seconds: Summary }

test('bench:floor refuses a bad option by name, before building anything', async () => {
  const r = await run(['--rounds', 'two'], 30_000);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /--rounds wants a whole number of at least 1, not "two"/);
  assert.equal(r.stdout, '');
});

test('bench:floor on a small data set: rsync and every floor copy it, every ratio, nothing left behind', async (t) => {
  const tmp = mkdtempSync(join(tmpdir(), 'vigil-bench-floor-test-'));
  t.after(() => rmSync(tmp, { recursive: true, force: true }));
  const before = namespaces();
  const r = await run(['--size', '16', '--small-files', '300', '--large-files', '2', '--rounds', '2'], 300_000, tmp);
  assert.equal(r.code, 0, r.stderr.slice(-3000));
  const out = JSON.parse(r.stdout) as Record<string, unknown> & { data_set: { files: number }; ratios: Record<string, number> };
  assert.equal(out.data_set.files, 302);
  for (const name of ['rsync', 'floor_tls', 'floor_tls_read_thread', 'floor_tcp']) {
    const c = out[name] as Contender;
    assert.equal(c.seconds.n, 2, name);
    assert.ok(c.seconds.median > 0 && c.sender_cpu_seconds.median > 0 && c.receiver_cpu_seconds.median > 0, `${name}: ${JSON.stringify(c)}`);
  }
  assert.deepEqual(Object.keys(out.ratios).sort(), ['floor_tcp', 'floor_tls', 'floor_tls_read_thread'].flatMap((c) => [`cpu_rsync_over_${c}`, `time_rsync_over_${c}`]).sort());
  for (const [name, value] of Object.entries(out.ratios)) assert.ok(Number.isFinite(value) && value > 0, `${name}: ${value}`);
  // Every contender's turn was reported, and the bench cleaned up: namespaces, its folder (and the mount in it).
  assert.equal(r.stderr.match(/\[(rsync|floor_tls|floor_tls_read_thread|floor_tcp)\] [\d.]+ s/g)?.length, 8, r.stderr);
  assert.deepEqual(namespaces(), before);
  assert.deepEqual(readdirSync(tmp), []);
  assert.ok(!readFileSync('/proc/self/mounts', 'utf8').includes(tmp), 'no mount left in its folder');
});
