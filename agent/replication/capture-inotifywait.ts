/**
 * Linux watcher: one `inotifywait -m -r` (Debian's inotify-tools) per root, parsed from NUL-terminated records.
 * Chosen over fs.watch because it is the only one here that reports a kernel queue overflow (when asked for
 * q_overflow; libuv drops it silently) and a failed watch on a new folder (ENOSPC), and because it drains the
 * kernel queue in its own process while our event loop is busy. Measurements: docs/replication.md.
 *
 * inotifywait prints a new folder's CREATE before it adds the folder's watch but flushes its output only after
 * (fflush at the end of each event), so by the time Capture reads the event and scans the folder, whatever is
 * made in it afterwards produces events of its own.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { relative, sep } from 'node:path';
import { CaptureError, type CaptureHint, type TreeWatcher, type TreeWatcherFactory, type WatcherSink } from './capture-watcher.js';

export interface InotifywaitOptions {
  /** The executable (default `inotifywait` on PATH). */
  readonly command?: string;
}

const EVENTS = 'create,modify,attrib,moved_from,moved_to,delete,delete_self,move_self,unmount,q_overflow';
const FORMAT = '%e %w%f%0';
/** inotifywait truncates a formatted event at about 4000 bytes, losing its NUL; treat long records as lost. */
const MAX_RECORD_BYTES = 3900;
/** More than this without a NUL is not inotifywait speaking our format. */
const MAX_UNTERMINATED_BYTES = 16 * 1024;
const SETUP_LINES = [/^Setting up watches\./, /^Watching new directory /];
const ESTABLISHED = 'Watches established.';

export function inotifywaitFactory(options: InotifywaitOptions = {}): TreeWatcherFactory {
  return (root, sink) => new InotifywaitWatcher(root, sink, options.command ?? 'inotifywait');
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

class InotifywaitWatcher implements TreeWatcher {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private closed = false;
  private established = false;
  private readonly prefix: string;
  private stdoutRest: Buffer = Buffer.alloc(0);
  private stderrRest = '';
  private readonly setupErrors: string[] = [];
  /** The previous record was a folder's MOVED_FROM: the MOVED_TO that follows is its rename inside the tree. */
  private movedDirFrom = false;

  constructor(private readonly root: string, private readonly sink: WatcherSink, private readonly command: string) {
    this.prefix = root.endsWith('/') ? root : `${root}/`;
  }

  start(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const child = spawn(this.command, ['-m', '-r', '-e', EVENTS, '--format', FORMAT, '--no-newline', '--', this.root], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      this.child = child;
      this.exited = new Promise<void>((done) => child.once('close', () => done()));
      let settled = false;
      const fail = (error: CaptureError): void => {
        if (settled) return;
        settled = true;
        reject(error);
      };
      child.once('error', (e: NodeJS.ErrnoException) => {
        fail(e.code === 'ENOENT'
          ? new CaptureError('VIGIL_CAPTURE_UNAVAILABLE', `${this.command} not found: install inotify-tools`)
          : new CaptureError('VIGIL_CAPTURE_FAILED', `${this.command}: ${e.message}`));
      });
      child.stdout!.on('data', (chunk: Buffer) => this.onStdout(chunk));
      child.stderr!.setEncoding('utf8');
      child.stderr!.on('data', (text: string) => {
        for (const line of this.lines(text)) {
          if (line === ESTABLISHED && !this.established) {
            this.established = true;
            settled = true;
            resolve();
          } else if (!SETUP_LINES.some((re) => re.test(line))) {
            this.onProblem(line);
          }
        }
      });
      child.once('close', (code, signal) => {
        this.child = undefined;
        if (!this.established) {
          fail(this.setupFailure(code, signal));
        } else if (!this.closed) {
          this.sink.broken(`inotifywait for ${this.root} exited (${signal ?? `code ${code}`})`);
        }
      });
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    this.child?.kill('SIGTERM');
    await this.exited;
  }

  private setupFailure(code: number | null, signal: NodeJS.Signals | null): CaptureError {
    const said = this.setupErrors.join('; ') || `exited (${signal ?? `code ${code}`})`;
    if (/upper limit on inotify watches/.test(said)) {
      return new CaptureError('VIGIL_CAPTURE_WATCH_LIMIT', `cannot watch ${this.root}: the inotify watch limit is reached (fs.inotify.max_user_watches)`);
    }
    if (/No such file or directory|Not a directory/.test(said)) return new CaptureError('VIGIL_CAPTURE_ROOT', `cannot watch ${this.root}: ${said}`);
    return new CaptureError('VIGIL_CAPTURE_FAILED', `inotifywait for ${this.root}: ${said}`);
  }

  private onProblem(line: string): void {
    if (!this.established) {
      this.setupErrors.push(line);
      return;
    }
    if (this.closed) return;
    // A new folder that vanished (removed or moved on) before its watch was added: nothing is blind, since what
    // it held went with it; its removal or move is an event of its own. Report the path for a fresh look.
    const vanished = /^Couldn't watch new directory (.+?)\/?: No such file or directory$/.exec(line);
    const rel = vanished === null ? undefined : relative(this.root, vanished[1]!);
    if (rel !== undefined && rel !== '' && !rel.startsWith('..')) {
      this.sink.event({ path: rel.split(sep).join('/'), hint: 'unknown', isDir: true, scan: true });
      return;
    }
    // Otherwise it could not watch a new folder that exists (ENOSPC): that subtree is blind.
    this.sink.broken(`inotifywait for ${this.root}: ${line}`);
  }

  private lines(text: string): string[] {
    const parts = (this.stderrRest + text).split('\n');
    this.stderrRest = parts.pop() ?? '';
    return parts.map((l) => l.trim()).filter((l) => l !== '');
  }

  private onStdout(chunk: Buffer): void {
    let data = this.stdoutRest.length > 0 ? Buffer.concat([this.stdoutRest, chunk]) : chunk;
    let nul = data.indexOf(0);
    while (nul >= 0) {
      if (this.closed) return;
      this.onRecord(data.subarray(0, nul));
      data = data.subarray(nul + 1);
      nul = data.indexOf(0);
    }
    if (data.length > MAX_UNTERMINATED_BYTES) {
      this.stdoutRest = Buffer.alloc(0);
      this.sink.broken(`inotifywait for ${this.root}: ${data.length} bytes without a record end`);
      return;
    }
    this.stdoutRest = Buffer.from(data);
  }

  private onRecord(record: Buffer): void {
    const space = record.indexOf(0x20);
    const events = (space < 0 ? record : record.subarray(0, space)).toString('latin1').split(',');
    const movedDirFrom = this.movedDirFrom;
    this.movedDirFrom = false;
    if (events.includes('Q_OVERFLOW')) {
      this.sink.lost('the kernel inotify queue overflowed (fs.inotify.max_queued_events)');
      return;
    }
    if (events.includes('UNMOUNT')) {
      this.sink.broken(`the file system of ${this.root} was unmounted`);
      return;
    }
    if (record.length > MAX_RECORD_BYTES) {
      this.sink.lost(`an event with a path longer than inotifywait reports (${record.length} bytes)`);
      return;
    }
    let full: string;
    try {
      full = utf8.decode(record.subarray(space + 1));
    } catch {
      this.sink.lost(`an event for a file name that is not UTF-8 (${JSON.stringify(record.subarray(space + 1).toString('latin1'))})`);
      return;
    }
    if (full === this.prefix || full === this.root) {
      if (events.includes('DELETE_SELF')) this.sink.broken(`root ${this.root} was deleted`);
      else if (events.includes('MOVE_SELF')) this.sink.broken(`root ${this.root} was moved away`);
      // Its mode, owner or attributes changed (they are mirrored too).
      else if (events.includes('ATTRIB')) this.sink.event({ path: '', hint: 'changed', isDir: true, scan: false });
      return;
    }
    if (!full.startsWith(this.prefix)) {
      this.sink.broken(`inotifywait reported ${JSON.stringify(full)}, outside ${this.root}`);
      return;
    }
    // A folder's own DELETE_SELF / MOVE_SELF: its parent reports the same change by name.
    if (full.endsWith('/')) return;
    const path = full.slice(this.prefix.length);
    const isDir = events.includes('ISDIR');
    const hint = hintOf(events);
    if (hint === 'renamed-from' && isDir) this.movedDirFrom = true;
    const scan = isDir && (hint === 'created' || (hint === 'renamed-to' && !movedDirFrom));
    this.sink.event({ path, hint, isDir, scan });
  }
}

function hintOf(events: readonly string[]): CaptureHint {
  if (events.includes('CREATE')) return 'created';
  if (events.includes('MOVED_FROM')) return 'renamed-from';
  if (events.includes('MOVED_TO')) return 'renamed-to';
  if (events.includes('DELETE')) return 'removed';
  if (events.includes('MODIFY') || events.includes('ATTRIB')) return 'changed';
  return 'unknown';
}
