import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../../../agent/cli/args.js';
import { isPkiCommand, parseTtl, runPkiCommand } from '../../../agent/cli/pki-commands.js';
import { PkiError, pkiPaths } from '../../../agent/security/pki.js';
import { TokenError, TokenStore } from '../../../agent/security/tokens.js';
import { tempDir } from '../../support/pki.js';
import { decodeClusterKey } from '../../../agent/security/cluster-key.js';

async function usage(args: string[], message: RegExp): Promise<void> {
  await assert.rejects(runPkiCommand(args), (e: unknown) => e instanceof UsageError && e.exitCode === 2 && message.test(e.message), `${args.join(' ')} ${message}`);
}

test('init, token create/list/revoke, cert issue, rotate ca/finish, end to end', async (t) => {
  const dir = join(tempDir(t, 'cli'), 'pki');
  const init = await runPkiCommand(['init', '--dir', dir, '--cluster', 'c1', '--node', 'alpha=198.51.100.1,alpha.example', '--node', 'beta', '--days', '30']);
  const adminToken = /Admin token \(shown only now, keep it safe\): (vgl_\S+)$/.exec(init)?.[1];
  assert.ok(adminToken !== undefined, init);
  assert.match(init, /^cluster c1: CA, 2 node certificates, cluster key and the admin's certificate written to /);
  assert.match(init, /^ {2}nodes\/beta\.crt$/m);
  assert.equal(new X509Certificate(readFileSync(pkiPaths(dir).nodeCert('alpha'))).subjectAltName, 'DNS:localhost, DNS:alpha.example, IP Address:127.0.0.1, IP Address:198.51.100.1');
  assert.ok(Date.parse(new X509Certificate(readFileSync(pkiPaths(dir).nodeCert('beta'))).validTo) <= Date.now() + 30 * 86_400_000);
  await assert.rejects(runPkiCommand(['init', '--dir', dir, '--cluster', 'c1', '--node', 'alpha']), (e: unknown) => e instanceof PkiError && e.code === 'VIGIL_PKI_CA_EXISTS');

  const created = await runPkiCommand(['token', 'create', '--dir', dir, '--name', 'grafana', '--role', 'viewer', '--ttl', '30d']);
  const [, id, token] = /^token ([0-9a-f]{16}) \(shown only now, keep it safe\): (vgl_\S+)$/.exec(created) ?? [];
  assert.ok(id !== undefined && token !== undefined, created);
  const store = TokenStore.open(pkiPaths(dir).tokens);
  assert.deepEqual(store.verify(token, Date.now()), { ok: true, id, principal: { name: 'grafana', role: 'viewer', via: 'token' } });
  assert.equal(store.verify(token, Date.now() + 30 * 86_400_000 + 1000).ok, false);

  const list = (await runPkiCommand(['token', 'list', '--dir', dir])).split('\n');
  assert.match(list[0]!, /^ID +NAME +ROLE +CREATED +EXPIRES$/);
  assert.equal(list.length, 3);
  assert.match(list[1]!, /^[0-9a-f]{16} {2}admin +admin +\S+Z {2}never$/);
  assert.match(list[2]!, new RegExp(`^${id} {2}grafana +viewer +\\S+Z {2}\\S+Z$`));

  assert.equal(await runPkiCommand(['token', 'revoke', '--dir', dir, id]), `token ${id} (grafana, viewer) revoked`);
  assert.deepEqual(store.verify(token, Date.now()), { ok: false, code: 'UNKNOWN_TOKEN' });
  assert.equal(store.verify(adminToken, Date.now()).ok, true);
  await assert.rejects(runPkiCommand(['token', 'revoke', '--dir', dir, id]), (e: unknown) => e instanceof TokenError && e.code === 'VIGIL_TOKEN_NOT_FOUND');

  const issued = await runPkiCommand(['cert', 'issue', '--dir', dir, '--user', 'olga', '--role', 'operator', '--days', '7']);
  assert.equal(issued, `certificate for olga written: ${pkiPaths(dir).userCert('olga')} and ${pkiPaths(dir).userKey('olga')}`);
  assert.equal(new X509Certificate(readFileSync(pkiPaths(dir).userCert('olga'))).subject, 'O=c1\nOU=operator\nCN=olga');
  assert.equal(statSync(pkiPaths(dir).userKey('olga')).mode & 0o777, 0o600);

  const rotating = await runPkiCommand(['rotate', 'ca', '--dir', dir]);
  assert.match(rotating, /trust\.pem holds the new and the old CA/);
  assert.match(rotating, /Users still on the old CA: admin, olga$/);
  await runPkiCommand(['cert', 'issue', '--dir', dir, '--user', 'olga', '--role', 'operator']);
  const finished = await runPkiCommand(['rotate', 'finish', '--dir', dir]);
  assert.match(finished, /These users' certificates are of the old CA and stop working: admin$/);
  assert.equal(readFileSync(pkiPaths(dir).trust, 'utf8'), readFileSync(pkiPaths(dir).caCert, 'utf8'));
  await assert.rejects(runPkiCommand(['rotate', 'finish', '--dir', dir]), (e: unknown) => e instanceof PkiError && e.code === 'VIGIL_PKI_NOT_ROTATING');
});

test('bad arguments are usage errors naming what is wrong', async () => {
  assert.ok(isPkiCommand('init') && isPkiCommand('rotate') && !isPkiCommand('status') && !isPkiCommand(undefined));
  await usage(['init', '--cluster', 'c1', '--node', 'a'], /^init: --dir is required$/);
  await usage(['init', '--dir', '/x', '--cluster', 'c1'], /^init: at least one --node ID=HOST,\.\.\. is required$/);
  await usage(['init', '--dir', '/x', '--cluster', 'c1', '--node', 'alpha=10.0.0.1,'], /^init: --node "alpha=10\.0\.0\.1,": expected ID=HOST,HOST\.\.\./);
  await usage(['init', '--dir', '/x', '--cluster', 'c1', '--node', 'a', '--days', '1.5'], /^init: --days must be a whole number from 1 to 3650, not "1\.5"$/);
  await usage(['init', '--dir', '/x', '--dir', '/y'], /^init: --dir given twice$/);
  await usage(['init', '--dir'], /^init: --dir needs a value$/);
  await usage(['init', '--frobnicate', 'x'], /^init: unknown option --frobnicate \(options: --dir, --cluster, --days, --node, --force\)$/);
  await usage(['token'], /^token: expected create, list or revoke, not nothing$/);
  await usage(['token', 'make'], /^token: expected create, list or revoke, not "make"$/);
  await usage(['token', 'create', '--dir', '/x', '--name', 'n', '--role', 'root'], /^token create: --role must be one of viewer, operator, admin, not "root"$/);
  await usage(['token', 'create', '--dir', '/x', '--name', 'n', '--role', 'viewer', '--ttl', '30 days'], /^token create: --ttl must be a positive duration such as 90s, 15m, 12h or 30d, not "30 days"$/);
  await usage(['token', 'revoke', '--dir', '/x'], /^token revoke: missing ID$/);
  await usage(['token', 'list', '--dir', '/x', 'extra'], /^token list: unexpected argument "extra"$/);
  await usage(['cert', 'make'], /^cert: expected issue, not "make"$/);
  await usage(['cert', 'issue', '--dir', '/x', '--user', 'u'], /^cert issue: --role is required$/);
  await usage(['rotate'], /^rotate: expected ca, finish or key, not nothing$/);
  await usage(['rotate', 'ca'], /^rotate ca: --dir is required$/);
  assert.equal(parseTtl('90s'), 90_000);
  assert.equal(parseTtl('12h'), 43_200_000);
  assert.equal(parseTtl('0d'), undefined);
  assert.equal(parseTtl('5'), undefined);
});

test('the vigil binary hands these commands over: output on stdout, exit 2 with the PKI usage on bad arguments', (t) => {
  const vigil = fileURLToPath(new URL('../../../agent/cli/vigil.js', import.meta.url));
  const dir = tempDir(t, 'cli');
  const ok = spawnSync(process.execPath, [vigil, 'token', 'list', '--dir', dir], { encoding: 'utf8' });
  assert.deepEqual([ok.status, ok.stdout, ok.stderr], [0, 'no tokens\n', '']);
  const bad = spawnSync(process.execPath, [vigil, 'rotate', 'sideways'], { encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /^vigil: rotate: expected ca, finish or key, not "sideways"\n\nusage: vigil COMMAND --dir DIR/);
  const failed = spawnSync(process.execPath, [vigil, 'rotate', 'finish', '--dir', dir], { encoding: 'utf8' });
  assert.equal(failed.status, 1);
  assert.match(failed.stderr, /^vigil: .*ca\.previous\.crt: missing: no rotation is under way/);
});

test('rotate key writes a new cluster key beside the old one, owner-only, and refuses a second rotation under way', async (t) => {
  const dir = join(tempDir(t, 'rotate-key'), 'pki');
  await runPkiCommand(['init', '--dir', dir, '--cluster', 'c1', '--node', 'alpha']);
  const out = await runPkiCommand(['rotate', 'key', '--dir', dir]);
  assert.match(out, /acceptKeyFiles: \[cluster\.next\.key\]/);
  const next = join(dir, 'cluster.next.key');
  assert.equal(statSync(next).mode & 0o777, 0o600);
  const key = decodeClusterKey(readFileSync(next, 'utf8'), next);
  assert.equal(key.length, 32);
  assert.notDeepEqual(key, decodeClusterKey(readFileSync(pkiPaths(dir).clusterKey, 'utf8'), 'old'));
  await usage(['rotate', 'key', '--dir', dir], /cluster\.next\.key exists already/);
  await usage(['rotate', 'key'], /--dir/);
});
