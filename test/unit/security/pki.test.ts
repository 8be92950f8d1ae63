import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeClusterKey } from '../../../agent/security/cluster-key.js';
import { principalFromCertificate } from '../../../agent/security/cert-names.js';
import { finishRotation, initCluster, issueUserCertificate, loadAgentTls, PkiError, pkiPaths, rotateCa, type PkiErrorCode } from '../../../agent/security/pki.js';
import { TokenStore } from '../../../agent/security/tokens.js';
import { tempDir } from '../../support/pki.js';

const NODES = [{ id: 'alpha', hosts: ['198.51.100.1', 'alpha.example'] }, { id: 'beta', hosts: ['2001:db8::2'] }];

async function fails(fn: () => Promise<unknown> | unknown, code: PkiErrorCode, message: RegExp): Promise<void> {
  await assert.rejects(async () => fn(), (e: unknown) => e instanceof PkiError && e.code === code && message.test(e.message), `${code} ${message}`);
}

const certificates = (pem: string): X509Certificate[] =>
  (pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? []).map((block) => new X509Certificate(block));

/** Whether `cert` was signed by one of the CAs of `bundle`. */
const issuedByOneOf = (cert: X509Certificate, bundle: string): boolean =>
  certificates(bundle).some((ca) => cert.checkIssued(ca) && cert.verify(ca.publicKey));

test('init writes the CA, node and admin certificates, cluster key and tokens, owner-only', async (t) => {
  const dir = join(tempDir(t, 'pki'), 'pki');
  const result = await initCluster({ dir, clusterId: 'c1', nodes: NODES });
  assert.deepEqual(result.files, [
    'ca.crt', 'ca.key', 'cluster.key', 'nodes/alpha.crt', 'nodes/alpha.key', 'nodes/beta.crt', 'nodes/beta.key',
    'pki.json', 'tokens.json', 'trust.pem', 'users/admin.crt', 'users/admin.key',
  ]);
  assert.equal(statSync(dir).mode & 0o777, 0o700);
  assert.equal(statSync(join(dir, 'nodes')).mode & 0o777, 0o700);
  assert.equal(statSync(join(dir, 'users')).mode & 0o777, 0o700);
  for (const file of result.files) assert.equal(statSync(join(dir, file)).mode & 0o777, 0o600, file);

  const paths = pkiPaths(dir);
  assert.equal(decodeClusterKey(readFileSync(paths.clusterKey, 'utf8'), 'cluster.key').length, 32);
  const trust = readFileSync(paths.trust, 'utf8');
  assert.equal(trust, readFileSync(paths.caCert, 'utf8'));
  const [ca] = certificates(trust);
  assert.ok(ca?.ca, 'the CA certificate is a CA');

  const alpha = new X509Certificate(readFileSync(paths.nodeCert('alpha')));
  assert.ok(issuedByOneOf(alpha, trust));
  assert.equal(alpha.subject, 'O=c1\nOU=node\nCN=alpha');
  assert.equal(alpha.subjectAltName, 'DNS:localhost, DNS:alpha.example, IP Address:127.0.0.1, IP Address:198.51.100.1');
  assert.equal(alpha.ca, false);
  assert.ok(alpha.checkPrivateKey(createPrivateKey(readFileSync(paths.nodeKey('alpha')))));
  assert.deepEqual(alpha.keyUsage, ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2'], 'serverAuth and clientAuth');
  const beta = new X509Certificate(readFileSync(paths.nodeCert('beta')));
  assert.ok(issuedByOneOf(beta, trust));
  assert.equal(beta.subjectAltName, 'DNS:localhost, IP Address:127.0.0.1, IP Address:2001:DB8:0:0:0:0:0:2');
  assert.equal(beta.checkHost('localhost'), 'localhost');
  assert.equal(beta.checkIP('2001:db8::2'), '2001:db8::2');
  assert.equal(beta.checkIP('198.51.100.1'), undefined);

  const admin = new X509Certificate(readFileSync(paths.userCert('admin')));
  assert.ok(issuedByOneOf(admin, trust));
  assert.deepEqual(principalFromCertificate(admin, 'c1', Date.now()), { ok: true, principal: { name: 'admin', role: 'admin', via: 'certificate' } });

  assert.match(result.adminToken, /^vgl_[0-9a-f]{16}_/);
  const verdict = TokenStore.open(paths.tokens).verify(result.adminToken, Date.now());
  assert.deepEqual(verdict.ok && verdict.principal, { name: 'admin', role: 'admin', via: 'token' });
  // The whole secret, after `vgl_<id>_`: base64url may hold "_" itself, and a fragment cut there could be short
  // enough to occur in the file by chance.
  const secret = result.adminToken.slice('vgl_'.length + 16 + 1);
  assert.equal(secret.length, 43);
  assert.ok(!readFileSync(paths.tokens, 'utf8').includes(secret), 'the secret is not stored');

  const tls = loadAgentTls(dir, 'alpha');
  assert.equal(tls.ca, trust);
  assert.equal(tls.cert, readFileSync(paths.nodeCert('alpha'), 'utf8'));
});

test('init refuses to replace a CA unless told to, and then replaces everything', async (t) => {
  const dir = tempDir(t, 'pki');
  const first = await initCluster({ dir, clusterId: 'c1', nodes: NODES });
  await issueUserCertificate({ dir, user: 'carol', role: 'viewer', days: 30 });
  const oldCa = readFileSync(pkiPaths(dir).caCert, 'utf8');
  await fails(() => initCluster({ dir, clusterId: 'c1', nodes: NODES }), 'VIGIL_PKI_CA_EXISTS', /ca\.crt: a CA exists already \(overwrite it with --force/);
  assert.equal(readFileSync(pkiPaths(dir).caCert, 'utf8'), oldCa);

  const second = await initCluster({ dir, clusterId: 'c2', nodes: [{ id: 'gamma', hosts: [] }], overwrite: true });
  assert.notEqual(readFileSync(pkiPaths(dir).caCert, 'utf8'), oldCa);
  assert.deepEqual(second.files.filter((f) => f.startsWith('nodes/') || f.startsWith('users/')), ['nodes/gamma.crt', 'nodes/gamma.key', 'users/admin.crt', 'users/admin.key']);
  const store = TokenStore.open(pkiPaths(dir).tokens);
  assert.deepEqual(store.verify(first.adminToken, Date.now()), { ok: false, code: 'UNKNOWN_TOKEN' });
  assert.equal(store.verify(second.adminToken, Date.now()).ok, true);
});

test('bad names, hosts and days are refused before anything is written', async (t) => {
  const dir = tempDir(t, 'pki');
  await fails(() => initCluster({ dir, clusterId: 'C 1', nodes: NODES }), 'VIGIL_PKI_BAD_NAME', /^cluster id "C 1": expected a lowercase name/);
  await fails(() => initCluster({ dir, clusterId: 'c1', nodes: [{ id: 'Alpha', hosts: [] }] }), 'VIGIL_PKI_BAD_NAME', /^node id "Alpha"/);
  await fails(() => initCluster({ dir, clusterId: 'c1', nodes: [{ id: 'alpha', hosts: ['bad_host!'] }] }), 'VIGIL_PKI_BAD_HOST', /^node alpha: "bad_host!" is neither an IP address nor a DNS name$/);
  await fails(() => initCluster({ dir, clusterId: 'c1', nodes: [NODES[0]!, NODES[0]!] }), 'VIGIL_PKI_BAD_ARGUMENT', /^node alpha: given twice$/);
  await fails(() => initCluster({ dir, clusterId: 'c1', nodes: [] }), 'VIGIL_PKI_BAD_ARGUMENT', /at least one node/);
  await fails(() => initCluster({ dir, clusterId: 'c1', nodes: NODES, days: 0 }), 'VIGIL_PKI_BAD_ARGUMENT', /^days: expected a whole number of days from 1 to 3650, not 0$/);
  assert.throws(() => statSync(pkiPaths(dir).caCert), /ENOENT/);
  await fails(() => issueUserCertificate({ dir, user: 'dave', role: 'viewer', days: 1 }), 'VIGIL_PKI_NOT_INITIALIZED', /pki\.json: missing \(run "vigil init" first\)$/);
  await initCluster({ dir, clusterId: 'c1', nodes: NODES });
  await fails(() => issueUserCertificate({ dir, user: '../etc', role: 'viewer', days: 1 }), 'VIGIL_PKI_BAD_NAME', /^user "\.\.\/etc"/);
});

test('issued user certificates carry the role in OU; loadAgentTls names the file that is wrong', async (t) => {
  const dir = tempDir(t, 'pki');
  await initCluster({ dir, clusterId: 'c1', nodes: NODES });
  const paths = await issueUserCertificate({ dir, user: 'ops@example.com', role: 'operator', days: 7 });
  assert.equal(statSync(paths.key).mode & 0o777, 0o600);
  const cert = new X509Certificate(readFileSync(paths.cert));
  assert.equal(cert.subject, 'O=c1\nOU=operator\nCN=ops@example.com');
  assert.ok(Date.parse(cert.validTo) - Date.now() <= 7 * 86_400_000);
  assert.deepEqual(cert.keyUsage, ['1.3.6.1.5.5.7.3.2'], 'clientAuth only: a user certificate cannot serve');
  assert.deepEqual(principalFromCertificate(cert, 'c1', Date.now()), { ok: true, principal: { name: 'ops@example.com', role: 'operator', via: 'certificate' } });

  await fails(() => loadAgentTls(dir, 'gamma'), 'VIGIL_PKI_UNKNOWN_NODE', /nodes\/gamma\.crt: missing/);
  writeFileSync(pkiPaths(dir).trust, '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
  await fails(() => loadAgentTls(dir, 'alpha'), 'VIGIL_PKI_FILE_DAMAGED', /trust\.pem: certificate 1 cannot be read/);
  writeFileSync(pkiPaths(dir).trust, 'nothing\n');
  await fails(() => loadAgentTls(dir, 'alpha'), 'VIGIL_PKI_FILE_DAMAGED', /trust\.pem: holds no certificate$/);
});

test('rotation: trust.pem holds both CAs and nodes move to the new one; finish keeps only the new', async (t) => {
  const dir = tempDir(t, 'pki');
  await initCluster({ dir, clusterId: 'c1', nodes: NODES });
  const paths = pkiPaths(dir);
  const oldCa = readFileSync(paths.caCert, 'utf8');
  await fails(() => finishRotation({ dir }), 'VIGIL_PKI_NOT_ROTATING', /no rotation is under way/);

  const started = await rotateCa({ dir });
  assert.deepEqual(started.usersOnOldCa, ['admin']);
  const newCa = readFileSync(paths.caCert, 'utf8');
  assert.notEqual(newCa, oldCa);
  const trust = readFileSync(paths.trust, 'utf8');
  assert.equal(trust, newCa + oldCa);
  const alpha = new X509Certificate(readFileSync(paths.nodeCert('alpha')));
  assert.ok(issuedByOneOf(alpha, newCa) && !issuedByOneOf(alpha, oldCa));
  assert.ok(issuedByOneOf(new X509Certificate(readFileSync(paths.userCert('admin'))), oldCa));
  await fails(() => rotateCa({ dir }), 'VIGIL_PKI_ROTATION_IN_PROGRESS', /a rotation is under way/);

  await issueUserCertificate({ dir, user: 'admin', role: 'admin', days: 30 });
  assert.deepEqual(finishRotation({ dir }).usersOnOldCa, []);
  assert.equal(readFileSync(paths.trust, 'utf8'), newCa);
  assert.throws(() => statSync(paths.previousCaCert), /ENOENT/);
});
