/**
 * Who is calling: decided from a client certificate checked by TLS against the cluster's CA, or a bearer token,
 * before any handler runs. The implementation sits over the PKI and the token store (agent/security); the API
 * server only sees this interface.
 */
import type { X509Certificate } from 'node:crypto';
import type { Principal } from '../../common/model/index.js';
import type { ErrorCode } from '../../common/protocol/api.js';

export type AuthResult = { readonly ok: true; readonly principal: Principal } | { readonly ok: false; readonly code: ErrorCode; readonly message: string };

export interface Authenticator {
  /** A certificate the client presented; `tlsError` is TLS's verdict against the trusted CAs, if it refused it. */
  fromCertificate(cert: X509Certificate, tlsError: string | undefined): AuthResult;
  fromToken(token: string): AuthResult;
}

/** The bearer token of an `Authorization: Bearer ...` header, if any. */
export function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match ? match[1] : '';
}
