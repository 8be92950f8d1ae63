/** Simplified Chinese strings of the events screen: the same keys and placeholders as ./events.en.ts (checked at compile time). */
import type { eventsEn } from './events.en.js';

export const eventsZhCN = {
} as const satisfies { readonly [K in keyof typeof eventsEn]: string };
