/** The page's entry point (bundled by scripts/build-ui.mjs into dist/ui/app.js). */
// First: it configures zod before any schema is built (see there).
import './zod-jitless.js';
import { boot } from '../app/boot.js';

const container = document.getElementById('root');
if (container === null) throw new Error('index.html has no #root');
try {
  boot(container);
} catch (e) {
  container.textContent = `The console could not start: ${e instanceof Error ? e.message : String(e)}`;
}
