/**
 * The event log, filtered, newest first. At most a page of rows is in the DOM at once (the store keeps up to a
 * thousand events); "more" adds the next page.
 */
import { useState, type ReactNode } from 'react';
import type { Severity } from '../../../common/model/index.js';
import { filterEvents } from '../../state/store.js';
import { useConsole, useT } from '../context.js';
import { scopedFilter } from './filter.js';
import { formatEventTime } from './time.js';

export const EVENT_PAGE = 200;

export function severityClass(severity: Severity): string {
  return severity === 'info' ? '' : `level-${severity}`;
}

export function EventTable({ cluster }: { readonly cluster: string | undefined }): ReactNode {
  const t = useT();
  const language = useConsole((s) => s.language);
  // A new array on every store change, but useShallow compares its entries: the table repaints only when the
  // filtered events themselves change.
  const rows = useConsole((s) => filterEvents(s.events, scopedFilter(s.eventFilter, cluster)));
  const [shown, setShown] = useState(EVENT_PAGE);
  const page = rows.slice(0, shown);
  return (
    <div className="event-table">
      <p className="muted" data-testid="events-count">{t('events.count', { shown: page.length, total: rows.length })}</p>
      <table data-testid="events-table">
        <thead>
          <tr>
            <th>{t('events.colTime')}</th><th>{t('events.colSeverity')}</th>
            {cluster === undefined && <th>{t('events.colCluster')}</th>}
            <th>{t('events.colNode')}</th><th>{t('events.colKind')}</th><th>{t('events.colSubject')}</th>
            <th>{t('events.colMessage')}</th><th>{t('events.colReportedBy')}</th>
          </tr>
        </thead>
        <tbody>
          {page.map(({ key, cluster: c, reportedBy, event: e }) => (
            <tr key={key} data-testid="event-row" data-kind={e.kind} data-node={e.node} data-severity={e.severity} data-at={e.at}>
              <td>{formatEventTime(e.at, language)}</td>
              <td className={severityClass(e.severity)}>{t(`severity.${e.severity}`)}</td>
              {cluster === undefined && <td>{c}</td>}
              <td>{e.node}</td>
              <td>{t(`events.kind.${e.kind}`)}</td>
              <td>{[e.group, e.resource].filter((x) => x !== undefined).join(' / ')}</td>
              <td>{e.message}</td>
              <td className="muted">{reportedBy}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {rows.length === 0 && <p className="muted" data-testid="events-none">{t('events.none')}</p>}
      {rows.length > shown && (
        <button type="button" data-testid="events-more" onClick={() => setShown(shown + EVENT_PAGE)}>
          {t('events.more', { count: Math.min(EVENT_PAGE, rows.length - shown) })}
        </button>
      )}
    </div>
  );
}
