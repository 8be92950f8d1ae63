/**
 * What an agent reads of the PKI folder (pki.ts makes it): the folder's layout and the node's own TLS material.
 * Nothing here makes or signs a certificate, so the agent does not load the X.509 library pki.ts needs for that
 * (30-40 ms of every start, measured on the bundle).
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isClusterOrNodeId } from './cert-names.js';

export type PkiErrorCode =
  | 'VIGIL_PKI_CA_EXISTS'             // init would replace a CA: pass overwrite (--force) to mean it
  | 'VIGIL_PKI_NOT_INITIALIZED'       // the folder holds no CA or no pki.json
  | 'VIGIL_PKI_FILE_UNREADABLE'
  | 'VIGIL_PKI_FILE_DAMAGED'
  | 'VIGIL_PKI_BAD_NAME'              // a cluster id, node id or user name we would not put in a subject
  | 'VIGIL_PKI_BAD_HOST'
  | 'VIGIL_PKI_BAD_ARGUMENT'
  | 'VIGIL_PKI_UNKNOWN_NODE'
  | 'VIGIL_PKI_ROTATION_IN_PROGRESS'  // rotateCa twice without finishRotation
  | 'VIGIL_PKI_NOT_ROTATING';

export class PkiError extends Error {
  constructor(readonly code: PkiErrorCode, message: string) {
    super(message);
    this.name = 'PkiError';
  }
}

export const pkiPaths = (dir: string) => ({
  caCert: join(dir, 'ca.crt'),
  caKey: join(dir, 'ca.key'),
  previousCaCert: join(dir, 'ca.previous.crt'),
  trust: join(dir, 'trust.pem'),
  clusterKey: join(dir, 'cluster.key'),
  manifest: join(dir, 'pki.json'),
  tokens: join(dir, 'tokens.json'),
  nodes: join(dir, 'nodes'),
  users: join(dir, 'users'),
  nodeCert: (id: string) => join(dir, 'nodes', `${id}.crt`),
  nodeKey: (id: string) => join(dir, 'nodes', `${id}.key`),
  userCert: (name: string) => join(dir, 'users', `${name}.crt`),
  userKey: (name: string) => join(dir, 'users', `${name}.key`),
});

/** A file of the folder, as text; missing or unreadable is a PkiError naming it. */
export function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOENT') throw new PkiError('VIGIL_PKI_NOT_INITIALIZED', `${path}: missing (run "vigil init" first)`);
    throw new PkiError('VIGIL_PKI_FILE_UNREADABLE', `${path}: cannot be read (${err.code ?? err.message})`);
  }
}

/** Options for `tls.createServer` / `https.createServer`, plus what the server must add itself. */
export interface AgentTls {
  /** trust.pem: the CA (two CAs during a rotation) client certificates are verified against. */
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

/**
 * The TLS material of node `nodeId`. Create the server with `{ ...loadAgentTls(dir, id), requestCert: true,
 * rejectUnauthorized: false }`: a client may authenticate by token instead of certificate, so TLS must not drop
 * it; a certificate then counts only if `socket.authorized` (use principalFromTlsSocket, which checks it).
 */
export function loadAgentTls(dir: string, nodeId: string): AgentTls {
  const paths = pkiPaths(dir);
  if (!isClusterOrNodeId(nodeId)) throw new PkiError('VIGIL_PKI_BAD_NAME', `node id "${nodeId}": expected a lowercase name`);
  if (!existsSync(paths.nodeCert(nodeId))) throw new PkiError('VIGIL_PKI_UNKNOWN_NODE', `${paths.nodeCert(nodeId)}: missing (is "${nodeId}" one of the nodes given to "vigil init"?)`);
  const ca = readText(paths.trust);
  const cert = readText(paths.nodeCert(nodeId));
  const key = readText(paths.nodeKey(nodeId));
  const trusted = certificatesIn(ca, paths.trust);
  if (trusted.length === 0) throw new PkiError('VIGIL_PKI_FILE_DAMAGED', `${paths.trust}: holds no certificate`);
  const [own] = certificatesIn(cert, paths.nodeCert(nodeId));
  if (own === undefined) throw new PkiError('VIGIL_PKI_FILE_DAMAGED', `${paths.nodeCert(nodeId)}: holds no certificate`);
  try {
    createPrivateKey(key);
  } catch (e) {
    throw new PkiError('VIGIL_PKI_FILE_DAMAGED', `${paths.nodeKey(nodeId)}: not a PEM private key (${(e as Error).message})`);
  }
  return { ca, cert, key };
}

/** The certificates of a PEM bundle, in order; a damaged one is named by its position. */
export function certificatesIn(pem: string, path: string): X509Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((block, i) => {
    try {
      return new X509Certificate(block);
    } catch (e) {
      throw new PkiError('VIGIL_PKI_FILE_DAMAGED', `${path}: certificate ${i + 1} cannot be read (${(e as Error).message})`);
    }
  });
}
