/**
 * The cluster's small PKI: one CA (ECDSA P-256), a certificate per node (server and client: the API and peer
 * agents), certificates for users, and the trust bundle agents verify clients against. Everything lives in one
 * owner-only folder on the administrator's machine; each agent needs trust.pem, nodes/<id>.crt and nodes/<id>.key.
 *
 *   ca.crt ca.key        the current CA (the key signs; keep this folder off the nodes if you can)
 *   ca.previous.crt      the CA being retired, present only during a rotation
 *   trust.pem            the CAs agents trust: ca.crt, plus ca.previous.crt during a rotation
 *   cluster.key          the heartbeat/replication key (32 random bytes, base64), see cluster-key.ts
 *   pki.json             the cluster id and each node's hosts, so a rotation can reissue node certificates
 *   nodes/<id>.crt .key  users/<name>.crt .key  tokens.json
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { randomBytes, webcrypto, X509Certificate } from 'node:crypto';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { USER_ROLES, type UserRole } from '../../common/model/auth.js';
import { isClusterOrNodeId, isUserName, subjectAltNames, type SubjectAltNames } from './cert-names.js';
import { certificatesIn, PkiError, pkiPaths, readText } from './pki-files.js';
import { ensureSecretDir, writeSecretFile } from './secret-files.js';
import { TokenStore } from './tokens.js';

x509.cryptoProvider.set(webcrypto);

export { loadAgentTls, PkiError, pkiPaths, type AgentTls, type PkiErrorCode } from './pki-files.js';


export const CA_DAYS = 3650;
export const DEFAULT_CERT_DAYS = 365;
const DAY_MS = 86_400_000;
// Certificates start a little in the past, so a node whose clock lags the administrator's accepts them at once.
const BACKDATE_MS = 5 * 60_000;

const ALGORITHM: webcrypto.EcKeyGenParams = { name: 'ECDSA', namedCurve: 'P-256' };
const SIGNING: webcrypto.EcdsaParams = { name: 'ECDSA', hash: 'SHA-256' };


export interface NodeHosts {
  readonly id: string;
  /** IP addresses and DNS names clients reach the node by; localhost and 127.0.0.1 are always added. */
  readonly hosts: readonly string[];
}

interface Manifest {
  readonly version: 1;
  readonly clusterId: string;
  readonly nodes: readonly NodeHosts[];
}

/** A CA able to sign: its certificate and private key. */
export interface CertificateAuthority {
  readonly cert: x509.X509Certificate;
  readonly key: webcrypto.CryptoKey;
  readonly certPem: string;
  readonly keyPem: string;
}

export interface IssuedPem {
  readonly cert: string;
  readonly key: string;
}

export interface LeafRequest {
  readonly clusterId: string;
  readonly commonName: string;
  /** "node", or the user's role. */
  readonly unit: 'node' | UserRole;
  readonly altNames?: SubjectAltNames;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

async function privateKeyPem(key: webcrypto.CryptoKey): Promise<string> {
  return pemFile(x509.PemConverter.encode(await webcrypto.subtle.exportKey('pkcs8', key), 'PRIVATE KEY'));
}

/** PEM text as a file holds it: ending in a newline, so bundles can be concatenated. */
const pemFile = (pem: string): string => `${pem.trimEnd()}\n`;

/** A new self-signed CA for `clusterId`; its CN carries the time so an old and a new CA have distinct names. */
export async function createCertificateAuthority(clusterId: string, notBefore: Date, notAfter: Date): Promise<CertificateAuthority> {
  const keys = await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    name: [{ O: [clusterId] }, { OU: ['ca'] }, { CN: [`Vigil CA ${clusterId} ${notBefore.toISOString()}`] }],
    keys,
    notBefore,
    notAfter,
    signingAlgorithm: SIGNING,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { cert, key: keys.privateKey, certPem: pemFile(cert.toString('pem')), keyPem: await privateKeyPem(keys.privateKey) };
}

/** Sign a node or user certificate under `ca`, with a fresh key pair. Dates are the caller's (tests issue expired ones). */
export async function signLeafCertificate(ca: CertificateAuthority, request: LeafRequest): Promise<IssuedPem> {
  const keys = await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify']);
  const usages = request.unit === 'node' ? [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth] : [x509.ExtendedKeyUsage.clientAuth];
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension(usages),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    await x509.AuthorityKeyIdentifierExtension.create(ca.cert.publicKey),
  ];
  if (request.altNames) {
    extensions.push(new x509.SubjectAlternativeNameExtension([
      ...request.altNames.dns.map((value) => ({ type: 'dns' as const, value })),
      ...request.altNames.ip.map((value) => ({ type: 'ip' as const, value })),
    ]));
  }
  const cert = await x509.X509CertificateGenerator.create({
    subject: [{ O: [request.clusterId] }, { OU: [request.unit] }, { CN: [request.commonName] }],
    issuer: ca.cert.subjectName,
    publicKey: keys.publicKey,
    signingKey: ca.key,
    serialNumber: positiveSerial(),
    notBefore: request.notBefore,
    notAfter: request.notAfter,
    signingAlgorithm: SIGNING,
    extensions,
  });
  return { cert: pemFile(cert.toString('pem')), key: await privateKeyPem(keys.privateKey) };
}

function positiveSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = bytes[0]! & 0x7f; // DER integers are signed: a clear top bit keeps the serial positive
  return bytes.toString('hex');
}


/** The current CA of the folder, able to sign. */
export async function loadCertificateAuthority(dir: string): Promise<CertificateAuthority> {
  const paths = pkiPaths(dir);
  const certPem = readText(paths.caCert);
  const keyPem = readText(paths.caKey);
  let cert: x509.X509Certificate;
  try {
    cert = new x509.X509Certificate(certPem);
  } catch (e) {
    throw new PkiError('VIGIL_PKI_FILE_DAMAGED', `${paths.caCert}: not a PEM certificate (${(e as Error).message})`);
  }
  let key: webcrypto.CryptoKey;
  try {
    key = await webcrypto.subtle.importKey('pkcs8', x509.PemConverter.decodeFirst(keyPem), ALGORITHM, true, ['sign']);
  } catch (e) {
    throw new PkiError('VIGIL_PKI_FILE_DAMAGED', `${paths.caKey}: not a PEM P-256 private key (${(e as Error).message})`);
  }
  return { cert, key, certPem, keyPem };
}

function readManifest(dir: string): Manifest {
  const path = pkiPaths(dir).manifest;
  let data: unknown;
  try {
    data = JSON.parse(readText(path));
  } catch (e) {
    if (e instanceof PkiError) throw e;
    throw new PkiError('VIGIL_PKI_FILE_DAMAGED', `${path}: not JSON (${(e as Error).message})`);
  }
  const m = data as Partial<Manifest> | null;
  if (typeof m !== 'object' || m === null || m.version !== 1) throw new PkiError('VIGIL_PKI_FILE_DAMAGED', `${path}: version: expected 1`);
  if (typeof m.clusterId !== 'string' || !isClusterOrNodeId(m.clusterId)) throw new PkiError('VIGIL_PKI_FILE_DAMAGED', `${path}: clusterId: expected a cluster id`);
  if (!Array.isArray(m.nodes)) throw new PkiError('VIGIL_PKI_FILE_DAMAGED', `${path}: nodes: expected a list`);
  m.nodes.forEach((n: Partial<NodeHosts> | null, i) => {
    if (typeof n?.id !== 'string' || !isClusterOrNodeId(n.id)) throw new PkiError('VIGIL_PKI_FILE_DAMAGED', `${path}: nodes[${i}].id: expected a node id`);
    if (!Array.isArray(n.hosts) || !n.hosts.every((h) => typeof h === 'string')) throw new PkiError('VIGIL_PKI_FILE_DAMAGED', `${path}: nodes[${i}].hosts: expected a list of hosts`);
  });
  return m as Manifest;
}

function checkDays(days: number, field: string): void {
  if (!Number.isInteger(days) || days < 1 || days > CA_DAYS) throw new PkiError('VIGIL_PKI_BAD_ARGUMENT', `${field}: expected a whole number of days from 1 to ${CA_DAYS}, not ${days}`);
}

function validity(now: number, days: number): { notBefore: Date; notAfter: Date } {
  return { notBefore: new Date(now - BACKDATE_MS), notAfter: new Date(now + days * DAY_MS) };
}

async function issueNodeCertificates(dir: string, ca: CertificateAuthority, manifest: Manifest, now: number, days: number): Promise<void> {
  const paths = pkiPaths(dir);
  ensureSecretDir(paths.nodes);
  for (const node of manifest.nodes) {
    const altNames = subjectAltNames(node.hosts);
    if ('invalid' in altNames) throw new PkiError('VIGIL_PKI_BAD_HOST', `node ${node.id}: "${altNames.invalid}" is neither an IP address nor a DNS name`);
    const issued = await signLeafCertificate(ca, { clusterId: manifest.clusterId, commonName: node.id, unit: 'node', altNames, ...validity(now, days) });
    writeSecretFile(paths.nodeKey(node.id), issued.key);
    writeSecretFile(paths.nodeCert(node.id), issued.cert);
  }
}

export interface InitClusterOptions {
  readonly dir: string;
  readonly clusterId: string;
  readonly nodes: readonly NodeHosts[];
  /** Validity of node and user certificates (default 365); the CA is valid for ten years. */
  readonly days?: number;
  /** Replace an existing PKI in `dir`: its CA, certificates, cluster key and tokens are all discarded. */
  readonly overwrite?: boolean;
  readonly now?: number;
}

export interface InitClusterResult {
  /** The first admin token: shown once, only its hash is stored. */
  readonly adminToken: string;
  readonly files: readonly string[];
}

/** Create a cluster's CA, node certificates, cluster key, the admin's certificate and a first admin token. */
export async function initCluster(options: InitClusterOptions): Promise<InitClusterResult> {
  const { dir, clusterId, nodes, days = DEFAULT_CERT_DAYS, now = Date.now() } = options;
  if (!isClusterOrNodeId(clusterId)) throw new PkiError('VIGIL_PKI_BAD_NAME', `cluster id "${clusterId}": expected a lowercase name (a letter, then letters, digits, "-" or "_")`);
  if (nodes.length === 0) throw new PkiError('VIGIL_PKI_BAD_ARGUMENT', 'nodes: at least one node is needed');
  const seen = new Set<string>();
  for (const node of nodes) {
    if (!isClusterOrNodeId(node.id)) throw new PkiError('VIGIL_PKI_BAD_NAME', `node id "${node.id}": expected a lowercase name (a letter, then letters, digits, "-" or "_")`);
    if (seen.has(node.id)) throw new PkiError('VIGIL_PKI_BAD_ARGUMENT', `node ${node.id}: given twice`);
    seen.add(node.id);
    const altNames = subjectAltNames(node.hosts);
    if ('invalid' in altNames) throw new PkiError('VIGIL_PKI_BAD_HOST', `node ${node.id}: "${altNames.invalid}" is neither an IP address nor a DNS name`);
  }
  checkDays(days, 'days');
  const paths = pkiPaths(dir);
  if (existsSync(paths.caCert) || existsSync(paths.caKey)) {
    if (!options.overwrite) throw new PkiError('VIGIL_PKI_CA_EXISTS', `${paths.caCert}: a CA exists already (overwrite it with --force: every certificate and token of it stops working)`);
    for (const path of [paths.nodes, paths.users, paths.tokens, paths.previousCaCert]) rmSync(path, { recursive: true, force: true });
  }
  ensureSecretDir(dir);

  const ca = await createCertificateAuthority(clusterId, new Date(now - BACKDATE_MS), new Date(now + CA_DAYS * DAY_MS));
  writeSecretFile(paths.caKey, ca.keyPem);
  writeSecretFile(paths.caCert, ca.certPem);
  writeSecretFile(paths.trust, ca.certPem);
  writeSecretFile(paths.clusterKey, `${randomBytes(32).toString('base64')}\n`);
  const manifest: Manifest = { version: 1, clusterId, nodes: nodes.map((n) => ({ id: n.id, hosts: [...n.hosts] })) };
  writeSecretFile(paths.manifest, `${JSON.stringify(manifest, null, 2)}\n`);
  await issueNodeCertificates(dir, ca, manifest, now, days);
  await issueUserCertificate({ dir, user: 'admin', role: 'admin', days, now });
  const { token } = TokenStore.open(paths.tokens).create({ name: 'admin', role: 'admin' }, now);
  return { adminToken: token, files: listFiles(dir) };
}

function listFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)))
    .sort();
}

export interface IssueUserOptions {
  readonly dir: string;
  readonly user: string;
  readonly role: UserRole;
  readonly days: number;
  readonly now?: number;
}

/** Issue (or re-issue) a user's client certificate under the current CA; the role is the subject's OU. */
export async function issueUserCertificate(options: IssueUserOptions): Promise<{ readonly cert: string; readonly key: string }> {
  const { dir, user, role, days, now = Date.now() } = options;
  if (!isUserName(user)) throw new PkiError('VIGIL_PKI_BAD_NAME', `user "${user}": expected letters, digits and ". _ @ -", starting with a letter or digit (at most 64)`);
  if (!(USER_ROLES as readonly string[]).includes(role)) throw new PkiError('VIGIL_PKI_BAD_ARGUMENT', `role "${role}": expected one of ${USER_ROLES.join(', ')}`);
  checkDays(days, 'days');
  const manifest = readManifest(dir);
  const ca = await loadCertificateAuthority(dir);
  const issued = await signLeafCertificate(ca, { clusterId: manifest.clusterId, commonName: user, unit: role, ...validity(now, days) });
  const paths = pkiPaths(dir);
  ensureSecretDir(paths.users);
  writeSecretFile(paths.userKey(user), issued.key);
  writeSecretFile(paths.userCert(user), issued.cert);
  return { cert: paths.userCert(user), key: paths.userKey(user) };
}



export interface RotateCaOptions {
  readonly dir: string;
  /** Validity of the reissued node certificates (default 365). */
  readonly days?: number;
  readonly now?: number;
}

export interface RotationResult {
  /** Users whose certificate is still signed by the old CA: after finishRotation it stops working. */
  readonly usersOnOldCa: readonly string[];
}

/**
 * First step of a CA rotation: a new CA signs from now on, trust.pem holds the new and the old CA, and every
 * node certificate is reissued under the new CA. Distribute trust.pem and the node files to every node, re-issue
 * the users' certificates, then call finishRotation. Tokens do not depend on the CA and stay valid.
 */
export async function rotateCa(options: RotateCaOptions): Promise<RotationResult> {
  const { dir, days = DEFAULT_CERT_DAYS, now = Date.now() } = options;
  checkDays(days, 'days');
  const paths = pkiPaths(dir);
  if (existsSync(paths.previousCaCert)) throw new PkiError('VIGIL_PKI_ROTATION_IN_PROGRESS', `${paths.previousCaCert}: a rotation is under way (finish it first)`);
  const manifest = readManifest(dir);
  const old = await loadCertificateAuthority(dir);
  const ca = await createCertificateAuthority(manifest.clusterId, new Date(now - BACKDATE_MS), new Date(now + CA_DAYS * DAY_MS));
  // The old certificate is saved first: if we stop half way, the folder still says a rotation is under way.
  writeSecretFile(paths.previousCaCert, old.certPem);
  writeSecretFile(paths.caKey, ca.keyPem);
  writeSecretFile(paths.caCert, ca.certPem);
  writeSecretFile(paths.trust, ca.certPem + pemFile(old.certPem));
  await issueNodeCertificates(dir, ca, manifest, now, days);
  return { usersOnOldCa: usersNotIssuedBy(dir, new X509Certificate(ca.certPem)) };
}

/** Last step of a CA rotation: trust.pem holds only the new CA, so certificates of the old one are refused. */
export function finishRotation(options: { readonly dir: string }): RotationResult {
  const paths = pkiPaths(options.dir);
  if (!existsSync(paths.previousCaCert)) throw new PkiError('VIGIL_PKI_NOT_ROTATING', `${paths.previousCaCert}: missing: no rotation is under way (start one with "vigil rotate ca")`);
  const certPem = readText(paths.caCert);
  const [current] = certificatesIn(certPem, paths.caCert);
  if (current === undefined) throw new PkiError('VIGIL_PKI_FILE_DAMAGED', `${paths.caCert}: holds no certificate`);
  writeSecretFile(paths.trust, certPem);
  rmSync(paths.previousCaCert);
  return { usersOnOldCa: usersNotIssuedBy(options.dir, current) };
}

function usersNotIssuedBy(dir: string, ca: X509Certificate): string[] {
  const usersDir = pkiPaths(dir).users;
  if (!existsSync(usersDir)) return [];
  return readdirSync(usersDir)
    .filter((name) => name.endsWith('.crt'))
    .filter((name) => {
      const [cert] = certificatesIn(readText(join(usersDir, name)), join(usersDir, name));
      return cert === undefined || !cert.verify(ca.publicKey);
    })
    .map((name) => name.slice(0, -'.crt'.length))
    .sort();
}
