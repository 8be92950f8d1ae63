/** The cluster screen (to be built). */
import type { ReactNode } from 'react';

export function ClusterView({ cluster }: { readonly cluster: string }): ReactNode {
  return <section data-testid="screen-cluster">{String(cluster)}</section>;
}
