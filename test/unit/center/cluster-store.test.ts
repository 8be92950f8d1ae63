// The center's clusters file on real files: secrets sealed (never in clear in the bytes), written atomically with
// mode 0600, restored by a new store; an altered, foreign or invalid entry is reported naming the cluster and the
// field, and kept in the file while the others load.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseRequest, type ClusterConfig, type ClusterConfigInput } from '../../../common/ipc/contract.js';
import { ClusterStore, describeProblem } from '../../../main/core/cluster-store.js';
import { CenterError } from '../../../main/core/errors.js';
import { FileKeyCipher, type SecretCipher } from '../../../main/core/secret-cipher.js';

const TOKEN = 'vgl_token-in-clear-must-never-hit-the-disk';
const CLIENT_KEY = '-----BEGIN PRIVATE KEY-----\nclient-key-body-secret\n-----END PRIVATE KEY-----\n';
const SSH_PASSWORD = 'ssh-password-secret';
const SSH_KEY = '-----BEGIN OPENSSH PRIVATE KEY-----\nssh-key-body-secret\n-----END OPENSSH PRIVATE KEY-----\n';
const PASSPHRASE = 'passphrase-secret';
const SECRETS = [TOKEN, CLIENT_KEY, SSH_PASSWORD, SSH_KEY, PASSPHRASE, 'client-key-body-secret', 'ssh-key-body-secret'];

/** Through the contract, as clusters.add receives it (defaults filled in). */
function config(input: ClusterConfigInput): ClusterConfig {
  return parseRequest('clusters.add', input).params as ClusterConfig;
}

const tokenCluster = config({
  id: 'prod', name: 'Production', credentials: { ca: 'CA PEM', token: TOKEN },
  nodes: [{ id: 'alpha', url: 'wss://10.0.0.1:7480' }, { id: 'beta', url: 'wss://10.0.0.2:7480', via: { host: 'jump', username: 'ops', password: SSH_PASSWORD } }],
});
const certCluster = config({
  id: 'lab', name: 'Lab', credentials: { ca: 'CA PEM', cert: 'CERT PEM', key: CLIENT_KEY, servername: 'lab' },
  nodes: [{ id: 'gamma', url: 'wss://10.0.1.1:7480', via: { host: 'bastion', port: 2222, username: 'ops', privateKey: SSH_KEY, passphrase: PASSPHRASE } }],
});
const refCluster = config({ id: 'dev', name: 'Dev', credentials: { ref: '/etc/vigil/dev' }, nodes: [{ id: 'delta', url: 'wss://10.0.2.1:7480' }] });

function folder(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-cluster-store-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function open(dir: string): ClusterStore {
  return new ClusterStore(join(dir, 'clusters.json'), new FileKeyCipher(join(dir, 'secret.key')));
}

interface StoredShape { clusters: { id: string; credentials: Record<string, unknown>; nodes: { via?: Record<string, unknown> }[] }[] }
function stored(dir: string): StoredShape {
  return JSON.parse(readFileSync(join(dir, 'clusters.json'), 'utf8')) as StoredShape;
}

test('cluster store: secrets are sealed on disk (no clear bytes), files are 0600, a new store restores every cluster as added', (t) => {
  const dir = folder(t);
  const store = open(dir);
  assert.deepEqual(store.load(), { clusters: [], problems: [] });
  store.put(tokenCluster);
  store.put(certCluster);
  store.put(refCluster);

  const bytes = readFileSync(join(dir, 'clusters.json'));
  for (const secret of SECRETS) {
    assert.equal(bytes.includes(Buffer.from(secret)), false, `"${secret.slice(0, 20)}" is not in the file`);
    assert.equal(bytes.includes(Buffer.from(JSON.stringify(secret).slice(1, -1))), false, 'nor JSON-escaped');
    assert.equal(bytes.includes(Buffer.from(Buffer.from(secret).toString('base64').slice(0, 16))), false, 'nor merely base64-encoded');
  }
  assert.ok(bytes.includes(Buffer.from('wss://10.0.0.1:7480')), 'what is not secret stays readable');
  assert.equal(statSync(join(dir, 'clusters.json')).mode & 0o777, 0o600);
  assert.equal(statSync(join(dir, 'secret.key')).mode & 0o777, 0o600);
  assert.deepEqual(readdirSync(dir).sort(), ['clusters.json', 'secret.key'], 'no temp file left behind');
  const onDisk = stored(dir);
  assert.deepEqual(Object.keys(onDisk.clusters[0]!.credentials.token as object), ['sealed', 'cipher']);
  assert.equal((onDisk.clusters[1]!.nodes[0]!.via!.passphrase as { cipher: string }).cipher, 'aes-256-gcm-file');

  const again = open(dir).load();
  assert.deepEqual(again.problems, []);
  assert.deepEqual(again.clusters, [tokenCluster, certCluster, refCluster]);
});

test('cluster store: entries sealed by an older cipher stay readable alongside new ones; only the first cipher seals', (t) => {
  const dir = folder(t);
  const fileKey = new FileKeyCipher(join(dir, 'secret.key'));
  new ClusterStore(join(dir, 'clusters.json'), fileKey).put(tokenCluster);
  // Later a keychain is there (a stand-in cipher with its own key): it seals what is saved from now on.
  const keychain = new FileKeyCipher(join(dir, 'keychain.key'));
  const renamed: SecretCipher = { name: 'keychain', isAvailable: () => true, encrypt: (x) => keychain.encrypt(x), decrypt: (b) => keychain.decrypt(b) };
  const store = new ClusterStore(join(dir, 'clusters.json'), renamed, { alsoDecryptWith: [fileKey] });
  assert.deepEqual(store.load(), { clusters: [tokenCluster], problems: [] });
  store.put(certCluster);
  const ciphers = stored(dir).clusters.map((c) => (c.credentials.token ?? c.credentials.key) as { cipher: string });
  assert.deepEqual(ciphers.map((x) => x.cipher), ['aes-256-gcm-file', 'keychain']);
  // Without the old cipher, the old entry is named and kept; the new one loads.
  const keychainOnly = new ClusterStore(join(dir, 'clusters.json'), renamed).load();
  assert.deepEqual(keychainOnly.clusters, [certCluster]);
  assert.deepEqual(keychainOnly.problems.map(describeProblem), ['cluster prod: credentials.token: sealed by aes-256-gcm-file, but this center decrypts with keychain']);
});

test('cluster store: the same secret sealed twice differs (a fresh IV each time)', (t) => {
  const cipher = new FileKeyCipher(join(folder(t), 'secret.key'));
  const a = cipher.encrypt(TOKEN);
  const b = cipher.encrypt(TOKEN);
  assert.notDeepEqual(a, b);
  assert.deepEqual([cipher.decrypt(a), cipher.decrypt(b)], [TOKEN, TOKEN]);
});

test('cluster store: altered ciphertext is reported naming the cluster and field; the others load and it stays in the file', (t) => {
  const dir = folder(t);
  const store = open(dir);
  store.put(tokenCluster);
  store.put(certCluster);
  const file = stored(dir);
  const sealed = file.clusters[0]!.credentials.token as { sealed: string };
  const raw = Buffer.from(sealed.sealed, 'base64');
  raw[raw.length - 1] = raw[raw.length - 1]! ^ 0x01; // one bit of the ciphertext
  sealed.sealed = raw.toString('base64');
  writeFileSync(join(dir, 'clusters.json'), JSON.stringify(file), { mode: 0o600 });

  const reopened = open(dir);
  const { clusters, problems } = reopened.load();
  assert.deepEqual(clusters, [certCluster]);
  assert.equal(problems.length, 1);
  assert.deepEqual([problems[0]!.cluster, problems[0]!.field], ['prod', 'credentials.token']);
  assert.match(describeProblem(problems[0]!), /^cluster prod: credentials\.token: cannot be decrypted: altered, or sealed with another key than .*secret\.key$/);

  // Saving another cluster keeps the broken entry as it was (a locked keychain must not cost the cluster).
  reopened.put(refCluster);
  assert.deepEqual(stored(dir).clusters.map((c) => c.id), ['prod', 'lab', 'dev']);
  assert.deepEqual(stored(dir).clusters[0], file.clusters[0]);
  // Removing it is how the operator lets it go.
  assert.equal(reopened.remove('prod'), true);
  assert.deepEqual(stored(dir).clusters.map((c) => c.id), ['lab', 'dev']);
  assert.equal(reopened.remove('prod'), false);
});

test('cluster store: another key, another cipher, a secret in clear and an invalid field are each reported by field', (t) => {
  const dir = folder(t);
  open(dir).put(tokenCluster);
  const original = stored(dir);

  // The key file replaced (a restored backup without its key): every sealed field fails, by name.
  rmSync(join(dir, 'secret.key'));
  const otherKey = open(dir).load();
  assert.deepEqual(otherKey.clusters, []);
  assert.deepEqual(otherKey.problems.map((p) => `${p.cluster} ${p.field}`), ['prod credentials.token']);

  // Sealed by safeStorage on another machine: said so, not "corrupt".
  const foreignFile = structuredClone(original);
  (foreignFile.clusters[0]!.credentials.token as { cipher: string }).cipher = 'electron-safe-storage';
  writeFileSync(join(dir, 'clusters.json'), JSON.stringify(foreignFile));
  const foreign = open(dir).load().problems[0]!;
  assert.equal(describeProblem(foreign), 'cluster prod: credentials.token: sealed by electron-safe-storage, but this center decrypts with aes-256-gcm-file');

  // A hand-edited secret in clear is refused; a bad URL is named by its path; an entry without id by its place.
  const edited = structuredClone(original);
  edited.clusters[0]!.credentials.token = TOKEN;
  const badUrl = { id: 'bad-url', name: 'Bad', credentials: { ref: '/etc/vigil/bad' }, nodes: [{ id: 'a', url: 'http://10.0.0.1' }] };
  writeFileSync(join(dir, 'clusters.json'), JSON.stringify({ ...edited, clusters: [...edited.clusters, badUrl, { name: 'no id' }] }));
  const problems = open(dir).load().problems.map(describeProblem);
  assert.equal(problems[0], 'cluster prod: credentials.token: not a sealed value (the center never keeps a secret in clear)');
  assert.equal(problems[1], 'cluster bad-url: nodes.0.url: a wss:// URL');
  assert.equal(problems[2], 'cluster #3: id: missing or not a string');
});

test('cluster store: an invalid field of a readable entry is named by its path', (t) => {
  const dir = folder(t);
  open(dir).put(refCluster);
  const file = stored(dir);
  (file.clusters[0] as unknown as { nodes: { url: string }[] }).nodes[0]!.url = 'http://10.0.2.1';
  writeFileSync(join(dir, 'clusters.json'), JSON.stringify(file));
  assert.deepEqual(open(dir).load().problems.map(describeProblem), ['cluster dev: nodes.0.url: a wss:// URL']);
});

test('cluster store: a file that is not a clusters file is moved aside, never overwritten', (t) => {
  const dir = folder(t);
  writeFileSync(join(dir, 'clusters.json'), '{ not json');
  const store = open(dir);
  const { clusters, problems } = store.load();
  assert.deepEqual(clusters, []);
  assert.match(problems[0]!.message, /^not JSON .*; moved aside to .*clusters\.json\.unreadable-\d+$/);
  const aside = readdirSync(dir).find((f) => f.startsWith('clusters.json.unreadable-'))!;
  assert.equal(readFileSync(join(dir, aside), 'utf8'), '{ not json');
  store.put(refCluster);
  assert.deepEqual(open(dir).load().clusters, [refCluster]);
});

test('cluster store: saving the same configuration writes nothing; a changed one replaces it in place', (t) => {
  const dir = folder(t);
  const store = open(dir);
  store.put(tokenCluster);
  store.put(refCluster);
  const before = statSync(join(dir, 'clusters.json'));
  store.put(config({ ...tokenCluster }));
  assert.equal(statSync(join(dir, 'clusters.json')).ino, before.ino, 'not rewritten (a rewrite renames a new file in)');
  const renamed = { ...tokenCluster, name: 'Production EU' };
  store.put(renamed);
  assert.notEqual(statSync(join(dir, 'clusters.json')).ino, before.ino);
  assert.deepEqual(open(dir).load().clusters, [renamed, refCluster]);
});

test('cluster store: without a working cipher nothing is saved, with SECRETS_UNAVAILABLE', (t) => {
  const dir = folder(t);
  const locked: SecretCipher = {
    name: 'locked-keychain', isAvailable: () => false,
    encrypt: () => { throw new Error('must not be called'); }, decrypt: () => { throw new Error('must not be called'); },
  };
  const store = new ClusterStore(join(dir, 'clusters.json'), locked);
  assert.throws(() => store.put(tokenCluster), (e) => e instanceof CenterError && e.code === 'SECRETS_UNAVAILABLE' && /cluster prod is not saved/.test(e.message));
  assert.deepEqual(readdirSync(dir), []);
  assert.deepEqual(store.list(), []);
});

test('cluster store: a failed write keeps the previous state and says which file (STORE_FAILED)', (t) => {
  const dir = folder(t);
  const sub = join(dir, 'center');
  const store = new ClusterStore(join(sub, 'clusters.json'), new FileKeyCipher(join(dir, 'secret.key')));
  store.put(refCluster);
  // The folder replaced by a file: no write can succeed there, not even as root.
  renameSync(sub, join(dir, 'moved'));
  writeFileSync(sub, 'a file where the folder was');
  assert.throws(() => store.put(tokenCluster), (e) => e instanceof CenterError && e.code === 'STORE_FAILED' && e.message.startsWith(`clusters file ${join(sub, 'clusters.json')}: `));
  assert.deepEqual(store.list(), [refCluster]);
});

test('file key cipher: a key file others can read is refused; a wrong-sized one too', (t) => {
  const dir = folder(t);
  writeFileSync(join(dir, 'loose.key'), Buffer.alloc(32, 1), { mode: 0o644 });
  chmodSync(join(dir, 'loose.key'), 0o644);
  assert.throws(() => new FileKeyCipher(join(dir, 'loose.key')), /readable by others \(mode 644\); chmod 600 it/);
  writeFileSync(join(dir, 'short.key'), Buffer.alloc(5), { mode: 0o600 });
  assert.throws(() => new FileKeyCipher(join(dir, 'short.key')), /not a key file \(5 bytes, expected 32\)/);
  const cipher = new FileKeyCipher(join(dir, 'good.key'));
  assert.throws(() => cipher.decrypt(Buffer.from([1, 2, 3])), /too short/);
});
