/**
 * The clusters overview: one compact card per watched cluster (an OEM may watch hundreds), filtered and ordered
 * by the toolbar, and the form that adds a cluster.
 */
import { useMemo, useState, type ReactNode } from 'react';
import { useConsole, useT } from '../context.js';
import { AddClusterForm } from '../overview/AddClusterForm.js';
import { ClusterCard } from '../overview/ClusterCard.js';
import { OverviewToolbar } from '../overview/OverviewToolbar.js';
import { RestoreProblems } from '../overview/RestoreProblems.js';
import { memoVisibleClusters, type OverviewQuery } from '../overview/visible-clusters.js';

export function Overview(): ReactNode {
  const t = useT();
  const [query, setQuery] = useState<OverviewQuery>({ text: '', health: 'all', sort: 'center' });
  const loaded = useConsole((s) => s.loaded);
  const total = useConsole((s) => s.clusterOrder.length);
  const select = useMemo(memoVisibleClusters, []);
  const ids = useConsole((s) => select(s, query));
  return (
    <section className="overview" data-testid="screen-overview">
      <div className="overview-clusters">
        <h1>{t('overview.title')}</h1>
        <RestoreProblems />
        <OverviewToolbar query={query} onChange={setQuery} shown={ids.length} total={total} />
        {!loaded && <p className="muted">{t('app.loading')}</p>}
        {loaded && total === 0 && <p className="muted" data-testid="overview-empty">{t('overview.empty')}</p>}
        {loaded && total > 0 && ids.length === 0 && <p className="muted" data-testid="overview-no-match">{t('overview.noMatch')}</p>}
        <ul className="cluster-cards" data-testid="cluster-cards">
          {ids.map((id) => <ClusterCard key={id} cluster={id} />)}
        </ul>
      </div>
      <AddClusterForm />
    </section>
  );
}
