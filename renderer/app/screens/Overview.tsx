/** The overview screen (to be built). */
import type { ReactNode } from 'react';

export function Overview(): ReactNode {
  return <section data-testid="screen-overview"></section>;
}
