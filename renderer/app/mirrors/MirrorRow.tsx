/**
 * One mirror: both sides' reports merged into one card (state with reasons, nodes, generation, queues, lag,
 * throughput, last resync), its chart, and its commands. It selects only its own two reports, so a push about
 * another mirror or cluster does not repaint it.
 */
import { useMemo, type ReactNode } from 'react';
import type { MirrorQueue, MirrorState, MirrorSyncSummary } from '../../../common/model/index.js';
import type { Translate } from '../../i18n/index.js';
import { ActionButton } from '../components/ActionButton.js';
import { useConsole, useT } from '../context.js';
import { formatBytes, formatDuration, formatRate, formatTime } from './format.js';
import { MIRROR_BUTTONS, buttonParams, commandNode, mergeMirror, mirrorSides, type MergedMirror, type MirrorButton } from './merge.js';
import { MirrorChart } from './MirrorChart.js';
import { VerifyReport, readVerifyReport } from './VerifyReport.js';

export function mirrorLevel(state: MirrorState): 'ok' | 'warning' | 'critical' {
  return state === 'in-sync' || state === 'idle' ? 'ok' : state === 'diverged' || state === 'inconsistent' ? 'critical' : 'warning';
}

export function MirrorRow({ cluster, id }: { readonly cluster: string; readonly id: string }): ReactNode {
  const t = useT();
  const sides = useConsole((s) => mirrorSides(s.clusters[cluster]?.nodes ?? [], id));
  // useShallow hands back the previous object while both reports are the same ones, so this merges once per change.
  const mirror = useMemo(() => mergeMirror(sides), [sides]);
  const sourceReachable = useConsole((s) => s.clusters[cluster]?.nodes.some((n) => n.node === mirror?.sourceNode && n.state === 'connected') ?? false);
  const language = useConsole((s) => s.language);
  if (mirror === undefined) return null;
  const field = (label: string, value: ReactNode, testId?: string, extra?: Record<string, string | number>): ReactNode => (
    <div className="field"><dt>{label}</dt><dd data-testid={testId} {...extra}>{value}</dd></div>
  );
  return (
    <article className="card mirror" data-testid={`mirror-${id}`}>
      <header>
        <h3>{id}</h3>
        <span className="muted">{t('mirrors.group', { group: mirror.group })}</span>
        <span className={`mirror-state level-${mirrorLevel(mirror.state)}`} data-testid={`mirror-${id}-state`} data-state={mirror.state}>
          {t(`mirror.${mirror.state}`)}
        </span>
      </header>
      {mirror.reasons.length > 0 && (
        <ul className="reasons" aria-label={t('mirrors.reasons')} data-testid={`mirror-${id}-reasons`}>
          {mirror.reasons.map((r) => <li key={r}>{r}</li>)}
        </ul>
      )}
      <dl className="fields">
        {field(t('mirrors.source'), sideLabel(mirror.sourceNode, sides.source !== undefined, t), `mirror-${id}-source`)}
        {field(t('mirrors.target'), sideLabel(mirror.targetNode, sides.target !== undefined, t), `mirror-${id}-target`)}
        {field(t('mirrors.generation'), generation(mirror, t), `mirror-${id}-generation`)}
        {field(t('mirrors.connection'), mirror.connected ? t('mirrors.connected') : t('mirrors.disconnected'), `mirror-${id}-connected`, { 'data-connected': String(mirror.connected) })}
        {field(t('mirrors.paused'), paused(mirror, t), `mirror-${id}-paused`, { 'data-paused-source': String(mirror.pausedSource), 'data-paused-target': String(mirror.pausedTarget) })}
        {field(t('mirrors.sourceQueue'), queue(mirror.sourceQueue, t), `mirror-${id}-source-queue`, queueData(mirror.sourceQueue))}
        {field(t('mirrors.targetQueue'), queue(mirror.targetQueue, t), `mirror-${id}-target-queue`, queueData(mirror.targetQueue))}
        {field(t('mirrors.dirtyFiles'), String(mirror.dirtyFiles), `mirror-${id}-dirty`)}
        {field(t('mirrors.lag'), t('mirrors.lagValue', { time: formatDuration(mirror.lagSeconds, t), bytes: formatBytes(mirror.lagBytes) }), `mirror-${id}-lag`,
          { 'data-seconds': mirror.lagSeconds, 'data-bytes': mirror.lagBytes })}
        {field(t('mirrors.throughput'), t('mirrors.throughputValue', {
          sent: mirror.sentPerSecond === undefined ? t('mirrors.unknown') : formatRate(mirror.sentPerSecond),
          applied: mirror.appliedPerSecond === undefined ? t('mirrors.unknown') : formatRate(mirror.appliedPerSecond),
        }) + (mirror.maxSendRate === undefined ? '' : t('mirrors.throughputLimit', { limit: formatRate(mirror.maxSendRate) })), `mirror-${id}-throughput`)}
        {field(t('mirrors.lastSync'), lastSync(mirror.lastSync, t, language), `mirror-${id}-last-sync`)}
        {mirror.backgroundListing !== undefined && field(t('mirrors.backgroundListing'), t('mirrors.backgroundListingValue', {
          started: formatTime(mirror.backgroundListing.startedAt, language), files: mirror.backgroundListing.files,
        }), `mirror-${id}-background-listing`, { 'data-files': mirror.backgroundListing.files })}
      </dl>
      <MirrorChart cluster={cluster} mirror={id} />
      <div className="mirror-actions">
        {MIRROR_BUTTONS.map((button) => (
          <MirrorCommandButton key={button} cluster={cluster} mirror={mirror} button={button}
            node={commandNode(buttonParams(button, mirror.id).action, mirror, sourceReachable)} />
        ))}
      </div>
    </article>
  );
}

/** A mirror command; verify's result is its report, shown where the button's result goes (`mirror-ID-verify-result`). */
function MirrorCommandButton({ cluster, mirror, button, node }: {
  readonly cluster: string; readonly mirror: MergedMirror; readonly button: MirrorButton; readonly node: string;
}): ReactNode {
  const t = useT();
  const names = { mirror: mirror.id, source: mirror.sourceNode, target: mirror.targetNode };
  const params = buttonParams(button, mirror.id);
  return (
    <ActionButton cluster={cluster} node={node} method="mirror" params={params}
      label={t(`mirrors.action.${button}`)} confirm={t('mirrors.confirmTo', { question: t(`mirrors.confirm.${button}`, names), node })}
      testId={`mirror-${mirror.id}-${button}`} danger={params.action === 'full' || params.action === 'diff'}
      {...(button === 'verify' ? { renderResult: (result: unknown) => verifyReport(result, mirror) } : {})} />
  );
}

function verifyReport(result: unknown, mirror: MergedMirror): ReactNode {
  const report = readVerifyReport(result);
  return report === undefined ? undefined : <VerifyReport report={report} source={mirror.sourceNode} target={mirror.targetNode} />;
}

function sideLabel(node: string, reported: boolean, t: Translate): string {
  return reported ? node : t('mirrors.notReported', { node });
}

function generation(m: MergedMirror, t: Translate): string {
  const { sourceGeneration: s, targetGeneration: g } = m;
  if (s !== undefined && g !== undefined && s !== g) return t('mirrors.generationSplit', { source: s, target: g });
  return s ?? g ?? t('mirrors.unknown');
}

function paused(m: MergedMirror, t: Translate): string {
  const parts = [...(m.pausedSource ? [t('mirrors.pausedSource')] : []), ...(m.pausedTarget ? [t('mirrors.pausedTarget')] : [])];
  return parts.length === 0 ? t('mirrors.pausedNone') : parts.join(', ');
}

function queue(q: MirrorQueue | undefined, t: Translate): string {
  return q === undefined ? t('mirrors.unknown') : t('mirrors.queue', { records: q.records, bytes: formatBytes(q.bytes) });
}

/** The exact figures for scripts and tests; absent when the side did not report its queue. */
function queueData(q: MirrorQueue | undefined): Record<string, number> {
  return q === undefined ? {} : { 'data-records': q.records, 'data-bytes': q.bytes };
}

function lastSync(s: MirrorSyncSummary | undefined, t: Translate, language: string): string {
  if (s === undefined) return t('mirrors.lastSyncNone');
  const common = { kind: t(`mirrors.syncKind.${s.kind}`), started: formatTime(s.startedAt, language), files: s.files, bytes: formatBytes(s.bytesSent) };
  if (s.error !== undefined) return t('mirrors.lastSyncFailed', { ...common, error: s.error });
  if (s.finishedAt === undefined) return t('mirrors.lastSyncRunning', common);
  return t('mirrors.lastSyncDone', { ...common, finished: formatTime(s.finishedAt, language) });
}
