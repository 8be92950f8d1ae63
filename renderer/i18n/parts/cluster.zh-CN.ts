/** Simplified Chinese strings of the cluster screen: the same keys and placeholders as ./cluster.en.ts (checked at compile time). */
import type { clusterEn } from './cluster.en.js';

export const clusterZhCN = {
} as const satisfies { readonly [K in keyof typeof clusterEn]: string };
