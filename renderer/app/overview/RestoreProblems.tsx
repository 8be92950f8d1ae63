/**
 * What the center could not restore at start-up (a remembered cluster it could not decrypt or reconnect), named by
 * cluster and field, so the operator sees it rather than a cluster that silently vanished. Asked again whenever the
 * list of clusters changes: removing the cluster clears its problem.
 */
import { useEffect, useState, type ReactNode } from 'react';
import type { CenterProblem } from '../../../common/ipc/contract.js';
import { CenterCommandButton } from '../components/CenterCommandButton.js';
import { useBridge, useConsole, useT } from '../context.js';

export function RestoreProblems(): ReactNode {
  const t = useT();
  const bridge = useBridge();
  const clusterCount = useConsole((s) => s.clusterOrder.length);
  const [problems, setProblems] = useState<readonly CenterProblem[]>([]);
  const [asked, setAsked] = useState(0);
  useEffect(() => {
    let live = true;
    void bridge.invoke('center.problems', {}).then((r) => { if (live && r.ok) setProblems(r.result); });
    return () => { live = false; };
  }, [bridge, clusterCount, asked]);
  if (problems.length === 0) return null;
  return (
    <div className="banner critical" role="alert" data-testid="restore-problems">
      <strong>{t('overview.restoreProblems')}</strong>
      <ul>
        {problems.map((p, i) => (
          <li key={i} data-testid="restore-problem">
            {[p.cluster, p.field, p.message].filter((x) => x !== undefined).join(': ')}
            {p.cluster !== undefined && (
              // The cluster has no card (it was never connected): forgetting it is done here.
              <CenterCommandButton label={t('overview.forget')} confirm={t('overview.forgetConfirm', { cluster: p.cluster })} danger
                testId={`forget-${p.cluster}`} run={() => bridge.invoke('clusters.remove', { cluster: p.cluster! })} onDone={() => setAsked((n) => n + 1)} />
            )}
          </li>
        ))}
      </ul>
    </div>
  );
}
