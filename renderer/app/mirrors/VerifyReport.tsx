/** What a verify found: identical, or the paths that differ, by how (each list cut to a readable length). */
import type { ReactNode } from 'react';
import type { MirrorVerifyReport } from '../../../common/model/index.js';
import { useT } from '../context.js';

const SHOWN_PER_LIST = 20;

/**
 * The report inside a `mirror` command's result. The result crosses the bridge as `unknown`, so its shape is
 * checked rather than trusted; anything else is not a report.
 */
export function readVerifyReport(result: unknown): MirrorVerifyReport | undefined {
  if (typeof result !== 'object' || result === null || !('verify' in result)) return undefined;
  const v: unknown = result.verify;
  if (typeof v !== 'object' || v === null) return undefined;
  const r = v as Partial<Record<keyof MirrorVerifyReport, unknown>>;
  const strings = (x: unknown): boolean => Array.isArray(x) && x.every((s) => typeof s === 'string');
  const metadata = Array.isArray(r.metadataDiffers) && r.metadataDiffers.every((m: unknown) =>
    typeof m === 'object' && m !== null && 'path' in m && typeof m.path === 'string' && 'fields' in m && strings(m.fields));
  if (typeof r.id !== 'string' || typeof r.equal !== 'boolean' || !strings(r.missing) || !strings(r.extra) || !strings(r.contentDiffers) || !metadata) return undefined;
  return v as MirrorVerifyReport;
}

export function VerifyReport({ report, source, target }: {
  readonly report: MirrorVerifyReport; readonly source: string; readonly target: string;
}): ReactNode {
  const t = useT();
  const count = report.missing.length + report.extra.length + report.contentDiffers.length + report.metadataDiffers.length;
  return (
    <div className={`verify-report ${report.equal ? 'level-ok' : 'level-warning'}`} data-equal={String(report.equal)}>
      <p>{report.equal ? t('mirrors.verifyEqual', { source, target }) : t('mirrors.verifyDiffers', { count, source, target })}</p>
      <PathList title="mirrors.verifyMissing" kind="missing" paths={report.missing} />
      <PathList title="mirrors.verifyExtra" kind="extra" paths={report.extra} />
      <PathList title="mirrors.verifyContent" kind="content" paths={report.contentDiffers} />
      <PathList title="mirrors.verifyMetadata" kind="metadata" paths={report.metadataDiffers.map((m) => `${m.path} (${m.fields.join(', ')})`)} />
    </div>
  );
}

type ListTitle = 'mirrors.verifyMissing' | 'mirrors.verifyExtra' | 'mirrors.verifyContent' | 'mirrors.verifyMetadata';

function PathList({ title, kind, paths }: { readonly title: ListTitle; readonly kind: string; readonly paths: readonly string[] }): ReactNode {
  const t = useT();
  if (paths.length === 0) return null;
  return (
    <details open data-kind={kind}>
      <summary>{t('mirrors.verifyList', { title: t(title), count: paths.length })}</summary>
      <ul>
        {paths.slice(0, SHOWN_PER_LIST).map((p) => <li key={p}><code>{p}</code></li>)}
        {paths.length > SHOWN_PER_LIST && <li className="muted">{t('mirrors.verifyMore', { count: paths.length - SHOWN_PER_LIST })}</li>}
      </ul>
    </details>
  );
}
