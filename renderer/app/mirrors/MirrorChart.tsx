/**
 * A mirror's recent throughput, lag and queues as an SVG drawn by hand (no chart library for three lines): the
 * throughput on top on its own scale, lag and queued bytes below on a shared one, time across.
 */
import type { ReactNode } from 'react';
import type { MirrorSample } from '../../state/mirror-history.js';
import { useConsole, useT } from '../context.js';
import { formatBytes, formatDuration, formatRate } from './format.js';

const WIDTH = 600;
const PANEL = 60;
const GAP = 12;
const HEIGHT = PANEL * 2 + GAP;

export interface ChartSeries {
  /** SVG polyline points, "x,y x,y ...". */
  readonly points: string;
  readonly max: number;
}

export interface ChartGeometry {
  readonly spanMs: number;
  readonly throughput: ChartSeries;
  readonly lag: ChartSeries;
  readonly queue: ChartSeries;
}

/** Scales the samples into the chart's panels. Pure, so the geometry is tested without a DOM. */
export function chartGeometry(samples: readonly MirrorSample[]): ChartGeometry {
  const first = samples[0]?.at ?? 0;
  const last = samples[samples.length - 1]?.at ?? 0;
  const spanMs = last - first;
  // A single sample sits at the right edge: "now", with no past yet.
  const x = (at: number): number => (spanMs === 0 ? WIDTH : ((at - first) / spanMs) * WIDTH);
  const queued = (s: MirrorSample): number => s.sourceQueueBytes + s.targetQueueBytes;
  const series = (value: (s: MirrorSample) => number, max: number, top: number): ChartSeries => ({
    max,
    points: samples.map((s) => `${round(x(s.at))},${round(top + PANEL - (max === 0 ? 0 : (value(s) / max) * PANEL))}`).join(' '),
  });
  const bytesMax = Math.max(0, ...samples.map((s) => Math.max(s.lagBytes, queued(s))));
  return {
    spanMs,
    throughput: series((s) => s.throughput, Math.max(0, ...samples.map((s) => s.throughput)), 0),
    lag: series((s) => s.lagBytes, bytesMax, PANEL + GAP),
    queue: series(queued, bytesMax, PANEL + GAP),
  };
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}

export function MirrorChart({ cluster, mirror }: { readonly cluster: string; readonly mirror: string }): ReactNode {
  const t = useT();
  const samples = useConsole((s) => s.mirrorHistory[cluster]?.[mirror] ?? NO_SAMPLES);
  const g = chartGeometry(samples);
  const lagMax = Math.max(0, ...samples.map((s) => s.lagBytes));
  const queueMax = Math.max(0, ...samples.map((s) => s.sourceQueueBytes + s.targetQueueBytes));
  return (
    <figure className="mirror-chart">
      <svg data-testid={`mirror-${mirror}-chart`} data-samples={samples.length} viewBox={`0 0 ${WIDTH} ${HEIGHT}`}
        preserveAspectRatio="none" role="img" aria-label={t('mirrors.chart', { span: formatDuration(g.spanMs / 1000, t) })}>
        <rect className="panel" x={0} y={0} width={WIDTH} height={PANEL} />
        <rect className="panel" x={0} y={PANEL + GAP} width={WIDTH} height={PANEL} />
        {samples.length > 0 && <>
          <polyline className="series throughput" data-series="throughput" data-points={samples.length} points={g.throughput.points} />
          <polyline className="series queue" data-series="queue" data-points={samples.length} points={g.queue.points} />
          <polyline className="series lag" data-series="lag" data-points={samples.length} points={g.lag.points} />
        </>}
      </svg>
      <figcaption>
        {samples.length === 0 ? <span className="muted">{t('mirrors.chartEmpty')}</span> : <>
          <span className="muted">{t('mirrors.chart', { span: formatDuration(g.spanMs / 1000, t) })}</span>
          <span className="legend throughput">{t('mirrors.chartThroughput', { max: formatRate(g.throughput.max) })}</span>
          <span className="legend lag">{t('mirrors.chartLag', { max: formatBytes(lagMax) })}</span>
          <span className="legend queue">{t('mirrors.chartQueue', { max: formatBytes(queueMax) })}</span>
        </>}
      </figcaption>
    </figure>
  );
}

/** One empty array for every mirror without history, so the selection stays equal and nothing repaints. */
const NO_SAMPLES: readonly MirrorSample[] = [];
