/**
 * One cluster's card: its health, its first issues with the agents' reasons, unacknowledged alerts and connected
 * nodes. It selects only its own cluster (primitives and the health summary's stable issue list), so a heartbeat
 * of another cluster does not repaint it, and `memo` keeps the list's re-renders from reaching it.
 */
import { memo, type ReactNode } from 'react';
import { describeIssue, type HealthIssue, type HealthLevel, type HealthSummary } from '../../state/health.js';
import { selectAlerts, type ClusterEntry, type ConsoleState } from '../../state/store.js';
import { CenterCommandButton } from '../components/CenterCommandButton.js';
import { useBridge, useConsole, useT } from '../context.js';
import { routeHref } from '../route.js';

/** How many issues a card lists before "and N more". */
const SHOWN_ISSUES = 3;

interface CardData {
  readonly exists: boolean;
  readonly name: string;
  readonly level: HealthLevel;
  readonly issues: readonly HealthIssue[];
  readonly connected: number;
  readonly total: number;
  readonly unacknowledged: number;
}

const EMPTY_ISSUES: readonly HealthIssue[] = [];
const MISSING: CardData = { exists: false, name: '', level: 'unknown', issues: EMPTY_ISSUES, connected: 0, total: 0, unacknowledged: 0 };

/**
 * Every card's selector runs on every store change (any node of any cluster), so with hundreds of cards it must
 * be cheap: the data is derived once per version of the cluster's entry and health (the store keeps both objects
 * while nothing in them changes) and looked up afterwards.
 */
const derived = new WeakMap<ClusterEntry, { readonly health: HealthSummary | undefined; readonly data: CardData }>();

function cardData(s: ConsoleState, cluster: string): CardData {
  const entry = s.clusters[cluster];
  if (entry === undefined) return MISSING;
  const health = s.health[cluster];
  const known = derived.get(entry);
  if (known !== undefined && known.health === health) return known.data;
  const data: CardData = {
    exists: true,
    name: entry.name,
    level: health?.level ?? 'unknown',
    issues: health?.issues ?? EMPTY_ISSUES,
    connected: entry.nodes.filter((n) => n.state === 'connected').length,
    total: entry.nodes.length,
    unacknowledged: selectAlerts(s, cluster).filter((a) => !a.test && a.acknowledged === undefined).length,
  };
  derived.set(entry, { health, data });
  return data;
}

export const ClusterCard = memo(function ClusterCard({ cluster }: { readonly cluster: string }): ReactNode {
  const t = useT();
  const bridge = useBridge();
  const card = useConsole((s) => cardData(s, cluster));
  if (!card.exists) return null;
  const more = card.issues.length - SHOWN_ISSUES;
  return (
    <li className={`cluster-card card border-${card.level}`}>
      <a className="cluster-card-link" href={routeHref({ screen: 'cluster', cluster })} data-testid={`cluster-card-${cluster}`}>
        <span className="cluster-card-head">
          <strong className="cluster-card-name">{card.name}</strong>
          {card.name !== cluster && <span className="muted">{cluster}</span>}
          <span className={`cluster-card-health level-${card.level}`} data-testid={`cluster-health-${cluster}`} data-level={card.level}>
            {t(`health.${card.level}`)}
          </span>
        </span>
        <span className="cluster-card-counts">
          <span data-testid={`cluster-nodes-${cluster}`}>{t('overview.nodes', { connected: card.connected, total: card.total })}</span>
          <span data-testid={`cluster-alerts-${cluster}`} className={card.unacknowledged > 0 ? 'level-critical' : 'muted'}>
            {t('overview.alerts', { count: card.unacknowledged })}
          </span>
        </span>
        {card.issues.length > 0 && (
          <ul className="cluster-card-issues" data-testid={`cluster-issues-${cluster}`}>
            {card.issues.slice(0, SHOWN_ISSUES).map((issue, i) => (
              <li key={i} className={`level-${issue.level}`}>
                {describeIssue(issue, t)}
                {issue.reason !== undefined && <span className="muted"> — {issue.reason}</span>}
              </li>
            ))}
            {more > 0 && <li className="muted">{t('overview.moreIssues', { count: more })}</li>}
          </ul>
        )}
      </a>
      <CenterCommandButton testId={`remove-cluster-${cluster}`} label={t('overview.remove')} danger
        confirm={t('overview.remove.confirm', { cluster: card.name })}
        run={() => bridge.invoke('clusters.remove', { cluster })} />
    </li>
  );
});
