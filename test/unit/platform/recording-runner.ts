/** The one fake of the platform tests: a runner that records each command and answers as told. */
import type { ProcessRunner, RunRequest, RunResult } from '../../../agent/platform/types.js';

export class RecordingRunner implements ProcessRunner {
  readonly requests: RunRequest[] = [];
  constructor(private readonly reply: (request: RunRequest) => Partial<RunResult> = () => ({})) {}
  async run(request: RunRequest): Promise<RunResult> {
    this.requests.push(request);
    return { rc: 0, signal: null, timedOut: false, aborted: false, durationMs: 1, stdout: '', stderr: '', stderrTail: '', ...this.reply(request) };
  }
  argvs(): string[][] {
    return this.requests.map((r) => [r.file, ...r.args]);
  }
}
