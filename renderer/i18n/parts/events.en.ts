/** English strings of the events screen (merged into ../en.ts; keys prefixed 'events.'). */
export const eventsEn = {
} as const;
