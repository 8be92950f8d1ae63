/**
 * The control protocol between a client (the CLI, later the monitoring center) and an agent. One schema per
 * request, validated on both ends; responses carry a stable error code that callers match on.
 * Frames are one JSON object per line (local socket) or per WebSocket message.
 */
import { z } from 'zod';
import { EVENT_KINDS, MIRROR_ACTIONS, type ClusterEvent, type ClusterStatus, type EventKind, type MirrorStatus, type MirrorVerifyReport } from '../model/index.js';

export const PROTOCOL_VERSION = 1;
/** The largest frame either side accepts: a status of a large cluster fits; a flood does not. */
export const MAX_FRAME_BYTES = 1024 * 1024;

export const ERROR_CODES = [
  'BAD_FRAME',        // not JSON, too large, or not an object
  'BAD_VERSION',      // a protocol version this agent does not speak
  'UNKNOWN_METHOD',
  'BAD_PARAMS',       // the method's parameters do not match its schema: the message names the field
  'NOT_FOUND',        // no such group or node
  'NOT_ELIGIBLE',     // the node cannot run the group now: the message says why
  'CONFLICT',         // the request contradicts the cluster's state (e.g. maintenance mode)
  'INTERNAL',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

const name = z.string().min(1).max(63);

export const requestParams = {
  status: z.strictObject({}),
  switchover: z.strictObject({ group: name, node: name.optional() }),
  switchback: z.strictObject({ group: name }),
  maintenance: z.strictObject({ on: z.boolean() }),
  cleanup: z.strictObject({ group: name }),
  events: z.strictObject({
    since: z.number().optional(),
    until: z.number().optional(),
    kinds: z.array(z.enum(EVENT_KINDS as unknown as [EventKind, ...EventKind[]])).optional(),
    group: name.optional(),
    limit: z.number().int().min(1).max(10_000).optional(),
  }),
  /** Mirror commands; `status` without a name lists every mirror this node takes part in. */
  mirror: z.strictObject({ action: z.enum(MIRROR_ACTIONS), name: name.optional() }),
} as const;

export type Method = keyof typeof requestParams;
export const METHODS = Object.keys(requestParams) as Method[];
export type Params<M extends Method> = z.output<(typeof requestParams)[M]>;

/** What each method returns on success. */
export interface Results {
  status: ClusterStatus;
  switchover: { group: string; target: string };
  switchback: { group: string; target: string };
  maintenance: { on: boolean };
  cleanup: { group: string };
  events: ClusterEvent[];
  mirror: { status: MirrorStatus[]; verify?: MirrorVerifyReport; message?: string };
}

export interface RequestFrame<M extends Method = Method> { readonly v: number; readonly id: number; readonly method: M; readonly params: Params<M> }
export type ResponseFrame<M extends Method = Method> =
  | { readonly v: number; readonly id: number; readonly ok: true; readonly result: Results[M] }
  | { readonly v: number; readonly id: number; readonly ok: false; readonly error: { readonly code: ErrorCode; readonly message: string } };

export class ProtocolError extends Error {
  constructor(readonly code: ErrorCode, message: string, readonly id = 0) {
    super(message);
    this.name = 'ProtocolError';
  }
}

const envelope = z.object({ v: z.number().int(), id: z.number().int().min(0), method: z.string(), params: z.unknown().optional() });

/** Decode and validate one request frame; throws ProtocolError naming what is wrong. */
export function decodeRequest(text: string): RequestFrame {
  if (text.length > MAX_FRAME_BYTES) throw new ProtocolError('BAD_FRAME', `frame of ${text.length} bytes exceeds ${MAX_FRAME_BYTES}`);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ProtocolError('BAD_FRAME', `not JSON: ${(e as Error).message}`);
  }
  const env = envelope.safeParse(raw);
  if (!env.success) throw new ProtocolError('BAD_FRAME', `not a request: ${env.error.issues.map((i) => `${i.path.join('.') || '(frame)'}: ${i.message}`).join('; ')}`);
  const { v, id, method } = env.data;
  if (v !== PROTOCOL_VERSION) throw new ProtocolError('BAD_VERSION', `protocol version ${v} is not spoken here (this agent speaks ${PROTOCOL_VERSION})`, id);
  if (!(METHODS as string[]).includes(method)) throw new ProtocolError('UNKNOWN_METHOD', `unknown method "${method}" (known: ${METHODS.join(', ')})`, id);
  const params = requestParams[method as Method].safeParse(env.data.params ?? {});
  if (!params.success) {
    throw new ProtocolError('BAD_PARAMS', params.error.issues.map((i) => `params${i.path.length ? '.' + i.path.join('.') : ''}: ${i.message}`).join('; '), id);
  }
  return { v, id, method: method as Method, params: params.data };
}

export function encodeRequest<M extends Method>(id: number, method: M, params: Params<M>): string {
  return JSON.stringify({ v: PROTOCOL_VERSION, id, method, params });
}

export function encodeResult<M extends Method>(id: number, result: Results[M]): string {
  return JSON.stringify({ v: PROTOCOL_VERSION, id, ok: true, result });
}

export function encodeError(id: number, code: ErrorCode, message: string): string {
  return JSON.stringify({ v: PROTOCOL_VERSION, id, ok: false, error: { code, message } });
}

const responseEnvelope = z.union([
  z.object({ v: z.literal(PROTOCOL_VERSION), id: z.number(), ok: z.literal(true), result: z.unknown() }),
  z.object({ v: z.literal(PROTOCOL_VERSION), id: z.number(), ok: z.literal(false), error: z.object({ code: z.enum(ERROR_CODES), message: z.string() }) }),
]);

/** Decode a response frame. The result's shape is trusted to the agent that produced it (same protocol version). */
export function decodeResponse(text: string): ResponseFrame {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ProtocolError('BAD_FRAME', `agent sent a frame that is not JSON: ${(e as Error).message}`);
  }
  const parsed = responseEnvelope.safeParse(raw);
  if (!parsed.success) throw new ProtocolError('BAD_FRAME', 'agent sent a frame that is not a response');
  return parsed.data as ResponseFrame;
}
