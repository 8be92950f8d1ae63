/**
 * Turns selected cluster events into alerts: matches the rules, throttles repeats, delivers to each channel
 * through its runner, keeps the record of what happened (persisted), and tells listeners of every change.
 * notify() is called from the engine's event path: it never throws and never waits for a delivery.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { AlertChannelConfig, AlertsConfig } from '../../common/config/alerts.js';
import type { AlertDelivery, AlertRecord, ClusterEvent } from '../../common/model/index.js';
import { AlertError, type AlertChannel, type AlertMessage } from './channel.js';
import { EmailChannel } from './email.js';
import { ChannelRunner, type DeliveryOutcome } from './runner.js';
import { matchingChannels, Throttle } from './rules.js';
import { AlertLog } from './store.js';
import { SyslogChannel } from './syslog.js';
import { WebhookChannel } from './webhook.js';

export interface AlertDispatcherDeps {
  readonly clusterId: string;
  readonly nodeId: string;
  /** The recent alerts live in <stateDir>/alerts.jsonl. */
  readonly stateDir: string;
  readonly log: (line: string) => void;
  readonly now?: () => number;
}

export type AlertListener = (record: AlertRecord) => void;

/** Counters for /metrics, per channel name; they survive a reconfigure. */
export interface AlertStats {
  readonly suppressed: number;
  readonly channels: Readonly<Record<string, { readonly ok: number; readonly failed: number; readonly dropped: number }>>;
}

export const ALERTS_FILE = 'alerts.jsonl';

export function createChannel(config: AlertChannelConfig): AlertChannel {
  switch (config.kind) {
    case 'email': return new EmailChannel(config);
    case 'webhook': return new WebhookChannel(config);
    case 'syslog': return new SyslogChannel(config);
  }
}

export class AlertDispatcher {
  private config: AlertsConfig;
  private runners = new Map<string, ChannelRunner>();
  private readonly throttle: Throttle;
  private readonly store: AlertLog;
  private readonly now: () => number;
  private readonly abort = new AbortController();
  /** Deliveries under way and retired runners finishing theirs: close() waits for both. */
  private readonly pending = new Set<Promise<unknown>>();
  private readonly listeners = new Set<AlertListener>();
  private readonly counts = new Map<string, { ok: number; failed: number; dropped: number }>();
  private suppressedCount = 0;
  private closed = false;

  constructor(config: AlertsConfig, private readonly deps: AlertDispatcherDeps) {
    this.now = deps.now ?? Date.now;
    this.config = config;
    this.throttle = new Throttle(config.throttle);
    this.store = AlertLog.open(join(deps.stateDir, ALERTS_FILE), config.history, deps.log, this.now());
    this.runners = this.buildRunners(config);
  }

  notify(event: ClusterEvent): void {
    if (this.closed) return;
    try {
      const runners = matchingChannels(this.config.rules, event).flatMap((name) => this.runners.get(name) ?? []);
      if (runners.length === 0) return;
      const decision = this.throttle.admit(event, this.now());
      if (!decision.send) {
        this.suppressedCount++;
        return;
      }
      this.start(event, runners, decision.suppressed, false);
    } catch (e) {
      this.deps.log(`alerts: event ${event.kind} not alerted: ${(e as Error).message}`);
    }
  }

  /** Send a test alert to one channel, or to every channel; resolves when every delivery has finished. */
  async test(channel?: string): Promise<AlertDelivery[]> {
    if (this.closed) throw new AlertError('VIGIL_ALERT_CLOSED', 'the alert dispatcher is closed');
    let runners = [...this.runners.values()];
    if (channel !== undefined) {
      const runner = this.runners.get(channel);
      if (!runner) throw new AlertError('VIGIL_ALERT_UNKNOWN_CHANNEL', `no alert channel "${channel}" (configured: ${[...this.runners.keys()].join(', ') || 'none'})`);
      runners = [runner];
    }
    if (runners.length === 0) return [];
    const event: ClusterEvent = { at: this.now(), kind: 'agent-started', severity: 'info', node: this.deps.nodeId, message: 'test alert (vigil alert test)' };
    const record = await this.start(event, runners, 0, true);
    return [...record.channels];
  }

  /** Newest first. */
  recent(limit = 50): AlertRecord[] {
    return this.store.list().reverse().slice(0, Math.max(0, limit));
  }

  acknowledge(id: string, by: string): AlertRecord {
    const record = this.store.get(id);
    if (!record) throw new AlertError('VIGIL_ALERT_UNKNOWN_ALERT', `no recent alert "${id}"`);
    if (record.acknowledged) return record;
    const acknowledged: AlertRecord = { ...record, acknowledged: { by, at: this.now() } };
    this.update(acknowledged);
    return acknowledged;
  }

  /** Called with the record each time it changes: created, each channel's delivery finished, acknowledged. */
  onAlert(listener: AlertListener): { dispose(): void } {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }

  /** The next alert uses the new rules and channels; deliveries already started finish on the old ones. */
  reconfigure(config: AlertsConfig): void {
    if (this.closed) return;
    const retired = [...this.runners.values()];
    this.runners = this.buildRunners(config);
    this.config = config;
    this.throttle.setWindow(config.throttle);
    this.store.setHistory(config.history);
    this.track(Promise.all(retired.map((r) => r.idle())));
  }

  stats(): AlertStats {
    return { suppressed: this.suppressedCount, channels: Object.fromEntries([...this.counts].map(([name, c]) => [name, { ...c }])) };
  }

  /** Aborts deliveries in progress and retry waits (they are recorded as failed), then flushes the record file. */
  async close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.abort.abort();
    }
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
    await this.store.close();
  }

  private buildRunners(config: AlertsConfig): Map<string, ChannelRunner> {
    return new Map(config.channels.map((c) => [c.name, new ChannelRunner(createChannel(c), c, this.deps.log, this.abort.signal)]));
  }

  private start(event: ClusterEvent, runners: readonly ChannelRunner[], suppressed: number, test: boolean): Promise<AlertRecord> {
    const at = this.now();
    const id = `${at.toString(36)}-${randomBytes(4).toString('hex')}`;
    const record: AlertRecord = {
      id, at, event, suppressed, test,
      channels: runners.map((r) => ({ channel: r.channel.name, kind: r.channel.kind, status: 'pending', attempts: 0 })),
    };
    this.update(record);
    const message: AlertMessage = { cluster: this.deps.clusterId, node: this.deps.nodeId, alertId: id, event, suppressed, test };
    let latest = record;
    const done = Promise.all(runners.map((runner, i) => runner.deliver(message).then((outcome) => {
      latest = this.settle(latest, i, outcome);
    }))).then(() => latest);
    this.track(done);
    return done;
  }

  /** Record one channel's outcome. The record may have left the history meanwhile: listeners still hear of it. */
  private settle(record: AlertRecord, index: number, outcome: DeliveryOutcome): AlertRecord {
    const delivery = record.channels[index]!;
    const count = this.counts.get(delivery.channel) ?? { ok: 0, failed: 0, dropped: 0 };
    this.counts.set(delivery.channel, count);
    if (outcome.ok) count.ok++;
    else if (outcome.code === 'VIGIL_ALERT_QUEUE_FULL') count.dropped++;
    else count.failed++;
    const at = this.now();
    const settled: AlertDelivery = outcome.ok
      ? { channel: delivery.channel, kind: delivery.kind, status: 'ok', attempts: outcome.attempts, at }
      : { channel: delivery.channel, kind: delivery.kind, status: 'failed', attempts: outcome.attempts, at, error: { code: outcome.code, message: outcome.message } };
    if (!outcome.ok && outcome.code !== 'VIGIL_ALERT_QUEUE_FULL') this.deps.log(`alerts: alert ${record.id} to channel "${delivery.channel}" failed after ${outcome.attempts} attempt(s): ${outcome.code}: ${outcome.message}`);
    const updated: AlertRecord = { ...record, channels: record.channels.map((c, i) => (i === index ? settled : c)) };
    this.update(updated);
    return updated;
  }

  private update(record: AlertRecord): void {
    // An acknowledgement may have come in while the delivery ran: keep it.
    const stored = this.store.get(record.id);
    if (stored?.acknowledged && !record.acknowledged) record = { ...record, acknowledged: stored.acknowledged };
    if (stored || record.channels.every((c) => c.status === 'pending')) this.store.put(record);
    for (const listener of this.listeners) {
      try {
        listener(record);
      } catch (e) {
        this.deps.log(`alerts: a listener failed on alert ${record.id}: ${(e as Error).message}`);
      }
    }
  }

  private track(promise: Promise<unknown>): void {
    const tracked = promise.catch((e: unknown) => this.deps.log(`alerts: ${(e as Error).message}`)).finally(() => this.pending.delete(tracked));
    this.pending.add(tracked);
  }
}
