/**
 * The body of a heartbeat packet, validated on receipt: a peer's status is believed only after its MAC checks
 * out AND its shape is right. The schema is tied to the model's NodeStatus type so the two cannot drift.
 */
import { z } from 'zod';
import { RESOURCE_STATES, type NodeStatus, type ResourceState } from '../model/index.js';

const id = z.string().min(1).max(63);
const versioned = <T extends z.ZodType>(value: T) => z.object({ value, version: z.number().int().min(0), by: id, at: z.number() });

const operationResult = z.object({
  operation: z.enum(['start', 'stop', 'monitor', 'probe', 'validate-all', 'meta-data']),
  rc: z.number().int(), at: z.number(), durationMs: z.number(), message: z.string().max(4096),
});

export const nodeStatusSchema = z.object({
  node: id,
  incarnation: z.number(),
  configDigest: z.string().max(64),
  groups: z.record(id, z.object({
    resources: z.record(id, z.object({
      state: z.enum(RESOURCE_STATES as [ResourceState, ...ResourceState[]]),
      lastMonitorAt: z.number().optional(),
      lastResult: operationResult.optional(),
    })),
    failures: z.number().int().min(0),
    lastFailureAt: z.number().optional(),
  })),
  intents: z.object({
    maintenance: versioned(z.boolean()).optional(),
    targets: z.record(id, versioned(id.nullable())),
    stopped: z.record(id, versioned(z.boolean())).optional(),
  }),
  leaving: z.boolean().optional(),
  publicNetwork: z.enum(['ok', 'lost']).optional(),
  mirrorsBehind: z.array(id).max(256).readonly().optional(),
});

export const heartbeatBodySchema = z.object({
  /** cluster id */ c: id,
  /** sender node */ n: id,
  /** addressee node and link: under the MAC, so a captured packet cannot be replayed to another node or link */
  a: id,
  l: id,
  /** sender's incarnation (agent start time, ms) */ i: z.number().int().min(0),
  /** sequence number, per link and addressee, from 1 */ s: z.number().int().min(1).max(0xffffffff),
  /** sent at (sender's clock, ms) */ t: z.number(),
  /** echo of the last packet received from the addressee: its seq and how long it was held */
  e: z.object({ s: z.number().int().min(1), h: z.number().min(0) }).optional(),
  /** the sender's status */ p: nodeStatusSchema,
});

export type HeartbeatBody = z.output<typeof heartbeatBodySchema>;

// Compile-time proof that what the schema accepts is a NodeStatus.
const _statusMatches: (s: z.output<typeof nodeStatusSchema>) => NodeStatus = (s) => s as NodeStatus;
void _statusMatches;
