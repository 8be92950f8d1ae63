#!/usr/bin/env node
// Builds the console's page into dist/ui: the React app bundled by esbuild from the TypeScript sources (tsc has
// type-checked them already), index.html, the styles, and the branding file with the files it names. Both shells
// serve this folder: Electron loads dist/ui/index.html, center:web serves it over HTTP.
// Usage: node scripts/build-ui.mjs [--out DIR] [--branding FILE]
import { build } from 'esbuild';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { out: { type: 'string', default: 'dist/ui' }, branding: { type: 'string', default: 'assets/branding.json' } } });
const out = resolve(values.out);
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

await build({
  entryPoints: ['renderer/web/main.tsx'],
  bundle: true, format: 'iife', platform: 'browser', target: ['chrome120'],
  outfile: join(out, 'app.js'), sourcemap: true, minify: true, jsx: 'automatic', legalComments: 'linked',
  define: { 'process.env.NODE_ENV': '"production"' },
  logLevel: 'warning',
});
copyFileSync('renderer/index.html', join(out, 'index.html'));
// One stylesheet: the shared base, then each screen's own file (renderer/styles/*.css) in name order.
const screenStyles = existsSync('renderer/styles') ? readdirSync('renderer/styles').filter((f) => f.endsWith('.css')).sort() : [];
writeFileSync(join(out, 'styles.css'), [readFileSync('renderer/styles.css', 'utf8'), ...screenStyles.map((f) => readFileSync(join('renderer/styles', f), 'utf8'))].join('\n'));

// The branding goes next to the page as a classic script (a file:// page in Electron may not fetch() a JSON file),
// with the logo it names (a relative path inside the application). The page validates it like any input.
const branding = JSON.parse(readFileSync(values.branding, 'utf8'));
writeFileSync(join(out, 'branding.js'), `window.vigilBranding = ${JSON.stringify(branding)};\n`);
const logoFrom = resolve(dirname(resolve(values.branding)), '..', branding.logo);
mkdirSync(dirname(join(out, branding.logo)), { recursive: true });
copyFileSync(logoFrom, join(out, branding.logo));
console.log(`build-ui: ${out}`);
