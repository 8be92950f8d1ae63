/** Simplified Chinese strings of the mirrors screen: the same keys and placeholders as ./mirrors.en.ts (checked at compile time). */
import type { mirrorsEn } from './mirrors.en.js';

export const mirrorsZhCN = {
} as const satisfies { readonly [K in keyof typeof mirrorsEn]: string };
