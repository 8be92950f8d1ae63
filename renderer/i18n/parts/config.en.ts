/** English strings of the config screen (merged into ../en.ts; keys prefixed 'config.'). */
export const configEn = {
} as const;
