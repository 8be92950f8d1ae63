/** The wizard screen (to be built). */
import type { ReactNode } from 'react';

export function Wizard(): ReactNode {
  return <section data-testid="screen-wizard"></section>;
}
