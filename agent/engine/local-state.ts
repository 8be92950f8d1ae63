/**
 * This node's own knowledge of its resources: states, last results, failure counts. Failure counts are
 * persisted so a restart does not forgive a resource that keeps failing.
 */
import type { ClusterConfig, GroupConfig } from '../../common/config/schema.js';
import type { GroupId, GroupStatus, OperationResult, ResourceId, ResourceState, ResourceStatus } from '../../common/model/index.js';
import type { FailureRecord, StateStore } from '../store/state-store.js';

export class LocalState {
  private readonly resources = new Map<string, ResourceStatus>();
  /** Write-through cache of the store's failure records: status is built often, failures change rarely. */
  private readonly failures = new Map<GroupId, FailureRecord>();

  constructor(private readonly config: ClusterConfig, private readonly store: StateStore) {
    for (const group of config.groups) {
      for (const r of group.resources) this.resources.set(key(group.id, r.id), { state: 'unknown' });
      this.failures.set(group.id, store.failures(group.id));
    }
  }

  get(group: GroupId, resource: ResourceId): ResourceStatus {
    return this.resources.get(key(group, resource)) ?? { state: 'unknown' };
  }

  set(group: GroupId, resource: ResourceId, state: ResourceState, result?: OperationResult, monitored = false): void {
    const previous = this.get(group, resource);
    const lastMonitorAt = monitored && result ? result.at : previous.lastMonitorAt;
    const lastResult = result ?? previous.lastResult;
    this.resources.set(key(group, resource), {
      state,
      ...(lastMonitorAt === undefined ? {} : { lastMonitorAt }),
      ...(lastResult === undefined ? {} : { lastResult }),
    });
  }

  /** Forget what we know of every resource of the group (or all groups): they will be probed again. */
  forget(group?: GroupId): void {
    for (const g of this.config.groups) {
      if (group !== undefined && g.id !== group) continue;
      for (const r of g.resources) this.set(g.id, r.id, 'unknown');
    }
  }

  /** Count a failure; a fatal one (a failed start) makes the node ineligible at once. */
  recordFailure(group: GroupConfig, at: number, fatal: boolean): number {
    const current = this.failures.get(group.id)?.failures ?? 0;
    const failures = fatal ? Math.max(current, group.migrationThreshold) : current + 1;
    this.saveFailures(group.id, { failures, lastFailureAt: at });
    return failures;
  }

  clearFailures(group: GroupId): void {
    this.saveFailures(group, { failures: 0 });
  }

  private saveFailures(group: GroupId, record: FailureRecord): void {
    this.store.setFailures(group, record);
    this.failures.set(group, record);
  }

  groups(): Record<GroupId, GroupStatus> {
    const out: Record<GroupId, GroupStatus> = {};
    for (const group of this.config.groups) {
      const resources: Record<ResourceId, ResourceStatus> = {};
      for (const r of group.resources) resources[r.id] = this.get(group.id, r.id);
      const failures = this.failures.get(group.id) ?? { failures: 0 };
      out[group.id] = failures.lastFailureAt === undefined
        ? { resources, failures: failures.failures }
        : { resources, failures: failures.failures, lastFailureAt: failures.lastFailureAt };
    }
    return out;
  }
}

function key(group: GroupId, resource: ResourceId): string {
  return `${group}\u0000${resource}`;
}
