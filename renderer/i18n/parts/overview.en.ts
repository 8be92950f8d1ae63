/** English strings of the overview screen (merged into ../en.ts; keys prefixed 'overview.'). */
export const overviewEn = {
} as const;
