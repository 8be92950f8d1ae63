/**
 * A compact, hand-writable description of a cluster's state ("what if alpha is down and beta runs web?"),
 * expanded into the scheduler's ObservedState. Golden scenarios and `vigil simulate` both use it.
 */
import { z } from 'zod';
import type { ClusterConfig } from '../../common/config/schema.js';
import { configDigest } from '../../common/config/digest.js';
import { fieldPath } from '../../common/config/load.js';
import { RESOURCE_STATES, type GroupStatus, type Intents, type NodeStatus, type ObservedState, type PeerView, type ResourceState, type ResourceStatus, type Versioned } from '../../common/model/index.js';

const state = z.enum(RESOURCE_STATES as [ResourceState, ...ResourceState[]]);
const resource = z.union([state, z.strictObject({ state, lastMonitorAt: z.number().optional() })]);
const group = z.union([
  z.record(z.string(), resource),
  z.strictObject({ resources: z.record(z.string(), resource), failures: z.number().int().min(0).default(0), lastFailureAt: z.number().optional() }),
]);
const versioned = <T extends z.ZodType>(value: T) => z.strictObject({ value, version: z.number().int().min(1), by: z.string(), at: z.number().default(0) });
const intents = z.strictObject({
  maintenance: versioned(z.boolean()).optional(),
  targets: z.record(z.string(), versioned(z.string().nullable())).default({}),
  /** Groups an operator stopped (`vigil group stop`). */
  stopped: z.record(z.string(), versioned(z.boolean())).optional(),
});
const node = z.strictObject({
  alive: z.boolean().default(true),
  aliveSince: z.number().optional(),
  /**
   * Never heard from since this node started (no status known). Defaults to true for a node that is down
   * and lists no groups, false otherwise: a down node that lists groups was seen before it was lost.
   */
  silent: z.boolean().optional(),
  /** The node's agent is shutting down cleanly. */
  leaving: z.boolean().default(false),
  /** What the node's ping targets say (absent: none configured). */
  publicNetwork: z.enum(['ok', 'lost']).optional(),
  /** Alive, but heard only over public links. */
  publicOnly: z.boolean().default(false),
  /** Mirrors this node sends whose target is not level yet. */
  mirrorsBehind: z.array(z.string()).default([]),
  incarnation: z.number().default(0),
  configDigest: z.string().optional(),
  groups: z.record(z.string(), group).default({}),
  intents: intents.optional(),
});

export const whatIfSchema = z.strictObject({
  description: z.string().optional(),
  now: z.number(),
  local: z.string(),
  startedAt: z.number().default(0),
  /** When the local node's ping targets answered again after a loss (absent: never lost). */
  publicNetworkBackAt: z.number().optional(),
  nodes: z.record(z.string(), node),
  /** Cluster-wide intents, as merged on the local node. */
  intents: intents.default({ targets: {} }),
});
export type WhatIf = z.input<typeof whatIfSchema>;

export class WhatIfError extends Error {
  readonly code = 'VIGIL_WHATIF_INVALID';
}

/**
 * Expand a what-if into the scheduler's input. Unlisted groups and resources are "stopped" on peers and on
 * the local node alike, and monitors are taken as just done (at `now`) unless the file says otherwise, so a
 * scenario lists only what matters to it.
 */
export function expandWhatIf(config: ClusterConfig, input: unknown): { observed: ObservedState; now: number } {
  const parsed = whatIfSchema.safeParse(input);
  if (!parsed.success) {
    throw new WhatIfError(parsed.error.issues.map((i) => `${fieldPath(i.path) || '(top)'}: ${i.message}`).join('\n'));
  }
  const w = parsed.data;
  const known = new Set(config.nodes.map((n) => n.id));
  for (const id of [w.local, ...Object.keys(w.nodes)]) {
    if (!known.has(id)) throw new WhatIfError(`nodes.${id}: not a node of the configuration (${[...known].join(', ')})`);
  }
  const digest = configDigest(config);
  const statusOf = (id: string, n: z.output<typeof node>): NodeStatus => {
    const groups: Record<string, GroupStatus> = {};
    for (const g of config.groups) {
      const given = normalizeGroup(n.groups[g.id]);
      const statuses: Record<string, ResourceStatus> = {};
      for (const r of g.resources) {
        const entry = given.resources[r.id] ?? 'stopped';
        statuses[r.id] = typeof entry === 'string' ? { state: entry, lastMonitorAt: w.now } : { state: entry.state, lastMonitorAt: entry.lastMonitorAt ?? w.now };
      }
      groups[g.id] = given.lastFailureAt === undefined
        ? { resources: statuses, failures: given.failures }
        : { resources: statuses, failures: given.failures, lastFailureAt: given.lastFailureAt };
      for (const rid of Object.keys(given.resources)) {
        if (!g.resources.some((r) => r.id === rid)) throw new WhatIfError(`nodes.${id}.groups.${g.id}.${rid}: not a resource of group ${g.id}`);
      }
    }
    for (const gid of Object.keys(n.groups)) {
      if (!config.groups.some((g) => g.id === gid)) throw new WhatIfError(`nodes.${id}.groups.${gid}: not a group of the configuration`);
    }
    const status: NodeStatus = { node: id, incarnation: n.incarnation, configDigest: n.configDigest ?? digest, groups, intents: toIntents(n.intents ?? w.intents) };
    return {
      ...status, ...(n.leaving ? { leaving: true } : {}), ...(n.publicNetwork ? { publicNetwork: n.publicNetwork } : {}),
      ...(n.mirrorsBehind.length > 0 ? { mirrorsBehind: n.mirrorsBehind } : {}),
    };
  };
  const localNode = w.nodes[w.local] ?? node.parse({});
  const peers: Record<string, PeerView> = {};
  for (const { id } of config.nodes) {
    if (id === w.local) continue;
    const n = w.nodes[id];
    if (n === undefined) { peers[id] = { alive: false }; continue; }
    const view: PeerView = { alive: n.alive, ...(n.aliveSince === undefined ? {} : { aliveSince: n.aliveSince }), ...(n.publicOnly ? { publicOnly: true } : {}) };
    const silent = n.silent ?? (!n.alive && Object.keys(n.groups).length === 0);
    peers[id] = silent ? view : { ...view, status: statusOf(id, n) };
  }
  const observed: ObservedState = {
    localNode: w.local, startedAt: w.startedAt, local: statusOf(w.local, { ...localNode, intents: w.intents }), peers,
    ...(w.publicNetworkBackAt === undefined ? {} : { publicNetworkBackAt: w.publicNetworkBackAt }),
  };
  return { observed, now: w.now };
}

type GroupEntry = z.output<typeof group>;
type ResourceEntry = z.output<typeof resource>;

/** A group is written either as {resource: state} or with its failure count: one shape for the rest. */
function normalizeGroup(entry: GroupEntry | undefined): { resources: Record<string, ResourceEntry>; failures: number; lastFailureAt?: number } {
  if (entry === undefined) return { resources: {}, failures: 0 };
  if ('resources' in entry && typeof entry.resources === 'object' && 'failures' in entry) {
    const full = entry as { resources: Record<string, ResourceEntry>; failures: number; lastFailureAt?: number };
    return full;
  }
  return { resources: entry as Record<string, ResourceEntry>, failures: 0 };
}

function toIntents(i: z.output<typeof intents>): Intents {
  const targets: Record<string, Versioned<string | null>> = {};
  for (const [g, t] of Object.entries(i.targets)) targets[g] = t;
  return { ...(i.maintenance === undefined ? {} : { maintenance: i.maintenance }), targets, ...(i.stopped === undefined ? {} : { stopped: i.stopped }) };
}
