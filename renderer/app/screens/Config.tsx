/** The config screen (to be built). */
import type { ReactNode } from 'react';

export function Config({ cluster }: { readonly cluster: string }): ReactNode {
  return <section data-testid="screen-config">{String(cluster)}</section>;
}
