// bench:holes itself, on a 1 GiB image: every reader runs, reads the whole file (the page cache it leaves says
// so), and the bench leaves nothing behind. Its timings are not judged here: they are the figures it prints.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO } from '../support/agent-cluster.js';

interface Summary { readonly n: number; readonly median: number }
interface Reader { readonly seconds: Summary; readonly cpu_seconds: Summary; readonly page_cache_bytes: Summary }

test('bench:holes reads a thin image around its holes, plainly and with cat, and reports each with the page cache it filled', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-holes-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const r = spawnSync(process.execPath, [join(REPO, 'dist/scripts/bench/holes.js'), '--size-gib', '1', '--rounds', '2', '--dir', dir], { encoding: 'utf8', timeout: 300_000 });
  assert.equal(r.status, 0, r.stderr);
  const report = JSON.parse(r.stdout) as { file: { bytes: number; data_bytes: number }; vigil_around_holes: Reader; vigil_plain: Reader; cat: Reader; ratios: Record<string, number> };
  assert.deepEqual([report.file.bytes, report.file.data_bytes], [1024 ** 3, 16 * 1024 ** 2]);
  for (const reader of [report.vigil_around_holes, report.vigil_plain, report.cat]) assert.equal(reader.seconds.n, 2);
  // Read around its holes, the file leaves about its data in the page cache; read whole, all of it.
  assert.ok(report.vigil_around_holes.page_cache_bytes.median < 64 * 1024 ** 2, JSON.stringify(report.vigil_around_holes));
  for (const reader of [report.vigil_plain, report.cat]) assert.ok(reader.page_cache_bytes.median > 900 * 1024 ** 2, JSON.stringify(reader));
  assert.ok(Number.isFinite(report.ratios['time_plain_over_around_holes']) && Number.isFinite(report.ratios['time_cat_over_around_holes']));
  assert.deepEqual(readdirSync(dir), [], 'the image is removed');
});
