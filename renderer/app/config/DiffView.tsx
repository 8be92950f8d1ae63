/** A line diff of two configuration texts: the changed lines with a little context, and how many changed. */
import { useMemo, type ReactNode } from 'react';
import { diffHunks, diffLines, diffStats } from '../../config/line-diff.js';
import { useT } from '../context.js';

const SIGN = { same: ' ', removed: '-', added: '+' } as const;

export function DiffView({ before, after, testId }: { readonly before: string; readonly after: string; readonly testId: string }): ReactNode {
  const t = useT();
  const diff = useMemo(() => diffLines(before, after), [before, after]);
  const { added, removed } = diffStats(diff);
  const hunks = diffHunks(diff);
  return (
    <div className="config-diff" data-testid={testId} data-added={added} data-removed={removed}>
      <div className="muted">{added + removed === 0 ? t('config.diff.none') : t('config.diff.stats', { added, removed })}</div>
      {hunks.map((hunk, h) => (
        <pre key={h} className="config-diff-hunk">
          {hunk.map((line, k) => (
            <div key={k} className={`diff-${line.kind}`} data-kind={line.kind}>
              <span className="diff-line-no">{line.kind === 'added' ? '' : line.oldLine}</span>
              <span className="diff-line-no">{line.kind === 'removed' ? '' : line.newLine}</span>
              {`${SIGN[line.kind]} ${line.text}`}
            </div>
          ))}
        </pre>
      ))}
    </div>
  );
}
