// Branding: the shipped assets/branding.json is valid and is the default; a bad file is refused naming the field.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { DEFAULT_BRANDING, formatBrandingErrors, parseBranding } from '../../../renderer/branding.js';

const root = new URL('../../../../', import.meta.url); // dist/test/unit/renderer -> repository root

test('the shipped assets/branding.json is valid, is the default branding, and its logo exists', () => {
  const r = parseBranding(JSON.parse(readFileSync(new URL('assets/branding.json', root), 'utf8')));
  assert.ok(r.ok, r.ok ? '' : formatBrandingErrors(r.errors));
  assert.deepEqual(r.value, DEFAULT_BRANDING);
  assert.ok(existsSync(new URL(r.value.logo, root)), r.value.logo);
});

test('errors name the field', () => {
  const bad = (patch: Record<string, unknown>): string => {
    const r = parseBranding({ ...DEFAULT_BRANDING, ...patch });
    assert.equal(r.ok, false);
    return r.ok ? '' : formatBrandingErrors(r.errors);
  };
  assert.equal(bad({ colors: { ...DEFAULT_BRANDING.colors, primary: 'blue' } }), 'colors.primary: a #rrggbb colour');
  assert.match(bad({ productName: '  ' }), /^productName: a non-empty name$/);
  assert.match(bad({ logo: '../../etc/passwd.png' }), /^logo: a relative path inside/);
  assert.match(bad({ logo: '/abs/logo.svg' }), /^logo: /);
  assert.match(bad({ vendor: undefined }), /^vendor: /);
  assert.equal(bad({ slogan: 'x' }), 'slogan: unknown field');
  const { warning: _w, ...colors } = DEFAULT_BRANDING.colors;
  assert.match(bad({ colors }), /^colors\.warning: /);
  const none = parseBranding(null);
  assert.equal(none.ok ? '' : formatBrandingErrors(none.errors).split(':')[0], 'branding');
});
