// Block hashes: XXH3-128 as the reference implementation computes it, SHA-256 cut to 16 bytes, and the store's
// header codes, which must never change meaning (stores on disk carry them).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { xxhash128 } from 'hash-wasm';
import { BLOCK_HASHES, blockHash, blockHashCode, blockHashOfCode, isBlockHashName } from '../../../agent/replication/block-hash.js';

test('xxh3-128 gives the canonical XXH128 digests, and sha256-128 the first 16 bytes of SHA-256', () => {
  // Computed with xxhash-rust (through @node-rs/xxhash), a separate implementation; the empty input's is the one
  // the xxHash project lists for XXH128 with seed 0.
  const vectors: readonly [Buffer, string][] = [
    [Buffer.alloc(0), '99aa06d3014798d86001c324468d497f'],
    [Buffer.from('vigil'), '473da782fe5f6ca288d17fb02af669f7'],
    [Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 7) % 251)), '5ed35fc6b4f0ef20d1eb8367bf3294e7'],
    [Buffer.alloc(65536, 0xa5), '343bfe457c4553da2d18874c98842a4b'],
  ];
  for (const [bytes, hex] of vectors) {
    assert.equal(blockHash(bytes, 'xxh3-128').toString('hex'), hex, `${bytes.length} bytes`);
    assert.deepEqual(blockHash(bytes, 'sha256-128'), createHash('sha256').update(bytes).digest().subarray(0, 16));
  }
  // Each digest is memory of its own, never a view of the WebAssembly memory the next hash overwrites.
  const first = blockHash(Buffer.from('a'), 'xxh3-128');
  const second = blockHash(Buffer.from('b'), 'xxh3-128');
  assert.notDeepEqual(first, second);
  assert.deepEqual(first, blockHash(Buffer.from('a'), 'xxh3-128'));
  // A view into a larger buffer hashes only its own bytes, and each call starts afresh.
  const big = Buffer.concat([Buffer.from('xx'), Buffer.from('vigil'), Buffer.from('yy')]);
  assert.equal(blockHash(big.subarray(2, 7), 'xxh3-128').toString('hex'), '473da782fe5f6ca288d17fb02af669f7');
  assert.equal(blockHash(big.subarray(2, 7), 'xxh3-128').toString('hex'), '473da782fe5f6ca288d17fb02af669f7');
});

test('the store codes: 0 is SHA-256 (every store before XXH3), 1 is XXH3; other codes and names are unknown', () => {
  assert.equal(blockHashCode('sha256-128'), 0);
  assert.equal(blockHashCode('xxh3-128'), 1);
  for (const name of BLOCK_HASHES) assert.equal(blockHashOfCode(blockHashCode(name)), name);
  assert.equal(blockHashOfCode(2), undefined);
  assert.equal(isBlockHashName('xxh3-128'), true);
  assert.equal(isBlockHashName('md5'), false);
  assert.equal(isBlockHashName(1), false);
});

test('blocks of zeros hash as the hash computes them (their hashes are kept, not computed again); a single other byte anywhere hashes otherwise', async () => {
  for (const length of [1, 4096, 65536, 65537, 200 * 1024]) {
    const zeros = Buffer.alloc(length);
    assert.equal(blockHash(zeros, 'xxh3-128').toString('hex'), await xxhash128(zeros), `${length} zeros, xxh3-128`);
    assert.deepEqual(blockHash(zeros, 'sha256-128'), createHash('sha256').update(zeros).digest().subarray(0, 16), `${length} zeros, sha256-128`);
    for (const at of new Set([0, Math.floor(length / 2), length - 1, Math.min(length - 1, 65536)])) {
      const one = Buffer.alloc(length);
      one[at] = 1;
      assert.equal(blockHash(one, 'xxh3-128').toString('hex'), await xxhash128(one), `${length} bytes, one at ${at}`);
    }
  }
  // What a caller is given is its own: changing it changes no later answer.
  const given = blockHash(Buffer.alloc(4096), 'xxh3-128');
  given.fill(0xff);
  assert.equal(blockHash(Buffer.alloc(4096), 'xxh3-128').toString('hex'), await xxhash128(Buffer.alloc(4096)));
});
