/**
 * One node as the center sees it: its connection and last error, what to do about a refusal (accept an unknown
 * SSH host key after comparing it, a loud warning for a changed one, retry), the faults it reports, and its
 * interfaces and volumes. It selects only its own node's view.
 */
import type { ReactNode } from 'react';
import type { CenterNodeView } from '../../../common/ipc/contract.js';
import { CenterCommandButton } from '../components/CenterCommandButton.js';
import { useBridge, useConsole, useT } from '../context.js';
import { Inventory } from './Inventory.js';
import { nodesOf } from './use-cluster.js';

export function NodePanel({ cluster, node }: { readonly cluster: string; readonly node: string }): ReactNode {
  const t = useT();
  const view = useConsole((s) => ({ view: nodesOf(s, cluster).find((n) => n.node === node) })).view;
  if (view === undefined) return null;
  const own = view.status ?? view.snapshot?.status;
  const faults = own !== undefined && own.reportedBy === node ? own.faults : [];
  const level = view.state === 'connected' ? 'ok' : view.state === 'refused' ? 'critical' : 'warning';
  return (
    <article className="node-panel card" data-testid={`node-panel-${node}`}>
      <header>
        <strong>{node}</strong> <span className="muted">{view.url}{view.viaSsh ? ` · ${t('cluster.viaSsh')}` : ''}</span>
      </header>
      <p data-testid={`node-conn-${node}`} data-state={view.state} className={`level-${level}`}>
        {t('cluster.conn', { state: t(`connection.${view.state}`) })}
      </p>
      {view.lastError !== undefined && (
        <p data-testid={`node-error-${node}`} className="level-critical">{`${view.lastError.code}: ${view.lastError.message}`}</p>
      )}
      <Remedies cluster={cluster} view={view} />
      {faults.length > 0 && (
        <div data-testid={`node-faults-${node}`}>
          <span>{t('cluster.nodeFaults')}</span>
          <ul className="level-critical">{faults.map((f, i) => <li key={i}>{f}</li>)}</ul>
        </div>
      )}
      <Inventory node={node} inventory={view.snapshot?.inventory ?? null} />
    </article>
  );
}

/** What the operator can do about a refused connection. */
function Remedies({ cluster, view }: { readonly cluster: string; readonly view: CenterNodeView }): ReactNode {
  const t = useT();
  const bridge = useBridge();
  const node = view.node;
  const error = view.lastError;
  const fingerprint = detail(error?.details, 'fingerprint');
  return (
    <>
      {error?.code === 'HOST_KEY_UNKNOWN' && fingerprint !== undefined && (
        <div className="hostkey">
          <p>{t('cluster.hostKey.unknown')}</p>
          <CenterCommandButton testId={`hostkey-accept-${node}`} label={t('cluster.hostKey.accept')}
            confirm={t('cluster.hostKey.confirm', { fingerprint, node })}
            run={() => bridge.invoke('hostKey.accept', { cluster, node, fingerprint })}>
            <code className="fingerprint" data-testid={`hostkey-fingerprint-${node}`}>{fingerprint}</code>
          </CenterCommandButton>
        </div>
      )}
      {error?.code === 'HOST_KEY_CHANGED' && (
        <p className="banner critical" role="alert" data-testid={`hostkey-changed-${node}`}>
          {t('cluster.hostKey.changed', { node, known: detail(error.details, 'known') ?? '?', fingerprint: fingerprint ?? '?' })}
        </p>
      )}
      {view.state === 'refused' && (
        <CenterCommandButton testId={`retry-${node}`} label={t('cluster.retry')} run={() => bridge.invoke('connection.retry', { cluster, node })} />
      )}
    </>
  );
}

/** A string field of an error's free-form details. */
function detail(details: unknown, name: string): string | undefined {
  if (typeof details !== 'object' || details === null || !(name in details)) return undefined;
  const v = (details as Readonly<Record<string, unknown>>)[name];
  return typeof v === 'string' ? v : undefined;
}
