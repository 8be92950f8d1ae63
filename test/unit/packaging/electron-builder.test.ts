// electron-builder.yml: valid by electron-builder's own schema check (the one `electron-builder` runs first, on
// app-builder-lib/scheme.json), the targets, files and agent bundle the installers need, and branded fields that
// follow assets/branding.json (scripts/brand.mjs checks them and rewrites them with --write).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';

const REPO = process.cwd();
const YML = resolve(REPO, 'electron-builder.yml');

/** electron-builder's validator: ajv over scheme.json, as `electron-builder` itself calls it before building. */
type Validate = (config: unknown, debugLogger: { isEnabled: boolean }) => Promise<void>;
const { validateConfiguration } = createRequire(resolve(REPO, 'package.json'))('app-builder-lib/out/util/config/config.js') as { validateConfiguration: Validate };

interface BuilderConfig {
  appId: string; productName: string; copyright: string;
  extraMetadata: { main: string; author: { name: string } };
  files: string[];
  extraResources: { from: string; to: string }[];
  win: { target: { target: string; arch: string[] }[]; icon: string };
  linux: { target: string[]; icon: string; vendor: string; maintainer: string };
}
const config = parseYaml(readFileSync(YML, 'utf8')) as BuilderConfig;

function brand(args: string[]): { code: number | null; out: string } {
  const r = spawnSync(process.execPath, [resolve(REPO, 'scripts/brand.mjs'), ...args], { cwd: REPO, encoding: 'utf8' });
  return { code: r.status, out: r.stdout + r.stderr };
}

test('electron-builder.yml passes electron-builder\'s own schema check, which does refuse a misspelt option', async () => {
  await validateConfiguration(config, { isEnabled: false });
  await assert.rejects(validateConfiguration({ ...config, nsis: { oneClik: false } }, { isEnabled: false }), /configuration\.nsis should be/);
  await assert.rejects(validateConfiguration({ ...config, appID: 'x' }, { isEnabled: false }), /unknown property 'appID'/);
});

test('electron-builder.yml: NSIS and portable for Windows, AppImage and deb for Linux; the center\'s files; the agent bundle', () => {
  assert.deepEqual(config.win.target.map((x) => x.target), ['nsis', 'portable']);
  assert.deepEqual(config.linux.target, ['AppImage', 'deb']);
  for (const entry of ['dist/main/**', 'dist/common/**', 'dist/ui/**', 'package.json']) assert.ok(config.files.includes(entry), entry);
  assert.deepEqual(config.extraResources.map((r) => [r.from, r.to]), [['dist/agent-bundle', 'agent']]);
  // The entry point is what tsc builds, the preload next to it (main.ts loads it from its own folder).
  assert.equal(config.extraMetadata.main, 'dist/main/electron/main.js');
  assert.ok(readFileSync(resolve(REPO, config.extraMetadata.main)).length > 0);
  assert.ok(readFileSync(resolve(REPO, 'dist/main/electron/preload.cjs')).length > 0);
  const scripts = (JSON.parse(readFileSync(resolve(REPO, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
  assert.match(scripts.dist!, /node scripts\/bundle-agent\.mjs && node scripts\/brand\.mjs --icon && electron-builder --config electron-builder\.yml/);
  assert.equal(scripts['bundle:agent'], 'node scripts/bundle-agent.mjs');
});

test('electron-builder.yml follows assets/branding.json', () => {
  const branding = JSON.parse(readFileSync(resolve(REPO, 'assets/branding.json'), 'utf8')) as { productName: string; vendor: string };
  assert.deepEqual([config.productName, config.copyright, config.extraMetadata.author.name, config.linux.vendor], [branding.productName, `Copyright © ${branding.vendor}`, branding.vendor, branding.vendor]);
  const check = brand([]);
  assert.equal(check.code, 0, check.out);
  assert.match(check.out, /follows assets\/branding\.json/);
});

test('brand.mjs: another branding is drift, named field by field; --write rewrites the yml (comments kept) and then it checks', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-brand-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const yml = join(dir, 'electron-builder.yml');
  copyFileSync(YML, yml);
  const branding = join(dir, 'branding.json');
  const ours = JSON.parse(readFileSync(resolve(REPO, 'assets/branding.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(branding, JSON.stringify({ ...ours, productName: 'Watchtower', vendor: 'Acme Corp.', logo: 'assets/watchtower.png' }));

  const drift = brand(['--yml', yml, '--branding', branding]);
  assert.equal(drift.code, 1);
  const named = [...drift.out.matchAll(/electron-builder\.yml: (\S+) is /g)].map((m) => m[1]);
  assert.deepEqual(named, ['productName', 'appId', 'copyright', 'extraMetadata.author.name', 'linux.vendor', 'linux.maintainer', 'win.icon', 'linux.icon']);
  assert.match(drift.out, /appId is "org\.thevigilproject\.vigil", .* makes it "org\.acmecorp\.watchtower"/);

  const written = brand(['--write', '--yml', yml, '--branding', branding]);
  assert.equal(written.code, 0, written.out);
  const rewritten = readFileSync(yml, 'utf8');
  assert.match(rewritten, /^# The monitoring center's installers/, 'comments kept');
  const after = parseYaml(rewritten) as BuilderConfig;
  assert.deepEqual([after.productName, after.appId, after.copyright, after.win.icon, after.linux.maintainer], ['Watchtower', 'org.acmecorp.watchtower', 'Copyright © Acme Corp.', 'assets/watchtower.png', 'Acme Corp.']);
  assert.deepEqual(after.files, config.files, 'the rest untouched');
  assert.equal(brand(['--yml', yml, '--branding', branding]).code, 0);
  assert.match(brand(['--write', '--yml', yml, '--branding', branding]).out, /already follows/);
});

test('brand.mjs: a branding it cannot make an appId from is refused naming the field', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-brand-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const branding = join(dir, 'branding.json');
  writeFileSync(branding, JSON.stringify({ productName: '监视器', vendor: 'Acme', logo: 'assets/logo.svg' }));
  const r = brand(['--branding', branding]);
  assert.equal(r.code, 1);
  assert.match(r.out, /branding\.json: productName: needs a latin letter first to make the appId/);
});

test('brand.mjs --icon: the branding\'s SVG logo drawn as the 512x512 PNG the yml names (system Chromium)', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-brand-icon-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'assets'));
  writeFileSync(join(dir, 'assets', 'logo.svg'), '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 8 8"><rect width="8" height="8" fill="#e5534b"/></svg>');
  copyFileSync(resolve(REPO, 'assets/branding.json'), join(dir, 'assets', 'branding.json'));
  copyFileSync(YML, join(dir, 'electron-builder.yml'));
  const r = spawnSync(process.execPath, [resolve(REPO, 'scripts/brand.mjs'), '--icon'], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  const png = readFileSync(join(dir, config.linux.icon));
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'a PNG');
  assert.equal(png.toString('latin1', 12, 16), 'IHDR');
  assert.deepEqual([png.readUInt32BE(16), png.readUInt32BE(20)], [512, 512]);
});
