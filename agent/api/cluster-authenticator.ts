/** The Authenticator over the cluster's PKI and token file (agent/security). */
import type { X509Certificate } from 'node:crypto';
import { principalFromCertificate } from '../security/cert-names.js';
import type { TokenStore } from '../security/tokens.js';
import type { AuthResult, Authenticator } from './authenticator.js';

export function clusterAuthenticator(clusterId: string, tokens: TokenStore, log: (line: string) => void, now: () => number = Date.now): Authenticator {
  return {
    fromCertificate(cert: X509Certificate, tlsError: string | undefined): AuthResult {
      if (tlsError !== undefined) return { ok: false, code: 'CERTIFICATE_REJECTED', message: `client certificate refused: ${tlsError}` };
      const verdict = principalFromCertificate(cert, clusterId, now());
      return verdict.ok ? { ok: true, principal: verdict.principal } : { ok: false, code: 'CERTIFICATE_REJECTED', message: `client certificate refused: ${verdict.message}` };
    },
    fromToken(token: string): AuthResult {
      try {
        const verdict = tokens.verify(token, now());
        if (verdict.ok) return { ok: true, principal: verdict.principal };
        return verdict.code === 'EXPIRED_TOKEN' ? { ok: false, code: 'TOKEN_EXPIRED', message: 'the token has expired' }
          : { ok: false, code: 'BAD_CREDENTIALS', message: verdict.code === 'MALFORMED_TOKEN' ? 'not a Vigil token' : 'unknown token' };
      } catch (e) {
        // A damaged token file fails closed; the operator learns why from the log.
        log(`token file: ${(e as Error).message}`);
        return { ok: false, code: 'BAD_CREDENTIALS', message: 'tokens cannot be checked on this node now' };
      }
    },
  };
}
