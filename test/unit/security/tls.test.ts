import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { principalFromCertificate } from '../../../agent/security/cert-names.js';
import { finishRotation, initCluster, issueUserCertificate, loadAgentTls, pkiPaths, rotateCa } from '../../../agent/security/pki.js';
import { askVerdict, issueExpiredCertificate, issueForeignCertificate, startVerdictServer, tempDir } from '../../support/pki.js';

const NODES = [{ id: 'alpha', hosts: ['198.51.100.1'] }, { id: 'beta', hosts: [] }];

function userFiles(dir: string, user: string): { cert: string; key: string } {
  const paths = pkiPaths(dir);
  return { cert: readFileSync(paths.userCert(user), 'utf8'), key: readFileSync(paths.userKey(user), 'utf8') };
}

test('a TLS handshake on 127.0.0.1: user and node certificates are trusted, expired and foreign ones are not', async (t) => {
  const dir = tempDir(t, 'tls');
  await initCluster({ dir, clusterId: 'c1', nodes: NODES });
  await issueUserCertificate({ dir, user: 'olga', role: 'operator', days: 30 });
  const alpha = loadAgentTls(dir, 'alpha');
  const port = await startVerdictServer(t, alpha, 'c1');
  const ca = alpha.ca; // the client verifies the server against the same bundle

  assert.deepEqual(await askVerdict(port, { ca, ...userFiles(dir, 'olga') }),
    { authorized: true, authorizationError: null, principal: { ok: true, principal: { name: 'olga', role: 'operator', via: 'certificate' } } });
  const beta = loadAgentTls(dir, 'beta');
  assert.deepEqual((await askVerdict(port, { ca, cert: beta.cert, key: beta.key })).principal,
    { ok: true, principal: { name: 'node:beta', role: 'node', via: 'certificate' } });

  const none = await askVerdict(port, { ca });
  assert.equal(none.authorized, false);
  assert.equal(none.principal.ok || none.principal.code, 'CERT_MISSING');

  const expiredPem = await issueExpiredCertificate(dir, 'c1', 'olga', 'admin');
  const expired = await askVerdict(port, { ca, ...expiredPem });
  assert.equal(expired.authorized, false);
  assert.equal(expired.authorizationError, 'CERT_HAS_EXPIRED');
  assert.equal(expired.principal.ok || expired.principal.code, 'CERT_UNTRUSTED');
  // Defence in depth: read directly, the expired certificate gives no principal either.
  const direct = principalFromCertificate(new X509Certificate(expiredPem.cert), 'c1', Date.now());
  assert.equal(direct.ok ? 'accepted' : direct.code, 'CERT_EXPIRED');

  const foreign = await askVerdict(port, { ca, ...await issueForeignCertificate('c1', 'mallory', 'admin') });
  assert.equal(foreign.authorized, false);
  assert.equal(foreign.authorizationError, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  assert.equal(foreign.principal.ok || foreign.principal.code, 'CERT_UNTRUSTED');
});

test('during a CA rotation clients of both CAs are accepted; after finishing, only those of the new one', async (t) => {
  const dir = tempDir(t, 'tls');
  await initCluster({ dir, clusterId: 'c1', nodes: NODES });
  await issueUserCertificate({ dir, user: 'old', role: 'viewer', days: 30 });
  const oldCert = userFiles(dir, 'old');

  await rotateCa({ dir });
  await issueUserCertificate({ dir, user: 'new', role: 'viewer', days: 30 });
  const newCert = userFiles(dir, 'new');
  const during = loadAgentTls(dir, 'alpha');
  const duringPort = await startVerdictServer(t, during, 'c1');
  assert.equal((await askVerdict(duringPort, { ca: during.ca, ...oldCert })).authorized, true, 'old-CA client during the rotation');
  assert.equal((await askVerdict(duringPort, { ca: during.ca, ...newCert })).authorized, true, 'new-CA client during the rotation');

  finishRotation({ dir });
  const after = loadAgentTls(dir, 'alpha');
  const afterPort = await startVerdictServer(t, after, 'c1');
  const refused = await askVerdict(afterPort, { ca: after.ca, ...oldCert });
  assert.equal(refused.authorized, false, 'old-CA client after the rotation');
  assert.equal(refused.principal.ok || refused.principal.code, 'CERT_UNTRUSTED');
  assert.deepEqual((await askVerdict(afterPort, { ca: after.ca, ...newCert })).principal, { ok: true, principal: { name: 'new', role: 'viewer', via: 'certificate' } });
});
