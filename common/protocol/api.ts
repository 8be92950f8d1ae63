/**
 * The agent's API: what the CLI, the monitoring center and peer agents say to an agent, over a WebSocket (TLS on
 * the network, a root-only Unix socket locally). One schema per message, validated on both ends; every error
 * carries a stable code that callers match on.
 *
 * A session: the client sends `hello` (the versions it speaks, and a token unless a client certificate or an
 * Authorization header already identified it); the agent answers `welcome` (the version chosen, the caller's
 * role, the methods that role may call, the agent's capabilities) or `refused` and closes. Then `request`s, each
 * answered by one `response` with the same id, and `event`s for the topics the client subscribed to.
 */
import { z } from 'zod';
import {
  EVENT_KINDS, MIRROR_ACTIONS, USER_ROLES, roleAllows,
  type CheckResult, type ClusterEvent, type ClusterStatus, type CommitOutcome, type ConfigVersion, type EventKind, type MirrorStatus,
  type MirrorVerifyReport, type PerNodeResult, type PrepareResult, type Principal, type Role, type VersionRef,
} from '../model/index.js';
import type { AuditEntry, ClusterSnapshot, ConfigVersionSummary, SnapshotTopic, TopicData } from '../model/api.js';
import { SNAPSHOT_TOPICS } from '../model/api.js';

/** Versions this build speaks, newest last. 1 was the line-based local socket of the first releases. */
export const API_VERSIONS = [2] as const;
export const API_VERSION = 2;
/** The largest frame either side accepts: a snapshot of a large cluster fits; a flood does not. */
export const MAX_FRAME_BYTES = 1024 * 1024;

/** What an agent can do beyond the core methods; a client checks before offering a feature. */
export const CAPABILITIES = ['events', 'snapshot', 'mirror', 'config', 'alerts', 'audit', 'metrics', 'web'] as const;
export type Capability = (typeof CAPABILITIES)[number];

export const ERROR_CODES = [
  'BAD_FRAME',            // not JSON, too large, or not a message of this protocol
  'BAD_VERSION',          // no protocol version in common
  'UNAUTHENTICATED',      // no credentials given
  'BAD_CREDENTIALS',      // an unknown or malformed token
  'TOKEN_EXPIRED',
  'CERTIFICATE_REJECTED', // a client certificate that is expired, from another CA or of another cluster
  'FORBIDDEN',            // authenticated, but the role does not allow the method
  'RATE_LIMITED',         // too many requests on this connection; retry later
  'UNKNOWN_METHOD',
  'BAD_PARAMS',           // the parameters do not match the method's schema: the message names the field
  'NOT_FOUND',            // no such group, node, mirror, alert or configuration version
  'NOT_ELIGIBLE',         // the node cannot run the group now: the message says why
  'CONFLICT',             // the request contradicts the cluster's state (e.g. maintenance mode)
  'VALIDATION_FAILED',    // a configuration failed validation on some node: nothing was applied
  'STALE_GENERATION',     // the configuration changed since the caller read it
  'BUSY',                 // another configuration change is in progress
  'UNAVAILABLE',          // a peer needed for the request cannot be reached
  'TIMEOUT',
  'INTERNAL',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export class ProtocolError extends Error {
  constructor(readonly code: ErrorCode, message: string, readonly details?: unknown) {
    super(message);
    this.name = 'ProtocolError';
  }
}

const name = z.string().min(1).max(63);
const text = z.string().max(512 * 1024);
const generation = z.number().int().min(1);
const eventKind = z.enum(EVENT_KINDS as unknown as [EventKind, ...EventKind[]]);

/** A configuration version as agents hand it to each other. */
export const configVersionSchema = z.strictObject({
  generation, text, digest: z.string().regex(/^[0-9a-f]{64}$/, 'a sha-256 in hex'), author: z.string().max(200), at: z.number(),
  comment: z.string().max(1000), parent: z.number().int().min(1).nullable(),
});
const versionRef = z.strictObject({ generation, digest: z.string().regex(/^[0-9a-f]{64}$/, 'a sha-256 in hex') });

/**
 * Every method: its parameters' schema and the role it needs. `mirror` needs operator for everything but `status`
 * (see requiredRole).
 */
export const methods = {
  status: { role: 'viewer', params: z.strictObject({}) },
  snapshot: { role: 'viewer', params: z.strictObject({}) },
  subscribe: { role: 'viewer', params: z.strictObject({ topics: z.array(z.enum(SNAPSHOT_TOPICS)).min(1) }) },
  unsubscribe: { role: 'viewer', params: z.strictObject({ topics: z.array(z.enum(SNAPSHOT_TOPICS)).min(1) }) },
  events: {
    role: 'viewer',
    params: z.strictObject({
      since: z.number().optional(), until: z.number().optional(), kinds: z.array(eventKind).optional(),
      group: name.optional(), limit: z.number().int().min(1).max(10_000).optional(),
    }),
  },
  switchover: { role: 'operator', params: z.strictObject({ group: name, node: name.optional() }) },
  switchback: { role: 'operator', params: z.strictObject({ group: name }) },
  maintenance: { role: 'operator', params: z.strictObject({ on: z.boolean() }) },
  cleanup: { role: 'operator', params: z.strictObject({ group: name }) },
  /** Stops a group everywhere and keeps it stopped (an operator's intent, like Pacemaker's target-role=Stopped). */
  'group.stop': { role: 'operator', params: z.strictObject({ group: name }) },
  /** Lets a stopped group run again where the scheduler places it. */
  'group.start': { role: 'operator', params: z.strictObject({ group: name }) },
  /**
   * Mirror commands; `status` without a name lists every mirror this node takes part in. `thorough` (diff only):
   * both sides read every file again, as if neither had hashed any before.
   */
  mirror: {
    role: 'operator',
    params: z.strictObject({ action: z.enum(MIRROR_ACTIONS), name: name.optional(), thorough: z.boolean().optional() })
      .refine((p) => p.thorough === undefined || p.action === 'diff', { message: 'goes with the action diff only', path: ['thorough'] }),
  },
  'alerts.list': { role: 'viewer', params: z.strictObject({ limit: z.number().int().min(1).max(1000).optional() }) },
  'alerts.ack': { role: 'operator', params: z.strictObject({ id: z.string().min(1).max(100) }) },
  'alerts.test': { role: 'operator', params: z.strictObject({ channel: name.optional() }) },
  'audit.list': { role: 'admin', params: z.strictObject({ since: z.number().optional(), limit: z.number().int().min(1).max(10_000).optional() }) },
  'config.get': { role: 'viewer', params: z.strictObject({ generation: generation.optional() }) },
  'config.history': { role: 'viewer', params: z.strictObject({ limit: z.number().int().min(1).max(1000).optional() }) },
  /** Validate on every reachable node without changing anything. */
  'config.validate': { role: 'admin', params: z.strictObject({ text }) },
  /** Validate everywhere, then apply on all nodes or none. `baseGeneration` is the version the caller edited. */
  'config.propose': { role: 'admin', params: z.strictObject({ text, baseGeneration: generation, comment: z.string().max(1000).optional() }) },
  /** Commit an earlier version's text again, as a new generation. */
  'config.rollback': { role: 'admin', params: z.strictObject({ toGeneration: generation, baseGeneration: generation, comment: z.string().max(1000).optional() }) },
  // Between agents (role node): validation, the two phases of a change, and catching up after a node was down.
  'config.check': { role: 'node', params: z.strictObject({ text }) },
  'config.prepare': { role: 'node', params: z.strictObject({ version: configVersionSchema }) },
  'config.commit': { role: 'node', params: versionRef },
  'config.abort': { role: 'node', params: versionRef },
  'config.fetch': { role: 'node', params: z.strictObject({ generation: generation.optional() }) },
  'config.current': { role: 'node', params: z.strictObject({}) },
} as const satisfies Record<string, { role: Role; params: z.ZodType }>;

export type Method = keyof typeof methods;
export const METHODS = Object.keys(methods) as Method[];
export type Params<M extends Method> = z.output<(typeof methods)[M]['params']>;

/** The role a request needs: a method's own, except a mirror status which any viewer may read. */
export function requiredRole<M extends Method>(method: M, params: Params<M>): Role {
  if (method === 'mirror' && (params as Params<'mirror'>).action === 'status') return 'viewer';
  return methods[method].role;
}

/** The methods a role may call (shown in `welcome`, so a client can grey out what it may not do). */
export function methodsFor(role: Role): Method[] {
  return METHODS.filter((m) => roleAllows(role, methods[m].role) || (m === 'mirror' && roleAllows(role, 'viewer')));
}

/** A configuration change's outcome, and what it changed: applied live, or by reloading the agent's components. */
export type ConfigChangeResult = CommitOutcome & { readonly live: readonly string[]; readonly reload: readonly string[] };

/** What each method returns on success. */
export interface Results {
  status: ClusterStatus;
  snapshot: ClusterSnapshot;
  subscribe: { topics: SnapshotTopic[]; snapshot: ClusterSnapshot };
  unsubscribe: { topics: SnapshotTopic[] };
  events: ClusterEvent[];
  switchover: { group: string; target: string };
  switchback: { group: string; target: string };
  maintenance: { on: boolean };
  cleanup: { group: string };
  'group.stop': { group: string; stopped: boolean };
  'group.start': { group: string; stopped: boolean };
  mirror: { status: MirrorStatus[]; verify?: MirrorVerifyReport; message?: string };
  'alerts.list': TopicData['alerts'];
  'alerts.ack': TopicData['alerts'][number];
  'alerts.test': { channel: string; ok: boolean; error?: string }[];
  'audit.list': AuditEntry[];
  'config.get': ConfigVersion;
  'config.history': ConfigVersionSummary[];
  'config.validate': { nodes: PerNodeResult[] };
  'config.propose': ConfigChangeResult;
  'config.rollback': ConfigChangeResult;
  'config.check': CheckResult;
  'config.prepare': PrepareResult;
  'config.commit': { ok: true };
  'config.abort': { ok: true };
  'config.fetch': ConfigVersion;
  'config.current': VersionRef;
}

// ---- Messages ----

export const helloSchema = z.strictObject({
  type: z.literal('hello'),
  versions: z.array(z.number().int()).min(1).max(16),
  client: z.string().max(200),
  token: z.string().max(400).optional(),
});
export type Hello = z.output<typeof helloSchema>;

export interface Welcome {
  readonly type: 'welcome';
  readonly version: number;
  readonly node: string;
  readonly cluster: string;
  readonly agentVersion: string;
  readonly principal: Principal;
  readonly methods: readonly Method[];
  readonly capabilities: readonly Capability[];
}

/** Sent before the agent closes a session it will not serve. */
export interface Refused { readonly type: 'refused'; readonly error: { readonly code: ErrorCode; readonly message: string } }

export interface RequestMessage<M extends Method = Method> { readonly type: 'request'; readonly id: number; readonly method: M; readonly params: Params<M> }

export type ResponseMessage<M extends Method = Method> =
  | { readonly type: 'response'; readonly id: number; readonly ok: true; readonly result: Results[M] }
  | { readonly type: 'response'; readonly id: number; readonly ok: false; readonly error: { readonly code: ErrorCode; readonly message: string; readonly details?: unknown } };

/** A change of one topic, pushed to subscribers as it happens. `seq` grows by one per event on a session. */
export interface EventMessage<T extends SnapshotTopic = SnapshotTopic> {
  readonly type: 'event';
  readonly seq: number;
  readonly topic: T;
  readonly data: TopicData[T];
}

export type ClientMessage = Hello | RequestMessage;
export type ServerMessage = Welcome | Refused | ResponseMessage | EventMessage;

const requestEnvelope = z.strictObject({
  type: z.literal('request'),
  id: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  method: z.string().max(100),
  params: z.unknown().optional(),
});

function issues(error: z.ZodError, prefix: string): string {
  return error.issues.map((i) => `${[prefix, ...i.path.map(String)].filter(Boolean).join('.') || '(message)'}: ${i.message}`).join('; ');
}

function parseJson(frame: string): unknown {
  // Characters, not bytes: never more than the bytes, so a frame within the limit always passes here; the
  // transport (ws's maxPayload) holds the byte limit.
  if (frame.length > MAX_FRAME_BYTES) throw new ProtocolError('BAD_FRAME', `frame of ${frame.length} characters exceeds ${MAX_FRAME_BYTES}`);
  try {
    return JSON.parse(frame);
  } catch (e) {
    throw new ProtocolError('BAD_FRAME', `not JSON: ${(e as Error).message}`);
  }
}

/**
 * Decode one client message. Throws ProtocolError naming what is wrong; a request that names its id carries it
 * in `details.id`, so the error can be answered to that request.
 */
export function decodeClientMessage(frame: string): ClientMessage {
  const raw = parseJson(frame);
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ProtocolError('BAD_FRAME', 'a message is a JSON object');
  const type = (raw as { type?: unknown }).type;
  if (type === 'hello') {
    const hello = helloSchema.safeParse(raw);
    if (!hello.success) throw new ProtocolError('BAD_FRAME', `not a hello: ${issues(hello.error, '')}`);
    return hello.data;
  }
  if (type !== 'request') throw new ProtocolError('BAD_FRAME', `unknown message type ${JSON.stringify(type)} (expected "hello" or "request")`);
  const env = requestEnvelope.safeParse(raw);
  if (!env.success) throw new ProtocolError('BAD_FRAME', `not a request: ${issues(env.error, '')}`, idOf(raw));
  const { id, method } = env.data;
  if (!(METHODS as string[]).includes(method)) {
    throw new ProtocolError('UNKNOWN_METHOD', `unknown method ${JSON.stringify(method)} (known: ${METHODS.join(', ')})`, { id });
  }
  const params = methods[method as Method].params.safeParse(env.data.params ?? {});
  if (!params.success) throw new ProtocolError('BAD_PARAMS', issues(params.error, 'params'), { id });
  return { type: 'request', id, method: method as Method, params: params.data } as RequestMessage;
}

function idOf(raw: object): { id: number } | undefined {
  const id = (raw as { id?: unknown }).id;
  return typeof id === 'number' && Number.isSafeInteger(id) && id >= 0 ? { id } : undefined;
}

/** The id a decode error belongs to, or undefined when the message had none. */
export function errorRequestId(e: ProtocolError): number | undefined {
  const details = e.details as { id?: unknown } | undefined;
  return typeof details?.id === 'number' ? details.id : undefined;
}

const welcomeSchema = z.object({
  type: z.literal('welcome'), version: z.number().int(), node: z.string(), cluster: z.string(), agentVersion: z.string(),
  principal: z.object({ name: z.string(), role: z.enum([...USER_ROLES, 'node']), via: z.enum(['token', 'certificate', 'local']) }),
  methods: z.array(z.string()), capabilities: z.array(z.string()),
});
const errorSchema = z.object({ code: z.enum(ERROR_CODES), message: z.string(), details: z.unknown().optional() });
const serverSchema = z.union([
  welcomeSchema,
  z.object({ type: z.literal('refused'), error: errorSchema }),
  z.object({ type: z.literal('response'), id: z.number().int(), ok: z.literal(true), result: z.unknown() }),
  z.object({ type: z.literal('response'), id: z.number().int(), ok: z.literal(false), error: errorSchema }),
  z.object({ type: z.literal('event'), seq: z.number().int(), topic: z.enum(SNAPSHOT_TOPICS), data: z.unknown() }),
]);

/**
 * Decode a message from an agent. The envelope is checked; a result's and an event's body are trusted to the
 * agent that produced them, which speaks the same version.
 */
export function decodeServerMessage(frame: string): ServerMessage {
  const raw = parseJson(frame);
  const parsed = serverSchema.safeParse(raw);
  if (!parsed.success) throw new ProtocolError('BAD_FRAME', `agent sent a message that is not of this protocol: ${issues(parsed.error, '')}`);
  return parsed.data as ServerMessage;
}

export function encodeMessage(message: ClientMessage | ServerMessage): string {
  return JSON.stringify(message);
}
