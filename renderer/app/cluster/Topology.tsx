/**
 * The cluster's picture: its nodes (up or down, the shown report's node, maintenance, faults, the groups running
 * there) and every heartbeat link between each pair, each half coloured by what the node at that end sees, so a
 * one-way failure is visible. Colours come from the branding's variables.
 */
import { useMemo, type ReactNode } from 'react';
import type { LinkStatus } from '../../../common/model/index.js';
import { useConsole, useT } from '../context.js';
import { topologyOf, type TopologyNode } from './cluster-model.js';
import { layoutNodes, linkHalves, VIEW, type Point } from './topology-layout.js';
import { nodesOf, useClusterStatus } from './use-cluster.js';

export function Topology({ cluster }: { readonly cluster: string }): ReactNode {
  const t = useT();
  const views = useConsole((s) => ({ nodes: nodesOf(s, cluster) })).nodes;
  const status = useClusterStatus(cluster);
  const { nodes, links } = useMemo(() => topologyOf(views, status), [views, status]);
  const at = useMemo(() => layoutNodes(nodes.map((n) => n.id)), [nodes]);
  const halves = useMemo(() => linkHalves(links, at), [links, at]);
  return (
    <figure className="topology card">
      <svg data-testid="topology" viewBox={`0 0 ${VIEW.width} ${VIEW.height}`} role="img" aria-label={t('cluster.topology.label', { cluster })}>
        {halves.map((h) => (
          <line key={`${h.node}\0${h.status.peer}\0${h.status.link}`} data-testid={`link-${h.node}-${h.status.peer}-${h.status.link}`}
            data-state={h.status.up ? 'up' : 'down'} data-kind={h.status.kind} className={`topology-link link-${h.status.up ? 'up' : 'down'}`}
            x1={h.from.x} y1={h.from.y} x2={h.to.x} y2={h.to.y} strokeWidth={4} strokeLinecap="round"
            strokeDasharray={h.status.kind === 'serial' ? '6 4' : undefined}
            style={{ stroke: h.status.up ? 'var(--ok)' : 'var(--critical)' }}>
            <title>{linkTitle(h.node, h.status, t)}</title>
          </line>
        ))}
        {nodes.map((n) => <NodeMark key={n.id} node={n} at={at.get(n.id)!} />)}
      </svg>
      <figcaption className="muted">{t('cluster.link.legend')}</figcaption>
    </figure>
  );
}

function NodeMark({ node: n, at }: { readonly node: TopologyNode; readonly at: Point }): ReactNode {
  const t = useT();
  const state = n.alive === undefined ? 'unknown' : n.alive ? 'up' : 'down';
  const colour = state === 'up' ? 'var(--ok)' : state === 'down' ? 'var(--critical)' : 'var(--muted)';
  const lines = [
    state === 'unknown' ? t('cluster.node.unknown') : t(`node.${state}`) + (n.maintenance ? ` · ${t('cluster.node.maintenance')}` : ''),
    ...(n.runs.length > 0 ? [t('cluster.node.runs', { groups: n.runs.join(', ') })] : []),
    ...(n.reporting ? [t('cluster.node.reporting')] : []),
    ...(n.faults.length > 0 ? [t('cluster.node.faults', { count: n.faults.length })] : []),
  ];
  return (
    <g data-testid={`node-${n.id}`} data-state={state} data-active-for={n.runs.join(',')} data-reporting={n.reporting ? 'true' : undefined}
      className={`topology-node node-${state}`} transform={`translate(${at.x} ${at.y})`}>
      <title>{[n.id, ...lines, ...n.faults].join('\n')}</title>
      <circle r={VIEW.nodeRadius} strokeWidth={n.reporting ? 4 : 2}
        style={{ fill: 'var(--surface)', stroke: colour, ...(n.maintenance ? { strokeDasharray: '8 4' } : {}) }} />
      <text textAnchor="middle" y={-14} style={{ fill: 'var(--text)', fontWeight: 700 }}>{n.id}</text>
      {lines.map((l, i) => (
        <text key={i} textAnchor="middle" y={4 + i * 13} fontSize={11}
          style={{ fill: i === 0 ? colour : i === lines.length - 1 && n.faults.length > 0 ? 'var(--critical)' : 'var(--muted)' }}>{l}</text>
      ))}
    </g>
  );
}

function linkTitle(node: string, l: LinkStatus, t: ReturnType<typeof useT>): string {
  return t('cluster.link.title', {
    link: l.link, kind: t(`link.kind.${l.kind}`), node, peer: l.peer, state: t(l.up ? 'link.up' : 'link.down'),
    loss: Math.round(l.lossPercent * 10) / 10, rtt: l.rttMs === undefined ? t('cluster.link.noRtt') : `${Math.round(l.rttMs * 10) / 10} ms`,
  });
}
