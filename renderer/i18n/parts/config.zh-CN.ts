/** Simplified Chinese strings of the config screen: the same keys and placeholders as ./config.en.ts (checked at compile time). */
import type { configEn } from './config.en.js';

export const configZhCN = {
} as const satisfies { readonly [K in keyof typeof configEn]: string };
