/**
 * The configuration's history: every committed generation with its author, time and comment; any version can be
 * opened (its text, and how it differs from the current one) and rolled back to, after a confirmation.
 */
import { useEffect, useState, type ReactNode } from 'react';
import type { IpcErrorInfo } from '../../../common/ipc/contract.js';
import type { ConfigVersionSummary } from '../../../common/model/api.js';
import type { ConfigVersion } from '../../../common/model/config-version.js';
import { ActionButton } from '../components/ActionButton.js';
import { useBridge, useT } from '../context.js';
import { callAgent } from './agent-call.js';
import { DiffView } from './DiffView.js';

export interface ConfigHistoryProps {
  readonly cluster: string;
  readonly node: string;
  readonly current: ConfigVersion;
  readonly onRolledBack: (result: unknown) => void;
  readonly onFailed: (error: IpcErrorInfo) => void;
}

/** The history shown: enough to find yesterday's change without loading years of it. */
const HISTORY_LIMIT = 50;

/** Times in UTC, as the agents' logs write them, so operators in different zones read the same time. */
export function formatTime(at: number): string {
  return `${new Date(at).toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

export function ConfigHistory({ cluster, node, current, onRolledBack, onFailed }: ConfigHistoryProps): ReactNode {
  const t = useT();
  const bridge = useBridge();
  const [versions, setVersions] = useState<readonly ConfigVersionSummary[]>();
  const [error, setError] = useState<IpcErrorInfo>();
  const [viewed, setViewed] = useState<ConfigVersion>();

  // Reloaded whenever the current version changes (a commit or a rollback, here or elsewhere).
  useEffect(() => {
    let live = true;
    void callAgent(bridge, cluster, node, 'config.history', { limit: HISTORY_LIMIT }).then((r) => {
      if (!live) return;
      if (r.ok) { setVersions([...r.result].sort((a, b) => b.generation - a.generation)); setError(undefined); } else setError(r.error);
    });
    return () => { live = false; };
  }, [bridge, cluster, node, current.generation]);

  const view = async (generation: number): Promise<void> => {
    const r = await callAgent(bridge, cluster, node, 'config.get', { generation });
    if (r.ok) setViewed(r.result);
    else setError(r.error);
  };

  return (
    <section className="card config-history" data-testid="config-history">
      <h3>{t('config.history.title')}</h3>
      {error !== undefined && <p className="level-critical" role="alert">{`${error.code}: ${error.message}`}</p>}
      {versions === undefined ? <p className="muted">{t('config.loading')}</p> : (
        <table>
          <thead>
            <tr><th>{t('config.history.generation')}</th><th>{t('config.history.author')}</th><th>{t('config.history.time')}</th><th>{t('config.history.comment')}</th><th /></tr>
          </thead>
          <tbody>
            {versions.map((v) => (
              <tr key={v.generation} data-testid={`config-history-${v.generation}`} className={v.generation === current.generation ? 'current' : undefined}>
                <td>{v.generation === current.generation ? t('config.history.current', { generation: v.generation }) : v.generation}</td>
                <td>{v.author}</td>
                <td>{formatTime(v.at)}</td>
                <td>{v.comment ?? ''}</td>
                <td>
                  <button type="button" onClick={() => void view(v.generation)} data-testid={`config-view-${v.generation}`}>{t('config.history.view')}</button>
                  {v.generation !== current.generation && (
                    <ActionButton cluster={cluster} node={node} method="config.rollback" danger
                      params={{ toGeneration: v.generation, baseGeneration: current.generation, comment: t('config.history.rollbackComment', { generation: v.generation }) }}
                      label={t('config.history.rollback')} confirm={t('config.history.rollbackConfirm', { generation: v.generation, current: current.generation })}
                      testId={`config-rollback-${v.generation}`} onDone={onRolledBack} onFailed={onFailed} />
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {viewed !== undefined && (
        <div className="config-version" data-testid={`config-version-${viewed.generation}`}>
          <h4>{t('config.history.viewing', { generation: viewed.generation, author: viewed.author, time: formatTime(viewed.at) })}</h4>
          <button type="button" onClick={() => setViewed(undefined)} data-testid="config-version-close">{t('config.history.close')}</button>
          <DiffView before={viewed.text} after={current.text} testId="config-version-diff" />
          <pre className="config-version-text" data-testid="config-version-text">{viewed.text}</pre>
        </div>
      )}
    </section>
  );
}
