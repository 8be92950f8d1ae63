/**
 * A process that appends to a journal (fsync 'always') until it is killed, printing "appended SEQ" once append
 * returned and "acked SEQ" once ack returned, so the parent knows what must survive a kill -9.
 * Usage: node journal-writer-child.js DIR
 */
import { fileURLToPath } from 'node:url';
import { Journal } from '../../../agent/replication/journal.js';

export const CHILD_SEGMENT_BYTES = 4096;

/** The payload of record `seq`: its length and bytes follow from the seq, so the parent can check it exactly. */
export function payloadFor(seq: number): Buffer {
  const payload = Buffer.alloc((seq * 37) % 301);
  for (let i = 0; i < payload.length; i++) payload[i] = (seq * 31 + i * 7) & 0xff;
  return payload;
}

async function main(dir: string): Promise<void> {
  const journal = await Journal.open(dir, { maxBytes: 1024 * 1024 * 1024, segmentBytes: CHILD_SEGMENT_BYTES, fsync: 'always' });
  process.stdout.write(`recovered ${journal.recovery.truncatedBytes}\n`);
  for (;;) {
    const expected = journal.stats().lastSeq + 1;
    const seq = await journal.append(payloadFor(expected));
    if (seq !== expected) throw new Error(`append returned ${seq}, expected ${expected}`);
    process.stdout.write(`appended ${seq}\n`);
    // Keep some records unacknowledged, and some segments deleted, at any moment the kill may land.
    if (seq % 16 === 0 && seq > 24) {
      await journal.ack(seq - 24);
      process.stdout.write(`acked ${seq - 24}\n`);
    }
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const dir = process.argv[2];
  if (dir === undefined) throw new Error('usage: journal-writer-child.js DIR');
  await main(dir);
}
