import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HolePuncher } from '../../../agent/replication/punch-hole.js';

test('a hole is punched through the open descriptor; without fallocate on the PATH it answers false, and is not tried again', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-punch-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'f');
  writeFileSync(file, Buffer.alloc(1024 * 1024, 0x5a));
  const fd = openSync(file, 'r+');
  t.after(() => closeSync(fd));
  const before = statSync(file).blocks;
  assert.equal(await new HolePuncher().punch(fd, 4096, 512 * 1024), true);
  assert.ok(statSync(file).blocks < before, 'blocks freed');
  const content = readFileSync(file);
  assert.ok(content.subarray(4096, 4096 + 512 * 1024).every((b) => b === 0) && content[4095] === 0x5a && content[4096 + 512 * 1024] === 0x5a);

  const path = process.env['PATH'];
  const missing = new HolePuncher();
  try {
    process.env['PATH'] = dir; // no fallocate there
    assert.equal(await missing.punch(fd, 0, 4096), false);
  } finally {
    process.env['PATH'] = path;
  }
  assert.equal(await missing.punch(fd, 0, 4096), false, 'once missing, not asked again');
  assert.equal(readFileSync(file)[0], 0x5a, 'nothing punched');
});
