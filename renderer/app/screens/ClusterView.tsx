/**
 * The cluster screen: its health and maintenance switch, the topology beside each node's connection and
 * inventory, and its resource groups with their commands. Each part selects only what it shows.
 */
import type { ReactNode } from 'react';
import { describeIssue } from '../../state/health.js';
import { CommandButton } from '../cluster/CommandButton.js';
import { GroupPanel } from '../cluster/GroupPanel.js';
import { NodePanel } from '../cluster/NodePanel.js';
import { Topology } from '../cluster/Topology.js';
import { commandTarget } from '../cluster/command-target.js';
import { nodesOf, useClusterStatus } from '../cluster/use-cluster.js';
import { useConsole, useT } from '../context.js';

export function ClusterView({ cluster }: { readonly cluster: string }): ReactNode {
  const t = useT();
  const { exists, loaded } = useConsole((s) => ({ exists: s.clusters[cluster] !== undefined, loaded: s.loaded }));
  if (!exists) {
    return (
      <section data-testid="screen-cluster">
        <p className="muted" data-testid="cluster-missing">{loaded ? t('app.clusterNotFound', { cluster }) : t('app.loading')}</p>
      </section>
    );
  }
  return (
    <section className="cluster-view" data-testid="screen-cluster">
      <ClusterHeader cluster={cluster} />
      <div className="cluster-layout">
        <div>
          <h2>{t('cluster.topology')}</h2>
          <Topology cluster={cluster} />
        </div>
        <NodeList cluster={cluster} />
      </div>
      <GroupList cluster={cluster} />
    </section>
  );
}

function ClusterHeader({ cluster }: { readonly cluster: string }): ReactNode {
  const t = useT();
  const { name, health, via } = useConsole((s) => ({
    name: s.clusters[cluster]?.name ?? cluster, health: s.health[cluster], via: commandTarget(nodesOf(s, cluster))?.node,
  }));
  const language = useConsole((s) => s.language);
  const status = useClusterStatus(cluster);
  const level = health?.level ?? 'unknown';
  const maintenance = status?.maintenance ?? false;
  return (
    <header className="cluster-head">
      <h1>{name} <span className={`level-${level}`} data-testid="cluster-health" data-level={level}>{t(`health.${level}`)}</span></h1>
      <p className="muted">
        {status !== undefined && `${t('cluster.reportedBy', { node: status.reportedBy, time: new Date(status.at).toLocaleString(language) })} · `}
        <span data-testid="cluster-command-node">{via !== undefined ? t('cluster.commandsVia', { node: via }) : t('cluster.noCommandNode')}</span>
      </p>
      {health !== undefined && health.issues.length > 0 && (
        <ul className="cluster-issues" data-testid="cluster-issues">
          {health.issues.map((issue, i) => (
            <li key={i} className={`level-${issue.level}`}>{describeIssue(issue, t)}{issue.reason !== undefined && <span className="muted"> — {issue.reason}</span>}</li>
          ))}
        </ul>
      )}
      {maintenance && <p className="banner warning" data-testid="maintenance-banner">{t('cluster.maintenance.active')}</p>}
      <CommandButton cluster={cluster} method="maintenance" params={{ on: !maintenance }} testId="maintenance"
        label={t(maintenance ? 'cluster.maintenance.leave' : 'cluster.maintenance.enter')}
        confirm={t(maintenance ? 'cluster.maintenance.confirmOff' : 'cluster.maintenance.confirmOn', { cluster: name })} />
    </header>
  );
}

function NodeList({ cluster }: { readonly cluster: string }): ReactNode {
  const t = useT();
  const ids = useConsole((s) => nodesOf(s, cluster).map((n) => n.node));
  return (
    <div className="node-list">
      <h2>{t('cluster.nodes')}</h2>
      {ids.map((id) => <NodePanel key={id} cluster={cluster} node={id} />)}
    </div>
  );
}

function GroupList({ cluster }: { readonly cluster: string }): ReactNode {
  const t = useT();
  const status = useClusterStatus(cluster);
  return (
    <div className="group-list">
      <h2>{t('cluster.groups')}</h2>
      {status === undefined ? <p className="muted">{t('cluster.noStatus')}</p>
        : status.groups.length === 0 ? <p className="muted">{t('cluster.groups.none')}</p>
          : status.groups.map((g) => <GroupPanel key={g.id} cluster={cluster} group={g.id} />)}
    </div>
  );
}
