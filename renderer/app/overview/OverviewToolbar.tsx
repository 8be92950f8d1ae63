/** The overview's filter box: text over name and id, a health filter, and the order. */
import type { ReactNode } from 'react';
import { useT } from '../context.js';
import { CLUSTER_SORTS, HEALTH_FILTERS, type ClusterSort, type HealthFilter, type OverviewQuery } from './visible-clusters.js';

const SORT_LABEL = { center: 'overview.sort.center', name: 'overview.sort.name', health: 'overview.sort.health' } as const;
const HEALTH_LABEL = {
  all: 'overview.health.all', problems: 'overview.health.problems',
  ok: 'health.ok', warning: 'health.warning', critical: 'health.critical', unknown: 'health.unknown',
} as const;

export function OverviewToolbar({ query, onChange, shown, total }: {
  readonly query: OverviewQuery;
  readonly onChange: (q: OverviewQuery) => void;
  readonly shown: number;
  readonly total: number;
}): ReactNode {
  const t = useT();
  return (
    <div className="overview-toolbar" role="search">
      <label>
        <span>{t('overview.filter')}</span>
        <input type="search" value={query.text} placeholder={t('overview.filter.placeholder')} data-testid="overview-filter"
          onChange={(e) => onChange({ ...query, text: e.target.value })} />
      </label>
      <label>
        <span>{t('overview.health')}</span>
        <select value={query.health} data-testid="overview-health-filter"
          onChange={(e) => onChange({ ...query, health: HEALTH_FILTERS.find((h) => h === e.target.value) ?? 'all' })}>
          {HEALTH_FILTERS.map((h: HealthFilter) => <option key={h} value={h}>{t(HEALTH_LABEL[h])}</option>)}
        </select>
      </label>
      <label>
        <span>{t('overview.sort')}</span>
        <select value={query.sort} data-testid="overview-sort"
          onChange={(e) => onChange({ ...query, sort: CLUSTER_SORTS.find((s) => s === e.target.value) ?? 'center' })}>
          {CLUSTER_SORTS.map((s: ClusterSort) => <option key={s} value={s}>{t(SORT_LABEL[s])}</option>)}
        </select>
      </label>
      <span className="muted" data-testid="overview-shown">{t('overview.shown', { shown, total })}</span>
    </div>
  );
}
