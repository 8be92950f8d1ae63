/**
 * A resource group's state in one word for the operator, derived from what the agents report: where it runs,
 * whether an operator stopped it, whether a resource failed, or whether it is between nodes.
 */
import type { GroupSummary, OperationResult, ResourceState } from '../../../common/model/index.js';

export type GroupState =
  | { readonly kind: 'running'; readonly node: string }
  | { readonly kind: 'stopped'; readonly byOperator: boolean }
  | { readonly kind: 'failed'; readonly nodes: readonly string[] }
  /** An operator stopped it and it still runs somewhere. */
  | { readonly kind: 'stopping'; readonly on: readonly string[] }
  | { readonly kind: 'moving'; readonly from: readonly string[]; readonly to: string | null };

const FAILED: ReadonlySet<ResourceState> = new Set(['failed', 'stop_failed']);
const TRANSITION: ReadonlySet<ResourceState> = new Set(['starting', 'stopping']);

export function groupState(g: GroupSummary): GroupState {
  const failedOn = new Set<string>();
  let inTransition = false;
  for (const r of g.resources) {
    for (const [node, state] of Object.entries(r.states)) {
      if (FAILED.has(state)) failedOn.add(node);
      if (TRANSITION.has(state)) inTransition = true;
    }
  }
  // A failure outranks everything: it blocks the group until someone cleans up.
  if (failedOn.size > 0) return { kind: 'failed', nodes: [...failedOn].sort() };
  if (g.stopped === true) return g.runningOn.length === 0 ? { kind: 'stopped', byOperator: true } : { kind: 'stopping', on: g.runningOn };
  const single = g.runningOn.length === 1 ? g.runningOn[0]! : undefined;
  const settledOnTarget = single !== undefined && (g.target === null || g.target === single);
  if (single !== undefined && settledOnTarget && !inTransition) return { kind: 'running', node: single };
  if (g.runningOn.length === 0 && !inTransition) return { kind: 'stopped', byOperator: false };
  return { kind: 'moving', from: g.runningOn, to: g.target };
}

const OCF_NOT_RUNNING = 7;

/**
 * How a resource's last operation reads: a success, a normal answer, or a failure. A probe answering "not running"
 * (OCF 7) is how a standby node reports that it does not run the resource, which is what it should say; any other
 * non-zero code is a failure (a monitor's 7 means the resource died).
 */
export function operationOutcome(result: OperationResult): 'ok' | 'normal' | 'failed' {
  if (result.rc === 0) return 'ok';
  if (result.rc === OCF_NOT_RUNNING && result.operation === 'probe') return 'normal';
  return 'failed';
}
