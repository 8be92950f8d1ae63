// bench:mirror itself, on a data set small enough for CI: every phase runs against every peer (rsync's daemon,
// rsync over ssh, lsyncd), every copy ends equal, every ratio is computed, and the bench leaves no namespace, mount
// or process behind. Its timings are not judged here (they belong to the figures it prints, not to a test).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO } from '../support/agent-cluster.js';
import { runScript } from '../support/process.js';

const BENCH = join(REPO, 'dist/scripts/bench/mirror.js');

const run = (args: readonly string[], timeoutMs: number, tmp = tmpdir()): ReturnType<typeof runScript> => runScript(BENCH, args, timeoutMs, tmp);

const namespaces = (): string[] => spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout.split('\n').filter((l) => l !== '').map((l) => l.split(' ')[0]!).sort();
const mountsUnder = (dir: string): string[] => readFileSync('/proc/self/mounts', 'utf8').split('\n').filter((l) => l.includes(dir));

test('bench:mirror refuses a bad option by name, before building anything', async () => {
  const r = await run(['--size', 'lots'], 30_000);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /--size wants a number of at least 1, not "lots"/);
  assert.equal(r.stdout, '');
  const unknown = await run(['--fast'], 30_000);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /Unknown option '--fast'/);
});

test('bench:mirror on a small data set: every phase against every peer, equal copies, every ratio, nothing left behind', async (t) => {
  const tmp = mkdtempSync(join(tmpdir(), 'vigil-bench-test-'));
  t.after(() => rmSync(tmp, { recursive: true, force: true }));
  const before = namespaces();
  const r = await run(['--size', '24', '--small-files', '300', '--large-files', '2', '--lag-seconds', '2', '--lag-files', '2', '--journal', '64', '--sparse', '64', '--no-install'], 420_000, tmp);
  assert.equal(r.code, 0, r.stderr.slice(-3000));
  const out = JSON.parse(r.stdout) as Record<string, Record<string, Record<string, unknown> | unknown>>;
  assert.equal(out['errors'], undefined, `the bench reported errors: ${JSON.stringify(out['errors'])}\n${r.stderr.slice(-3000)}`);

  const dataset = out['dataset'] as Record<string, number>;
  assert.equal(dataset['files'], 302);
  const vigil = out['vigil'] as Record<string, Record<string, unknown>>;
  for (const phase of ['full', 'full_on_demand', 'switchover_after_full', 'switchback_after_full', 'diff', 'diff_explicit', 'diff_explicit_again', 'switchover', 'switchback']) assert.equal(vigil[phase]?.['verified_equal'], true, `vigil.${phase}`);
  // The change of phase 3 reached the target: the differential run sent at least the changed bytes (and the full run
  // at least the whole data set), so neither figure can come from a run that did nothing.
  assert.ok((vigil['diff']!['wire_tx_bytes'] as number) >= ((out['change'] as Record<string, number>)['bytes'] ?? Infinity));
  assert.ok((vigil['full']!['wire_tx_bytes'] as number) >= dataset['bytes']!);
  // Asked for on the running agents, the full mirror sends everything again (the copy was level), and beta then lists
  // what it wrote anew, from the block hashes alpha sent after it (it reads none of the files); rsync's counterpart
  // sends every file whole too.
  assert.ok((vigil['full_on_demand']!['wire_tx_bytes'] as number) >= dataset['bytes']!);
  assert.match(String((vigil['full_on_demand']!['background_listing'] as Record<string, unknown>)['listed']), /^listed the copy in the background: 302 files, 0 of them hashed, in /);
  const rsyncAgain = (out['rsync'] as Record<string, Record<string, unknown>>)['full_on_demand']!;
  assert.equal(rsyncAgain['verified_equal'], true);
  assert.ok((rsyncAgain['total_bytes_sent'] as number) >= dataset['bytes']!, JSON.stringify(rsyncAgain));
  // Beta lists the copy the first mirror wrote in the background (from alpha's block hashes), and so, moved there
  // right after that mirror, the group finds beta comparing from it: it keeps every file's hashes; alpha lists from
  // its index as the source.
  assert.match(String(vigil['background_listing_after_full']!['listed']), /^listed the copy in the background: 302 files, 0 of them hashed, in /);
  assert.equal(vigil['switchover_after_full']!['source_kept'], '302 of the 302 files alpha lists hash as our index has them');
  assert.match(String(vigil['switchover_after_full']!['target_listed']), /^listed 302 files, 0 of them hashed \(the others unchanged since the last listing; 302 of those since this node sent them as the source\)$/);
  assert.equal(vigil['switchback_after_full']!['source_kept'], '302 of the 302 files beta lists hash as our index has them');
  assert.match(String(vigil['switchback_after_full']!['target_listed']), /^listed 302 files, 0 of them hashed /);
  // Each move of the group on the level copy: the new target lists it from the index it made as the source (alpha:
  // the files phase 3 changed; the others from its listing of the first switchover) or from its last listing
  // (beta), and the new source keeps every file's index from its other role.
  const changedFiles = (out['change'] as Record<string, number>)['files'];
  assert.equal(String(vigil['switchover']!['target_listed']),
    `listed 302 files, 0 of them hashed (the others unchanged since the last listing; ${changedFiles} of those since this node sent them as the source)`);
  assert.equal(vigil['switchover']!['source_kept'], '302 of the 302 files alpha lists hash as our index has them');
  assert.match(String(vigil['switchback']!['target_listed']), /^listed 302 files, 0 of them hashed /);
  assert.equal(vigil['switchback']!['source_kept'], '302 of the 302 files beta lists hash as our index has them');
  // The sparse file (64 MiB, 1 MiB of data): equal copies by both; on Vigil's wire and disk the data, not the holes.
  const sparse = vigil['sparse'] as Record<string, number | boolean>;
  assert.equal(sparse['verified_equal'], true);
  assert.equal(sparse['data_bytes'], 1024 * 1024);
  assert.ok((sparse['wire_tx_bytes'] as number) < 8 * 1024 * 1024, `Vigil sent ${sparse['wire_tx_bytes']} bytes for 1 MiB of data`);
  assert.ok((sparse['allocated_bytes'] as number) < 8 * 1024 * 1024, `the copy takes ${sparse['allocated_bytes']} bytes`);
  const rsyncSparse = (out['rsync'] as Record<string, Record<string, unknown>>)['sparse']!;
  assert.equal(rsyncSparse['verified_equal'], true);
  // No agent stood still long enough for its guard to take it for frozen (a blocking fsync once did, mid-switchback).
  assert.deepEqual(vigil['guard_releases'], [], 'guards released');
  for (const peer of ['rsync', 'rsync_ssh']) {
    const p = out[peer] as Record<string, Record<string, unknown>>;
    for (const phase of ['full', 'diff']) assert.equal(p[phase]?.['verified_equal'], true, `${peer}.${phase}: ${JSON.stringify(p)}`);
  }
  assert.equal((out['rsync_ssh'] as Record<string, unknown>)['cipher'], 'aes128-gcm@openssh.com');
  assert.match(String(((out['rsync_ssh'] as Record<string, Record<string, unknown>>)['full']!)['command']), /-c aes128-gcm@openssh\.com/);
  for (const tool of ['vigil', 'lsyncd']) {
    const t = out[tool] as Record<string, Record<string, number>>;
    for (const key of ['lag_ms', 'lag_append_ms']) {
      assert.ok(t[key]!['n']! > 0 && t[key]!['missing'] === 0, `${tool}.${key}: ${JSON.stringify(t[key])}`);
      assert.ok(t[key]!['p99']! >= t[key]!['median']!, `${tool}.${key}`);
    }
  }
  for (const [name, value] of Object.entries(out['ratios'] as Record<string, unknown>)) assert.equal(typeof value, 'number', `ratios.${name} is ${String(value)}`);
  for (const [name, value] of Object.entries(out['aim'] as Record<string, unknown>)) assert.equal(typeof value, 'boolean', `aim.${name} is ${String(value)}`);

  assert.deepEqual(namespaces(), before, 'the bench removed its namespaces');
  assert.deepEqual(mountsUnder(tmp), [], 'the bench unmounted its file system');
  const left = spawnSync('pgrep', ['-af', tmp], { encoding: 'utf8' }).stdout.split('\n').filter((l) => l !== '');
  assert.deepEqual(left, [], 'the bench stopped its agents, daemons and sshd');
  assert.deepEqual(readdirSync(tmp), [], 'the bench removed its folders');
});
