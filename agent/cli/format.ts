/** Human-readable renderings of status and events for the terminal. Pure, so tests read what users read. */
import type { Action, AlertRecord, ClusterEvent, ClusterStatus, MirrorStatus, MirrorVerifyReport, NodeProblem, PerNodeResult, PlanResult } from '../../common/model/index.js';
import type { AuditEntry, ConfigVersionSummary } from '../../common/model/api.js';
import { describeAction } from '../../common/model/plan.js';
import type { ConfigChangeResult, EventMessage, Results } from '../../common/protocol/api.js';

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
    const where = g.runningOn.length ? `on ${g.runningOn.join(', ')}` : 'stopped';
    groupRows.push([g.id, '', g.stopped ? `${where} [stopped by operator]` : where, g.target ?? '-']);
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
    const listing = m.backgroundListing === undefined || m.backgroundListing.finishedAt !== undefined ? '' : `, listing its copy (${m.backgroundListing.files} files)`;
    rows.push([m.id, m.role, m.peer, `${m.state}${paused === '' ? '' : ` (${paused} paused)`}${listing}`, queue(m.sourceQueue), queue(m.targetQueue),
      `${m.lagSeconds.toFixed(1)} s / ${bytes(m.lagBytes)}`, `${bytes(m.throughput)}/s${m.maxSendRate === undefined ? '' : ` (max ${bytes(m.maxSendRate)}/s)`}`,
      String(m.dirtyFiles)]);
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

const iso = (ms: number): string => new Date(ms).toISOString();
const list = (items: readonly string[]): string => (items.length === 0 ? '-' : items.join(', '));

export function formatConfigHistory(versions: readonly ConfigVersionSummary[]): string {
  if (versions.length === 0) return 'no configuration history';
  return table([['GENERATION', 'TIME', 'AUTHOR', 'DIGEST', 'COMMENT'],
    ...versions.map((v) => [String(v.generation), iso(v.at), v.author, v.digest.slice(0, 12), v.comment ?? ''])]);
}

/** A committed change: where it is in force, where it will be, and how it took effect. */
export function formatConfigChange(r: ConfigChangeResult): string {
  return [
    `generation ${r.generation} (${r.digest.slice(0, 12)}) committed on ${list(r.committed)}`,
    `  pending (catch up when back): ${list(r.pending)}`,
    ...r.partial.map((p) => `  commit failed on ${p.node} (it catches up): ${p.message}`),
    `  applied live: ${list(r.live)}`,
    `  applied by reloading: ${list(r.reload)}`,
  ].join('\n');
}

/** Each problem on its own line, with the field path an admin fixes. */
export function formatProblems(problems: readonly NodeProblem[]): string {
  return problems.map((p) => `  ${p.node}: ${p.path === '' ? '(the text)' : p.path}: ${p.message}${p.line === undefined ? '' : ` (line ${p.line})`}`).join('\n');
}

export function formatNodeResults(results: readonly PerNodeResult[]): string {
  return results.map((r) => {
    if (r.outcome === 'ok') return `${r.node}: ok`;
    if (r.outcome === 'down') return `${r.node}: down (not asked; it checks the version when it is back)`;
    return [`${r.node}: FAILED ${r.code}: ${r.message}`, ...(r.problems.length > 0 ? [formatProblems(r.problems)] : [])].join('\n');
  }).join('\n');
}

export function formatAudit(entries: readonly AuditEntry[]): string {
  if (entries.length === 0) return 'no audit entries';
  return table([['TIME', 'PRINCIPAL', 'ROLE', 'VIA', 'REMOTE', 'METHOD', 'RESULT', 'PARAMS'],
    ...entries.map((e) => [iso(e.at), e.principal, e.role, e.via, e.remote, e.method, e.message === undefined ? e.result : `${e.result}: ${e.message}`, e.params])]);
}

function deliveries(a: AlertRecord): string {
  return a.channels.map((d) => `${d.channel}:${d.status === 'failed' ? `FAILED ${d.error.code}` : d.status}`).join(' ') || '-';
}

export function formatAlerts(alerts: readonly AlertRecord[]): string {
  if (alerts.length === 0) return 'no alerts';
  return table([['ID', 'TIME', 'SEVERITY', 'KIND', 'CHANNELS', 'ACK', 'WHAT'],
    ...alerts.map((a) => [a.id, iso(a.at), a.event.severity, `${a.event.kind}${a.test ? ' (test)' : ''}`, deliveries(a),
      a.acknowledged === undefined ? '-' : a.acknowledged.by, `${a.event.message}${a.suppressed > 0 ? ` (+${a.suppressed} suppressed)` : ''}`])]);
}

export function formatAlertTest(results: Results['alerts.test']): string {
  if (results.length === 0) return 'no alert channel is configured';
  return results.map((r) => `${r.channel}: ${r.ok ? 'sent' : `FAILED ${r.error ?? ''}`}`).join('\n');
}

/** One line per pushed change, so `vigil watch | grep` works. */
export function formatTopicEvent(e: EventMessage): string {
  const data = e.data;
  const at = iso(Date.now());
  switch (e.topic) {
    case 'events': {
      const ev = data as ClusterEvent;
      return `${iso(ev.at)} event ${ev.severity} ${ev.kind} ${ev.node}${ev.group === undefined ? '' : ` ${ev.group}`}: ${ev.message}`;
    }
    case 'status': {
      const s = data as ClusterStatus;
      const nodes = s.nodes.map((n) => `${n.id}:${n.alive ? 'up' : 'DOWN'}`).join(' ');
      const groups = s.groups.map((g) => `${g.id}@${g.runningOn.length > 0 ? g.runningOn.join('+') : 'stopped'}`).join(' ');
      return `${iso(s.at)} status nodes ${nodes} groups ${groups || '-'}${s.maintenance ? ' MAINTENANCE' : ''}${s.faults.length > 0 ? ` faults ${s.faults.length}` : ''}`;
    }
    case 'mirrors': {
      const ms = data as MirrorStatus[];
      return `${at} mirrors ${ms.map((m) => `${m.id}:${m.role}:${m.state}`).join(' ') || '-'}`;
    }
    case 'inventory': return `${at} inventory updated`;
    case 'alerts': {
      const newest = (data as AlertRecord[])[0];
      return `${at} alerts ${newest === undefined ? 'none' : `newest ${newest.id} ${newest.event.kind}: ${deliveries(newest)}`}`;
    }
    case 'config': {
      const c = data as ConfigVersionSummary;
      return `${iso(c.at)} config generation ${c.generation} by ${c.author}${c.comment ? `: ${c.comment}` : ''}`;
    }
  }
}
