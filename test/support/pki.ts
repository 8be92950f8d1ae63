/**
 * Certificates a real cluster never issues, for tests that prove they are refused: one whose validity has ended
 * (signed by the cluster's own CA) and one from a foreign CA that claims the same cluster id. Plus a TLS server and
 * client pair on 127.0.0.1 that report what the server made of the client.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createServer, type TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import type { TestContext } from 'node:test';
import type { UserRole } from '../../common/model/auth.js';
import { principalFromTlsSocket, tlsReason, type PrincipalResult } from '../../agent/security/cert-names.js';
import { createCertificateAuthority, loadCertificateAuthority, signLeafCertificate, type AgentTls, type IssuedPem } from '../../agent/security/pki.js';

const DAY_MS = 86_400_000;

/** A temporary folder removed when the test ends. */
export function tempDir(t: TestContext, prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `vigil-${prefix}-`));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A user certificate of the cluster in `dir`, signed by its current CA, that expired yesterday. */
export async function issueExpiredCertificate(dir: string, clusterId: string, user: string, role: UserRole): Promise<IssuedPem> {
  const ca = await loadCertificateAuthority(dir);
  const now = Date.now();
  return signLeafCertificate(ca, { clusterId, commonName: user, unit: role, notBefore: new Date(now - 30 * DAY_MS), notAfter: new Date(now - DAY_MS) });
}

/** A currently valid user certificate from a CA of its own that calls itself `clusterId`. */
export async function issueForeignCertificate(clusterId: string, user: string, role: UserRole): Promise<IssuedPem> {
  const now = Date.now();
  const foreign = await createCertificateAuthority(clusterId, new Date(now - DAY_MS), new Date(now + 10 * DAY_MS));
  return signLeafCertificate(foreign, { clusterId, commonName: user, unit: role, notBefore: new Date(now - DAY_MS), notAfter: new Date(now + DAY_MS) });
}

export interface TlsVerdict {
  readonly authorized: boolean;
  readonly authorizationError: string | null;
  readonly principal: PrincipalResult;
}

/**
 * A TLS server configured as the API will be (requestCert, rejectUnauthorized false), on 127.0.0.1, port 0.
 * Each connection is answered with the server's verdict on the client as JSON, then closed.
 */
export async function startVerdictServer(t: TestContext, tls: AgentTls, clusterId: string): Promise<number> {
  const server = createServer({ ...tls, requestCert: true, rejectUnauthorized: false }, (socket: TLSSocket) => {
    const verdict: TlsVerdict = {
      authorized: socket.authorized,
      authorizationError: socket.authorized ? null : tlsReason(socket.authorizationError),
      principal: principalFromTlsSocket(socket, clusterId, Date.now()),
    };
    socket.end(JSON.stringify(verdict));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return (server.address() as AddressInfo).port;
}

/** Connect with `client` (trust bundle and optional certificate), verifying the server as 127.0.0.1; the server's verdict. */
export function askVerdict(port: number, client: { readonly ca: string; readonly cert?: string; readonly key?: string }): Promise<TlsVerdict> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, ...client }, () => {
      let text = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => { text += chunk; });
      socket.on('end', () => {
        socket.destroy();
        try {
          resolve(JSON.parse(text) as TlsVerdict);
        } catch (e) {
          reject(e as Error);
        }
      });
    });
    socket.on('error', reject);
  });
}
