/** What every resource agent does around an operation: timing, cancellation on dispose, and never throwing. */
import type { ResourceOperation } from '../../common/model/index.js';
import type { Clock } from '../util/clock.js';
import type { AgentResult } from './types.js';

export interface Outcome {
  readonly rc: number;
  readonly message: string;
  readonly stdout?: string;
}

export class OperationGuard {
  private readonly controller = new AbortController();

  constructor(private readonly clock: Clock) {}

  async run(operation: ResourceOperation, body: (signal: AbortSignal) => Promise<Outcome>): Promise<AgentResult> {
    const started = this.clock.now();
    let outcome: Outcome;
    if (this.controller.signal.aborted) {
      outcome = { rc: -1, message: 'the resource agent was disposed' };
    } else {
      try {
        outcome = await body(this.controller.signal);
      } catch (e) {
        // A bug or an unexpected I/O error must reach the engine as a failed operation, not as a crash.
        outcome = { rc: 1, message: `internal error: ${e instanceof Error ? e.message : String(e)}` };
      }
    }
    const at = this.clock.now();
    return { operation, rc: outcome.rc, at, durationMs: at - started, message: outcome.message, ...(outcome.stdout === undefined ? {} : { stdout: outcome.stdout }) };
  }

  dispose(): void {
    this.controller.abort();
  }
}
