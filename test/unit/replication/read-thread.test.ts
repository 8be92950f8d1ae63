// The read thread reads and indexes exactly as readAndIndexFile does on the main thread, refuses what is
// not a regular file with the same codes, and lets the process exit (no handle left after close).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { indexFile, readAndIndexFile } from '../../../agent/replication/block-index.js';
import { ReadThread } from '../../../agent/replication/read-thread.js';

const BS = 4096;

test('the thread gives the content and index readAndIndexFile gives, undefined above the limit, and fs error codes', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-read-thread-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const reader = new ReadThread();
  t.after(() => reader.close());
  const content = Buffer.alloc(3 * BS + 100);
  for (let i = 0; i < content.length; i++) content[i] = (i * 7) % 251;
  writeFileSync(join(dir, 'a'), content);
  writeFileSync(join(dir, 'empty'), '');

  for (const name of ['a', 'empty']) {
    const expected = await readAndIndexFile(join(dir, name), BS, undefined, 64 * BS);
    const got = await reader.read(join(dir, name), BS, undefined, 64 * BS);
    assert.ok(got !== undefined && expected !== undefined);
    assert.deepEqual(got.index, expected.index);
    assert.ok(got.content.equals(expected.content));
  }
  // With a previous index whose last block was partial: the probe of the old tail (priorTail) is made too.
  const previous = (await readAndIndexFile(join(dir, 'a'), BS, undefined, 64 * BS))!.index;
  writeFileSync(join(dir, 'a'), Buffer.concat([content, Buffer.alloc(50, 1)]));
  const grown = await reader.read(join(dir, 'a'), BS, previous, 64 * BS);
  assert.deepEqual(grown?.index, (await readAndIndexFile(join(dir, 'a'), BS, previous, 64 * BS))?.index);
  assert.ok(grown?.index.priorTail !== undefined);

  assert.equal(await reader.read(join(dir, 'a'), BS, undefined, BS), undefined, 'larger than maxBytes');
  // Indexing only: any size, in chunks, the same index as indexFile's.
  const big = Buffer.alloc(3 * 1024 * 1024 + 8);
  for (let i = 0; i < big.length; i += 4) big.writeUInt32LE(i >>> 2, i);
  writeFileSync(join(dir, 'big'), big.subarray(0, 3 * 1024 * 1024 + 5));
  assert.deepEqual(await reader.index(join(dir, 'big'), BS), await indexFile(join(dir, 'big'), BS));
  await assert.rejects(reader.read(join(dir, 'missing'), BS, undefined, BS), { code: 'ENOENT' });
  symlinkSync(join(dir, 'a'), join(dir, 'link'));
  await assert.rejects(reader.read(join(dir, 'link'), BS, undefined, 64 * BS), { code: 'ELOOP' });
  execFileSync('mkfifo', [join(dir, 'fifo')]);
  await assert.rejects(reader.read(join(dir, 'fifo'), BS, undefined, 64 * BS), { code: 'VIGIL_NOT_A_FILE' });
  // Many at once come back each to its caller.
  const many = await Promise.all(Array.from({ length: 50 }, () => reader.read(join(dir, 'empty'), BS, undefined, BS)));
  assert.ok(many.every((r) => r?.index.size === 0));

  await reader.close();
  await assert.rejects(reader.read(join(dir, 'a'), BS, undefined, BS), { code: 'VIGIL_CLOSED' });
});
