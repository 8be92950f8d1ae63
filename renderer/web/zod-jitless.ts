/**
 * Imported first by the page's entry point, before any module that builds a zod schema. The page's CSP forbids
 * eval, and zod probes `new Function` when an object schema is built unless jitless is set by then; the refused
 * probe is logged as a CSP violation even though zod catches it. Module bodies run in import order, so setting it
 * in main.tsx's own body would come after every schema of the contract was built.
 */
import { z } from 'zod';

z.config({ jitless: true });
