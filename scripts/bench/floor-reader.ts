/**
 * bench:floor's read thread (floor-copier.ts, `thread`): reads what it is asked, in order, and hashes every 64 KiB
 * block with the mirror's block hash as it goes, as the mirror source's read thread does; the bytes are handed
 * back, not copied.
 */
import { parentPort } from 'node:worker_threads';
import { blockHash, DEFAULT_BLOCK_HASH } from '../../agent/replication/block-hash.js';
import { readInline, type FloorRead, type FloorReadReply } from './floor-copier.js';

const BLOCK = 64 * 1024;

parentPort!.on('message', (batch: readonly FloorRead[]) => {
  const replies: FloorReadReply[] = [];
  for (const read of batch) {
    const bytes = readInline(read);
    for (let at = 0; at < bytes.length; at += BLOCK) blockHash(bytes.subarray(at, Math.min(bytes.length, at + BLOCK)), DEFAULT_BLOCK_HASH);
    replies.push({ bytes: bytes.buffer as ArrayBuffer, length: bytes.length });
  }
  parentPort!.postMessage(replies, replies.map((r) => r.bytes));
});
