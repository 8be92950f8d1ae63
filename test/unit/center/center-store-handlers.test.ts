// The handlers over a ClusterStore, without agents (nodes on a closed port): a cluster that cannot be saved is
// not added; removing forgets also an entry that could not be restored; restore() reports what it could not add,
// and center.problems shows it to the UI until the cluster is removed.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClusterConfigInput } from '../../../common/ipc/contract.js';
import { createCenter, invoke } from '../../../main/core/center-handlers.js';
import { ClusterStore, describeProblem } from '../../../main/core/cluster-store.js';
import { ConnectionManager } from '../../../main/core/connection-manager.js';
import { FileKeyCipher, type SecretCipher } from '../../../main/core/secret-cipher.js';

const cluster = (id: string, credentials: ClusterConfigInput['credentials'] = { ca: 'CA', token: `token-of-${id}` }): ClusterConfigInput => ({
  id, name: `Cluster ${id}`, credentials, nodes: [{ id: 'alpha', url: 'wss://127.0.0.1:1' }],
});

function setUp(t: TestContext, cipher?: SecretCipher): { dir: string; manager: ConnectionManager; center: ReturnType<typeof createCenter> } {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-center-store-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const manager = new ConnectionManager({ knownHostsFile: join(dir, 'known-hosts.json'), backoff: { initialMs: 60_000, maxMs: 60_000 } });
  t.after(() => manager.dispose());
  const store = new ClusterStore(join(dir, 'clusters.json'), cipher ?? new FileKeyCipher(join(dir, 'secret.key')));
  return { dir, manager, center: createCenter(manager, { store }) };
}

test('center store handlers: a cluster that cannot be saved is not added (SECRETS_UNAVAILABLE), and not connected', async (t) => {
  const locked: SecretCipher = { name: 'locked', isAvailable: () => false, encrypt: () => Buffer.alloc(0), decrypt: () => '' };
  const { manager, center } = setUp(t, locked);
  const added = await invoke(center.handlers, 'clusters.add', cluster('prod'));
  assert.equal(!added.ok && added.error.code, 'SECRETS_UNAVAILABLE');
  assert.deepEqual(manager.list(), []);
  assert.deepEqual(await invoke(center.handlers, 'clusters.list', {}), { ok: true, result: [] });
});

test('center store handlers: add saves, remove forgets; an unreadable entry is removable; restore names what it could not add', async (t) => {
  const { dir, manager, center } = setUp(t);
  assert.equal((await invoke(center.handlers, 'clusters.add', cluster('prod'))).ok, true);
  assert.equal((await invoke(center.handlers, 'clusters.add', cluster('lab'))).ok, true);
  assert.equal(center.clusterName('prod'), 'Cluster prod');
  const file = JSON.parse(readFileSync(join(dir, 'clusters.json'), 'utf8')) as { clusters: { id: string; credentials: { token: { sealed: string } } }[] };
  assert.deepEqual(file.clusters.map((c) => c.id), ['prod', 'lab']);
  assert.deepEqual(await invoke(center.handlers, 'clusters.remove', { cluster: 'lab' }), { ok: true, result: { removed: true } });

  // "prod" altered on disk, plus a cluster by reference that this center (no resolver) cannot resolve.
  file.clusters[0]!.credentials.token.sealed = Buffer.from('not what was sealed at all').toString('base64');
  const refStore = new ClusterStore(join(dir, 'ref.json'), new FileKeyCipher(join(dir, 'secret.key')));
  refStore.put({ id: 'dev', name: 'Dev', credentials: { ref: '/etc/vigil/dev' }, nodes: [{ id: 'alpha', url: 'wss://127.0.0.1:1' }] });
  const refEntry = (JSON.parse(readFileSync(join(dir, 'ref.json'), 'utf8')) as { clusters: unknown[] }).clusters[0];
  writeFileSync(join(dir, 'clusters.json'), JSON.stringify({ format: 1, clusters: [file.clusters[0], refEntry] }));
  await manager.dispose();

  const nextManager = new ConnectionManager({ knownHostsFile: join(dir, 'known-hosts.json'), backoff: { initialMs: 60_000, maxMs: 60_000 } });
  t.after(() => nextManager.dispose());
  const restarted = createCenter(nextManager, { store: new ClusterStore(join(dir, 'clusters.json'), new FileKeyCipher(join(dir, 'secret.key'))) });
  const problems = (await restarted.restore()).map(describeProblem);
  assert.match(problems[0]!, /^cluster prod: credentials\.token: cannot be decrypted: /);
  assert.equal(problems[1], 'cluster dev: not restored: credentials.ref: this center resolves no credential references');
  assert.deepEqual(nextManager.list(), []);
  // The UI asks for the same problems (center.problems), by cluster.
  const shown = await invoke(restarted.handlers, 'center.problems', {});
  assert.ok(shown.ok);
  assert.deepEqual((shown.result as { cluster?: string }[]).map((p) => p.cluster), ['prod', 'dev']);
  // The operator lets the unreadable one go: removed from the file although it was never connected.
  assert.deepEqual(await invoke(restarted.handlers, 'clusters.remove', { cluster: 'prod' }), { ok: true, result: { removed: true } });
  const after = await invoke(restarted.handlers, 'center.problems', {});
  assert.ok(after.ok);
  assert.deepEqual((after.result as { cluster?: string }[]).map((p) => p.cluster), ['dev'], 'the removed cluster\'s problem is gone');
  assert.deepEqual((JSON.parse(readFileSync(join(dir, 'clusters.json'), 'utf8')) as { clusters: { id: string }[] }).clusters.map((c) => c.id), ['dev']);
  assert.deepEqual(await invoke(restarted.handlers, 'clusters.remove', { cluster: 'prod' }), { ok: true, result: { removed: false } });
});
