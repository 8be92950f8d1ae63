/**
 * The mirrors screen: one card per mirror of the cluster, both sides merged. It selects only the list of mirror
 * ids, so a report repaints the one card it concerns, not the screen.
 */
import type { ReactNode } from 'react';
import { useConsole, useT } from '../context.js';
import { mirrorIds } from '../mirrors/merge.js';
import { MirrorRow } from '../mirrors/MirrorRow.js';

export function Mirrors({ cluster }: { readonly cluster: string }): ReactNode {
  const t = useT();
  const known = useConsole((s) => !s.loaded || s.clusters[cluster] !== undefined);
  const name = useConsole((s) => s.clusters[cluster]?.name ?? cluster);
  const ids = useConsole((s) => mirrorIds(s.clusters[cluster]?.nodes ?? []));
  return (
    <section className="mirrors" data-testid="screen-mirrors">
      <h2>{t('mirrors.title', { cluster: name })}</h2>
      {!known && <p className="muted" data-testid="mirrors-unknown-cluster">{t('app.clusterNotFound', { cluster })}</p>}
      {known && ids.length === 0 && <p className="muted" data-testid="mirrors-none">{t('mirrors.none')}</p>}
      {ids.map((id) => <MirrorRow key={id} cluster={cluster} id={id} />)}
    </section>
  );
}
