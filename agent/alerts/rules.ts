/** Which events become alerts, and where they go: pure functions of the rules, the event and the time. */
import type { AlertRule } from '../../common/config/alerts.js';
import type { ClusterEvent, Severity } from '../../common/model/index.js';

const SEVERITY_RANK: Readonly<Record<Severity, number>> = { info: 0, warning: 1, critical: 2 };

export function ruleMatches(rule: AlertRule, event: ClusterEvent): boolean {
  if (rule.kinds !== undefined && !rule.kinds.includes(event.kind)) return false;
  if (rule.minSeverity !== undefined && SEVERITY_RANK[event.severity] < SEVERITY_RANK[rule.minSeverity]) return false;
  if (rule.groups !== undefined && (event.group === undefined || !rule.groups.includes(event.group))) return false;
  return true;
}

/** The channels of every matching rule, each once, in the order the rules name them. */
export function matchingChannels(rules: readonly AlertRule[], event: ClusterEvent): string[] {
  const out = new Set<string>();
  for (const rule of rules) {
    if (ruleMatches(rule, event)) for (const name of rule.channels) out.add(name);
  }
  return [...out];
}

export type ThrottleDecision = { readonly send: true; readonly suppressed: number } | { readonly send: false };

interface Window { readonly openedAt: number; suppressed: number }

/**
 * The same kind + group + resource alerts at most once per window; the alert that opens the next window carries
 * the count of those suppressed in between. Bounded: the oldest keys are forgotten first.
 */
export class Throttle {
  private readonly windows = new Map<string, Window>();

  constructor(private windowMs: number, private readonly maxKeys = 10_000) {}

  setWindow(windowMs: number): void {
    this.windowMs = windowMs;
  }

  admit(event: ClusterEvent, now: number): ThrottleDecision {
    if (this.windowMs <= 0) return { send: true, suppressed: 0 };
    const key = JSON.stringify([event.kind, event.group ?? null, event.resource ?? null]);
    const window = this.windows.get(key);
    if (window !== undefined && now - window.openedAt < this.windowMs) {
      window.suppressed++;
      return { send: false };
    }
    const suppressed = window?.suppressed ?? 0;
    this.windows.delete(key); // re-inserted last: the map's order is the age order
    this.windows.set(key, { openedAt: now, suppressed: 0 });
    if (this.windows.size > this.maxKeys) this.windows.delete(this.windows.keys().next().value!);
    return { send: true, suppressed };
  }
}
