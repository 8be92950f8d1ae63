/** Recent alerts with what became of each (deliveries, acknowledgement); open ones can be acknowledged. */
import { useMemo, useState, type ReactNode } from 'react';
import type { AlertDelivery } from '../../../common/model/index.js';
import type { Translate } from '../../i18n/index.js';
import type { ClusterEntry } from '../../state/store.js';
import { ActionButton } from '../components/ActionButton.js';
import { useConsole, useT } from '../context.js';
import { collectAlerts, type HeldAlert } from './alerts.js';
import { EVENT_PAGE, severityClass } from './EventTable.js';
import { formatEventTime } from './time.js';

export function AlertList({ cluster }: { readonly cluster: string | undefined }): ReactNode {
  const t = useT();
  const entries = useConsole((s) => (cluster === undefined ? s.clusterOrder : [cluster])
    .map((id) => s.clusters[id]).filter((c): c is ClusterEntry => c !== undefined));
  const alerts = useMemo(() => collectAlerts(entries), [entries]);
  const [shown, setShown] = useState(EVENT_PAGE);
  return (
    <section className="alerts">
      <h3>{t('events.alerts')}</h3>
      {alerts.length === 0 ? <p className="muted" data-testid="alerts-none">{t('events.alertsNone')}</p> : (
        <table data-testid="alerts-table">
          <thead>
            <tr>
              <th>{t('events.colTime')}</th><th>{t('events.colSeverity')}</th>
              {cluster === undefined && <th>{t('events.colCluster')}</th>}
              <th>{t('events.colNode')}</th><th>{t('events.colMessage')}</th><th>{t('events.colState')}</th><th>{t('events.colChannels')}</th>
            </tr>
          </thead>
          <tbody>
            {alerts.slice(0, shown).map((a) => <AlertRow key={`${a.cluster}\0${a.record.id}`} alert={a} showCluster={cluster === undefined} />)}
          </tbody>
        </table>
      )}
      {alerts.length > shown && (
        <button type="button" data-testid="alerts-more" onClick={() => setShown(shown + EVENT_PAGE)}>
          {t('events.more', { count: Math.min(EVENT_PAGE, alerts.length - shown) })}
        </button>
      )}
    </section>
  );
}

function AlertRow({ alert, showCluster }: { readonly alert: HeldAlert; readonly showCluster: boolean }): ReactNode {
  const t = useT();
  const language = useConsole((s) => s.language);
  const { record: r } = alert;
  const ack = r.acknowledged;
  return (
    <tr data-testid={`alert-${r.id}`} className={ack === undefined ? undefined : 'acknowledged muted'}
      data-acknowledged={String(ack !== undefined)} data-severity={r.event.severity} data-node={r.event.node}>
      <td>{formatEventTime(r.at, language)}</td>
      <td className={ack === undefined ? severityClass(r.event.severity) : undefined}>{t(`severity.${r.event.severity}`)}</td>
      {showCluster && <td>{alert.cluster}</td>}
      <td>{r.event.node}</td>
      <td>
        {r.event.message}
        {r.test && <span className="tag">{t('events.alertTest')}</span>}
        {r.suppressed > 0 && <div className="muted">{t('events.alertSuppressed', { count: r.suppressed })}</div>}
      </td>
      <td data-testid={`alert-${r.id}-state`}>
        {ack !== undefined ? t('events.alertAcknowledged', { by: ack.by, at: formatEventTime(ack.at, language) }) : (
          <>
            <span>{t('events.alertOpen')}</span>{' '}
            <ActionButton cluster={alert.cluster} node={alert.holder} method="alerts.ack" params={{ id: r.id }} label={t('events.ack')}
              confirm={t('events.ackConfirm', { message: r.event.message, holder: alert.holder })} testId={`alert-${r.id}-ack`} />
          </>
        )}
      </td>
      <td>{r.channels.map((d) => <div key={d.channel}>{delivery(d, t)}</div>)}</td>
    </tr>
  );
}

function delivery(d: AlertDelivery, t: Translate): string {
  switch (d.status) {
    case 'ok': return t('events.deliveryOk', { channel: d.channel });
    case 'pending': return t('events.deliveryPending', { channel: d.channel, attempts: d.attempts });
    case 'failed': return t('events.deliveryFailed', { channel: d.channel, code: d.error.code });
  }
}
