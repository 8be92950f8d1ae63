import { test } from 'node:test';
import assert from 'node:assert/strict';
import { principalFromCertificate, subjectAltNames, type CertificateFields, type CertificateRefusal } from '../../../agent/security/cert-names.js';

const NOW = Date.parse('2026-06-01T12:00:00Z');
const cert = (subject: string, validFrom = 'Jan  1 00:00:00 2026 GMT', validTo = 'Jan  1 00:00:00 2027 GMT'): CertificateFields => ({ subject, validFrom, validTo });

function refused(fields: CertificateFields, code: CertificateRefusal, message: RegExp, now = NOW): void {
  const result = principalFromCertificate(fields, 'c1', now);
  assert.ok(!result.ok && result.code === code && message.test(result.message), JSON.stringify(result));
}

test('node and user certificates give their principal', () => {
  assert.deepEqual(principalFromCertificate(cert('O=c1\nOU=node\nCN=alpha'), 'c1', NOW), { ok: true, principal: { name: 'node:alpha', role: 'node', via: 'certificate' } });
  for (const role of ['viewer', 'operator', 'admin'] as const) {
    assert.deepEqual(principalFromCertificate(cert(`O=c1\nOU=${role}\nCN=ann@example.com`), 'c1', NOW), { ok: true, principal: { name: 'ann@example.com', role, via: 'certificate' } });
  }
});

test('dates are checked again, whatever TLS said', () => {
  refused(cert('O=c1\nOU=admin\nCN=ann'), 'CERT_EXPIRED', /^expired at 2027-01-01T00:00:00\.000Z$/, Date.parse('2027-01-01T00:00:01Z'));
  refused(cert('O=c1\nOU=admin\nCN=ann'), 'CERT_NOT_YET_VALID', /^valid only from 2026-01-01/, Date.parse('2025-12-31T23:59:59Z'));
  refused(cert('O=c1\nOU=admin\nCN=ann', 'garbage'), 'CERT_BAD_SUBJECT', /unreadable validity "garbage"/);
});

test('another cluster, unknown roles and ambiguous subjects are refused', () => {
  refused(cert('O=c2\nOU=admin\nCN=ann'), 'CERT_FOREIGN_CLUSTER', /^O=c2 is not this cluster \(c1\)$/);
  refused(cert('O=c1\nOU=ca\nCN=Vigil CA c1'), 'CERT_BAD_SUBJECT', /^OU=ca is not a role/);
  refused(cert('O=c1\nOU=viewer\nOU=admin\nCN=ann'), 'CERT_BAD_SUBJECT', /exactly one each of CN, OU and O/);
  refused(cert('O=c1\nOU=admin'), 'CERT_BAD_SUBJECT', /exactly one each/);
  refused(cert('O=c1\nOU=node\nCN=Alpha Node'), 'CERT_BAD_SUBJECT', /^CN=Alpha Node is not a node id$/);
  refused(cert('O=c1\nOU=admin\nCN=a,b'), 'CERT_BAD_SUBJECT', /^CN=a,b is not a user name$/);
  refused(cert('O=c1\nOU admin\nCN=ann'), 'CERT_BAD_SUBJECT', /^subject line "OU admin" is not KEY=value$/);
});

test('hosts become IP and DNS names, with localhost always present', () => {
  assert.deepEqual(subjectAltNames(['198.51.100.1', 'Alpha.Example', '2001:db8::1', '127.0.0.1']), { dns: ['localhost', 'alpha.example'], ip: ['127.0.0.1', '198.51.100.1', '2001:db8::1'] });
  assert.deepEqual(subjectAltNames(['-bad.example']), { invalid: '-bad.example' });
  assert.deepEqual(subjectAltNames(['a..b']), { invalid: 'a..b' });
  assert.deepEqual(subjectAltNames(['*.example']), { invalid: '*.example' });
});
