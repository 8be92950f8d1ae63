// A listing's index of one file (listedIndex), on real files and a real store: its own last listing first, this
// node's index as the source only where that does not cover the file, and the file hashed only where neither does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lstatSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlockIndexStore, indexFile, type FileIndex } from '../../../agent/replication/block-index.js';
import { listedIndex } from '../../../agent/replication/listing-index.js';

const BLOCK = 4096;

test('the source index is loaded only for a file the listing index does not cover, and what it vouches for is kept', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-listing-index-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const old = new Date('2020-01-02T03:04:05Z');
  const [a, b, c] = ['a', 'b', 'c'].map((name) => {
    const path = join(dir, name);
    writeFileSync(path, `${name} `.repeat(3000));
    utimesSync(path, old, old);
    return path;
  }) as [string, string, string];
  const known = await BlockIndexStore.open(join(dir, 'listing.index'), 'xxh3-128');
  known.set('0/a', await indexFile(a, BLOCK, undefined, 'xxh3-128'));
  const sourceIndex = new Map<string, FileIndex>([['0/b', await indexFile(b, BLOCK, undefined, 'xxh3-128')]]);
  let loads = 0;
  const own = (): Promise<ReadonlyMap<string, FileIndex>> => { loads++; return Promise.resolve(sourceIndex); };
  let hashes = 0;
  const hashing = (path: string): Promise<FileIndex> => { hashes++; return indexFile(path, BLOCK, undefined, 'xxh3-128'); };
  const list = (v: string, path: string): ReturnType<typeof listedIndex> => listedIndex(known, v, path, lstatSync(path), BLOCK, 'xxh3-128', false, hashing, own);

  const fromListing = await list('0/a', a);
  assert.deepEqual([fromListing.hashed, fromListing.ownIndex, loads, hashes], [false, false, 0, 0], 'covered by the last listing: nothing else is asked');
  const fromSource = await list('0/b', b);
  assert.deepEqual([fromSource.hashed, fromSource.ownIndex, loads, hashes], [false, true, 1, 0]);
  assert.ok(known.get('0/b')!.hashes.equals(sourceIndex.get('0/b')!.hashes), 'kept in the listing index');
  const hashed = await list('0/c', c);
  assert.deepEqual([hashed.hashed, hashed.ownIndex, hashes], [true, false, 1]);
  // Changed since the source indexed it: the source index no longer vouches for it.
  writeFileSync(b, 'b changed');
  utimesSync(b, old, old);
  known.delete('0/b');
  const changed = await list('0/b', b);
  assert.deepEqual([changed.hashed, changed.ownIndex, hashes], [true, false, 2]);
  // A fresh listing trusts neither.
  const fresh = await listedIndex(known, '0/a', a, lstatSync(a), BLOCK, 'xxh3-128', true, hashing, own);
  assert.deepEqual([fresh.hashed, hashes], [true, 3]);
});
