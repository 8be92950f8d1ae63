/** What the engine sees of a resource: one agent per configured resource, whatever its kind. */
import type { OperationResult, ResourceId, ResourceOperation } from '../../common/model/index.js';
import type { Platform } from '../platform/types.js';
import type { Clock } from '../util/clock.js';
import type { MirrorRoles } from './mirror.js';

/** An operation's result, with the program's stdout where it has one (meta-data's XML). */
export type AgentResult = OperationResult & { readonly stdout?: string };

export interface ResourceAgent {
  readonly id: ResourceId;
  /** Never throws: every outcome, including a timeout or a missing program, is an OperationResult. */
  run(operation: ResourceOperation): Promise<AgentResult>;
  /** Cancels what is in flight (an OCF program's process group is killed); later runs give rc -1. */
  dispose(): void;
}

export interface ResourceAgentContext {
  /** Where agents keep their own files (pidfiles and logs of supervised processes). */
  readonly stateDir: string;
  readonly platform: Platform;
  readonly clock?: Clock;
  /** This node's id: picks a virtual IP's interface from a per-node map. Without it, the subnet decides. */
  readonly nodeId?: string;
  /** The node's mirror service, which mirror resources promote and demote. */
  readonly mirrors?: MirrorRoles;
}

/** The standard OCF exit codes, by number. */
export const OCF_RC = {
  SUCCESS: 0, ERR_GENERIC: 1, ERR_ARGS: 2, ERR_UNIMPLEMENTED: 3, ERR_PERM: 4, ERR_INSTALLED: 5, ERR_CONFIGURED: 6, NOT_RUNNING: 7,
} as const;

const RC_NAMES = ['success', 'generic error', 'invalid arguments', 'unimplemented', 'insufficient permissions', 'not installed', 'not configured', 'not running'];

/** "not running" for 7; a timeout or a failure to run is -1. */
export function describeRc(rc: number): string {
  return RC_NAMES[rc] ?? (rc === -1 ? 'did not complete' : `exit code ${rc}`);
}
