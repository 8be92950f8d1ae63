// PLACEHOLDER until wt-observe merges
import type { EpochMs, NodeId } from './ids.js';
export interface NodeInventory { readonly node: NodeId; readonly at: EpochMs; readonly nics: readonly unknown[]; readonly volumes: readonly unknown[] }
