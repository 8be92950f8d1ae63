/**
 * Where the cluster screen sends an operator command, and whether our role may send it. Any connected agent
 * forwards a command cluster-wide, so we pick the one whose status is freshest (it has seen the latest heartbeats);
 * its `welcome.methods` lists what our credentials may call, so a button can be greyed out with the reason
 * instead of failing with FORBIDDEN.
 */
import type { CenterMethod, CenterNodeView } from '../../../common/ipc/contract.js';
import type { Role } from '../../../common/model/index.js';

export function commandTarget(nodes: readonly CenterNodeView[]): CenterNodeView | undefined {
  let best: CenterNodeView | undefined;
  let bestAt = -Infinity;
  for (const n of nodes) {
    if (n.state !== 'connected') continue;
    const at = (n.status ?? n.snapshot?.status)?.at ?? -Infinity;
    if (best === undefined || at > bestAt) {
      best = n;
      bestAt = at;
    }
  }
  return best;
}

export type Permission =
  | { readonly allowed: true }
  | { readonly allowed: false; readonly reason: 'no-node' }
  | { readonly allowed: false; readonly reason: 'role'; readonly role: Role };

/** An agent that has not sent its welcome yet cannot have refused anything: the agent itself still checks. */
export function permission(target: CenterNodeView | undefined, method: CenterMethod): Permission {
  if (target === undefined) return { allowed: false, reason: 'no-node' };
  const welcome = target.welcome;
  if (welcome === undefined || welcome.methods.includes(method)) return { allowed: true };
  return { allowed: false, reason: 'role', role: welcome.principal.role };
}
