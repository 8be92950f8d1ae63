/**
 * Where a group should run. Every node computes this from the same replicated inputs (heartbeat statuses and
 * merged intents), so all nodes agree on one target without a coordinator; a node acts only on itself.
 */
import { groupNodes, type ClusterConfig, type GroupConfig } from '../../common/config/schema.js';
import type { EpochMs, Intents, NodeId } from '../../common/model/index.js';
import { effectiveFailures, hasProbed, holds, stopFailed, type NodeView } from './view.js';

export type Placement =
  /** Run the group on `target` (null: nowhere). */
  | { readonly kind: 'place'; readonly target: NodeId | null; readonly reasons: string[]; readonly wakeAt?: EpochMs }
  /** Do not start or move anything: the facts needed to decide are missing or unsafe to act on. */
  | { readonly kind: 'wait'; readonly holders: NodeId[]; readonly reasons: string[] };

export interface PlacementInput {
  readonly config: ClusterConfig;
  readonly group: GroupConfig;
  readonly views: ReadonlyMap<NodeId, NodeView>;
  readonly intents: Intents;
  readonly now: EpochMs;
  /** Until then, absent peers may still be coming up and may hold the group. */
  readonly startupGraceEndsAt: EpochMs;
  /** Until then this node, back from being cut off, may not have heard its peers yet (see `graceEnds`). */
  readonly rejoinGraceEndsAt: EpochMs;
}

/** Why a node may not run the group, or undefined if it may. */
export function ineligibility(input: PlacementInput, node: NodeId): string | undefined {
  const { group, views, now } = input;
  const view = views.get(node);
  if (!view || !groupNodes(input.config, group).includes(node)) return `${node} is not allowed to run it`;
  if (!view.alive) return `${node} is down`;
  if (view.status?.leaving) return `${node} is shutting down`;
  const cutOff = lostPublicNetwork(views, view);
  if (cutOff !== undefined) return cutOff;
  if (!hasProbed(view, group)) return `${node} has not probed it yet`;
  if (stopFailed(view, group)) return `${node} failed to stop it`;
  const failures = effectiveFailures(view, group, now);
  if (failures >= group.migrationThreshold) return `${node} failed it ${failures} times (threshold ${group.migrationThreshold})`;
  return undefined;
}

/**
 * Arbitration by the public network: a node whose ping targets are silent must not serve clients if another
 * alive node still reaches them; and one that also hears no peer may be the one cut off, so it must not take
 * over (and gives up what it holds). If every node has lost the targets, the targets are the likelier fault
 * and nothing moves.
 */
function lostPublicNetwork(views: ReadonlyMap<NodeId, NodeView>, view: NodeView): string | undefined {
  if (view.status?.publicNetwork !== 'lost') return undefined;
  const others = [...views.values()].filter((v) => v.alive && v.id !== view.id);
  const withPublic = others.filter((v) => v.status?.publicNetwork === 'ok').map((v) => v.id);
  if (withPublic.length > 0) return `${view.id} lost the public network (its ping targets are silent) while ${withPublic.join(', ')} still has it`;
  if (view.isLocal && others.length === 0) return `${view.id} lost the public network and hears no peer: it may be the node that is cut off`;
  return undefined;
}

export function decidePlacement(input: PlacementInput): Placement {
  const { config, group, views, intents, now } = input;
  const allowed = groupNodes(config, group);
  const alive = [...views.values()].filter((v) => v.alive);
  const holders = alive.filter((v) => holds(v, group)).map((v) => v.id);

  // Without fencing, a resource that failed to stop may still run: nobody else may start it.
  const blocked = alive.filter((v) => stopFailed(v, group)).map((v) => v.id);
  if (blocked.length > 0) {
    return { kind: 'wait', holders, reasons: blocked.map((n) => `blocked: stop failed on ${n}; run "vigil cleanup ${group.id}" there once it is safe`) };
  }
  const probing = alive.filter((v) => !hasProbed(v, group)).map((v) => v.id);
  if (probing.length > 0) {
    return { kind: 'wait', holders, reasons: probing.map((n) => `waiting for ${n} to probe its resources`) };
  }
  // A peer never heard from may be booting with the group running; one we saw and lost is known down.
  const neverSeen = [...views.values()].filter((v) => !v.alive && v.status === undefined).map((v) => v.id);
  if (now < input.startupGraceEndsAt && neverSeen.length > 0) {
    return { kind: 'wait', holders, reasons: [`starting up: waiting for ${neverSeen.join(', ')} until the startup grace ends`] };
  }
  // Back from being cut off, a node knows as little of its peers as at start-up: one that took the group over
  // meanwhile may not have been heard again yet, and acting on its silence would run the group twice.
  const unheard = [...views.values()].filter((v) => !v.alive).map((v) => v.id);
  if (now < input.rejoinGraceEndsAt && unheard.length > 0) {
    return { kind: 'wait', holders, reasons: [`the public network is back: waiting to hear ${unheard.join(', ')} until the startup grace ends again`] };
  }

  const eligible = allowed.filter((n) => ineligibility(input, n) === undefined);
  const intent = intents.targets[group.id];
  if (intent?.value && eligible.includes(intent.value)) {
    return { kind: 'place', target: intent.value, reasons: [`held on ${intent.value} (set by ${intent.by})`] };
  }
  const best = eligible[0];
  if (best === undefined) {
    const why = allowed.map((n) => ineligibility(input, n)).filter((r): r is string => r !== undefined);
    return { kind: 'place', target: null, reasons: [`cannot run anywhere: ${why.join('; ')}`] };
  }
  const healthyHolder = eligible.find((n) => holders.includes(n));
  if (healthyHolder === undefined || healthyHolder === best) {
    return { kind: 'place', target: best, reasons: [healthyHolder === best ? `running on ${best}` : `${best} is the most preferred eligible node`] };
  }
  if (group.switchback === 'manual') {
    return { kind: 'place', target: healthyHolder, reasons: [`stays on ${healthyHolder}: switchback is manual ("vigil switchback ${group.id}")`] };
  }
  // A mirrored group goes back only onto a copy that is level with the one it runs on now.
  const mirrorIds = group.resources.filter((r) => r.kind === 'mirror').map((r) => r.id);
  const behind = (views.get(healthyHolder)?.status?.mirrorsBehind ?? []).filter((m) => mirrorIds.includes(m));
  if (behind.length > 0) {
    return { kind: 'place', target: healthyHolder, reasons: [`switchback to ${best} waits until its copy of ${behind.join(', ')} is in sync`] };
  }
  const backAt = (views.get(best)?.aliveSince ?? now) + group.switchbackDelay;
  if (now < backAt) {
    return { kind: 'place', target: healthyHolder, reasons: [`switchback to ${best} once it has been up for ${group.switchbackDelay} ms`], wakeAt: backAt };
  }
  return { kind: 'place', target: best, reasons: [`switching back to ${best}, the most preferred node`] };
}
