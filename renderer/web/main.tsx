/** The page's entry point (bundled by scripts/build-ui.mjs into dist/ui/app.js). */
import { z } from 'zod';
import { boot } from '../app/boot.js';

// The page's CSP forbids eval; zod would otherwise try `new Function` first (and log the refusal).
z.config({ jitless: true });

const container = document.getElementById('root');
if (container === null) throw new Error('index.html has no #root');
try {
  boot(container);
} catch (e) {
  container.textContent = `The console could not start: ${e instanceof Error ? e.message : String(e)}`;
}
