/** Simplified Chinese strings of the overview screen: the same keys and placeholders as ./overview.en.ts (checked at compile time). */
import type { overviewEn } from './overview.en.js';

export const overviewZhCN = {
} as const satisfies { readonly [K in keyof typeof overviewEn]: string };
