/**
 * The engine: the agent's single event queue. Every input (a heartbeat change, an action's result, a timer,
 * an admin command) schedules one planning pass; each pass asks the pure scheduler what to do and starts the
 * first action of every idle group. Actions in flight are finished, never interrupted; the rest of a plan is
 * dropped and planned again from the new state, so the engine never acts on a stale plan.
 */
import type { ClusterConfig, GroupConfig } from '../../common/config/schema.js';
import { canonicalJson, configDigest } from '../../common/config/digest.js';
import {
  intentsVersion, isStoppedByOperator, mergeIntents, describeAction,
  type Action, type ClusterEvent, type MembershipChange, type ClusterStatus, type EventKind, type GroupId, type Intents, type LinkStatus, type NodeId,
  type NodeStatus, type ObservedState, type OperationResult, type PeerView, type PlanResult, type ResourceId, type ResourceOperation, type Severity,
} from '../../common/model/index.js';
import { ProtocolError } from '../../common/protocol/api.js';
import { plan } from '../core/plan.js';
import { ineligibility, type PlacementInput } from '../core/placement.js';
import { clusterStatus } from '../core/status.js';
import { graceEnds, holds, nodeViews } from '../core/view.js';
import type { StateStore } from '../store/state-store.js';
import type { Clock, Disposable } from '../util/clock.js';
import { LocalState } from './local-state.js';

/** What the engine needs of the heartbeat layer. */
export interface Membership {
  peers(): Readonly<Record<NodeId, PeerView>>;
  linkStatuses(): readonly LinkStatus[];
  setStatus(status: NodeStatus): void;
}

/** What the engine needs of a resource agent: run an operation, never throw. */
export interface ResourceRunner {
  run(operation: ResourceOperation): Promise<OperationResult>;
}

export interface EngineOptions {
  readonly config: ClusterConfig;
  readonly localNode: NodeId;
  readonly clock: Clock;
  readonly store: StateStore;
  readonly resources: ReadonlyMap<ResourceId, ResourceRunner>;
  readonly membership: Membership;
  /** This run's incarnation, as the heartbeat announces it (default: the start time). */
  readonly incarnation?: number;
  /** Mirrors this node sends whose target is not level yet (the mirror service). */
  readonly mirrorsBehind?: () => readonly string[];
  readonly log?: (line: string) => void;
}

/** Rejected heartbeats are logged at most this often per link and reason: an attacker must not fill the disk. */
const REJECT_LOG_INTERVAL_MS = 10_000;

export class Engine {
  private config: ClusterConfig;
  private readonly local: LocalState;
  private digest: string;
  readonly startedAt: number;
  private intents: Intents;
  private leaving = false;
  private publicNetwork: 'ok' | 'lost' | undefined;
  private publicNetworkBackAt: number | undefined;
  /** Nothing is planned (so nothing started or stopped) before start(): the daemon waits for its guard first. */
  private started = false;
  /** Nor while a replaced guard loads (reprobe's `until`). */
  private waitingFor = 0;
  private stopped = false;
  private readonly busy = new Set<GroupId>();
  private planQueued = false;
  private wakeTimer: Disposable | undefined;
  private lastPlan: PlanResult | undefined;
  private readonly lastTargets = new Map<GroupId, NodeId | null>();
  private readonly lastRejectLog = new Map<string, number>();
  private readonly eventListeners = new Set<(e: ClusterEvent) => void>();
  private readonly idleWaiters: (() => void)[] = [];

  constructor(private readonly options: EngineOptions) {
    this.config = options.config;
    this.local = new LocalState(options.config, options.store);
    this.digest = configDigest(options.config);
    this.startedAt = options.clock.now();
    this.intents = options.store.intents();
  }

  /**
   * A new configuration that changes only what is read afresh at each planning round (group policies such as
   * switchback, delays and thresholds): swap it in and plan again. Anything that shapes links, resources or mirrors
   * goes through a reload of the agent instead (see classifyChange).
   */
  applyLiveConfig(config: ClusterConfig): void {
    this.config = config;
    this.digest = configDigest(config);
    this.publish();
    this.schedulePlan();
  }

  start(): void {
    this.started = true;
    this.emit('agent-started', 'info', `agent started (config ${this.digest})`);
    this.publish();
    this.schedulePlan();
  }

  /** Input from the heartbeat layer. */
  onMembershipChange(change: MembershipChange): void {
    switch (change.kind) {
      case 'peer-alive': this.emit('peer-joined', 'info', `${change.peer} is up`); break;
      case 'peer-lost': this.emit('peer-lost', 'critical', `${change.peer} is lost: every heartbeat link to it is down`); break;
      case 'link-up': this.emit('link-up', 'info', `link ${change.link} to ${change.peer} is up`); break;
      case 'link-down': this.emit('link-down', 'warning', `link ${change.link} to ${change.peer} is down`); break;
      case 'rejected': {
        const key = `${change.link}/${change.reason}`;
        const now = this.options.clock.now();
        if (now - (this.lastRejectLog.get(key) ?? -Infinity) >= REJECT_LOG_INTERVAL_MS) {
          this.lastRejectLog.set(key, now);
          this.emit('heartbeat-rejected', 'warning', `heartbeat on ${change.link} from ${change.from} rejected: ${change.reason}`);
        }
        return;
      }
      case 'peer-status': break;
      case 'paused':
        this.emit('fault', 'warning', `this agent stood still for ${change.ms} ms (SIGSTOP, a hung host or a paused VM): `
          + 'the heartbeats that waited meanwhile are read before any peer is taken as lost');
        return;
    }
    this.schedulePlan();
  }

  /** The mirror service says which of its mirrors' targets are level: republish, and plan again (a switchback
   * may have been waiting for it). */
  mirrorsChanged(): void {
    this.publish();
    this.schedulePlan();
  }

  /** Input from the public-network monitor (arbitration by ping targets). */
  setPublicNetwork(state: 'ok' | 'lost'): void {
    if (state === this.publicNetwork) return;
    if (this.publicNetwork === 'lost' && state === 'ok') this.publicNetworkBackAt = this.options.clock.now();
    this.publicNetwork = state; // the plan reports the loss as a fault, and noteFaults logs it
    this.publish();
    this.schedulePlan();
  }

  onEvent(listener: (e: ClusterEvent) => void): Disposable {
    this.eventListeners.add(listener);
    return { dispose: () => this.eventListeners.delete(listener) };
  }

  /** The latest plan, as computed now (for status and simulate-like views). */
  status(): ClusterStatus {
    const now = this.options.clock.now();
    const observed = this.observe();
    return clusterStatus(this.config, observed, plan(this.config, observed, now), this.options.membership.linkStatuses(), now);
  }

  currentPlan(): PlanResult | undefined {
    return this.lastPlan;
  }

  // ---- admin commands: each becomes a replicated intent or a local reset, then a new plan ----

  switchover(group: GroupId, node?: NodeId): { group: GroupId; target: NodeId } {
    this.refuseIfStopped(group, 'switchover');
    const input = this.placementInput(this.groupConfig(group));
    const holders = [...input.views.values()].filter((v) => holds(v, input.group)).map((v) => v.id);
    const allowed = input.group.nodes ?? this.config.nodes.map((n) => n.id);
    let target = node;
    if (target === undefined) {
      target = allowed.find((n) => !holders.includes(n) && ineligibility(input, n) === undefined);
      if (target === undefined) throw new ProtocolError('NOT_ELIGIBLE', `no other node can run ${group}: ${allowed.filter((n) => !holders.includes(n)).map((n) => ineligibility(input, n) ?? `${n} already runs it`).join('; ')}`);
    } else {
      if (!this.config.nodes.some((n) => n.id === target)) throw new ProtocolError('NOT_FOUND', `no node "${target}" (nodes: ${this.config.nodes.map((n) => n.id).join(', ')})`);
      const why = ineligibility(input, target);
      if (why !== undefined) throw new ProtocolError('NOT_ELIGIBLE', `${group} cannot move to ${target}: ${why}`);
    }
    this.setTarget(group, target);
    this.emit('switchover', 'info', `switchover of ${group} to ${target} requested`, group);
    return { group, target };
  }

  switchback(group: GroupId): { group: GroupId; target: NodeId } {
    this.refuseIfStopped(group, 'switchback');
    const input = this.placementInput(this.groupConfig(group));
    const allowed = input.group.nodes ?? this.config.nodes.map((n) => n.id);
    const target = allowed.find((n) => ineligibility(input, n) === undefined);
    if (target === undefined) throw new ProtocolError('NOT_ELIGIBLE', `no node can run ${group}: ${allowed.map((n) => ineligibility(input, n)).join('; ')}`);
    this.setTarget(group, target);
    this.emit('switchback', 'info', `switchback of ${group} to ${target} requested`, group);
    return { group, target };
  }

  setMaintenance(on: boolean): { on: boolean } {
    this.updateIntents({ ...this.intents, maintenance: { value: on, version: intentsVersion(this.intents) + 1, by: this.options.localNode, at: this.options.clock.now() } });
    return { on };
  }

  /**
   * Keep a group stopped on every node, across restarts and failovers, until startGroup: a replicated intent,
   * like Pacemaker's target-role=Stopped. Asking again for what already holds changes nothing.
   */
  stopGroup(group: GroupId): { group: GroupId; stopped: boolean } {
    this.setStopped(group, true);
    return { group, stopped: true };
  }

  /** Let a stopped group run again where the scheduler places it (preferred node, holds, switchback rules). */
  startGroup(group: GroupId): { group: GroupId; stopped: boolean } {
    this.setStopped(group, false);
    return { group, stopped: false };
  }

  /**
   * What this node ran may have been stopped behind our back (the guard released it): find out again, once
   * `until` settles (the new guard is ready: nothing starts while no guard could release it in time).
   */
  reprobe(why: string, until?: Promise<unknown>): void {
    this.emit('fault', 'warning', `${why}: probing every resource again${until === undefined ? '' : ' once a new guard is ready'}`);
    this.local.forget();
    this.publish();
    if (until !== undefined) {
      this.waitingFor++;
      void until.then(() => undefined, () => undefined).then(() => {
        this.waitingFor--;
        this.schedulePlan();
      });
    }
    this.schedulePlan();
  }

  cleanup(group: GroupId): { group: GroupId } {
    this.groupConfig(group);
    this.local.clearFailures(group);
    this.local.forget(group);
    this.emit('cleanup', 'info', `failures of ${group} cleared on ${this.options.localNode}; its resources will be probed again`, group);
    this.publish();
    this.schedulePlan();
    return { group };
  }

  /**
   * Stop cleanly. With `release`, hand every group over first (peers see `leaving` and take over once our
   * resources are stopped); without, only wait for actions in flight. Resolves within `timeoutMs` regardless.
   */
  async shutdown(options: { release: boolean; timeoutMs: number }): Promise<void> {
    this.emit('agent-stopping', 'info', options.release ? 'agent stopping: releasing its groups' : 'agent stopping: resources left as they are');
    if (options.release) {
      this.leaving = true;
      this.publish();
      this.schedulePlan();
    }
    await new Promise<void>((resolve) => {
      const timer = this.options.clock.setTimer(options.timeoutMs, resolve);
      this.idleWaiters.push(() => { timer.dispose(); resolve(); });
      this.checkIdle();
    });
    this.stopped = true;
    this.wakeTimer?.dispose();
  }

  // ---- the planning loop ----

  private schedulePlan(): void {
    if (this.planQueued || this.stopped || !this.started || this.waitingFor > 0) return;
    this.planQueued = true;
    // setImmediate coalesces a burst of inputs (several links changing at once) into one plan.
    setImmediate(() => {
      this.planQueued = false;
      if (!this.stopped) this.runPlan();
    });
  }

  private runPlan(): void {
    this.mergePeerIntents();
    const now = this.options.clock.now();
    const observed = this.observe();
    const result = plan(this.config, observed, now);
    this.noteFaults(result.faults);
    this.lastPlan = result;
    this.noteTargets(result, observed);
    const next = new Map<GroupId, Action>();
    for (const action of result.actions) if (!next.has(action.group)) next.set(action.group, action);
    for (const [group, action] of next) if (!this.busy.has(group)) void this.execute(action);
    this.wakeTimer?.dispose();
    this.wakeTimer = result.wakeAt === null ? undefined : this.options.clock.setTimer(Math.max(0, result.wakeAt - now), () => this.schedulePlan());
    this.checkIdle();
  }

  /** A node-level fault (private networks down, a peer down) goes to the event log when it appears and when it
   * clears, so that alerting sees it once rather than at every plan. */
  private noteFaults(faults: readonly string[]): void {
    const before = new Set(this.lastPlan?.faults ?? []);
    const now = new Set(faults);
    for (const f of now) if (!before.has(f)) this.emit('fault', 'warning', f);
    for (const f of before) if (!now.has(f)) this.emit('fault', 'info', `cleared: ${f}`);
  }

  private async execute(action: Action): Promise<void> {
    if (action.kind === 'hold') {
      this.setTarget(action.group, action.node);
      this.emit('hold', 'info', `${action.group} is held on ${action.node} (switchback is manual)`, action.group);
      return;
    }
    const group = this.groupConfig(action.group);
    const runner = this.options.resources.get(action.resource);
    this.busy.add(action.group);
    if (action.kind === 'start') this.local.set(action.group, action.resource, 'starting');
    if (action.kind === 'stop') this.local.set(action.group, action.resource, 'stopping');
    if (action.kind === 'start' || action.kind === 'stop') this.publish();
    this.log(`${describeAction(action)} ...`);
    let result: OperationResult;
    try {
      result = runner ? await runner.run(action.kind) : failure(action.kind, this.options.clock.now(), `no agent for resource ${action.resource}`);
    } catch (e) {
      result = failure(action.kind, this.options.clock.now(), `agent threw: ${(e as Error).message}`);
    }
    this.busy.delete(action.group);
    if (this.stopped) return;
    this.applyResult(group, action.resource, result);
    this.publish();
    this.schedulePlan();
  }

  private applyResult(group: GroupConfig, resource: ResourceId, result: OperationResult): void {
    const g = group.id;
    const detail = `rc ${result.rc}${result.message ? `: ${result.message}` : ''}`;
    switch (result.operation) {
      case 'probe':
        this.local.set(g, resource, result.rc === 0 ? 'running' : result.rc === 7 ? 'stopped' : 'failed', result, true);
        if (result.rc !== 0 && result.rc !== 7) this.emit('resource-failed', 'warning', `probe of ${resource} found it broken (${detail})`, g, resource);
        break;
      case 'start':
        if (result.rc === 0) {
          this.local.set(g, resource, 'running', result, true);
          this.emit('resource-started', 'info', `${resource} started in ${result.durationMs} ms`, g, resource);
        } else {
          this.local.set(g, resource, 'failed', result);
          const failures = this.local.recordFailure(group, result.at, true);
          this.emit('start-failed', 'critical', `${resource} failed to start (${detail}); ${g} will not run here until cleanup (${failures} failures)`, g, resource);
        }
        break;
      case 'stop':
        if (result.rc === 0) {
          this.local.set(g, resource, 'stopped', result);
          this.emit('resource-stopped', 'info', `${resource} stopped in ${result.durationMs} ms`, g, resource);
        } else {
          this.local.set(g, resource, 'stop_failed', result);
          this.emit('stop-failed', 'critical', `${resource} failed to stop (${detail}); ${g} is blocked until "vigil cleanup ${g}"`, g, resource);
        }
        break;
      case 'monitor':
        if (result.rc === 0) {
          this.local.set(g, resource, 'running', result, true);
        } else {
          this.local.set(g, resource, 'failed', result, true);
          const failures = this.local.recordFailure(group, result.at, false);
          this.emit('monitor-failed', 'warning', `${resource} failed its monitor (${detail}); failure ${failures} of ${group.migrationThreshold}`, g, resource);
        }
        break;
      default:
        break;
    }
  }

  // ---- observed state and intents ----

  private observe(): ObservedState {
    return {
      localNode: this.options.localNode, startedAt: this.startedAt, local: this.localStatus(), peers: this.options.membership.peers(),
      ...(this.publicNetworkBackAt === undefined ? {} : { publicNetworkBackAt: this.publicNetworkBackAt }),
    };
  }

  private localStatus(): NodeStatus {
    const status: NodeStatus = { node: this.options.localNode, incarnation: this.options.incarnation ?? this.startedAt, configDigest: this.digest, groups: this.local.groups(), intents: this.intents };
    const behind = this.options.mirrorsBehind?.() ?? [];
    return {
      ...status, ...(this.leaving ? { leaving: true } : {}), ...(this.publicNetwork ? { publicNetwork: this.publicNetwork } : {}),
      ...(behind.length > 0 ? { mirrorsBehind: [...behind] } : {}),
    };
  }

  private publish(): void {
    this.options.membership.setStatus(this.localStatus());
  }

  private mergePeerIntents(): void {
    let merged = this.intents;
    for (const peer of Object.values(this.options.membership.peers())) if (peer.status) merged = mergeIntents(merged, peer.status.intents);
    this.updateIntents(merged);
  }

  private updateIntents(next: Intents): void {
    if (canonicalJson(next) === canonicalJson(this.intents)) return;
    const before = this.intents;
    const wasMaintenance = before.maintenance?.value ?? false;
    this.intents = next;
    this.options.store.saveIntents(next);
    const isMaintenance = next.maintenance?.value ?? false;
    if (isMaintenance !== wasMaintenance) {
      this.emit(isMaintenance ? 'maintenance-on' : 'maintenance-off', 'warning', `maintenance mode ${isMaintenance ? 'on' : 'off'} (set by ${next.maintenance?.by ?? '?'})`);
      // Anything may have been changed by hand meanwhile: find out again before acting.
      if (!isMaintenance) this.local.forget();
    }
    this.noteStoppedGroups(before, next);
    this.publish();
    this.schedulePlan();
  }

  /** Each node logs a group being stopped or started by an operator when it learns of it, as with maintenance. */
  private noteStoppedGroups(before: Intents, next: Intents): void {
    for (const { id } of this.config.groups) {
      const stopped = isStoppedByOperator(next, id);
      if (stopped === isStoppedByOperator(before, id)) continue;
      const by = next.stopped?.[id]?.by ?? '?';
      if (stopped) this.emit('group-stopped', 'warning', `${id} stopped by an operator (set on ${by}): stopped on every node until "vigil group start ${id}"`, id);
      else this.emit('group-started', 'info', `${id} started by an operator (set on ${by}): placed as usual`, id);
    }
  }

  private setStopped(group: GroupId, value: boolean): void {
    this.groupConfig(group);
    // Decide on the newest intents heard, so that the idempotence check and the new version are not stale.
    this.mergePeerIntents();
    if (isStoppedByOperator(this.intents, group) === value) return;
    const stopped = { ...this.intents.stopped, [group]: { value, version: intentsVersion(this.intents) + 1, by: this.options.localNode, at: this.options.clock.now() } };
    this.updateIntents({ ...this.intents, stopped });
  }

  /** Moving a stopped group would silently do nothing: say so instead. */
  private refuseIfStopped(group: GroupId, command: string): void {
    this.mergePeerIntents();
    if (isStoppedByOperator(this.intents, group)) {
      throw new ProtocolError('CONFLICT', `${group} is stopped by an operator: ${command} does not apply; start it first with "vigil group start ${group}"`);
    }
  }

  private setTarget(group: GroupId, node: NodeId): void {
    const targets = { ...this.intents.targets, [group]: { value: node, version: intentsVersion(this.intents) + 1, by: this.options.localNode, at: this.options.clock.now() } };
    this.updateIntents({ ...this.intents, targets });
  }

  private placementInput(group: GroupConfig): PlacementInput {
    const observed = this.observe();
    const grace = graceEnds(this.config, observed);
    return {
      config: this.config, group, views: nodeViews(this.config, observed), intents: this.intents, now: this.options.clock.now(),
      startupGraceEndsAt: grace.startup, rejoinGraceEndsAt: grace.rejoin,
    };
  }

  private groupConfig(id: GroupId): GroupConfig {
    const group = this.config.groups.find((g) => g.id === id);
    if (!group) throw new ProtocolError('NOT_FOUND', `no group "${id}" (groups: ${this.config.groups.map((g) => g.id).join(', ') || 'none'})`);
    return group;
  }

  /** Log a placement change once, as a failover when the group leaves a node that is gone. */
  private noteTargets(result: PlanResult, observed: ObservedState): void {
    for (const [group, decision] of Object.entries(result.groups)) {
      if (decision.waiting) continue;
      if (decision.stopped) {
        // Stopped on purpose: not "unplaceable"; starting it again is logged as a placement.
        this.lastTargets.set(group, null);
        continue;
      }
      const before = this.lastTargets.get(group);
      if (before === decision.target || (before === undefined && decision.target === null)) continue;
      this.lastTargets.set(group, decision.target);
      if (decision.target === null) {
        if (before !== undefined) this.emit('group-unplaceable', 'critical', `${group} cannot run: ${decision.reasons.join('; ')}`, group);
        continue;
      }
      const lostFrom = before !== undefined && before !== null && before !== observed.localNode && !observed.peers[before]?.alive;
      this.emit(lostFrom ? 'failover' : 'group-placed', lostFrom ? 'warning' : 'info',
        `${group} ${lostFrom ? `fails over from ${before} to` : 'placed on'} ${decision.target}: ${decision.reasons.join('; ')}`, group);
    }
  }

  private checkIdle(): void {
    if (this.busy.size > 0 || this.idleWaiters.length === 0) return;
    const holding = this.config.groups.some((g) => g.resources.some((r) => !['stopped', 'unknown'].includes(this.local.get(g.id, r.id).state)));
    if (this.leaving && holding) return;
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  private emit(kind: EventKind, severity: Severity, message: string, group?: GroupId, resource?: ResourceId): void {
    const event: ClusterEvent = {
      at: this.options.clock.now(), kind, severity, node: this.options.localNode, message,
      ...(group === undefined ? {} : { group }), ...(resource === undefined ? {} : { resource }),
    };
    const id = this.options.store.appendEvent(event);
    this.log(`[${severity}] ${kind}: ${message}`);
    for (const listener of this.eventListeners) listener({ ...event, id });
  }

  private log(line: string): void {
    this.options.log?.(line);
  }
}

function failure(operation: ResourceOperation, at: number, message: string): OperationResult {
  return { operation, rc: -1, at, durationMs: 0, message };
}
