/**
 * The replication transport: streams one mirror's change records from its source node to its target node over
 * TLS 1.3 authenticated by the cluster key, in order, each acknowledged once the target has applied it, and
 * carries control calls both ways on the same connection.
 *
 *   source: ReplicationClient(RecordSource)  --HELLO-->  ReplicationServer -> MirrorEndpoint (one per mirror)
 *                                            <--HELLO_OK (last applied)--
 *                                            --RECORD seq..-->  apply(), in order, one at a time
 *                                            <--ACK (highest applied, coalesced)--
 *
 * After any disconnect the client reconnects with backoff and resends from the target's last applied seq + 1, so
 * nothing is lost and, since the target skips what it already has, nothing is applied twice. The wire format is
 * common/protocol/replication.ts; errors are ReplicationError with a stable `code`.
 */
export { ReplicationError, type ReplicationErrorCode, REPLICATION_ERROR_CODES } from '../../common/protocol/replication.js';
export { ReplicationServer } from './transport-server.js';
export { ReplicationClient } from './transport-client.js';
export type { CallHandler } from './transport-connection.js';
export * from './transport-types.js';
