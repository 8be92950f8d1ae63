/**
 * The cluster brain: plan(config, observed, now) -> actions for this node. No I/O, no clock, no randomness,
 * so the same input always yields the same plan, golden scenarios pin it, and `vigil simulate` runs it as is.
 *
 * The engine executes the first action of each group, then plans again from the new observed state
 * (level-triggered, like Pacemaker's re-planning after every transition): the rest of the list shows the
 * operator where the group is heading.
 */
import type { ClusterConfig, GroupConfig } from '../../common/config/schema.js';
import { configDigest } from '../../common/config/digest.js';
import type { Action, EpochMs, GroupDecision, GroupId, ObservedState, PlanResult, ResourceState, Versioned } from '../../common/model/index.js';
import { decidePlacement, type Placement } from './placement.js';
import { failureExpiry, graceEnds, holds, inFlight, nodeViews, resourceState, statesOf, stopFailed, type NodeView } from './view.js';

export function plan(config: ClusterConfig, observed: ObservedState, now: EpochMs): PlanResult {
  const views = nodeViews(config, observed);
  const local = views.get(observed.localNode);
  if (!local) {
    return { actions: [], groups: {}, faults: [`this node "${observed.localNode}" is not in the configuration`], wakeAt: null };
  }
  const intents = observed.local.intents;
  const faults = nodeFaults(config, views);
  const wake = new WakeTimer(now);
  const grace = graceEnds(config, observed);
  if ([...views.values()].some((v) => !v.alive && v.status === undefined)) wake.at(grace.startup);
  if ([...views.values()].some((v) => !v.alive)) wake.at(grace.rejoin);

  const actions: Action[] = [];
  const groups: Record<GroupId, GroupDecision> = {};
  if (intents.maintenance?.value) {
    for (const group of config.groups) groups[group.id] = { target: null, reasons: ['maintenance mode: Vigil neither starts, stops nor monitors anything'] };
    return { actions, groups, faults: [...faults, `maintenance mode (set by ${intents.maintenance.by})`], wakeAt: null };
  }

  for (const group of config.groups) {
    for (const view of views.values()) wake.at(failureExpiry(view, group, now));
    const probes = group.resources.filter((r) => resourceState(local, group.id, r.id) === 'unknown');
    if (probes.length > 0) {
      actions.push(...probes.map((r): Action => ({ kind: 'probe', group: group.id, resource: r.id })));
      groups[group.id] = { target: null, reasons: ['probing this node\'s resources'], waiting: true };
      continue;
    }
    const stoppedBy = intents.stopped?.[group.id];
    if (stoppedBy?.value) {
      // Placement is not asked at all: nothing starts, nothing fails over, and no target means no failure.
      const stop = stopByOperator(group, local, stoppedBy);
      actions.push(...stop.actions);
      groups[group.id] = stop.decision;
      continue;
    }
    const placement = decidePlacement({ config, group, views, intents, now, startupGraceEndsAt: grace.startup, rejoinGraceEndsAt: grace.rejoin });
    if (placement.kind === 'place') wake.at(placement.wakeAt);
    const groupActions: Action[] = inFlight(local, group) ? [] : localActions(group, local, views, placement);
    // Monitors only while nothing else is planned for the group: a start or stop changes what to monitor.
    const changing = groupActions.some((a) => a.kind === 'start' || a.kind === 'stop');
    if (!changing && !inFlight(local, group)) groupActions.push(...dueMonitors(group, local, now, wake));
    actions.push(...groupActions);
    groups[group.id] = placement.kind === 'place'
      ? { target: placement.target, reasons: placement.reasons }
      : { target: placement.holders.length === 1 ? placement.holders[0]! : null, reasons: placement.reasons, waiting: true };
  }
  return { actions, groups, faults, wakeAt: wake.earliest };
}

/**
 * A group an operator stopped: every node stops its own copy, last resource first, and starts nothing. A failed
 * stop is not retried (it would fail again in a loop); as elsewhere, it waits for "vigil cleanup".
 */
function stopByOperator(group: GroupConfig, local: NodeView, intent: Versioned<boolean>): { actions: Action[]; decision: GroupDecision } {
  const reasons = [`stopped by an operator (set on ${intent.by}): it runs nowhere until "vigil group start ${group.id}"`];
  if (stopFailed(local, group)) {
    reasons.push(`blocked: stop failed on ${local.id}; run "vigil cleanup ${group.id}" there once it is safe`);
    return { actions: [], decision: { target: null, reasons, stopped: true } };
  }
  const actions = inFlight(local, group) ? [] : stopAll(group, statesOf(local, group));
  return { actions, decision: { target: null, reasons, stopped: true } };
}

/** What this node does for one group, given where the group should run. */
function localActions(group: GroupConfig, local: NodeView, views: ReadonlyMap<string, NodeView>, placement: Placement): Action[] {
  const states = statesOf(local, group);
  if (placement.kind === 'wait') return [];
  if (placement.target !== local.id) return stopAll(group, states);

  // Hand-over: the previous holder stops first, so the group never runs twice.
  const otherHolders = [...views.values()].filter((v) => !v.isLocal && holds(v, group));
  if (otherHolders.length > 0) return [];

  const actions: Action[] = [];
  const intent = local.status?.intents.targets[group.id];
  if (group.switchback === 'manual' && intent?.value !== local.id) actions.push({ kind: 'hold', group: group.id, node: local.id });
  actions.push(...startInOrder(group, states));
  return actions;
}

/** Stop everything that may run, last resource first. */
function stopAll(group: GroupConfig, states: ResourceState[]): Action[] {
  const actions: Action[] = [];
  for (let i = group.resources.length - 1; i >= 0; i--) {
    if (states[i] !== 'stopped') actions.push({ kind: 'stop', group: group.id, resource: group.resources[i]!.id });
  }
  return actions;
}

/**
 * Bring the group to "all running, in order". From the first resource that is not running, everything after
 * it that still runs is stopped (it depends on the broken one), a failed resource is stopped, then all start.
 */
function startInOrder(group: GroupConfig, states: ResourceState[]): Action[] {
  const first = states.findIndex((s) => s !== 'running');
  if (first === -1) return [];
  const actions: Action[] = [];
  for (let i = group.resources.length - 1; i >= first; i--) {
    if (states[i] !== 'stopped') actions.push({ kind: 'stop', group: group.id, resource: group.resources[i]!.id });
  }
  for (let i = first; i < group.resources.length; i++) actions.push({ kind: 'start', group: group.id, resource: group.resources[i]!.id });
  return actions;
}

function dueMonitors(group: GroupConfig, local: NodeView, now: EpochMs, wake: WakeTimer): Action[] {
  const actions: Action[] = [];
  for (const resource of group.resources) {
    const status = local.status?.groups[group.id]?.resources[resource.id];
    if (status?.state !== 'running') continue;
    const due = (status.lastMonitorAt ?? 0) + resource.monitorInterval;
    if (due <= now) actions.push({ kind: 'monitor', group: group.id, resource: resource.id });
    else wake.at(due);
  }
  return actions;
}

function nodeFaults(config: ClusterConfig, views: ReadonlyMap<string, NodeView>): string[] {
  const faults: string[] = [];
  const digest = configDigest(config);
  const local = [...views.values()].find((v) => v.isLocal);
  if (local?.status?.publicNetwork === 'lost') faults.push(`${local.id} lost the public network: none of its ping targets (${config.arbitration.pingTargets.join(', ')}) answers`);
  for (const view of views.values()) {
    if (view.isLocal) continue;
    if (!view.alive) faults.push(`${view.id} is down: no heartbeat link to it is up`);
    else if (view.publicOnly) faults.push(`every private link to ${view.id} is down: it is heard only over the public network, so it is not taken over`);
    else if (view.status && view.status.configDigest !== digest) faults.push(`${view.id} runs a different configuration (${view.status.configDigest}, here ${digest})`);
  }
  return faults;
}

/** The earliest future moment at which time alone changes the plan. */
class WakeTimer {
  earliest: EpochMs | null = null;
  constructor(private readonly now: EpochMs) {}
  at(time: EpochMs | undefined): void {
    if (time === undefined || time <= this.now) return;
    if (this.earliest === null || time < this.earliest) this.earliest = time;
  }
}
