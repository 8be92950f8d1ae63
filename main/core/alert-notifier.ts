/**
 * Which alerts deserve a desktop notification, decided from the center's changes alone: no I/O, time is a
 * parameter, so every rule is tested without a desktop or a clock.
 *
 * - new: the alerts a node already had when the center first saw it are known, not news (else every start
 *   would replay the history); after that, any alert id not seen before is new, also one that arrives in the
 *   snapshot after a reconnect (it was raised while the center was away).
 * - each once: by cluster and alert id, whichever node reports it and however often the record changes
 *   (each channel's delivery updates it).
 * - unacknowledged, not a test (`vigil alert test` checks the agent's channels; the desktop is not one), and at
 *   or above the minimum severity.
 * - throttled: at most `maxPerWindow` notices per window; when more arrive at once, the last notice of the window
 *   sums up the rest ("… and N more"), and what arrives after that waits for the next window. An alert
 *   acknowledged while it waits is dropped.
 */
import type { AlertRecord, Severity } from '../../common/model/index.js';
import type { ManagerChange } from './connection-manager.js';

export interface NotifierPolicy {
  readonly minSeverity: Severity;
  readonly maxPerWindow: number;
  readonly windowMs: number;
}

export const DEFAULT_NOTIFIER_POLICY: NotifierPolicy = { minSeverity: 'warning', maxPerWindow: 3, windowMs: 10_000 };

export interface PendingAlert { readonly cluster: string; readonly alert: AlertRecord }

/** One desktop notification: a headline alert and how many more it stands for. */
export interface AlertNotice {
  readonly headline: PendingAlert;
  /** The alerts summed up in "and N more" (empty for a notice of one alert). */
  readonly others: readonly PendingAlert[];
  /** Where a click takes the operator: the cluster's events, or every cluster's when the notice spans several. */
  readonly route: string;
}

const SEVERITY_RANK: Readonly<Record<Severity, number>> = { info: 0, warning: 1, critical: 2 };
/** Per cluster; an agent reports its newest 50 alerts, so this is far more than can ever come back. */
const MAX_REMEMBERED = 5000;

export class AlertNotifier {
  private readonly policy: NotifierPolicy;
  /** Per cluster: the alert ids seen (insertion order = age, for forgetting the oldest). */
  private readonly seen = new Map<string, Set<string>>();
  /** Per cluster: the nodes whose first snapshot has been taken as the baseline. */
  private readonly baselined = new Map<string, Set<string>>();
  private queue: PendingAlert[] = [];
  private windowStart = Number.NEGATIVE_INFINITY;
  private sentInWindow = 0;

  constructor(policy: Partial<NotifierPolicy> = {}) {
    this.policy = { ...DEFAULT_NOTIFIER_POLICY, ...policy };
    if (!Number.isInteger(this.policy.maxPerWindow) || this.policy.maxPerWindow < 1) throw new Error(`maxPerWindow: at least 1, got ${this.policy.maxPerWindow}`);
    if (!(this.policy.windowMs >= 0)) throw new Error(`windowMs: not a duration: ${this.policy.windowMs}`);
    if (!(this.policy.minSeverity in SEVERITY_RANK)) throw new Error(`minSeverity: one of info, warning, critical, got ${String(this.policy.minSeverity)}`);
  }

  /** Feed one change of the ConnectionManager; returns the notices to show now. */
  observe(change: ManagerChange, now: number): AlertNotice[] {
    if (change.kind === 'cluster-removed') {
      this.seen.delete(change.cluster);
      this.baselined.delete(change.cluster);
      this.queue = this.queue.filter((p) => p.cluster !== change.cluster);
      return [];
    }
    if (change.kind !== 'node' || change.view.snapshot === undefined) return [];
    const { cluster, node } = change;
    const alerts = change.view.snapshot.alerts;
    const seen = this.seen.get(cluster) ?? new Set<string>();
    this.seen.set(cluster, seen);
    const baselined = this.baselined.get(cluster) ?? new Set<string>();
    this.baselined.set(cluster, baselined);

    const acknowledged = new Set(alerts.filter((a) => a.acknowledged !== undefined).map((a) => a.id));
    if (acknowledged.size > 0) this.queue = this.queue.filter((p) => p.cluster !== cluster || !acknowledged.has(p.alert.id));

    const first = !baselined.has(node);
    baselined.add(node);
    // Oldest first, so the notices come in the order things happened (a snapshot lists the newest first).
    for (const alert of [...alerts].sort((a, b) => a.at - b.at)) {
      if (seen.has(alert.id)) continue;
      remember(seen, alert.id);
      if (!first && this.deserves(alert)) this.queue.push({ cluster, alert });
    }
    return this.drain(now);
  }

  /** When the held alerts may be shown (the window's end), or undefined when none wait: the shell sets a timer. */
  nextDueAt(): number | undefined {
    return this.queue.length === 0 ? undefined : this.windowStart + this.policy.windowMs;
  }

  /** The notices due at `now` (call at nextDueAt()). */
  tick(now: number): AlertNotice[] {
    return this.drain(now);
  }

  private deserves(alert: AlertRecord): boolean {
    return alert.acknowledged === undefined && !alert.test && SEVERITY_RANK[alert.event.severity] >= SEVERITY_RANK[this.policy.minSeverity];
  }

  private drain(now: number): AlertNotice[] {
    // A window opens with its first notice, not with any change, so a quiet spell never shortens the next burst's.
    if (this.queue.length > 0 && now >= this.windowStart + this.policy.windowMs) {
      this.windowStart = now;
      this.sentInWindow = 0;
    }
    const notices: AlertNotice[] = [];
    while (this.queue.length > 0 && this.sentInWindow < this.policy.maxPerWindow) {
      const lastOfWindow = this.sentInWindow === this.policy.maxPerWindow - 1;
      notices.push(lastOfWindow && this.queue.length > 1 ? summary(this.queue.splice(0)) : summary(this.queue.splice(0, 1)));
      this.sentInWindow++;
    }
    return notices;
  }
}

/** The most severe alert heads the notice (the newest among equals); the others are counted. */
function summary(alerts: readonly PendingAlert[]): AlertNotice {
  const ranked = [...alerts].sort((a, b) => SEVERITY_RANK[b.alert.event.severity] - SEVERITY_RANK[a.alert.event.severity] || b.alert.at - a.alert.at);
  const headline = ranked[0]!;
  const clusters = new Set(alerts.map((a) => a.cluster));
  return {
    headline, others: ranked.slice(1),
    route: clusters.size === 1 ? `#/clusters/${encodeURIComponent(headline.cluster)}/events` : '#/events',
  };
}

function remember(seen: Set<string>, id: string): void {
  seen.add(id);
  if (seen.size > MAX_REMEMBERED) seen.delete(seen.values().next().value!);
}

/** The texts of a notice, in English or Chinese (the main process has no translator; these are its only strings). */
export interface NoticeText { readonly title: string; readonly body: string }

const TEXTS = {
  en: {
    severity: { info: 'Info', warning: 'Warning', critical: 'Critical' },
    title: (severity: string, cluster: string, node: string) => `${severity}: ${cluster} (${node})`,
    more: (n: number) => `… and ${n} more alert${n === 1 ? '' : 's'}`,
  },
  'zh-CN': {
    severity: { info: '信息', warning: '警告', critical: '严重' },
    title: (severity: string, cluster: string, node: string) => `${severity}：${cluster}（${node}）`,
    more: (n: number) => `……另有 ${n} 条告警`,
  },
} as const;

export type NoticeLanguage = keyof typeof TEXTS;

/** `clusterName` maps an id to the name the operator gave it. */
export function noticeText(notice: AlertNotice, language: NoticeLanguage, clusterName: (id: string) => string = (id) => id): NoticeText {
  const t = TEXTS[language];
  const { cluster, alert } = notice.headline;
  const lines = [alert.event.message];
  if (notice.others.length > 0) lines.push(t.more(notice.others.length));
  return { title: t.title(t.severity[alert.event.severity], clusterName(cluster), alert.event.node), body: lines.join('\n') };
}

/** The notice language for a system locale such as "zh-CN", "zh_CN.UTF-8" or "en-US". */
export function noticeLanguage(locale: string): NoticeLanguage {
  return /^zh([-_.]|$)/i.test(locale) ? 'zh-CN' : 'en';
}

