/**
 * The heartbeat packet, the same bytes on every link kind (UDP datagram, TCP or serial byte stream):
 *   "VGHB" | version u8 | type u8 | body length u16 BE | body (UTF-8 JSON) | HMAC-SHA256 over all before it
 * The header makes frames self-delimiting on streams. Nothing in a packet is believed before its MAC is.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { NodeId } from '../../common/model/index.js';
import { heartbeatBodySchema, type HeartbeatBody } from '../../common/protocol/heartbeat.js';

export const MAGIC = Buffer.from('VGHB', 'ascii');
export const VERSION = 1;
export const TYPE_HEARTBEAT = 1;
export const HEADER_BYTES = 8;
export const MAC_BYTES = 32;
/** A whole frame must fit one UDP datagram (65,507 bytes over IPv4); anything longer is refused unread. */
export const MAX_BODY_BYTES = 65_000;
export const MAX_FRAME_BYTES = HEADER_BYTES + MAX_BODY_BYTES + MAC_BYTES;

export type RejectReason = 'bad-mac' | 'replay' | 'foreign' | 'malformed';

/** Why a packet was refused; `code` is stable, the message is for people. */
export class PacketError extends Error {
  constructor(readonly code: RejectReason, message: string) {
    super(message);
    this.name = 'PacketError';
  }

  /** The same as `code`, named as MembershipChange names it. */
  get reason(): RejectReason {
    return this.code;
  }
}

/** Who may send to us: the cluster, its nodes, and which of them we are. */
export interface PacketExpectations {
  readonly clusterId: string;
  readonly localNode: NodeId;
  readonly nodes: ReadonlySet<NodeId>;
}

export function encodePacket(body: HeartbeatBody, key: Buffer): Buffer {
  const json = Buffer.from(JSON.stringify(body), 'utf8');
  if (json.length > MAX_BODY_BYTES) throw new PacketError('malformed', `heartbeat body of ${json.length} bytes exceeds ${MAX_BODY_BYTES}`);
  const header = Buffer.alloc(HEADER_BYTES);
  MAGIC.copy(header, 0);
  header.writeUInt8(VERSION, 4);
  header.writeUInt8(TYPE_HEARTBEAT, 5);
  header.writeUInt16BE(json.length, 6);
  const mac = createHmac('sha256', key).update(header).update(json).digest();
  return Buffer.concat([header, json, mac]);
}

/**
 * The length of the frame that starts `buffer`, or undefined while its header is incomplete. Throws (malformed)
 * as soon as what has arrived cannot begin a frame, so a stream of garbage is cut at once.
 */
export function frameLength(buffer: Buffer): number | undefined {
  const have = Math.min(buffer.length, MAGIC.length);
  if (!buffer.subarray(0, have).equals(MAGIC.subarray(0, have))) throw new PacketError('malformed', 'bad magic');
  if (buffer.length < HEADER_BYTES) return undefined;
  const version = buffer.readUInt8(4);
  if (version !== VERSION) throw new PacketError('malformed', `version ${version}, expected ${VERSION}`);
  const type = buffer.readUInt8(5);
  if (type !== TYPE_HEARTBEAT) throw new PacketError('malformed', `unknown packet type ${type}`);
  const bodyLength = buffer.readUInt16BE(6);
  if (bodyLength > MAX_BODY_BYTES) throw new PacketError('malformed', `body length ${bodyLength} exceeds ${MAX_BODY_BYTES}`);
  return HEADER_BYTES + bodyLength + MAC_BYTES;
}

/** Verify and parse one whole frame, signed with any of `keys` (one, or several during a key rotation). Throws only PacketError. */
export function decodePacket(packet: Buffer, keys: Buffer | readonly Buffer[], expect: PacketExpectations): HeartbeatBody {
  if (packet.length < HEADER_BYTES + MAC_BYTES) throw new PacketError('malformed', `${packet.length} bytes is shorter than any packet`);
  const length = frameLength(packet)!;
  if (packet.length !== length) throw new PacketError('malformed', `${packet.length} bytes, the header announces ${length}`);
  const signedEnd = length - MAC_BYTES;
  const bodyBytes = packet.subarray(HEADER_BYTES, signedEnd);
  const signed = packet.subarray(0, signedEnd);
  const mac = packet.subarray(signedEnd);
  const candidates = Buffer.isBuffer(keys) ? [keys] : keys;
  if (!candidates.some((key) => timingSafeEqual(mac, createHmac('sha256', key).update(signed).digest()))) {
    // Tell another cluster's traffic (a misconfigured neighbour) from tampering, for the operator's sake.
    const claimed = claimedCluster(bodyBytes);
    if (claimed !== undefined && claimed !== expect.clusterId) throw new PacketError('foreign', `packet of cluster "${claimed}"`);
    throw new PacketError('bad-mac', 'MAC does not match the cluster key');
  }
  const body = parseBody(bodyBytes);
  if (body.c !== expect.clusterId) throw new PacketError('foreign', `packet of cluster "${body.c}"`);
  // Authentic, yet not from a peer: our own packets looped back, or a node this configuration does not know.
  if (body.n === expect.localNode) throw new PacketError('foreign', `packet from ourselves (${body.n})`);
  if (!expect.nodes.has(body.n)) throw new PacketError('foreign', `packet from "${body.n}", not a node of this cluster`);
  if (body.p.node !== body.n) throw new PacketError('malformed', `sent by ${body.n} but carries the status of ${body.p.node}`);
  return body;
}

function parseBody(bytes: Buffer): HeartbeatBody {
  let raw: unknown;
  try {
    raw = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new PacketError('malformed', 'body is not JSON');
  }
  const body = heartbeatBodySchema.safeParse(raw);
  if (!body.success) {
    const issue = body.error.issues[0];
    throw new PacketError('malformed', `body: ${issue ? `${issue.path.join('.') || '(body)'}: ${issue.message}` : 'invalid'}`);
  }
  if (body.data.e !== undefined && body.data.e.s > 0xffffffff) throw new PacketError('malformed', 'body: e.s: beyond u32');
  return body.data;
}

function claimedCluster(body: Buffer): string | undefined {
  try {
    const parsed: unknown = JSON.parse(body.toString('utf8'));
    if (typeof parsed !== 'object' || parsed === null || !('c' in parsed)) return undefined;
    return typeof parsed.c === 'string' ? parsed.c : undefined;
  } catch {
    return undefined;
  }
}
