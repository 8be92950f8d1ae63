/**
 * A cluster's health, derived from what its nodes report: the worst of node down, link down, resource failed,
 * mirror not in sync and unacknowledged critical alert, each issue with its reason (keepalived's lesson: a fault is
 * a set of reasons the operator can see). Pure: the stores call it for the one cluster that changed.
 */
import type { CenterNodeView } from '../../common/ipc/contract.js';
import type { ClusterStatus, MirrorState } from '../../common/model/index.js';
import type { MessageKey, MessageParams, Translate } from '../i18n/index.js';

export type HealthLevel = 'ok' | 'warning' | 'critical' | 'unknown';
const RANK: Readonly<Record<HealthLevel, number>> = { ok: 0, unknown: 1, warning: 2, critical: 3 };

export type IssueKind = 'unreachable' | 'no-data' | 'fault' | 'node-down' | 'link-down' | 'resource-failed' | 'mirror' | 'alert';

/** What one issue says, as a message key and its parameters, so each language renders it. */
export type IssueMessage = { [K in MessageKey]: { readonly key: K; readonly params: MessageParams<K> } }[MessageKey];

export interface HealthIssue {
  readonly kind: IssueKind;
  readonly level: Exclude<HealthLevel, 'ok'>;
  /** The node the issue is about (or that reported it). */
  readonly node?: string;
  readonly message: IssueMessage;
  /** The agent's own explanation (an operation's message, a mirror's reasons, a fault sentence), untranslated. */
  readonly reason?: string;
}

export interface HealthSummary {
  readonly level: HealthLevel;
  /** Worst first. */
  readonly issues: readonly HealthIssue[];
}

const MIRROR_CRITICAL: ReadonlySet<MirrorState> = new Set(['diverged', 'inconsistent']);
const MIRROR_OK: ReadonlySet<MirrorState> = new Set(['in-sync', 'idle']);

/** The freshest cluster status any node reported (each agent reports the whole cluster as it sees it). */
export function freshestStatus(nodes: readonly CenterNodeView[]): ClusterStatus | undefined {
  let best: ClusterStatus | undefined;
  for (const n of nodes) {
    const s = n.status ?? n.snapshot?.status;
    if (s !== undefined && (best === undefined || s.at > best.at)) best = s;
  }
  return best;
}

export function summarizeHealth(nodes: readonly CenterNodeView[]): HealthSummary {
  const issues: HealthIssue[] = [];
  // One node out of reach is a warning (the others still report the cluster); all of them is critical: nobody
  // would see a failure.
  const noneReachable = nodes.length > 0 && nodes.every((n) => n.state !== 'connected');
  for (const n of nodes) {
    if (n.state !== 'connected') {
      issues.push({
        kind: 'unreachable', level: noneReachable ? 'critical' : 'warning', node: n.node,
        message: { key: 'issue.unreachable', params: { node: n.node, state: n.state } },
        ...(n.lastError !== undefined ? { reason: `${n.lastError.code}: ${n.lastError.message}` } : {}),
      });
    }
  }
  const status = freshestStatus(nodes);
  if (status === undefined) {
    issues.push({ kind: 'no-data', level: 'unknown', message: { key: 'issue.noData', params: {} } });
    return finish(issues);
  }

  const alive = new Map(status.nodes.map((s) => [s.id, s.alive]));
  for (const s of status.nodes) {
    if (!s.alive) issues.push({ kind: 'node-down', level: 'critical', node: s.id, message: { key: 'issue.nodeDown', params: { node: s.id } } });
  }
  for (const fault of status.faults) {
    issues.push({ kind: 'fault', level: 'critical', node: status.reportedBy, message: { key: 'issue.fault', params: { node: status.reportedBy } }, reason: fault });
  }
  // Links: each node knows its own links best, so take every connected node's view of itself. A link to a node
  // that is down is already covered by node-down.
  const seenLinks = new Set<string>();
  for (const n of nodes) {
    const own = (n.status ?? n.snapshot?.status)?.nodes.filter((s) => s.local) ?? [];
    for (const s of own) {
      for (const l of s.links) {
        const id = `${s.id}\0${l.link}\0${l.peer}`;
        if (l.up || alive.get(l.peer) === false || seenLinks.has(id)) continue;
        seenLinks.add(id);
        issues.push({
          kind: 'link-down', level: 'warning', node: s.id,
          message: { key: 'issue.linkDown', params: { link: l.link, node: s.id, peer: l.peer } },
        });
      }
    }
  }
  for (const g of status.groups) {
    for (const r of g.resources) {
      for (const [node, state] of Object.entries(r.states)) {
        if (state !== 'failed' && state !== 'stop_failed') continue;
        const why = r.lastResult !== undefined ? `${r.lastResult.operation} rc=${r.lastResult.rc}: ${r.lastResult.message}` : g.reasons.join('; ');
        issues.push({
          kind: 'resource-failed', level: 'critical', node,
          message: { key: 'issue.resourceFailed', params: { resource: r.id, group: g.id, node } },
          ...(why !== '' ? { reason: why } : {}),
        });
      }
    }
  }
  const seenAlerts = new Set<string>();
  for (const n of nodes) {
    for (const m of n.snapshot?.mirrors ?? []) {
      if (MIRROR_OK.has(m.state)) continue;
      issues.push({
        kind: 'mirror', level: MIRROR_CRITICAL.has(m.state) ? 'critical' : 'warning', node: m.node,
        message: { key: 'issue.mirrorNotInSync', params: { mirror: m.id, node: m.node, state: m.state } },
        ...(m.reasons.length > 0 ? { reason: m.reasons.join('; ') } : {}),
      });
    }
    for (const a of n.snapshot?.alerts ?? []) {
      if (a.test || a.acknowledged !== undefined || a.event.severity !== 'critical' || seenAlerts.has(a.id)) continue;
      seenAlerts.add(a.id);
      issues.push({
        kind: 'alert', level: 'critical', node: a.event.node,
        message: { key: 'issue.criticalAlert', params: { node: a.event.node, message: a.event.message } },
        reason: a.event.message,
      });
    }
  }
  return finish(issues);
}

function finish(issues: HealthIssue[]): HealthSummary {
  issues.sort((a, b) => RANK[b.level] - RANK[a.level]);
  const level = issues.reduce<HealthLevel>((worst, i) => (RANK[i.level] > RANK[worst] ? i.level : worst), 'ok');
  return { level, issues };
}

/** Renders an issue in the current language; a mirror's state is itself translated. */
export function describeIssue(issue: HealthIssue, t: Translate): string {
  const m = issue.message;
  if (m.key === 'issue.mirrorNotInSync') return t(m.key, { ...m.params, state: t(`mirror.${m.params.state as MirrorState}`) });
  if (m.key === 'issue.unreachable') return t(m.key, { ...m.params, state: t(`connection.${m.params.state as CenterNodeView['state']}`) });
  return (t as (key: MessageKey, params: unknown) => string)(m.key, m.params);
}

/** Whether two summaries say the same, so an unchanged cluster keeps its summary object (no repaint). */
export function sameHealth(a: HealthSummary, b: HealthSummary): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
