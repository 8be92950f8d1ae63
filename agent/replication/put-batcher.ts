/**
 * Gathers a resync's put records (whole small files the target lacks) into puts records, a run of one folder's
 * files at a time. A full mirror of 20,000 small files sent 20,000 records, each through the journal, the
 * transport's framing and acknowledgements, and the target's decoding and scheduling: per-record work that
 * cost more CPU than the files' bytes did. Only for a target that lists 'puts' among its features.
 */
import { splitVirtualPath } from './changes.js';
import { MAX_PUTS_FILES, MAX_WRITE_BYTES, type ChangeRecord, type WireRecord } from './records.js';

type PutRecord = Extract<ChangeRecord, { op: 'put' }>;

/** Files per puts record: enough to make the per-record work vanish, few enough to keep the target's writes flowing. */
export const PUTS_FILES = 256;
/** Data per puts record. */
export const PUTS_BYTES = 1024 * 1024;

export class PutBatcher {
  private files: PutRecord[] = [];
  private bytes = 0;
  /** The mirror folder of the files gathered: a puts record holds one folder's files. */
  private folder = -1;

  constructor(private readonly maxFiles = PUTS_FILES, private readonly maxBytes = PUTS_BYTES) {
    if (maxFiles < 1 || maxFiles > MAX_PUTS_FILES) throw new RangeError(`a puts record holds at most ${MAX_PUTS_FILES} files, not ${maxFiles}`);
    if (maxBytes < 1 || maxBytes > MAX_WRITE_BYTES) throw new RangeError(`a puts record holds at most ${MAX_WRITE_BYTES} bytes, not ${maxBytes}`);
  }

  /** Takes `put` in; answers the records gathered before it when it could not join them. */
  add(put: PutRecord): WireRecord | undefined {
    const { folder } = splitVirtualPath(put.path);
    const full = this.files.length > 0
      && (folder !== this.folder || this.files.length >= this.maxFiles || this.bytes + put.data.length > this.maxBytes);
    const ready = full ? this.take() : undefined;
    this.files.push(put);
    this.bytes += put.data.length;
    this.folder = folder;
    return ready;
  }

  /** The path of the last file gathered, if any: what a record that must follow its put (its xattrs) names. */
  get lastPath(): string | undefined {
    return this.files[this.files.length - 1]?.path;
  }

  /** What was gathered: one file as the put record it came as, more as one puts record. */
  take(): WireRecord | undefined {
    const files = this.files;
    this.files = [];
    this.bytes = 0;
    if (files.length <= 1) return files[0];
    return { op: 'puts', files };
  }
}
