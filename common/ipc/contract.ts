/**
 * The monitoring center's IPC contract, defined once: every channel the UI may invoke (its request schema and the
 * type of its result) and every push from the center to the UI. The Electron handlers, the preload bridge, the
 * web bridge's WebSocket and the renderer's test mock all derive from these types, and both bridges validate every
 * request with these schemas: the UI is not trusted to send what its types say.
 *
 * Results cross the bridge as values (`{ok, result}` or `{ok: false, error: {code, message}}`) rather than thrown
 * errors, because Electron flattens a thrown error to its message and the code would be lost.
 */
import { z } from 'zod';
import { methods, type Method, type Results, type Welcome } from '../protocol/api.js';
import type { ClusterSnapshot } from '../model/api.js';
import type { ClusterStatus } from '../model/index.js';

// ---- the values the channels carry -------------------------------------------------------------------------------

const id = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, 'letters, digits, ".", "_" or "-", at most 63');
const pem = z.string().min(1).max(64 * 1024);

export const sshHopSchema = z.strictObject({
  host: z.string().min(1).max(253),
  port: z.number().int().min(1).max(65535).default(22),
  username: z.string().min(1).max(64),
  password: z.string().max(1024).optional(),
  privateKey: pem.optional(),
  passphrase: z.string().max(1024).optional(),
});

/** Credentials given inline (the cluster's CA and a token or client certificate), as `vigil init` printed them. */
export const inlineCredentialsSchema = z.strictObject({
  ca: pem,
  token: z.string().min(1).max(1024).optional(),
  cert: pem.optional(),
  key: pem.optional(),
  servername: z.string().min(1).max(253).optional(),
}).refine((c) => c.token !== undefined || (c.cert !== undefined && c.key !== undefined), {
  message: 'a token, or a client certificate and its key', path: ['token'],
});

/**
 * A reference the center resolves itself (e.g. a folder holding trust.pem and token), so the UI never has to
 * hold the secrets.
 */
export const credentialsRefSchema = z.strictObject({ ref: z.string().min(1).max(4096) });

export const clusterConfigSchema = z.strictObject({
  id,
  name: z.string().min(1).max(200),
  nodes: z.array(z.strictObject({
    id,
    url: z.url({ protocol: /^wss$/, error: 'a wss:// URL' }),
    via: sshHopSchema.optional(),
  })).min(1).max(64),
  credentials: z.union([inlineCredentialsSchema, credentialsRefSchema]),
});
export type ClusterConfig = z.output<typeof clusterConfigSchema>;
export type ClusterConfigInput = z.input<typeof clusterConfigSchema>;

/**
 * The agent methods the UI may call through the center. Agent-to-agent methods (role `node`) are left out, and so
 * are subscribe/unsubscribe: the center's connection owns the subscriptions it keeps the snapshot current with.
 */
export const CENTER_METHODS = (Object.keys(methods) as Method[]).filter(
  (m) => methods[m].role !== 'node' && m !== 'subscribe' && m !== 'unsubscribe',
) as CenterMethod[];
export type CenterMethod = Exclude<Method, 'subscribe' | 'unsubscribe' | { [M in Method]: (typeof methods)[M]['role'] extends 'node' ? M : never }[Method]>;

const target = { cluster: id, node: id };
/** One option per method, each with that method's own params schema from the API (not redeclared here). */
const agentCallSchema = z.discriminatedUnion('method', CENTER_METHODS.map((m) =>
  z.strictObject({ ...target, method: z.literal(m), params: methods[m].params }),
) as unknown as [AgentCallOption<CenterMethod>, ...AgentCallOption<CenterMethod>[]]);
type AgentCallOption<M extends CenterMethod> = z.ZodObject<{
  cluster: typeof id; node: typeof id; method: z.ZodLiteral<M>; params: (typeof methods)[M]['params'];
}, z.core.$strict>;

/** What the center knows of a node; what main/core's NodeView must remain assignable to. */
export interface CenterNodeView {
  readonly node: string;
  readonly url: string;
  readonly viaSsh: boolean;
  readonly state: 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'refused' | 'closed';
  /** `code` is an agent ErrorCode or one of the center's (HOST_KEY_UNKNOWN, TLS_REJECTED, ...). */
  readonly lastError?: { readonly code: string; readonly message: string; readonly details?: unknown };
  readonly welcome?: Welcome;
  readonly snapshot?: ClusterSnapshot;
  readonly status?: ClusterStatus;
}
export interface CenterClusterView { readonly id: string; readonly name: string; readonly nodes: readonly CenterNodeView[] }

/** What the center could not do at start-up (a remembered cluster it could not read or reconnect), by cluster and field. */
export interface CenterProblem {
  readonly cluster?: string;
  readonly field?: string;
  readonly message: string;
}

export type CenterChange =
  | { readonly kind: 'cluster-added' | 'cluster-removed'; readonly cluster: string }
  | { readonly kind: 'node'; readonly cluster: string; readonly node: string; readonly what: 'state' | 'snapshot' | 'event'; readonly view: CenterNodeView };

// ---- the channels ------------------------------------------------------------------------------------------------

/** Carries a result type without a runtime value: the contract is a value so its channel names exist at run time. */
interface ResultOf<T> { readonly __result: T }
const result = <T>(): ResultOf<T> => ({}) as ResultOf<T>;

const nodeRef = z.strictObject(target);

export const invokeChannels = {
  'clusters.list': { params: z.strictObject({}), result: result<CenterClusterView[]>() },
  'clusters.add': { params: clusterConfigSchema, result: result<CenterClusterView>() },
  'clusters.remove': { params: z.strictObject({ cluster: id }), result: result<{ removed: boolean }>() },
  'agent.call': { params: agentCallSchema, result: result<Results[CenterMethod]>() },
  /** The operator accepts the SSH host key HOST_KEY_UNKNOWN showed for that node (details.fingerprint). */
  'hostKey.accept': { params: z.strictObject({ ...target, fingerprint: z.string().regex(/^SHA256:[A-Za-z0-9+/]{43}$/, 'an OpenSSH SHA256: fingerprint') }), result: result<null>() },
  'connection.retry': { params: nodeRef, result: result<null>() },
  /** What the center could not restore at start-up; a cluster's problems go once it is removed. */
  'center.problems': { params: z.strictObject({}), result: result<CenterProblem[]>() },
} as const satisfies Record<string, { params: z.ZodType; result: ResultOf<unknown> }>;

export const pushChannels = {
  'center.change': result<CenterChange>(),
} as const satisfies Record<string, ResultOf<unknown>>;

export type InvokeChannel = keyof typeof invokeChannels;
export type PushChannel = keyof typeof pushChannels;
export const INVOKE_CHANNELS = Object.keys(invokeChannels) as InvokeChannel[];
export const PUSH_CHANNELS = Object.keys(pushChannels) as PushChannel[];

/** What the UI sends (defaults may be left out) and what a handler receives (validated, defaults filled in). */
export type InvokeInput<C extends InvokeChannel> = z.input<(typeof invokeChannels)[C]['params']>;
export type InvokeParams<C extends InvokeChannel> = z.output<(typeof invokeChannels)[C]['params']>;
export type InvokeResult<C extends InvokeChannel> = (typeof invokeChannels)[C]['result']['__result'];
export type PushData<P extends PushChannel> = (typeof pushChannels)[P]['__result'];

/** A validated request: the union over channels, so a switch on `channel` narrows `params`. */
export type InvokeRequest = { [C in InvokeChannel]: { readonly channel: C; readonly params: InvokeParams<C> } }[InvokeChannel];

// ---- results and errors ------------------------------------------------------------------------------------------

export interface IpcErrorInfo { readonly code: string; readonly message: string; readonly details?: unknown }
export type IpcResult<T> = { readonly ok: true; readonly result: T } | { readonly ok: false; readonly error: IpcErrorInfo };

export const IPC_ERROR_CODES = ['UNKNOWN_CHANNEL', 'BAD_PARAMS', 'UNAUTHENTICATED', 'BAD_FRAME', 'INTERNAL'] as const;
export type IpcErrorCode = (typeof IPC_ERROR_CODES)[number];

export class IpcError extends Error {
  constructor(readonly code: IpcErrorCode, message: string, readonly details?: unknown) {
    super(message);
    this.name = 'IpcError';
  }
}

export function isInvokeChannel(channel: unknown): channel is InvokeChannel {
  return typeof channel === 'string' && Object.prototype.hasOwnProperty.call(invokeChannels, channel);
}

/**
 * Validates a request: an unknown channel is refused naming it; bad params are refused naming the first bad
 * field (`nodes.0.url: a wss:// URL`), in the message and as `details.path`.
 */
export function parseRequest(channel: unknown, params: unknown): InvokeRequest {
  if (!isInvokeChannel(channel)) {
    throw new IpcError('UNKNOWN_CHANNEL', `unknown channel ${JSON.stringify(channel)} (known: ${INVOKE_CHANNELS.join(', ')})`);
  }
  const parsed = invokeChannels[channel].params.safeParse(params ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const path = issue.path.map(String).join('.');
    throw new IpcError('BAD_PARAMS', `${channel}: ${path === '' ? 'params' : path}: ${issue.message}`, { path });
  }
  return { channel, params: parsed.data } as InvokeRequest;
}

// ---- the bridges -------------------------------------------------------------------------------------------------

/** The one object the preload exposes (and a renderer test mocks): invoke by channel, listen to pushes. */
export interface CenterBridge {
  invoke<C extends InvokeChannel>(channel: C, params: InvokeInput<C>): Promise<IpcResult<InvokeResult<C>>>;
  /** Returns the function that stops listening. */
  on<P extends PushChannel>(channel: P, listener: (data: PushData<P>) => void): () => void;
}

/** The web bridge's close codes, in the private range so a page tells a refusal from a network drop. */
export const WEB_CLOSE_UNAUTHENTICATED = 4401;
export const WEB_CLOSE_BAD_FRAME = 4400;

/** The web bridge's frames (WebSocket /ipc). The first client frame must be the access token. */
export const webAuthSchema = z.strictObject({ token: z.string().min(1).max(200) });
export const webRequestSchema = z.strictObject({ id: z.number().int().min(0), channel: z.string().max(100), params: z.unknown().optional() });
export type WebRequest = z.output<typeof webRequestSchema>;
export type WebServerFrame =
  | ({ readonly id: number } & IpcResult<unknown>)
  | { readonly channel: PushChannel; readonly data: PushData<PushChannel> }
  | { readonly auth: IpcResult<{ channels: readonly InvokeChannel[] }> };
