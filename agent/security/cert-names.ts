/**
 * What the cluster's certificates say and how a caller is read from one. The subject carries the identity:
 * CN = the node id or user name, OU = the role ("node" for agents), O = the cluster id. Names are limited to
 * characters that need no escaping in a distinguished name, so the subject can be read back unambiguously.
 */
import { isIP } from 'node:net';
import type { X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import { USER_ROLES, type Principal, type Role } from '../../common/model/auth.js';

/** Node and cluster ids, as the configuration spells them (see common/config/schema.ts). */
const SLUG = /^[a-z][a-z0-9_-]{0,62}$/;
/** User names: letters, digits and ". _ @ -", starting with a letter or digit; e-mail addresses fit. */
const USER_NAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;
const DNS_LABEL = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

export function isClusterOrNodeId(text: string): boolean {
  return SLUG.test(text);
}

export function isUserName(text: string): boolean {
  return USER_NAME.test(text);
}

export interface SubjectAltNames {
  readonly dns: readonly string[];
  readonly ip: readonly string[];
}

/**
 * Sort a node's hosts into IP and DNS names, always adding localhost and 127.0.0.1 (the CLI on the node itself).
 * Returns the first host that is neither an IP address nor a DNS name as an error.
 */
export function subjectAltNames(hosts: readonly string[]): SubjectAltNames | { readonly invalid: string } {
  const dns = new Set<string>(['localhost']);
  const ip = new Set<string>(['127.0.0.1']);
  for (const host of hosts) {
    if (isIP(host) !== 0) ip.add(host);
    else if (host.length <= 253 && host.split('.').every((label) => DNS_LABEL.test(label))) dns.add(host.toLowerCase());
    else return { invalid: host };
  }
  return { dns: [...dns], ip: [...ip] };
}

/** Why a certificate gives no principal; stable codes the API maps to its own error. */
export type CertificateRefusal =
  | 'CERT_MISSING'          // the client sent no certificate
  | 'CERT_UNTRUSTED'        // TLS did not verify it against trust.pem (foreign CA, expired, ...)
  | 'CERT_EXPIRED'          // its validity has ended (checked again here, defence in depth)
  | 'CERT_NOT_YET_VALID'
  | 'CERT_FOREIGN_CLUSTER'  // O is not this cluster's id
  | 'CERT_BAD_SUBJECT';     // CN, OU or O missing, repeated, or not a name we issue

export type PrincipalResult =
  | { readonly ok: true; readonly principal: Principal }
  | { readonly ok: false; readonly code: CertificateRefusal; readonly message: string };

/** The parts of a certificate read here: node:crypto's X509Certificate, or `socket.getPeerX509Certificate()`. */
export type CertificateFields = Pick<X509Certificate, 'subject' | 'validFrom' | 'validTo'>;

const refuse = (code: CertificateRefusal, message: string): PrincipalResult => ({ ok: false, code, message });

/**
 * The principal a certificate names. This does not check the signature: TLS does that against trust.pem (see
 * principalFromTlsSocket); it checks what TLS leaves to us: the cluster, the role, the name, and the dates again.
 */
export function principalFromCertificate(cert: CertificateFields, clusterId: string, now: number): PrincipalResult {
  const notBefore = Date.parse(cert.validFrom);
  const notAfter = Date.parse(cert.validTo);
  if (Number.isNaN(notBefore) || Number.isNaN(notAfter)) return refuse('CERT_BAD_SUBJECT', `unreadable validity "${cert.validFrom}" .. "${cert.validTo}"`);
  if (now > notAfter) return refuse('CERT_EXPIRED', `expired at ${new Date(notAfter).toISOString()}`);
  if (now < notBefore) return refuse('CERT_NOT_YET_VALID', `valid only from ${new Date(notBefore).toISOString()}`);

  const fields = new Map<string, string[]>();
  // node:crypto prints the subject one "KEY=value" per line.
  for (const line of cert.subject.split('\n')) {
    const eq = line.indexOf('=');
    if (eq <= 0) return refuse('CERT_BAD_SUBJECT', `subject line "${line}" is not KEY=value`);
    const key = line.slice(0, eq);
    fields.set(key, [...(fields.get(key) ?? []), line.slice(eq + 1)]);
  }
  const one = (key: string): string | undefined => {
    const values = fields.get(key);
    return values?.length === 1 ? values[0] : undefined;
  };
  const organization = one('O');
  const unit = one('OU');
  const common = one('CN');
  if (organization === undefined || unit === undefined || common === undefined) {
    return refuse('CERT_BAD_SUBJECT', 'the subject needs exactly one each of CN, OU and O');
  }
  if (organization !== clusterId) return refuse('CERT_FOREIGN_CLUSTER', `O=${organization} is not this cluster (${clusterId})`);
  if (unit === 'node') {
    if (!isClusterOrNodeId(common)) return refuse('CERT_BAD_SUBJECT', `CN=${common} is not a node id`);
    return { ok: true, principal: { name: `node:${common}`, role: 'node', via: 'certificate' } };
  }
  if (!(USER_ROLES as readonly string[]).includes(unit)) return refuse('CERT_BAD_SUBJECT', `OU=${unit} is not a role (${USER_ROLES.join(', ')}, node)`);
  if (!isUserName(common)) return refuse('CERT_BAD_SUBJECT', `CN=${common} is not a user name`);
  return { ok: true, principal: { name: common, role: unit as Role, via: 'certificate' } };
}

/**
 * The principal of a TLS client. The server is created with `requestCert: true, rejectUnauthorized: false` (a
 * token may come instead of a certificate), so a certificate counts only if `socket.authorized`: Node verified
 * its chain and dates against trust.pem.
 */
export function principalFromTlsSocket(socket: TLSSocket, clusterId: string, now: number): PrincipalResult {
  const cert = socket.getPeerX509Certificate();
  if (cert === undefined) return refuse('CERT_MISSING', 'the client sent no certificate');
  if (!socket.authorized) return refuse('CERT_UNTRUSTED', `not issued by this cluster's CA or not valid (${tlsReason(socket.authorizationError)})`);
  return principalFromCertificate(cert, clusterId, now);
}

/** OpenSSL's code for why verification failed ("CERT_HAS_EXPIRED"); Node types it as an Error but passes a string or null. */
export function tlsReason(error: unknown): string {
  if (typeof error === 'object' && error !== null && 'code' in error) return String(error.code);
  return String(error);
}
