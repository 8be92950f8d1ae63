/**
 * The cluster screen's selections from the store, each as small as its component needs (zustand's useShallow
 * compares the result), so a heartbeat repaints the parts that show what changed.
 */
import type { CenterMethod, CenterNodeView } from '../../../common/ipc/contract.js';
import type { ClusterStatus, GroupSummary } from '../../../common/model/index.js';
import { freshestStatus } from '../../state/health.js';
import type { ConsoleState } from '../../state/store.js';
import { useConsole } from '../context.js';
import { commandTarget, permission, type Permission } from './command-target.js';

const NO_NODES: readonly CenterNodeView[] = [];

export const nodesOf = (s: ConsoleState, cluster: string): readonly CenterNodeView[] => s.clusters[cluster]?.nodes ?? NO_NODES;

export function useClusterStatus(cluster: string): ClusterStatus | undefined {
  return useConsole((s) => ({ status: freshestStatus(nodesOf(s, cluster)) })).status;
}

export function useGroup(cluster: string, group: string): GroupSummary | undefined {
  return useConsole((s) => ({ group: freshestStatus(nodesOf(s, cluster))?.groups.find((g) => g.id === group) })).group;
}

/** The node commands go to, and whether a method is allowed there. */
export function useCommandPermission(cluster: string, method: CenterMethod): { readonly node: string | undefined; readonly permission: Permission } {
  const target = useConsole((s) => ({ target: commandTarget(nodesOf(s, cluster)) })).target;
  return { node: target?.node, permission: permission(target, method) };
}
