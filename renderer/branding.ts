/**
 * The console's branding (product name, vendor, logo, colours), shipped as assets/branding.json so a reseller
 * replaces one file. Validated with zod; every error names the field (`colors.primary: a #rrggbb colour`).
 */
import { z } from 'zod';

const colour = z.string().regex(/^#[0-9a-fA-F]{6}$/, 'a #rrggbb colour');

export const brandingSchema = z.strictObject({
  productName: z.string().trim().min(1, 'a non-empty name').max(60, 'at most 60 characters'),
  vendor: z.string().trim().min(1, 'a non-empty name').max(100, 'at most 100 characters'),
  /** Relative to the application's root, inside it: an SVG or PNG. */
  logo: z.string()
    .regex(/^(?!\/)(?![A-Za-z]:)(?!.*(^|\/)\.\.(\/|$))[A-Za-z0-9._/-]+\.(svg|png)$/, 'a relative path inside the application ending in .svg or .png'),
  colors: z.strictObject({
    primary: colour,
    accent: colour,
    background: colour,
    surface: colour,
    text: colour,
    ok: colour,
    warning: colour,
    critical: colour,
  }),
});
export type Branding = z.output<typeof brandingSchema>;

export interface BrandingIssue { readonly path: string; readonly message: string }
export type BrandingResult = { readonly ok: true; readonly value: Branding } | { readonly ok: false; readonly errors: readonly BrandingIssue[] };

/** The default Vigil branding; assets/branding.json ships the same (a unit test holds them together). */
export const DEFAULT_BRANDING: Branding = {
  productName: 'Vigil',
  vendor: 'The Vigil Project',
  logo: 'assets/logo.svg',
  colors: {
    primary: '#1f6feb', accent: '#8957e5', background: '#0d1117', surface: '#161b22',
    text: '#e6edf3', ok: '#2da44e', warning: '#d29922', critical: '#e5534b',
  },
};

/** Validates parsed branding JSON; every issue is `{path, message}` and `formatBrandingErrors` makes one line of each. */
export function parseBranding(json: unknown): BrandingResult {
  const r = brandingSchema.safeParse(json);
  if (r.success) return { ok: true, value: r.data };
  return {
    ok: false,
    errors: r.error.issues.flatMap((i) => {
      const at = i.path.map(String);
      // An unknown field is reported at its parent by zod: name the field itself.
      if (i.code === 'unrecognized_keys') return i.keys.map((k) => ({ path: [...at, k].join('.'), message: 'unknown field' }));
      return [{ path: at.length === 0 ? 'branding' : at.join('.'), message: i.message }];
    }),
  };
}

export function formatBrandingErrors(errors: readonly BrandingIssue[]): string {
  return errors.map((e) => `${e.path}: ${e.message}`).join('\n');
}
