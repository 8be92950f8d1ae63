/** The events screen (to be built). */
import type { ReactNode } from 'react';

export function Events({ cluster }: { readonly cluster?: string }): ReactNode {
  return <section data-testid="screen-events">{String(cluster)}</section>;
}
