/** The mirrors screen (to be built). */
import type { ReactNode } from 'react';

export function Mirrors({ cluster }: { readonly cluster: string }): ReactNode {
  return <section data-testid="screen-mirrors">{String(cluster)}</section>;
}
