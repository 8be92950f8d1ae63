/** The transport's public types and defaults (re-exported by transport.ts). */
import type { ReplicationError } from '../../common/protocol/replication.js';
import type { BufferParts } from '../util/buffer-parts.js';
import type { Clock } from '../util/clock.js';
import type { CallHandler } from './transport-connection.js';

export interface ReplicationRecord {
  readonly seq: number;
  readonly payload: Buffer;
}

/** A record to send: its payload whole, or in parts that go out back to back (never copied together first). */
export interface OutgoingRecord {
  readonly seq: number;
  readonly payload: BufferParts;
}

export const DEFAULT_WINDOW_BYTES = 32 * 1024 * 1024;
export const DEFAULT_KEEPALIVE_MS = 5000;
export const DEFAULT_CALL_TIMEOUT_MS = 10_000;

/** What the target side of one mirror offers the transport. */
export interface MirrorEndpoint {
  /** The highest seq applied durably (0 when none): where a (re)connecting source resumes. */
  lastApplied(): number;
  /**
   * Apply one record; called in seq order, never for a seq already applied, with up to `concurrency` calls
   * overlapping: the endpoint must then leave the same result as applying them one by one. The payload's memory
   * is used again once the returned promise settles: copy whatever of it must outlive the call.
   */
  apply(record: ReplicationRecord): Promise<void>;
  /** How many apply() calls may be in flight at once (default 1). */
  readonly concurrency?: number;
  /** Every record up to `seq` has been applied (called in order, before flush() and the acknowledgement). */
  appliedThrough?(seq: number): void;
  /** This node's copy's lineage ("current,older,...", hex ids), reported to the source in HELLO_OK. */
  lineage(): string;
  /** Make every record apply() returned for durable; called before each acknowledgement. */
  flush?(): Promise<void>;
  /**
   * May refuse a source before anything is applied (e.g. a lineage older than ours). Throw an Error with a
   * `code` (A-Z, 0-9, _) and the source sees VIGIL_REPL_REFUSED with that code as appCode.
   */
  onHello?(peer: { readonly node: string; readonly lineage: string; readonly fromSeq: number }): void | Promise<void>;
  /** Answers the source's calls (block hashes, manifests, pause/resume). */
  handle?: CallHandler;
}

export interface ReplicationServerOptions {
  readonly host: string;
  /** 0 picks a free port (see ReplicationServer.port). */
  readonly port: number;
  readonly clusterId: string;
  readonly nodeId: string;
  /** The cluster key (at least 32 bytes). */
  readonly key: Buffer;
  /** Further keys a source may use during a key rotation. */
  readonly acceptKeys?: readonly Buffer[];
  /** The target endpoint of the mirror named in a source's HELLO, or undefined if this node has none. */
  mirror(name: string): MirrorEndpoint | undefined;
  /** Every connection that ends in an error (refused handshake, protocol error, silence, apply failure). */
  onError?(error: ReplicationError): void;
  /** A peer silent this long is taken as dead; also the time allowed for the TLS handshake and HELLO. */
  readonly keepaliveMs?: number;
  readonly clock?: Clock;
}

/** The source side's journal: records from `fromSeq` on, contiguous, about `maxBytes` of payload (at least one). */
export interface RecordSource {
  read(fromSeq: number, maxBytes: number): Promise<OutgoingRecord[]>;
}

export type ClientState = 'connecting' | 'connected' | 'disconnected';

export interface ReplicationClientOptions {
  readonly host: string;
  readonly port: number;
  readonly clusterId: string;
  readonly nodeId: string;
  readonly key: Buffer;
  readonly mirror: string;
  /** This node's copy's lineage, sent in every HELLO. */
  lineage(): string;
  /** The target accepted: where it stands and what its copy descends from. */
  onHelloOk?(ok: { readonly lastApplied: number; readonly lineage: string }): void;
  readonly source: RecordSource;
  /** The target has applied every record up to `seq` (cumulative, increasing). */
  onAck(seq: number): void;
  onState?(state: ClientState, detail?: string): void;
  /** Every connection that ends in an error; the client reconnects on its own. */
  onError?(error: ReplicationError): void;
  /** Answers the target's calls. */
  handle?: CallHandler;
  /** Most unacknowledged bytes in flight (RECORD frames, headers included); default 32 MiB. */
  readonly window?: number;
  /** RECORD bytes (headers included) sent per second at most, paced record by record (send-pacer.ts); default none. */
  readonly maxBytesPerSecond?: number;
  readonly keepaliveMs?: number;
  readonly callTimeoutMs?: number;
  /** Reconnect backoff: doubles from minMs up to maxMs (defaults 100 ms, 5 s). */
  readonly reconnect?: { readonly minMs?: number; readonly maxMs?: number };
  readonly clock?: Clock;
}

export interface ClientStats {
  /** RECORD bytes written, headers included, over every connection. */
  readonly sentBytes: number;
  readonly ackedSeq: number;
  readonly inFlightBytes: number;
  /** The most ever in flight at once: never more than the window (or one record larger than it). */
  readonly maxInFlightBytes: number;
  readonly connected: boolean;
}
