/**
 * The events and alerts screen, for one cluster (#/clusters/ID/events) or all of them (#/events): the recent
 * alerts first (they want an answer), then the filtered event log.
 */
import type { ReactNode } from 'react';
import { useConsole, useT } from '../context.js';
import { AlertList } from '../event-log/AlertList.js';
import { EventFilters } from '../event-log/EventFilters.js';
import { EventTable } from '../event-log/EventTable.js';

export function Events({ cluster }: { readonly cluster?: string }): ReactNode {
  const t = useT();
  const name = useConsole((s) => (cluster === undefined ? undefined : s.clusters[cluster]?.name ?? cluster));
  return (
    <section className="events" data-testid="screen-events">
      <h2>{name === undefined ? t('events.titleAll') : t('events.titleCluster', { cluster: name })}</h2>
      <AlertList cluster={cluster} />
      <EventFilters cluster={cluster} />
      <EventTable cluster={cluster} />
    </section>
  );
}
