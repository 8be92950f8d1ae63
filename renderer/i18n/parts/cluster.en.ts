/** English strings of the cluster screen (merged into ../en.ts; keys prefixed 'cluster.'). */
export const clusterEn = {
} as const;
