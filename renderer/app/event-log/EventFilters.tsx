/** The filters above the event table: node, kind, severity and a time range, kept in the store's event filter. */
import type { ReactNode } from 'react';
import { EVENT_KINDS, type EventKind, type Severity } from '../../../common/model/index.js';
import type { ConsoleState } from '../../state/store.js';
import { useConsole, useServices, useT } from '../context.js';
import { endOfMinute, withField } from './filter.js';
import { fromLocalInput, toLocalInput } from './time.js';

const SEVERITIES: readonly Severity[] = ['info', 'warning', 'critical'];

/** Every node the filter can name: the cluster's (or all clusters') nodes and the nodes events are about. */
export function filterableNodes(s: ConsoleState, cluster: string | undefined): string[] {
  const nodes = new Set<string>();
  for (const id of cluster === undefined ? s.clusterOrder : [cluster]) for (const n of s.clusters[id]?.nodes ?? []) nodes.add(n.node);
  for (const e of s.events) if (cluster === undefined || e.cluster === cluster) nodes.add(e.event.node);
  return [...nodes].sort();
}

export function EventFilters({ cluster }: { readonly cluster: string | undefined }): ReactNode {
  const t = useT();
  const { store } = useServices();
  const filter = useConsole((s) => s.eventFilter);
  const nodes = useConsole((s) => filterableNodes(s, cluster));
  const set = <K extends 'node' | 'kinds' | 'severities' | 'since' | 'until'>(key: K, value: ConsoleState['eventFilter'][K] | undefined): void => {
    store.getState().setEventFilter(withField(store.getState().eventFilter, key, value));
  };
  const isKind = (v: string): v is EventKind => (EVENT_KINDS as readonly string[]).includes(v);
  const isSeverity = (v: string): v is Severity => (SEVERITIES as readonly string[]).includes(v);
  const all = <option value="">{t('events.filterAll')}</option>;
  return (
    <form className="event-filters" onSubmit={(e) => e.preventDefault()}>
      <label>{t('events.filterNode')}
        <select data-testid="filter-node" value={filter.node ?? ''} onChange={(e) => set('node', e.target.value === '' ? undefined : e.target.value)}>
          {all}
          {nodes.map((n) => <option key={n} value={n}>{n}</option>)}
        </select>
      </label>
      <label>{t('events.filterKind')}
        <select data-testid="filter-kind" value={filter.kinds?.[0] ?? ''} onChange={(e) => set('kinds', isKind(e.target.value) ? [e.target.value] : undefined)}>
          {all}
          {EVENT_KINDS.map((k) => <option key={k} value={k}>{t(`events.kind.${k}`)}</option>)}
        </select>
      </label>
      <label>{t('events.filterSeverity')}
        <select data-testid="filter-severity" value={filter.severities?.[0] ?? ''}
          onChange={(e) => set('severities', isSeverity(e.target.value) ? [e.target.value] : undefined)}>
          {all}
          {SEVERITIES.map((v) => <option key={v} value={v}>{t(`severity.${v}`)}</option>)}
        </select>
      </label>
      <label>{t('events.filterSince')}
        <input type="datetime-local" data-testid="filter-since" value={filter.since === undefined ? '' : toLocalInput(filter.since)}
          onChange={(e) => set('since', fromLocalInput(e.target.value))} />
      </label>
      <label>{t('events.filterUntil')}
        <input type="datetime-local" data-testid="filter-until" value={filter.until === undefined ? '' : toLocalInput(filter.until)}
          onChange={(e) => { const at = fromLocalInput(e.target.value); set('until', at === undefined ? undefined : endOfMinute(at)); }} />
      </label>
      <button type="button" data-testid="filter-clear" onClick={() => store.getState().setEventFilter({})}>{t('events.filterClear')}</button>
    </form>
  );
}
