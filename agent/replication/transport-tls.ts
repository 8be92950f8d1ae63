/**
 * Mutual authentication of replication peers by the cluster key, with TLS 1.3 and an external pre-shared key.
 *
 * Node 20 / OpenSSL 3.0 offer PSK two ways. TLS 1.2 has ECDHE-PSK suites (ECDHE-PSK-CHACHA20-POLY1305, no GCM
 * variant), TLS 1.3 has PSK with the psk_dhe_ke mode, which OpenSSL insists on by default: every connection still
 * runs an (X25519) ECDHE exchange, so a key that leaks later does not decrypt recorded traffic. We take TLS 1.3 only.
 * OpenSSL hands a PSK from Node's callbacks to TLS 1.3 as a SHA-256 key, so only the SHA-256 suites can use it
 * (TLS_AES_256_GCM_SHA384 fails the handshake); AES-128-GCM comes first for AES-NI, ChaCha20 for CPUs without.
 *
 * Each node's PSK is derived from the cluster key and the node id (its PSK identity), so a server that accepts the
 * handshake knows which node it talks to; the replication label keeps these keys apart from every other use of the
 * cluster key (the heartbeat's HMAC uses the key itself).
 */
import { hkdfSync } from 'node:crypto';
import type { ConnectionOptions, TLSSocket, TlsOptions } from 'node:tls';
import { isValidName, ReplicationError } from '../../common/protocol/replication.js';
import { MIN_KEY_BYTES, keyId } from '../security/cluster-key.js';

const PSK_SALT = 'vigil/replication';
const PSK_LABEL = 'vigil/replication/tls-psk/v1/';
const PSK_BYTES = 32;

export const TLS_SETTINGS = {
  minVersion: 'TLSv1.3',
  maxVersion: 'TLSv1.3',
  ciphers: 'TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256',
} as const;

/** The PSK a node presents under its own id. */
export function replicationPsk(clusterKey: Buffer, nodeId: string): Buffer {
  return Buffer.from(hkdfSync('sha256', clusterKey, PSK_SALT, PSK_LABEL + nodeId, PSK_BYTES));
}

/** Refuse, at construction, what would only fail later on the wire. */
export function checkIdentity(key: Buffer, nodeId: string, clusterId: string): void {
  if (!Buffer.isBuffer(key) || key.length < MIN_KEY_BYTES) {
    throw new ReplicationError('VIGIL_REPL_CONFIG', `key: ${Buffer.isBuffer(key) ? `${key.length} bytes` : 'not a Buffer'}, at least ${MIN_KEY_BYTES} bytes are needed`);
  }
  if (!isValidName(nodeId)) throw new ReplicationError('VIGIL_REPL_CONFIG', `nodeId: ${JSON.stringify(nodeId)} is not a name (1 to 63 printable ASCII characters)`);
  if (!isValidName(clusterId)) throw new ReplicationError('VIGIL_REPL_CONFIG', `clusterId: ${JSON.stringify(clusterId)} is not a name (1 to 63 printable ASCII characters)`);
}

/**
 * The PSK identity names the node and which cluster key it derived its PSK from, so that during a key rotation the
 * server knows which of the keys it accepts to use.
 */
function pskIdentity(nodeId: string, key: Buffer): string {
  return `${nodeId}${KEY_ID_SEPARATOR}${keyId(key)}`;
}

const KEY_ID_SEPARATOR = '/';

export function clientTlsOptions(key: Buffer, nodeId: string): ConnectionOptions {
  const psk = replicationPsk(key, nodeId);
  return {
    ...TLS_SETTINGS,
    pskCallback: () => ({ psk, identity: pskIdentity(nodeId, key) }),
    // There is no certificate: the PSK proves the server, since only a holder of the cluster key completes it.
    checkServerIdentity: () => undefined,
  };
}

/**
 * `keys`: the cluster keys accepted, the one sent first. `identities` learns which node each socket proved to be;
 * an identity that is not a name, or names a key not accepted here, is refused.
 */
export function serverTlsOptions(keys: readonly Buffer[], identities: WeakMap<TLSSocket, string>, handshakeTimeoutMs: number): TlsOptions {
  const psks = new Map<string, Buffer>();
  const byId = new Map(keys.map((k) => [keyId(k), k]));
  return {
    ...TLS_SETTINGS,
    handshakeTimeout: handshakeTimeoutMs,
    pskCallback: (socket: TLSSocket, identity: string) => {
      const at = identity.lastIndexOf(KEY_ID_SEPARATOR);
      const nodeId = at < 0 ? identity : identity.slice(0, at);
      // A key not accepted here: answer with ours, so the handshake fails as for any wrong key ("key differs").
      const key = byId.get(identity.slice(at + 1)) ?? keys[0];
      if (at < 0 || !isValidName(nodeId) || key === undefined) return null;
      let psk = psks.get(identity);
      if (!psk) {
        psk = replicationPsk(key, nodeId);
        if (psks.size < 1024) psks.set(identity, psk); // a cache for real nodes, not a store for anyone's guesses
      }
      identities.set(socket, nodeId);
      return psk;
    },
  };
}

/** A failed TLS handshake as this module's error: who failed, and the likeliest reason. */
export function handshakeError(side: 'client' | 'server', peer: string, e: Error & { code?: string }): ReplicationError {
  const reason = `${e.code ?? 'error'}: ${e.message.split('\n')[0]}`;
  const code = e.code ?? '';
  if (code === 'ERR_TLS_HANDSHAKE_TIMEOUT') return new ReplicationError('VIGIL_REPL_TIMEOUT', `${peer}: no TLS handshake within the time allowed (${reason})`);
  if (code === 'ECONNRESET' || code === 'EPIPE') return new ReplicationError('VIGIL_REPL_SOCKET', `${peer}: the connection broke during the TLS handshake (${reason})`);
  // Server side: a wrong key shows as a PSK binder that does not verify; a client without a PSK as no certificate to offer.
  if (side === 'server') {
    if (code === 'ERR_SSL_BINDER_DOES_NOT_VERIFY') return new ReplicationError('VIGIL_REPL_AUTH', `${peer}: TLS-PSK authentication failed, the peer's cluster key differs (${reason})`);
    if (code === 'ERR_SSL_NO_SUITABLE_SIGNATURE_ALGORITHM' || code === 'ERR_SSL_NO_SHARED_CIPHER') {
      return new ReplicationError('VIGIL_REPL_AUTH', `${peer}: the client offered no usable pre-shared key (not a Vigil node, or an invalid node id) (${reason})`);
    }
    return new ReplicationError('VIGIL_REPL_HANDSHAKE', `${peer}: not a TLS 1.3 PSK client (${reason})`);
  }
  // Client side: the server answers a wrong key with an alert; OpenSSL names it after the alert, not the cause.
  if (code.startsWith('ERR_SSL_SSLV3_ALERT') || code.startsWith('ERR_SSL_TLSV1_ALERT')) {
    return new ReplicationError('VIGIL_REPL_AUTH', `${peer}: the server refused the TLS-PSK handshake, its cluster key differs or it is not a replication endpoint (${reason})`);
  }
  return new ReplicationError('VIGIL_REPL_HANDSHAKE', `${peer}: TLS handshake failed (${reason})`);
}
