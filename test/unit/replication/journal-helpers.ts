// What the journal's tests share: a temp folder and a journal, both gone at the end of the test even when an
// assertion fails first.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Journal, type JournalOptions } from '../../../agent/replication/journal.js';

export function tempDir(t: { after: (fn: () => void) => void }, prefix = 'vigil-journal-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export async function openJournal(t: { after: (fn: () => Promise<void>) => void }, dir: string, options: JournalOptions): Promise<Journal> {
  const journal = await Journal.open(dir, options);
  // A test may have closed it already, or broken its folder on purpose.
  t.after(() => journal.close().catch(() => undefined));
  return journal;
}

/** The segment files, oldest first. */
export function segments(dir: string): string[] {
  return readdirSync(dir).filter((n) => n.endsWith('.seg')).sort();
}
