/**
 * One resource group: where it runs and in which state, its target, switchback policy, reasons and failures per
 * node, its resources (state per node, last operation), its recent history, and the operator's commands.
 */
import type { ReactNode } from 'react';
import type { ResourceSummary } from '../../../common/model/index.js';
import type { Translate } from '../../i18n/index.js';
import { useConsole, useT } from '../context.js';
import { groupHistory } from './cluster-model.js';
import { GroupActions } from './GroupActions.js';
import { groupState, operationOutcome, type GroupState } from './group-state.js';
import { useGroup } from './use-cluster.js';

/** How many of a group's events its panel lists. */
const HISTORY_LINES = 5;

export function GroupPanel({ cluster, group }: { readonly cluster: string; readonly group: string }): ReactNode {
  const t = useT();
  const g = useGroup(cluster, group);
  if (g === undefined) return null;
  const state = groupState(g);
  const level = state.kind === 'running' ? 'ok' : state.kind === 'failed' ? 'critical' : state.kind === 'moving' || state.kind === 'stopping' ? 'warning' : 'unknown';
  const failures = Object.entries(g.failures).filter(([, n]) => n > 0);
  return (
    <article className={`group-panel card border-${level}`} data-testid={`group-${group}`}>
      <header className="group-head">
        <strong>{group}</strong>
        <span data-testid={`group-${group}-state`} data-state={state.kind} className={`level-${level}`}>{describeState(state, t)}</span>
        <span className="muted">
          <span data-testid={`group-${group}-node`}>{g.runningOn.length > 0 ? g.runningOn.join(', ') : t('cluster.group.nowhere')}</span>
        </span>
      </header>
      <ul className="group-facts">
        <li data-testid={`group-${group}-target`}>{t('cluster.group.target', { node: g.target ?? t('cluster.group.noTarget') })}</li>
        <li>{t(g.switchback === 'auto' ? 'cluster.group.switchbackAuto' : 'cluster.group.switchbackManual')}</li>
        <li data-testid={`group-${group}-failures`} className={failures.length > 0 ? 'level-warning' : undefined}>
          {failures.length > 0 ? t('cluster.group.failures', { failures: failures.map(([n, c]) => `${n}: ${c}`).join(', ') }) : t('cluster.group.noFailures')}
        </li>
        {g.reasons.length > 0 && <li data-testid={`group-${group}-reasons`}>{t('cluster.group.reasons', { reasons: g.reasons.join('; ') })}</li>}
      </ul>
      <Resources group={group} resources={g.resources} />
      <History cluster={cluster} group={group} />
      <GroupActions cluster={cluster} group={g} />
    </article>
  );
}

function describeState(s: GroupState, t: Translate): string {
  switch (s.kind) {
    case 'running': return t('cluster.group.running', { node: s.node });
    case 'stopped': return t(s.byOperator ? 'cluster.group.stoppedByOperator' : 'cluster.group.stopped');
    case 'failed': return t('cluster.group.failed', { nodes: s.nodes.join(', ') });
    case 'stopping': return t('cluster.group.stopping', { nodes: s.on.join(', ') });
    case 'moving': return s.to !== null ? t('cluster.group.moving', { node: s.to }) : t('cluster.group.changing', { nodes: s.from.join(', ') });
  }
}

/** A probe's "not running" on a standby is what it should say: shown plainly, not as a failure. */
const OUTCOME_CLASS = { ok: undefined, normal: 'muted', failed: 'level-critical' } as const;

function Resources({ group, resources }: { readonly group: string; readonly resources: readonly ResourceSummary[] }): ReactNode {
  const t = useT();
  return (
    <table className="group-resources" data-testid={`group-${group}-resources`}>
      <thead><tr><th>{t('cluster.resource.id')}</th><th>{t('cluster.resource.kind')}</th><th>{t('cluster.resource.states')}</th><th>{t('cluster.resource.last')}</th></tr></thead>
      <tbody>
        {resources.map((r) => (
          <tr key={r.id} data-testid={`resource-${group}-${r.id}`}>
            <td>{r.id}</td>
            <td>{r.kind}</td>
            <td>
              {Object.entries(r.states).map(([node, state]) => (
                <span key={node} className={`resource-state ${state === 'running' ? 'level-ok' : state === 'failed' || state === 'stop_failed' ? 'level-critical' : 'muted'}`}
                  data-testid={`resource-${group}-${r.id}-${node}`} data-state={state}>
                  {`${node}: ${t(`resource.${state}`)}`}
                </span>
              ))}
            </td>
            <td className={r.lastResult === undefined ? undefined : OUTCOME_CLASS[operationOutcome(r.lastResult)]}
              data-testid={`resource-${group}-${r.id}-last`} data-outcome={r.lastResult === undefined ? undefined : operationOutcome(r.lastResult)}>
              {r.lastResult !== undefined && t('cluster.resource.lastResult', { operation: r.lastResult.operation, rc: r.lastResult.rc, message: r.lastResult.message })}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function History({ cluster, group }: { readonly cluster: string; readonly group: string }): ReactNode {
  const t = useT();
  const language = useConsole((s) => s.language);
  const entries = useConsole((s) => groupHistory(s.events, cluster, group, HISTORY_LINES));
  return (
    <div className="group-history">
      <h4>{t('cluster.history')}</h4>
      {entries.length === 0 ? <p className="muted">{t('cluster.history.none')}</p> : (
        <ol data-testid={`group-${group}-history`}>
          {entries.map((e) => (
            <li key={e.key} data-kind={e.event.kind} className={`level-${e.event.severity === 'info' ? 'ok' : e.event.severity}`}>
              <time dateTime={new Date(e.event.at).toISOString()}>{new Date(e.event.at).toLocaleString(language)}</time>
              {` ${e.event.node}: ${e.event.message}`}
            </li>
          ))}
        </ol>
      )}
    </div>
  );
}
