/**
 * The heartbeat packet, the same bytes on every link kind (UDP datagram, TCP or serial byte stream):
 *   "VGHB" | version u8 | type u8 | body length u16 BE | body (UTF-8 JSON) | HMAC-SHA256 over all before it
 * The header makes frames self-delimiting on streams. Nothing in a packet is believed before its MAC is.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { heartbeatBodySchema, type HeartbeatBody } from '../../common/protocol/heartbeat.js';

export const MAGIC = Buffer.from('VGHB', 'ascii');
export const VERSION = 1;
export const TYPE_HEARTBEAT = 1;
export const HEADER_BYTES = 8;
export const MAC_BYTES = 32;
export const MAX_BODY_BYTES = 65_535;

export type RejectReason = 'bad-mac' | 'replay' | 'foreign' | 'malformed';

export class PacketError extends Error {
  constructor(readonly reason: RejectReason, message: string) {
    super(message);
    this.name = 'PacketError';
  }
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
 * On a byte stream: the length of the frame at the start of `buffer`, or undefined if the header is not
 * complete yet. Throws (malformed) as soon as the header is wrong, so a stream of garbage is cut at once.
 */
export function frameLength(buffer: Buffer): number | undefined {
  const have = Math.min(buffer.length, 4);
  if (!buffer.subarray(0, have).equals(MAGIC.subarray(0, have))) throw new PacketError('malformed', 'bad magic');
  if (buffer.length < HEADER_BYTES) return undefined;
  if (buffer.readUInt8(4) !== VERSION) throw new PacketError('malformed', `version ${buffer.readUInt8(4)}, expected ${VERSION}`);
  return HEADER_BYTES + buffer.readUInt16BE(6) + MAC_BYTES;
}

export function decodePacket(packet: Buffer, key: Buffer, clusterId: string): HeartbeatBody {
  if (packet.length < HEADER_BYTES + MAC_BYTES) throw new PacketError('malformed', `${packet.length} bytes is shorter than any packet`);
  if (!packet.subarray(0, 4).equals(MAGIC)) throw new PacketError('malformed', 'bad magic');
  const version = packet.readUInt8(4);
  if (version !== VERSION) throw new PacketError('malformed', `version ${version}, expected ${VERSION}`);
  if (packet.readUInt8(5) !== TYPE_HEARTBEAT) throw new PacketError('malformed', `unknown packet type ${packet.readUInt8(5)}`);
  const bodyLength = packet.readUInt16BE(6);
  if (packet.length !== HEADER_BYTES + bodyLength + MAC_BYTES) {
    throw new PacketError('malformed', `length ${packet.length} does not match the header's ${HEADER_BYTES + bodyLength + MAC_BYTES}`);
  }
  const signed = packet.subarray(0, HEADER_BYTES + bodyLength);
  const mac = packet.subarray(HEADER_BYTES + bodyLength);
  const expected = createHmac('sha256', key).update(signed).digest();
  const bodyBytes = packet.subarray(HEADER_BYTES, HEADER_BYTES + bodyLength);
  if (!timingSafeEqual(mac, expected)) {
    // Tell another cluster's traffic (a misconfigured neighbour) from tampering, for the operator's sake.
    const claimed = claimedCluster(bodyBytes);
    if (claimed !== undefined && claimed !== clusterId) throw new PacketError('foreign', `packet of cluster "${claimed}"`);
    throw new PacketError('bad-mac', 'MAC does not match the cluster key');
  }
  let raw: unknown;
  try {
    raw = JSON.parse(bodyBytes.toString('utf8'));
  } catch {
    throw new PacketError('malformed', 'body is not JSON');
  }
  const body = heartbeatBodySchema.safeParse(raw);
  if (!body.success) {
    const issue = body.error.issues[0];
    throw new PacketError('malformed', `body: ${issue ? `${issue.path.join('.') || '(body)'}: ${issue.message}` : 'invalid'}`);
  }
  if (body.data.c !== clusterId) throw new PacketError('foreign', `packet of cluster "${body.data.c}"`);
  return body.data;
}

function claimedCluster(body: Buffer): string | undefined {
  try {
    const parsed = JSON.parse(body.toString('utf8')) as { c?: unknown };
    return typeof parsed.c === 'string' ? parsed.c : undefined;
  } catch {
    return undefined;
  }
}
