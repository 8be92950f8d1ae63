/** Human-readable renderings of status and events for the terminal. Pure, so tests read what users read. */
import type { Action, ClusterEvent, ClusterStatus, MirrorStatus, MirrorVerifyReport, PlanResult } from '../../common/model/index.js';
import { describeAction } from '../../common/model/plan.js';

function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => { widths[i] = Math.max(widths[i] ?? 0, cell.length); });
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n');
}

export function formatStatus(s: ClusterStatus): string {
  const out: string[] = [];
  out.push(`cluster ${s.cluster}, as seen by ${s.reportedBy} at ${new Date(s.at).toISOString()}${s.maintenance ? '  ** MAINTENANCE MODE **' : ''}`);
  out.push('');
  const nodeRows: string[][] = [['NODE', 'STATE', 'LINKS']];
  for (const n of s.nodes) {
    const links = n.local ? '(this node)' : n.links.map((l) => `${l.link}:${l.up ? 'up' : 'DOWN'}${l.rttMs === undefined ? '' : ` ${l.rttMs.toFixed(1)}ms`}${l.lossPercent > 0 ? ` loss ${l.lossPercent.toFixed(0)}%` : ''}`).join(', ');
    nodeRows.push([n.id, n.alive ? 'up' : 'DOWN', links || '-']);
  }
  out.push(table(nodeRows));
  out.push('');
  const groupRows: string[][] = [['GROUP', 'RESOURCE', 'STATE', 'TARGET']];
  for (const g of s.groups) {
    groupRows.push([g.id, '', g.runningOn.length ? `on ${g.runningOn.join(', ')}` : 'stopped', g.target ?? '-']);
    for (const r of g.resources) {
      const states = Object.entries(r.states).filter(([, st]) => st !== 'stopped').map(([node, st]) => `${st}@${node}`);
      groupRows.push(['', r.id, states.join(' ') || 'stopped', '']);
    }
  }
  out.push(table(groupRows));
  const reasons = s.groups.flatMap((g) => g.reasons.map((r) => `  ${g.id}: ${r}`));
  if (reasons.length) out.push('', 'why:', ...reasons);
  if (s.faults.length) out.push('', 'faults:', ...s.faults.map((f) => `  ! ${f}`));
  return out.join('\n');
}

export function formatEvents(events: readonly ClusterEvent[]): string {
  if (events.length === 0) return 'no events';
  return table([['TIME', 'SEVERITY', 'KIND', 'NODE', 'WHAT'],
    ...events.map((e) => [new Date(e.at).toISOString(), e.severity, e.kind, e.node, e.message])]);
}

export function formatPlan(result: PlanResult): string {
  const out: string[] = [];
  out.push(result.actions.length ? 'actions, in order:' : 'no actions');
  result.actions.forEach((a: Action, i) => out.push(`  ${i + 1}. ${describeAction(a)}`));
  for (const [group, d] of Object.entries(result.groups)) out.push(`${group}: target ${d.target ?? '(none)'}: ${d.reasons.join('; ')}`);
  for (const f of result.faults) out.push(`! ${f}`);
  if (result.wakeAt !== null) out.push(`re-plan at ${result.wakeAt}`);
  return out.join('\n');
}

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) { v /= 1024; u++; }
  return `${v.toFixed(1)} ${units[u]}`;
}

const queue = (q: { records: number; bytes: number } | undefined): string => (q === undefined ? '-' : `${q.records} / ${bytes(q.bytes)}`);

export function formatMirrors(mirrors: readonly MirrorStatus[]): string {
  if (mirrors.length === 0) return 'no mirror on this node';
  const rows = [['MIRROR', 'ROLE', 'PEER', 'STATE', 'SOURCE QUEUE', 'TARGET QUEUE', 'LAG', 'RATE', 'DIRTY']];
  for (const m of mirrors) {
    const paused = [m.pausedSource ? 'source' : '', m.pausedTarget ? 'target' : ''].filter((x) => x !== '').join('+');
    rows.push([m.id, m.role, m.peer, `${m.state}${paused === '' ? '' : ` (${paused} paused)`}`, queue(m.sourceQueue), queue(m.targetQueue),
      `${m.lagSeconds.toFixed(1)} s / ${bytes(m.lagBytes)}`, `${bytes(m.throughput)}/s`, String(m.dirtyFiles)]);
  }
  const reasons = mirrors.flatMap((m) => m.reasons.map((r) => `  ${m.id}: ${r}`));
  return table(rows) + (reasons.length > 0 ? `\n\nwhy:\n${reasons.join('\n')}` : '');
}

export function formatVerify(r: MirrorVerifyReport): string {
  if (r.equal) return `${r.id}: source and target are equal`;
  const out = [`${r.id}: source and target differ`];
  const list = (title: string, items: readonly string[]): void => {
    if (items.length === 0) return;
    out.push(`  ${title} (${items.length}):`, ...items.slice(0, 50).map((p) => `    ${p}`));
    if (items.length > 50) out.push(`    ... and ${items.length - 50} more`);
  };
  list('missing on the target', r.missing);
  list('only on the target', r.extra);
  list('content differs', r.contentDiffers);
  list('metadata differs', r.metadataDiffers.map((m) => `${m.path} (${m.fields.join(', ')})`));
  return out.join('\n');
}
