/** The cluster status shown to operators, derived purely from the scheduler's input and output. */
import type { ClusterConfig } from '../../common/config/schema.js';
import {
  isStoppedByOperator,
  type ClusterStatus, type EpochMs, type GroupSummary, type LinkStatus, type NodeSummary, type ObservedState, type PlanResult, type ResourceState,
} from '../../common/model/index.js';
import { holds, nodeViews } from './view.js';

export function clusterStatus(config: ClusterConfig, observed: ObservedState, result: PlanResult, links: readonly LinkStatus[], now: EpochMs): ClusterStatus {
  const views = nodeViews(config, observed);
  const nodes: NodeSummary[] = [...views.values()].map((v) => ({
    id: v.id,
    local: v.isLocal,
    alive: v.alive,
    ...(v.status ? { incarnation: v.status.incarnation, configDigest: v.status.configDigest } : {}),
    links: links.filter((l) => l.peer === v.id),
  }));
  const groups: GroupSummary[] = config.groups.map((group) => ({
    id: group.id,
    target: result.groups[group.id]?.target ?? null,
    reasons: result.groups[group.id]?.reasons ?? [],
    runningOn: [...views.values()].filter((v) => holds(v, group)).map((v) => v.id),
    switchback: group.switchback,
    stopped: isStoppedByOperator(observed.local.intents, group.id),
    failures: Object.fromEntries([...views.values()].flatMap((v) => {
      const failures = v.status?.groups[group.id]?.failures;
      return v.alive && failures !== undefined ? [[v.id, failures]] : [];
    })),
    resources: group.resources.map((r) => {
      const states: Record<string, ResourceState> = {};
      for (const v of views.values()) {
        const state = v.status?.groups[group.id]?.resources[r.id]?.state;
        if (v.alive && state !== undefined) states[v.id] = state;
      }
      const lastResult = observed.local.groups[group.id]?.resources[r.id]?.lastResult;
      return { id: r.id, kind: r.kind, states, ...(lastResult ? { lastResult } : {}) };
    }),
  }));
  return {
    cluster: config.cluster.id,
    reportedBy: observed.localNode,
    at: now,
    maintenance: observed.local.intents.maintenance?.value ?? false,
    nodes,
    groups,
    faults: result.faults,
  };
}
