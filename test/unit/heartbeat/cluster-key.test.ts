import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../../common/config/load.js';
import { ClusterKeyError, decodeClusterKey, loadClusterKey, type ClusterKeyErrorCode } from '../../../agent/security/cluster-key.js';

function config(keyLine: string) {
  return parseConfig(`
cluster: { id: k, ${keyLine} }
nodes: [{ id: alpha }, { id: beta }]
heartbeat: { links: [{ name: u, kind: udp, endpoints: { alpha: "127.0.0.1:7405", beta: "127.0.0.1:7406" } }] }
`, 'k.yaml');
}

function fails(fn: () => unknown, code: ClusterKeyErrorCode, message: RegExp): void {
  assert.throws(fn, (e: unknown) => e instanceof ClusterKeyError && e.code === code && message.test(e.message), `${code} ${message}`);
}

test('an inline key in hex or base64 (standard or URL-safe, padded or not)', () => {
  const bytes = randomBytes(32);
  assert.deepEqual(loadClusterKey(config(`key: "${bytes.toString('hex')}"`), '/nowhere'), bytes);
  assert.deepEqual(loadClusterKey(config(`key: "${bytes.toString('base64')}"`), '/nowhere'), bytes);
  assert.deepEqual(decodeClusterKey(bytes.toString('base64url'), 'k'), bytes);
  assert.deepEqual(decodeClusterKey(bytes.toString('base64').replace(/=+$/, ''), 'k'), bytes);
  assert.deepEqual(decodeClusterKey(bytes.toString('hex').toUpperCase(), 'k'), bytes);
});

test('a key file relative to the configuration, whitespace trimmed', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-key-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const bytes = randomBytes(48);
  writeFileSync(join(dir, 'cluster.key'), `\n  ${bytes.toString('base64')}  \n`, { mode: 0o600 });
  assert.deepEqual(loadClusterKey(config('keyFile: cluster.key'), dir), bytes);
  writeFileSync(join(dir, 'short.key'), randomBytes(12).toString('hex'));
  fails(() => loadClusterKey(config('keyFile: short.key'), dir), 'VIGIL_KEY_TOO_SHORT',
    new RegExp(`^cluster\\.keyFile ${join(dir, 'short.key')}: decodes to 12 bytes, at least 32 are needed$`));
  fails(() => loadClusterKey(config('keyFile: absent.key'), dir), 'VIGIL_KEY_UNREADABLE', /^cluster\.keyFile .*absent\.key: cannot be read \(ENOENT\)$/);
  writeFileSync(join(dir, 'empty.key'), ' \n');
  fails(() => loadClusterKey(config('keyFile: empty.key'), dir), 'VIGIL_KEY_MALFORMED', /empty\.key: empty$/);
});

test('keys that are too short or not a key at all are refused, naming the field', () => {
  fails(() => loadClusterKey(config('key: "abcd"'), '/'), 'VIGIL_KEY_TOO_SHORT', /^cluster\.key: decodes to 2 bytes, at least 32 are needed$/);
  fails(() => loadClusterKey(config(`key: "${'a'.repeat(63)}"`), '/'), 'VIGIL_KEY_MALFORMED', /^cluster\.key: an odd number \(63\) of hex digits$/);
  fails(() => loadClusterKey(config('key: "not a key!"'), '/'), 'VIGIL_KEY_MALFORMED', /^cluster\.key: neither hex nor base64$/);
  fails(() => decodeClusterKey(`${randomBytes(33).toString('base64')}x`, 'cluster.key'), 'VIGIL_KEY_MALFORMED', /neither hex nor base64/);
  fails(() => decodeClusterKey(randomBytes(31).toString('base64'), 'cluster.key'), 'VIGIL_KEY_TOO_SHORT', /decodes to 31 bytes/);
});
