/** English strings of the mirrors screen (merged into ../en.ts; keys prefixed 'mirrors.'). */
export const mirrorsEn = {
} as const;
