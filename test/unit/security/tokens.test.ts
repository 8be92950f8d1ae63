import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TokenError, TokenStore, type TokenErrorCode } from '../../../agent/security/tokens.js';
import { tempDir } from '../../support/pki.js';

const NOW = Date.parse('2026-06-01T12:00:00Z');
const HOUR = 3_600_000;

function fails(fn: () => unknown, code: TokenErrorCode, message: RegExp): void {
  assert.throws(fn, (e: unknown) => e instanceof TokenError && e.code === code && message.test(e.message), `${code} ${message}`);
}

test('create, verify, list: the secret is returned once and only its hash is stored, owner-only', (t) => {
  const path = join(tempDir(t, 'tokens'), 'tokens.json');
  const store = TokenStore.open(path);
  assert.deepEqual(store.list(), []);
  const { token, id } = store.create({ name: 'ci deploy', role: 'operator' }, NOW);
  assert.match(token, new RegExp(`^vgl_${id}_[A-Za-z0-9_-]{43}$`));
  assert.deepEqual(store.verify(token, NOW), { ok: true, id, principal: { name: 'ci deploy', role: 'operator', via: 'token' } });
  assert.deepEqual(store.list(), [{ id, name: 'ci deploy', role: 'operator', created: NOW }]);
  const text = readFileSync(path, 'utf8');
  assert.ok(!text.includes(token.slice(`vgl_${id}_`.length)), 'the secret is not in the file');
  assert.equal(statSync(path).mode & 0o777, 0o600);
  // A fresh store (another process) reads the same file.
  assert.equal(TokenStore.open(path).verify(token, NOW).ok, true);
});

test('unknown, tampered, malformed and expired tokens are refused with their code', (t) => {
  const store = TokenStore.open(join(tempDir(t, 'tokens'), 'tokens.json'));
  const { token, id } = store.create({ name: 'short', role: 'viewer', ttlMs: HOUR }, NOW);
  assert.equal(store.verify(token, NOW + HOUR - 1).ok, true);
  assert.deepEqual(store.verify(token, NOW + HOUR), { ok: false, code: 'EXPIRED_TOKEN' });
  assert.equal(store.list()[0]?.expires, NOW + HOUR);

  const secret = token.slice(`vgl_${id}_`.length);
  const flipped = `${secret[0] === 'A' ? 'B' : 'A'}${secret.slice(1)}`;
  assert.deepEqual(store.verify(`vgl_${id}_${flipped}`, NOW), { ok: false, code: 'UNKNOWN_TOKEN' });
  assert.deepEqual(store.verify(`vgl_0123456789abcdef_${secret}`, NOW), { ok: false, code: 'UNKNOWN_TOKEN' });
  // An id in capitals, its first character an A: an id of digits alone (1 in about 1,800) has none to make.
  const capitalId = `A${id.slice(1).toUpperCase()}`;
  for (const bad of ['', 'vgl', `xyz_${id}_${secret}`, `vgl_${id}_${secret}x`, `vgl_${capitalId}_${secret}`, `vgl_${id}${secret}`, `Bearer ${token}`]) {
    assert.deepEqual(store.verify(bad, NOW), { ok: false, code: 'MALFORMED_TOKEN' }, bad);
  }
});

test('revoke takes effect at once, also in another store reading the same file', (t) => {
  const path = join(tempDir(t, 'tokens'), 'tokens.json');
  const agent = TokenStore.open(path);
  const keep = agent.create({ name: 'keep', role: 'admin' }, NOW);
  const gone = agent.create({ name: 'gone', role: 'viewer' }, NOW);
  const cli = TokenStore.open(path);
  assert.deepEqual(cli.revoke(gone.id), { id: gone.id, name: 'gone', role: 'viewer', created: NOW });
  assert.deepEqual(agent.verify(gone.token, NOW), { ok: false, code: 'UNKNOWN_TOKEN' });
  assert.equal(agent.verify(keep.token, NOW).ok, true);
  assert.deepEqual(agent.list().map((x) => x.name), ['keep']);
  fails(() => agent.revoke(gone.id), 'VIGIL_TOKEN_NOT_FOUND', new RegExp(`^token ${gone.id}: not in .*tokens\\.json$`));
  // A token created elsewhere is known without a restart, and a deleted file revokes everything.
  const later = cli.create({ name: 'later', role: 'viewer' }, NOW);
  assert.equal(agent.verify(later.token, NOW).ok, true);
  rmSync(path);
  assert.deepEqual(agent.verify(keep.token, NOW), { ok: false, code: 'UNKNOWN_TOKEN' });
});

test('a damaged file is refused naming the file, the entry and the field; nothing it allowed is allowed', (t) => {
  const path = join(tempDir(t, 'tokens'), 'tokens.json');
  const store = TokenStore.open(path);
  const { token } = store.create({ name: 'a', role: 'admin' }, NOW);
  const good = JSON.parse(readFileSync(path, 'utf8')) as { version: number; tokens: Record<string, unknown>[] };
  const write = (data: unknown) => writeFileSync(path, typeof data === 'string' ? data : JSON.stringify(data));

  write('{ not json');
  fails(() => store.verify(token, NOW), 'VIGIL_TOKEN_FILE_DAMAGED', /tokens\.json: not JSON/);
  write({ ...good, version: 2 });
  fails(() => store.verify(token, NOW), 'VIGIL_TOKEN_FILE_DAMAGED', /tokens\.json: version: expected 1, found 2$/);
  write({ version: 1, tokens: {} });
  fails(() => TokenStore.open(path), 'VIGIL_TOKEN_FILE_DAMAGED', /tokens\.json: tokens: expected a list$/);
  write({ version: 1, tokens: [good.tokens[0], { ...good.tokens[0], id: '0123456789abcdef', role: 'root' }] });
  fails(() => store.list(), 'VIGIL_TOKEN_FILE_DAMAGED', /tokens\.json: tokens\[1\]\.role: expected one of viewer, operator, admin, found "root"$/);
  fails(() => store.verify(token, NOW), 'VIGIL_TOKEN_FILE_DAMAGED', /tokens\[1\]\.role/); // still refused: the old state is gone
  write({ version: 1, tokens: [{ ...good.tokens[0], sha256: 'abc' }] });
  fails(() => store.verify(token, NOW), 'VIGIL_TOKEN_FILE_DAMAGED', /tokens\[0\]\.sha256: expected 64 hex digits, found "abc"$/);
  write({ version: 1, tokens: [{ ...good.tokens[0], expires: 'soon' }] });
  fails(() => store.verify(token, NOW), 'VIGIL_TOKEN_FILE_DAMAGED', /tokens\[0\]\.expires: expected an ISO time, found "soon"$/);
  write({ version: 1, tokens: [good.tokens[0], good.tokens[0]] });
  fails(() => store.verify(token, NOW), 'VIGIL_TOKEN_FILE_DAMAGED', /tokens\[1\]\.id: [0-9a-f]{16} appears twice$/);

  write(good);
  assert.equal(store.verify(token, NOW).ok, true, 'repaired, the file is read again');
});

test('bad names, roles and lifetimes are refused', (t) => {
  const store = TokenStore.open(join(tempDir(t, 'tokens'), 'tokens.json'));
  fails(() => store.create({ name: '', role: 'viewer' }), 'VIGIL_TOKEN_BAD_ARGUMENT', /^name "": expected/);
  fails(() => store.create({ name: 'x', role: 'root' as 'viewer' }), 'VIGIL_TOKEN_BAD_ARGUMENT', /^role "root": expected one of viewer, operator, admin$/);
  fails(() => store.create({ name: 'x', role: 'viewer', ttlMs: 0 }), 'VIGIL_TOKEN_BAD_ARGUMENT', /^ttl: expected a positive whole number of milliseconds, not 0$/);
  assert.deepEqual(store.list(), []);
});
