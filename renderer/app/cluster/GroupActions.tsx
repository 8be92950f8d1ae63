/**
 * A group's commands: switchover to a chosen node, switchback, cleanup, stop and start. Each goes through
 * ActionButton (confirmed, answer shown) to the node commands go to.
 */
import { useState, type ReactNode } from 'react';
import type { GroupSummary } from '../../../common/model/index.js';
import { useT } from '../context.js';
import { CommandButton } from './CommandButton.js';
import { useClusterStatus } from './use-cluster.js';

export function GroupActions({ cluster, group: g }: { readonly cluster: string; readonly group: GroupSummary }): ReactNode {
  const t = useT();
  const status = useClusterStatus(cluster);
  // Switchover targets: every other node, alive ones first (the agent refuses a dead one and says why).
  const others = (status?.nodes ?? []).filter((n) => !g.runningOn.includes(n.id)).sort((a, b) => Number(b.alive) - Number(a.alive));
  const [chosen, setChosen] = useState<string | undefined>(undefined);
  const target = chosen !== undefined && others.some((n) => n.id === chosen) ? chosen : others[0]?.id;
  const id = g.id;
  return (
    <div className="group-actions">
      <span className="switchover">
        <label>
          <span>{t('cluster.switchover.target')}</span>
          <select value={target ?? ''} disabled={target === undefined} onChange={(e) => setChosen(e.target.value)} data-testid={`switchover-${id}-target`}>
            {others.map((n) => <option key={n.id} value={n.id}>{n.alive ? n.id : `${n.id} (${t('node.down')})`}</option>)}
          </select>
        </label>
        <CommandButton cluster={cluster} method="switchover" params={target === undefined ? { group: id } : { group: id, node: target }}
          label={t('cluster.switchover')} confirm={t('cluster.switchover.confirm', { group: id, node: target ?? '?' })} testId={`switchover-${id}`}
          {...(target === undefined ? { blockedBy: t('cluster.switchover.noTarget') } : {})} />
      </span>
      <CommandButton cluster={cluster} method="switchback" params={{ group: id }} label={t('cluster.switchback')}
        confirm={t('cluster.switchback.confirm', { group: id })} testId={`switchback-${id}`} />
      <CommandButton cluster={cluster} method="cleanup" params={{ group: id }} label={t('cluster.cleanup')}
        confirm={t('cluster.cleanup.confirm', { group: id })} testId={`cleanup-${id}`} />
      <CommandButton cluster={cluster} method="group.stop" params={{ group: id }} label={t('cluster.groupStop')} danger
        confirm={t('cluster.groupStop.confirm', { group: id })} testId={`group-stop-${id}`}
        {...(g.stopped === true ? { blockedBy: t('cluster.groupStop.already') } : {})} />
      <CommandButton cluster={cluster} method="group.start" params={{ group: id }} label={t('cluster.groupStart')}
        confirm={t('cluster.groupStart.confirm', { group: id })} testId={`group-start-${id}`}
        {...(g.stopped !== true ? { blockedBy: t('cluster.groupStart.notStopped') } : {})} />
    </div>
  );
}
