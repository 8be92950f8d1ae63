/**
 * The replication wire protocol: how a source node streams a mirror's change records to its target over one TLS
 * connection, and how either side calls the other for control. Pure: bytes in, typed messages out.
 *
 * Every frame is   type u8 | flags u8 (0) | body length u32 BE | body
 * and every number in a body is big-endian; a seq is a u64 that must be a safe integer.
 *   HELLO          version u16 | window u32 | fromSeq u64 | clusterId, mirror, sourceNode, lineage (u8 len + ASCII)
 *   HELLO_OK       lastApplied u64 | lineage (u8 len + ASCII)
 *   RECORD         seq u64 | payload
 *   ACK            seq u64 (the highest seq applied: acks are cumulative)
 *   REQUEST        id u32 | method (u8 len + ASCII) | body
 *   RESPONSE       id u32 | body
 *   RESPONSE_ERROR id u32 | code (u8 len + ASCII) | message (u16 len + UTF-8)
 *   ERROR          code (u8 len + ASCII) | message (u16 len + UTF-8): the sender closes the connection after it
 *   PING           (empty): keeps a quiet connection's silence timer from firing
 * HELLO's version comes first and ERROR never changes layout, so any two versions can tell each other why they
 * cannot talk. Each type has its own size limit, checked on the header alone, before a byte of body is kept.
 */

export const REPLICATION_PROTOCOL_VERSION = 1;
export const FRAME_HEADER_BYTES = 6;
/** The largest record payload and call body: a mirror's unit of change stays well below it. */
export const MAX_RECORD_PAYLOAD_BYTES = 16 * 1024 * 1024;
export const MAX_CALL_BODY_BYTES = 16 * 1024 * 1024;
export const MAX_ERROR_MESSAGE_BYTES = 4096;
export const MAX_NAME_BYTES = 63;
export const MAX_METHOD_BYTES = 64;
export const MAX_CODE_BYTES = 64;

export const FRAME_TYPES = {
  HELLO: 1, HELLO_OK: 2, RECORD: 3, ACK: 4, REQUEST: 5, RESPONSE: 6, RESPONSE_ERROR: 7, ERROR: 8, PING: 9,
} as const;
export type FrameTypeName = keyof typeof FRAME_TYPES;
const TYPE_NAMES = new Map<number, FrameTypeName>(Object.entries(FRAME_TYPES).map(([name, n]) => [n, name as FrameTypeName]));

/** Bytes a RECORD frame adds to its payload: what a window counts besides the payload. */
export const RECORD_OVERHEAD_BYTES = FRAME_HEADER_BYTES + 8;

const HELLO_FIXED_BYTES = 2 + 4 + 8;
/** A mirror copy's lineage (see agent/replication/lineage.ts): its generation id, then the ids it descends from. */
export const LINEAGE = /^[0-9a-f]{1,16}(,[0-9a-f]{1,16}){0,14}$/;
const MAX_LINEAGE_BYTES = 255;
/** The largest body each type may announce. */
const MAX_BODY_BYTES: Record<FrameTypeName, number> = {
  HELLO: HELLO_FIXED_BYTES + 3 * (1 + MAX_NAME_BYTES) + 1 + MAX_LINEAGE_BYTES,
  HELLO_OK: 8 + 1 + MAX_LINEAGE_BYTES,
  RECORD: 8 + MAX_RECORD_PAYLOAD_BYTES,
  ACK: 8,
  REQUEST: 4 + 1 + MAX_METHOD_BYTES + MAX_CALL_BODY_BYTES,
  RESPONSE: 4 + MAX_CALL_BODY_BYTES,
  RESPONSE_ERROR: 4 + 1 + MAX_CODE_BYTES + 2 + MAX_ERROR_MESSAGE_BYTES,
  ERROR: 1 + MAX_CODE_BYTES + 2 + MAX_ERROR_MESSAGE_BYTES,
  PING: 0,
};

/** Stable codes callers match on; they also travel in ERROR and RESPONSE_ERROR frames. */
export const REPLICATION_ERROR_CODES = [
  'VIGIL_REPL_CONFIG',          // bad options given to the transport: the message names the option
  'VIGIL_REPL_CONNECT',         // the TCP connection could not be made
  'VIGIL_REPL_AUTH',            // the TLS-PSK handshake failed: the peer holds another cluster key (or is not a node)
  'VIGIL_REPL_HANDSHAKE',       // the peer does not speak TLS, or not TLS 1.3 with a pre-shared key
  'VIGIL_REPL_SOCKET',          // the connection broke (reset, broken pipe)
  'VIGIL_REPL_PEER_SILENT',     // nothing heard from the peer for the keepalive time: a dead peer or a cut cable
  'VIGIL_REPL_TIMEOUT',         // a call or the HELLO exchange took too long
  'VIGIL_REPL_CLOSED',          // the connection closed while a call was waiting
  'VIGIL_REPL_NOT_CONNECTED',   // a call with no connection up
  'VIGIL_REPL_FRAME',           // a malformed frame: the message names the field and byte offset
  'VIGIL_REPL_FRAME_TOO_LARGE', // a frame announces more bytes than its type allows
  'VIGIL_REPL_UNKNOWN_FRAME',   // a frame type this version does not know
  'VIGIL_REPL_TRUNCATED',       // the connection closed in the middle of a frame
  'VIGIL_REPL_UNEXPECTED',      // a valid frame at the wrong time (a RECORD before HELLO, an ACK to the target)
  'VIGIL_REPL_VERSION',         // the peer speaks another protocol version
  'VIGIL_REPL_WRONG_CLUSTER',   // the peer belongs to another cluster
  'VIGIL_REPL_UNKNOWN_MIRROR',  // the target has no mirror of that name
  'VIGIL_REPL_REFUSED',         // the target's onHello refused the source (its own code, if any, is in appCode)
  'VIGIL_REPL_REPLACED',        // a newer connection of the same mirror took this one's place
  'VIGIL_REPL_SEQ_GAP',         // a record's seq skips ahead of the next expected one
  'VIGIL_REPL_BAD_ACK',         // an ack for a record never sent
  'VIGIL_REPL_WINDOW',          // the source sent more unacknowledged bytes than the window it announced
  'VIGIL_REPL_APPLY',           // the target's applier failed a record
  'VIGIL_REPL_SOURCE',          // the source's journal failed to read, or returned records out of order
  'VIGIL_REPL_UNKNOWN_METHOD',  // a call to a side that has no handler
  'VIGIL_REPL_BUSY',            // too many calls in progress on the called side
  'VIGIL_REPL_REMOTE',          // the called side's handler threw (its own code, if any, is in appCode)
] as const;
export type ReplicationErrorCode = (typeof REPLICATION_ERROR_CODES)[number];
const KNOWN_CODES: ReadonlySet<string> = new Set(REPLICATION_ERROR_CODES);

export function isReplicationErrorCode(code: string): code is ReplicationErrorCode {
  return KNOWN_CODES.has(code);
}

export interface ReplicationErrorDetails {
  /** Where in the frame (decoders) or in the stream (the transport) the offending byte is. */
  readonly offset?: number;
  /** The error came from the peer (an ERROR or RESPONSE_ERROR frame), not from this side. */
  readonly fromPeer?: boolean;
  /** The code of an application error behind this one: what onHello or a call handler threw. */
  readonly appCode?: string;
}

export class ReplicationError extends Error {
  readonly offset: number | undefined;
  readonly fromPeer: boolean;
  readonly appCode: string | undefined;

  constructor(readonly code: ReplicationErrorCode, message: string, details: ReplicationErrorDetails = {}) {
    super(message);
    this.name = 'ReplicationError';
    this.offset = details.offset;
    this.fromPeer = details.fromPeer ?? false;
    this.appCode = details.appCode;
  }
}

// ---- messages ----

export interface HelloMessage {
  readonly type: 'HELLO';
  readonly version: number;
  /** The most unacknowledged bytes (RECORD frames, headers included) the source keeps in flight. */
  readonly window: number;
  readonly fromSeq: number;
  readonly clusterId: string;
  readonly mirror: string;
  readonly sourceNode: string;
  /** The source copy's lineage, "current,older,..." (hex ids). */
  readonly lineage: string;
}
export interface HelloOkMessage { readonly type: 'HELLO_OK'; readonly lastApplied: number; readonly lineage: string }
export interface RecordMessage { readonly type: 'RECORD'; readonly seq: number; readonly payload: Uint8Array }
export interface AckMessage { readonly type: 'ACK'; readonly seq: number }
export interface RequestMessage { readonly type: 'REQUEST'; readonly id: number; readonly method: string; readonly body: Uint8Array }
export interface ResponseMessage { readonly type: 'RESPONSE'; readonly id: number; readonly body: Uint8Array }
export interface ResponseErrorMessage { readonly type: 'RESPONSE_ERROR'; readonly id: number; readonly code: string; readonly message: string }
export interface ErrorMessage { readonly type: 'ERROR'; readonly code: string; readonly message: string }
export interface PingMessage { readonly type: 'PING' }

export type ReplicationMessage =
  | HelloMessage | HelloOkMessage | RecordMessage | AckMessage | RequestMessage | ResponseMessage | ResponseErrorMessage
  | ErrorMessage | PingMessage;

export interface FrameHeader {
  readonly type: FrameTypeName;
  /** Body bytes that follow the header. */
  readonly length: number;
}

// ---- field rules ----

/** Names (cluster, mirror, node): printable ASCII without spaces; the configuration is stricter still. */
const NAME = /^[\x21-\x7e]{1,63}$/;
const METHOD = /^[A-Za-z0-9_.:/-]{1,64}$/;
/** Codes: what ReplicationError uses, and what an application's coded errors look like. */
const CODE = /^[A-Z][A-Z0-9_]{0,63}$/;

export function isValidName(name: string): boolean {
  return NAME.test(name);
}
export function isValidMethod(method: string): boolean {
  return METHOD.test(method);
}
export function isValidCode(code: string): boolean {
  return CODE.test(code);
}

// ---- decoding ----

function frameError(code: ReplicationErrorCode, offset: number, message: string): ReplicationError {
  return new ReplicationError(code, `byte ${offset}: ${message}`, { offset });
}

/**
 * Validate the 6-byte header at `bytes[offset..]` (the caller makes sure 6 bytes are there). Throws when the type is
 * unknown, a flag is set, or the length exceeds what the type allows: a caller can refuse a frame before allocating.
 */
export function decodeFrameHeader(bytes: Uint8Array, offset = 0): FrameHeader {
  if (bytes.length - offset < FRAME_HEADER_BYTES) throw frameError('VIGIL_REPL_FRAME', offset, `a frame header needs ${FRAME_HEADER_BYTES} bytes, ${bytes.length - offset} given`);
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, FRAME_HEADER_BYTES);
  const typeNumber = view.getUint8(0);
  const type = TYPE_NAMES.get(typeNumber);
  if (type === undefined) throw frameError('VIGIL_REPL_UNKNOWN_FRAME', offset, `unknown frame type ${typeNumber}`);
  const flags = view.getUint8(1);
  if (flags !== 0) throw frameError('VIGIL_REPL_FRAME', offset + 1, `${type} frame with flags 0x${flags.toString(16)}, none are defined`);
  const length = view.getUint32(2);
  const max = MAX_BODY_BYTES[type];
  if (length > max) throw frameError('VIGIL_REPL_FRAME_TOO_LARGE', offset + 2, `${type} frame announces a body of ${length} bytes, at most ${max} are allowed`);
  return { type, length };
}

/** Reads a body's fields in order, naming each field and its offset (from the frame's first byte) when it is wrong. */
class BodyReader {
  private readonly view: DataView;
  private at = 0;

  constructor(private readonly body: Uint8Array, private readonly type: FrameTypeName) {
    this.view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  }

  private fail(field: string, at: number, message: string, code: ReplicationErrorCode = 'VIGIL_REPL_FRAME'): never {
    throw frameError(code, FRAME_HEADER_BYTES + at, `${this.type}.${field}: ${message}`);
  }

  private need(field: string, bytes: number): number {
    if (this.body.length - this.at < bytes) this.fail(field, this.at, `needs ${bytes} bytes, the body has ${this.body.length - this.at} left`);
    const at = this.at;
    this.at += bytes;
    return at;
  }

  u16(field: string): number {
    return this.view.getUint16(this.need(field, 2));
  }

  u32(field: string): number {
    return this.view.getUint32(this.need(field, 4));
  }

  /** A u64 that must be a safe integer: seqs stay exact in a JS number. */
  u64(field: string): number {
    const at = this.need(field, 8);
    const high = this.view.getUint32(at);
    if (high > 0x1fffff) this.fail(field, at, 'beyond 2^53 - 1');
    return high * 0x1_0000_0000 + this.view.getUint32(at + 4);
  }

  ascii(field: string, rule: RegExp, what: string): string {
    const lengthAt = this.need(field, 1);
    const length = this.view.getUint8(lengthAt);
    const at = this.need(field, length);
    let text = '';
    for (let i = 0; i < length; i++) text += String.fromCharCode(this.body[at + i]!);
    if (!rule.test(text)) this.fail(field, at, `${JSON.stringify(text)} is not ${what}`);
    return text;
  }

  utf8(field: string): string {
    const length = this.u16(field);
    if (length > MAX_ERROR_MESSAGE_BYTES) this.fail(field, this.at - 2, `${length} bytes, at most ${MAX_ERROR_MESSAGE_BYTES}`);
    const at = this.need(field, length);
    const result = decodeUtf8(this.body.subarray(at, at + length));
    if (typeof result === 'number') this.fail(field, at + result, 'not UTF-8');
    return result;
  }

  rest(): Uint8Array {
    const at = this.at;
    this.at = this.body.length;
    return this.body.subarray(at);
  }

  end(): void {
    if (this.at !== this.body.length) this.fail('(end)', this.at, `${this.body.length - this.at} bytes after the last field`);
  }
}

/**
 * Decode one whole frame (header and body, nothing more). Returns a valid message or throws a ReplicationError
 * whose message and `offset` name the offending byte; body fields are views into `frame`, not copies.
 */
export function decodeFrame(frame: Uint8Array): ReplicationMessage {
  const { type, length } = decodeFrameHeader(frame);
  if (frame.length !== FRAME_HEADER_BYTES + length) {
    throw frameError('VIGIL_REPL_FRAME', 2, `${type} frame announces ${length} body bytes, ${frame.length - FRAME_HEADER_BYTES} given`);
  }
  const r = new BodyReader(frame.subarray(FRAME_HEADER_BYTES), type);
  const message = decodeBody(type, r);
  r.end();
  return message;
}

function decodeBody(type: FrameTypeName, r: BodyReader): ReplicationMessage {
  switch (type) {
    case 'HELLO': {
      const version = r.u16('version');
      // Checked first: a later version may lay out the rest differently.
      if (version !== REPLICATION_PROTOCOL_VERSION) {
        throw new ReplicationError('VIGIL_REPL_VERSION', `byte ${FRAME_HEADER_BYTES}: HELLO.version: protocol version ${version}, this node speaks ${REPLICATION_PROTOCOL_VERSION}`, { offset: FRAME_HEADER_BYTES });
      }
      const window = r.u32('window');
      if (window === 0) throw frameError('VIGIL_REPL_FRAME', FRAME_HEADER_BYTES + 2, 'HELLO.window: 0, a window must hold at least one byte');
      return {
        type, version, window, fromSeq: r.u64('fromSeq'),
        clusterId: r.ascii('clusterId', NAME, 'a name'), mirror: r.ascii('mirror', NAME, 'a name'), sourceNode: r.ascii('sourceNode', NAME, 'a name'),
        lineage: r.ascii('lineage', LINEAGE, 'a lineage (hex ids separated by commas)'),
      };
    }
    case 'HELLO_OK': return { type, lastApplied: r.u64('lastApplied'), lineage: r.ascii('lineage', LINEAGE, 'a lineage (hex ids separated by commas)') };
    case 'RECORD': return { type, seq: positiveSeq(r), payload: r.rest() };
    case 'ACK': return { type, seq: r.u64('seq') };
    case 'REQUEST': return { type, id: r.u32('id'), method: r.ascii('method', METHOD, 'a method name'), body: r.rest() };
    case 'RESPONSE': return { type, id: r.u32('id'), body: r.rest() };
    case 'RESPONSE_ERROR': return { type, id: r.u32('id'), code: r.ascii('code', CODE, 'an error code'), message: r.utf8('message') };
    case 'ERROR': return { type, code: r.ascii('code', CODE, 'an error code'), message: r.utf8('message') };
    case 'PING': return { type };
  }
}

function positiveSeq(r: BodyReader): number {
  const seq = r.u64('seq');
  if (seq === 0) throw frameError('VIGIL_REPL_FRAME', FRAME_HEADER_BYTES, 'RECORD.seq: 0, record seqs start at 1');
  return seq;
}

// ---- encoding ----

/** Builds one frame; throws VIGIL_REPL_CONFIG naming the field when a value cannot be sent. */
class FrameWriter {
  private readonly bytes: Uint8Array;
  private readonly view: DataView;
  private at = FRAME_HEADER_BYTES;

  /** `trailing`: body bytes the caller sends itself after this frame's prefix (a payload, a call body). */
  constructor(private readonly type: FrameTypeName, fieldBytes: number, trailing = 0) {
    this.bytes = new Uint8Array(FRAME_HEADER_BYTES + fieldBytes);
    this.view = new DataView(this.bytes.buffer);
    const length = fieldBytes + trailing;
    if (length > MAX_BODY_BYTES[type]) throw new ReplicationError('VIGIL_REPL_FRAME_TOO_LARGE', `${type}: a body of ${length} bytes, at most ${MAX_BODY_BYTES[type]} are allowed`);
    this.view.setUint8(0, FRAME_TYPES[type]);
    this.view.setUint32(2, length);
  }

  private fail(field: string, message: string): never {
    throw new ReplicationError('VIGIL_REPL_CONFIG', `${this.type}.${field}: ${message}`);
  }

  u16(v: number): this {
    this.view.setUint16(this.at, v);
    this.at += 2;
    return this;
  }

  u32(field: string, v: number): this {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) this.fail(field, `${v} is not a u32`);
    this.view.setUint32(this.at, v);
    this.at += 4;
    return this;
  }

  u64(field: string, v: number): this {
    if (!Number.isSafeInteger(v) || v < 0) this.fail(field, `${v} is not a non-negative safe integer`);
    this.view.setUint32(this.at, Math.floor(v / 0x1_0000_0000));
    this.view.setUint32(this.at + 4, v % 0x1_0000_0000);
    this.at += 8;
    return this;
  }

  ascii(field: string, text: string, rule: RegExp): this {
    if (!rule.test(text)) this.fail(field, `${JSON.stringify(text)} does not match ${rule}`);
    this.view.setUint8(this.at++, text.length);
    for (let i = 0; i < text.length; i++) this.bytes[this.at++] = text.charCodeAt(i);
    return this;
  }

  bytesField(bytes: Uint8Array, lengthPrefix: boolean): this {
    if (lengthPrefix) this.u16(bytes.length);
    this.bytes.set(bytes, this.at);
    this.at += bytes.length;
    return this;
  }

  done(): Uint8Array {
    return this.bytes;
  }
}

export function encodeHello(h: Omit<HelloMessage, 'type' | 'version'>): Uint8Array {
  const names = h.clusterId.length + h.mirror.length + h.sourceNode.length + h.lineage.length + 4;
  return new FrameWriter('HELLO', HELLO_FIXED_BYTES + names)
    .u16(REPLICATION_PROTOCOL_VERSION).u32('window', h.window).u64('fromSeq', h.fromSeq)
    .ascii('clusterId', h.clusterId, NAME).ascii('mirror', h.mirror, NAME).ascii('sourceNode', h.sourceNode, NAME)
    .ascii('lineage', h.lineage, LINEAGE)
    .done();
}

export function encodeHelloOk(lastApplied: number, lineage: string): Uint8Array {
  return new FrameWriter('HELLO_OK', 8 + 1 + lineage.length).u64('lastApplied', lastApplied).ascii('lineage', lineage, LINEAGE).done();
}

/** A RECORD frame up to its payload; the caller sends the payload right after, uncopied. */
export function encodeRecordPrefix(seq: number, payloadLength: number): Uint8Array {
  if (seq === 0) throw new ReplicationError('VIGIL_REPL_CONFIG', 'RECORD.seq: 0, record seqs start at 1');
  return new FrameWriter('RECORD', 8, payloadLength).u64('seq', seq).done();
}

export function encodeAck(seq: number): Uint8Array {
  return new FrameWriter('ACK', 8).u64('seq', seq).done();
}

/** A REQUEST frame up to its body; the caller sends the body right after. */
export function encodeRequestPrefix(id: number, method: string, bodyLength: number): Uint8Array {
  return new FrameWriter('REQUEST', 4 + 1 + method.length, bodyLength).u32('id', id).ascii('method', method, METHOD).done();
}

/** A RESPONSE frame up to its body; the caller sends the body right after. */
export function encodeResponsePrefix(id: number, bodyLength: number): Uint8Array {
  return new FrameWriter('RESPONSE', 4, bodyLength).u32('id', id).done();
}

export function encodeResponseError(id: number, code: string, message: string): Uint8Array {
  const text = truncatedUtf8(message);
  return new FrameWriter('RESPONSE_ERROR', 4 + 1 + code.length + 2 + text.length).u32('id', id).ascii('code', code, CODE).bytesField(text, true).done();
}

export function encodeError(code: string, message: string): Uint8Array {
  const text = truncatedUtf8(message);
  return new FrameWriter('ERROR', 1 + code.length + 2 + text.length).ascii('code', code, CODE).bytesField(text, true).done();
}

export function encodePing(): Uint8Array {
  return new FrameWriter('PING', 0).done();
}

// ---- UTF-8 (common/ has no TextEncoder: its lib is ES2022 alone) ----

/** UTF-8 of `text`, cut at a character boundary to fit an error message; lone surrogates become U+FFFD. */
export function truncatedUtf8(text: string, maxBytes = MAX_ERROR_MESSAGE_BYTES): Uint8Array {
  const out: number[] = [];
  for (const ch of text) {
    let cp = ch.codePointAt(0)!;
    if (cp >= 0xd800 && cp <= 0xdfff) cp = 0xfffd;
    const size = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    if (out.length + size > maxBytes) break;
    if (size === 1) out.push(cp);
    else if (size === 2) out.push(0xc0 | (cp >> 6), 0x80 | (cp & 0x3f));
    else if (size === 3) out.push(0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
    else out.push(0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 0x3f), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
  }
  return Uint8Array.from(out);
}

/** The text, or the offset of the first byte that is not well-formed UTF-8 (no overlongs, surrogates or > U+10FFFF). */
export function decodeUtf8(bytes: Uint8Array): string | number {
  let text = '';
  for (let i = 0; i < bytes.length;) {
    const b = bytes[i]!;
    const size = b < 0x80 ? 1 : b >= 0xc2 && b < 0xe0 ? 2 : b >= 0xe0 && b < 0xf0 ? 3 : b >= 0xf0 && b < 0xf5 ? 4 : 0;
    if (size === 0 || i + size > bytes.length) return i;
    let cp = size === 1 ? b : b & (0x7f >> size);
    for (let k = 1; k < size; k++) {
      const c = bytes[i + k]!;
      if ((c & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (c & 0x3f);
    }
    const min = size === 3 ? 0x800 : size === 4 ? 0x10000 : 0;
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    text += String.fromCodePoint(cp);
    i += size;
  }
  return text;
}
