#!/usr/bin/env node
// One branding file: electron-builder.yml's branded fields must follow assets/branding.json. By default this
// checks them and exits 1 naming each field that differs; --write rewrites them (comments kept); --icon renders the
// branding's SVG logo to the 512x512 PNG the installers use (dist/brand/icon.png, with the system's Chromium).
// Usage: node scripts/brand.mjs [--write] [--icon] [--yml FILE] [--branding FILE]
import { Buffer } from 'node:buffer';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, extname, resolve } from 'node:path';
import { isDeepStrictEqual, parseArgs } from 'node:util';
import { parseDocument } from 'yaml';

const { values } = parseArgs({
  options: {
    write: { type: 'boolean', default: false }, icon: { type: 'boolean', default: false },
    yml: { type: 'string', default: 'electron-builder.yml' }, branding: { type: 'string', default: 'assets/branding.json' },
  },
});

/** Where --icon puts the rendered logo (electron-builder wants a PNG of at least 256x256 for Windows and Linux). */
const RENDERED_ICON = 'dist/brand/icon.png';
const ICON_SIZE = 512;

function fail(message) {
  console.error(`brand: ${message}`);
  process.exit(1);
}

const branding = JSON.parse(readFileSync(values.branding, 'utf8'));
for (const field of ['productName', 'vendor', 'logo']) {
  if (typeof branding[field] !== 'string' || branding[field].trim() === '') fail(`${values.branding}: ${field}: a non-empty string`);
}

/** Reverse-DNS from the branding alone, so a rebranded build never shares an id (and an install) with ours. */
const idPart = (text, field) => {
  const part = text.toLowerCase().replace(/[^a-z0-9]/g, '');
  if (part === '' || !/^[a-z]/.test(part)) fail(`${values.branding}: ${field}: needs a latin letter first to make the appId`);
  return part;
};
const icon = extname(branding.logo).toLowerCase() === '.png' ? branding.logo : RENDERED_ICON;

/** Each branded field of the yml, by path, and the value branding.json makes it. */
const expected = [
  [['productName'], branding.productName],
  [['appId'], `org.${idPart(branding.vendor, 'vendor')}.${idPart(branding.productName, 'productName')}`],
  [['copyright'], `Copyright © ${branding.vendor}`],
  [['extraMetadata', 'author', 'name'], branding.vendor],
  [['linux', 'vendor'], branding.vendor],
  [['linux', 'maintainer'], branding.vendor],
  [['win', 'icon'], icon],
  [['linux', 'icon'], icon],
];

const doc = parseDocument(readFileSync(values.yml, 'utf8'));
if (doc.errors.length > 0) fail(`${values.yml}: ${doc.errors[0].message}`);
const drift = expected.filter(([path, value]) => !isDeepStrictEqual(doc.getIn(path), value));

if (values.write) {
  for (const [path, value] of drift) doc.setIn(path, value);
  if (drift.length > 0) writeFileSync(values.yml, doc.toString({ lineWidth: 0 }));
  console.log(drift.length === 0 ? `brand: ${values.yml} already follows ${values.branding}` : `brand: ${values.yml}: rewrote ${drift.map(([p]) => p.join('.')).join(', ')}`);
} else if (drift.length > 0) {
  for (const [path, value] of drift) console.error(`brand: ${values.yml}: ${path.join('.')} is ${JSON.stringify(doc.getIn(path))}, ${values.branding} makes it ${JSON.stringify(value)}`);
  fail(`run node scripts/brand.mjs --write`);
} else {
  console.log(`brand: ${values.yml} follows ${values.branding}`);
}

if (values.icon && icon === RENDERED_ICON) await renderIcon(resolve(dirname(resolve(values.branding)), '..', branding.logo), RENDERED_ICON);

/** The SVG drawn by a headless Chromium at ICON_SIZE on a transparent background. */
async function renderIcon(svgFile, pngFile) {
  const { chromium } = await import('playwright-core');
  const executablePath = process.env.CHROMIUM_PATH ?? ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].find(existsSync);
  if (executablePath === undefined) fail('--icon needs Chromium (set CHROMIUM_PATH)');
  const svg = readFileSync(svgFile, 'utf8');
  const browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
  try {
    const page = await browser.newPage({ viewport: { width: ICON_SIZE, height: ICON_SIZE } });
    const src = `data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}`;
    await page.setContent(`<html><body style="margin:0;background:transparent"><img src="${src}" width="${ICON_SIZE}" height="${ICON_SIZE}"></body></html>`);
    // Runs in the page, where `document` exists.
    await page.waitForFunction('document.images[0]?.complete');
    mkdirSync(dirname(pngFile), { recursive: true });
    writeFileSync(pngFile, await page.screenshot({ omitBackground: true, clip: { x: 0, y: 0, width: ICON_SIZE, height: ICON_SIZE } }));
    console.log(`brand: ${pngFile} rendered from ${svgFile}`);
  } finally {
    await browser.close();
  }
}
