// The mirror between two real test hosts (network namespaces; test/support/netns-mirror.ts): heartbeats on two
// private nets, replication on the first, a generated data set of a few hundred small files and a few large
// ones. Every scenario ends with the two copies equal by content hash (verifyTrees). Where a scenario needs to
// act in the middle of a transfer, the replication net is throttled so that the transfer lasts seconds
// whatever the machine's speed; every wait is for a condition, never for a time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { appendFileSync, chmodSync, chownSync, closeSync, existsSync, lchownSync, linkSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { clientTlsOptions } from '../../agent/replication/transport-tls.js';
import { encodeHello, encodeRecordPrefix } from '../../common/protocol/replication.js';
import { buildAgentBundle } from '../support/agent-bundle.js';
import { keystream, planDataset, prng, writeDataset, type Dataset } from '../support/dataset.js';
import { MIRROR, NetnsMirror, equalTrees, type NodeName } from '../support/netns-mirror.js';

const MiB = 1024 * 1024;
const SEED = 'vigil-netns-mirror';
/** About 24 MiB: 300 small files in 30 folders under 5 parents, and three large files of about 7.5 MiB. */
const DATASET = { seed: SEED, sizeMiB: 24, smallFiles: 300, largeFiles: 3, filesPerFolder: 10, foldersPerParent: 6 };
/** Slow enough that 16 MiB take 5 s on any machine, so a kill lands mid-transfer; fast enough to stay cheap. */
const SLOW_LINK = '24mbit';
/** For the two restarts of the source below: ten times what the convergence takes. */
const STUCK_MIRROR_WAIT_MS = 60_000;

function dataset(m: NetnsMirror, node: NodeName = 'alpha'): Dataset {
  const d = planDataset(m.folder(node), DATASET);
  writeDataset(d, SEED);
  return d;
}

function startBoth(m: NetnsMirror): void {
  m.start('alpha'); // first: the group's preferred node, so alpha's copy is the source
  m.start('beta');
}

/** Bytes of the regular files under `root` right now (files vanishing meanwhile count as empty). */
function bytesUnder(root: string): number {
  let total = 0;
  for (const entry of readdirSync(root, { recursive: true, encoding: 'utf8' })) {
    try {
      const s = statSync(join(root, entry));
      if (s.isFile()) total += s.size;
    } catch { /* gone meanwhile */ }
  }
  return total;
}

/** Maintenance keeps the group where it is while an agent is killed: a restart, not a failover. Both nodes see it. */
async function maintenance(m: NetnsMirror, on: boolean): Promise<void> {
  await m.control('alpha', 'maintenance', { on });
  await m.eventually(`both nodes see maintenance ${on ? 'on' : 'off'}`, async () =>
    (await Promise.all((['alpha', 'beta'] as const).map((n) => m.control(n, 'status', {}).then((s) => s.maintenance, () => undefined))))
      .every((seen) => seen === on));
}

/**
 * Every kind of change at once: creates (a new nested folder, a large file), appends, random overwrites in place
 * inside the large files, truncates that shrink and grow, renames (a file, a file over an existing one, a
 * folder), deletes (files and a whole folder tree), modes and owners (a symlink's too), hard links, a sparse file,
 * a range zeroed in place and an excluded file.
 * Deterministic from the seed. Returns what a few paths must hold afterwards.
 */
function burst(root: string, d: Dataset, round: string): { renamedOver: { path: string; content: Buffer }; deletedTree: string; renamedFolder: string; hardLinks: [string, string][]; sparse: string } {
  const random = prng(`${SEED}\0burst\0${round}`);
  const at = (path: string): string => join(root, path);
  const small = d.files.filter((f) => f.path.startsWith('small'));
  const large = d.files.filter((f) => f.path.startsWith('large'));
  const fresh = `burst-${round}`;

  mkdirSync(at(`${fresh}/a/b`), { recursive: true });
  for (let i = 0; i < 40; i++) writeFileSync(at(`${fresh}/a/b/new-${i}.dat`), keystream(SEED, `new ${round}`, i, 0, 100 + Math.floor(random() * 8192)));
  writeFileSync(at(`${fresh}/large-new.dat`), keystream(SEED, `new ${round}`, 1000, 0, 3 * MiB + 17));

  for (const f of small.slice(0, 20)) appendFileSync(at(f.path), keystream(SEED, `append ${round}`, f.stream, 0, 1 + Math.floor(random() * 3000)));
  appendFileSync(at(large[0]!.path), keystream(SEED, `append ${round}`, large[0]!.stream, 0, MiB + 5));

  for (const f of large) {
    const fd = openSync(at(f.path), 'r+');
    try {
      const size = statSync(at(f.path)).size;
      for (let k = 0; k < 25; k++) {
        const length = 1 + Math.floor(random() * 128 * 1024);
        const offset = Math.floor(random() * (size - length));
        writeSync(fd, keystream(SEED, `overwrite ${round} ${f.stream}`, k, 0, length), 0, length, offset);
      }
    } finally {
      closeSync(fd);
    }
  }

  truncateSync(at(large[1]!.path), Math.floor(statSync(at(large[1]!.path)).size / 3));
  truncateSync(at(large[2]!.path), statSync(at(large[2]!.path)).size + 2 * MiB + 123);
  truncateSync(at(small[30]!.path), 0);
  truncateSync(at(small[31]!.path), statSync(at(small[31]!.path)).size + 5000);

  renameSync(at(small[40]!.path), at(`${fresh}/renamed.dat`));
  const renamedOver = { path: small[42]!.path, content: readFileSync(at(small[41]!.path)) };
  renameSync(at(small[41]!.path), at(small[42]!.path));
  const renamedFolder = `small/renamed-${round}`;
  renameSync(at(dirname(small[100]!.path)), at(renamedFolder));

  rmSync(at(small[60]!.path));
  rmSync(at(small[61]!.path));
  const deletedTree = dirname(dirname(small[250]!.path));
  rmSync(at(deletedTree), { recursive: true });

  // Metadata alone (the agents run as root, so owners are mirrored): modes, and owners of a file, a folder and a
  // symlink itself.
  chmodSync(at(small[70]!.path), 0o640);
  chmodSync(at(`${fresh}/a`), 0o750);
  chownSync(at(small[71]!.path), 4301, 4302);
  chownSync(at(`${fresh}/a/b`), 4303, 4304);
  symlinkSync('new-0.dat', at(`${fresh}/a/b/link`));
  lchownSync(at(`${fresh}/a/b/link`), 4305, 4306);

  // Hard links: another name of a small file, appended to through that name; another of a large file, written
  // in place through it.
  const hardLinks: [string, string][] = [[small[80]!.path, `${fresh}/second-name.dat`], [large[0]!.path, `${fresh}/large-second-name.dat`]];
  for (const [existing, name] of hardLinks) linkSync(at(existing), at(name));
  appendFileSync(at(`${fresh}/second-name.dat`), keystream(SEED, `link ${round}`, 0, 0, 700));
  const lfd = openSync(at(`${fresh}/large-second-name.dat`), 'r+');
  try {
    writeSync(lfd, keystream(SEED, `link ${round}`, 1, 0, 100 * 1024), 0, 100 * 1024, MiB + 333);
  } finally {
    closeSync(lfd);
  }

  // A sparse file (data at its start and at 20 MiB, holes elsewhere and at its end), and a large file's range
  // zeroed in place: runs of zeros travel as such.
  const sparse = `${fresh}/sparse.img`;
  const sfd = openSync(at(sparse), 'w');
  try {
    writeSync(sfd, keystream(SEED, `sparse ${round}`, 0, 0, 300 * 1024), 0, 300 * 1024, 0);
    writeSync(sfd, keystream(SEED, `sparse ${round}`, 1, 0, 200 * 1024), 0, 200 * 1024, 20 * MiB);
  } finally {
    closeSync(sfd);
  }
  truncateSync(at(sparse), 24 * MiB);
  const zfd = openSync(at(large[2]!.path), 'r+');
  try {
    writeSync(zfd, Buffer.alloc(512 * 1024), 0, 512 * 1024, MiB);
  } finally {
    closeSync(zfd);
  }

  // Extended attributes and ACLs, as a Samba share keeps them: a user attribute, a stored Windows ACL and a trusted
  // one on files, POSIX ACLs on a file, and a default ACL on a folder after its files were made (so that the
  // target, where they are made after it, must take their lack of an ACL from the source), then one removed.
  execFileSync('setfattr', ['-n', 'user.vigil.label', '-v', `burst ${round}`, at(small[90]!.path)]);
  execFileSync('setfattr', ['-n', 'security.NTACL', '-v', `0x${keystream(SEED, `ntacl ${round}`, 0, 0, 180).toString('hex')}`, at(small[91]!.path)]);
  execFileSync('setfattr', ['-n', 'trusted.vigil', '-v', '1', at(large[1]!.path)]);
  execFileSync('setfacl', ['-m', 'u:4307:rw-,g:4308:r--', at(small[92]!.path)]);
  execFileSync('setfacl', ['-d', '-m', 'u:4309:rwx', at(`${fresh}/a/b`)]);
  execFileSync('setfattr', ['-n', 'user.vigil.gone', '-v', 'x', at(small[93]!.path)]);
  execFileSync('setfattr', ['-x', 'user.vigil.gone', at(small[93]!.path)]);
  // The mirrored folder itself, as a share's is set up: its mode, group and ACL (a share's access is its root's).
  chmodSync(root, 0o2770);
  chownSync(root, 0, 4310);
  execFileSync('setfacl', ['-m', `g:4311:r-x,u:${round === 'one' ? 4312 : 4313}:rwx`, root]);

  writeFileSync(at(`${fresh}/scratch.tmp`), 'excluded: never mirrored\n');
  return { renamedOver, deletedTree, renamedFolder, hardLinks, sparse };
}

test('a burst of every kind of change on a real data set reaches the target exactly', async (t) => {
  const m = await NetnsMirror.create(t);
  const d = dataset(m);
  startBoth(m);
  await m.inSync();

  const expect = burst(m.folder('alpha'), d, 'one');
  await m.inSync();
  assert.deepEqual(readFileSync(join(m.folder('beta'), expect.renamedOver.path)), expect.renamedOver.content, 'the rename over an existing file replaced it');
  assert.ok(!existsSync(join(m.folder('beta'), expect.deletedTree)), 'the deleted folder tree is gone');
  assert.ok(existsSync(join(m.folder('beta'), expect.renamedFolder)), 'the folder was renamed');
  assert.ok(!existsSync(join(m.folder('beta'), 'burst-one/scratch.tmp')), 'the excluded file stayed behind');
  for (const [existing, name] of expect.hardLinks) {
    assert.equal(statSync(join(m.folder('beta'), name)).ino, statSync(join(m.folder('beta'), existing)).ino, `${name} is another name of ${existing} on the target too`);
  }
  const allocated = statSync(join(m.folder('beta'), expect.sparse)).blocks * 512;
  assert.ok(allocated < 4 * MiB, `the sparse file of 24 MiB holding 500 KiB takes ${allocated} bytes on the target`);
  const verify = await m.command('alpha', 'verify');
  assert.equal(verify.verify?.equal, true, JSON.stringify(verify.verify));
});

// The installers ship the agent bundled (scripts/bundle-agent.mjs). Its worker threads are started by file name
// next to vigild.js: a bundle without them mirrored nothing (the read thread failed to start at the first scan).
test('the bundled agent the installers ship mirrors the data set and a burst exactly', async (t) => {
  const home = mkdtempSync(join(tmpdir(), 'vigil-mirror-bundle-'));
  t.after(() => rmSync(home, { recursive: true, force: true }));
  const m = await NetnsMirror.create(t, { agent: buildAgentBundle(home) });
  const d = dataset(m);
  startBoth(m);
  await m.inSync();
  burst(m.folder('alpha'), d, 'bundled');
  await m.inSync();
  const verify = await m.command('alpha', 'verify');
  assert.equal(verify.verify?.equal, true, JSON.stringify(verify.verify));
});

// A kill -9 of the source agent alone (the target keeps running): the restarted source discards its journal and
// numbers its records from 1 again, while the target still holds the old stream's lastApplied. The source must
// see that and reset the stream (it once took that seq as acknowledged and its resync never left the journal).
test('kill -9 of the source agent while a large burst streams: it restarts and the target converges', async (t) => {
  const m = await NetnsMirror.create(t);
  startBoth(m);
  await m.inSync();
  await maintenance(m, true);
  m.throttle('beta', SLOW_LINK);
  const d = dataset(m);
  await m.eventually('part of the data set reached beta', () => bytesUnder(m.folder('beta')) > MiB);
  await m.kill('alpha');
  assert.ok(bytesUnder(m.folder('beta')) < d.bytes, 'the source died mid-transfer');
  m.unthrottle('beta');
  m.start('alpha');
  await m.eventually('alpha answers', () => m.answers('alpha'));
  await maintenance(m, false);
  await m.inSync('alpha', 'beta', STUCK_MIRROR_WAIT_MS);
});

test('kill -9 of the target agent mid-apply: it restarts and converges', async (t) => {
  const m = await NetnsMirror.create(t);
  const d = dataset(m);
  startBoth(m);
  await m.inSync();
  await maintenance(m, true);
  m.throttle('beta', SLOW_LINK);
  const fresh = (i: number): string => join('incoming', `data-${i}.bin`);
  mkdirSync(join(m.folder('alpha'), 'incoming'));
  for (let i = 0; i < 4; i++) writeFileSync(join(m.folder('alpha'), fresh(i)), keystream(SEED, 'incoming', i, 0, 4 * MiB));
  burst(m.folder('alpha'), d, 'during-apply');
  await m.eventually('beta is applying the new files', () => existsSync(join(m.folder('beta'), 'incoming')) && bytesUnder(join(m.folder('beta'), 'incoming')) > 0);
  await m.kill('beta');
  assert.ok(bytesUnder(join(m.folder('beta'), 'incoming')) < 16 * MiB, 'the target died mid-apply');
  m.unthrottle('beta');
  m.start('beta');
  await m.eventually('beta answers', () => m.answers('beta'));
  await maintenance(m, false);
  await m.inSync();
});

test('the replication cable is pulled for a while: changes queue on the source, nothing fails over, and the target catches up', async (t) => {
  const m = await NetnsMirror.create(t);
  const d = dataset(m);
  startBoth(m);
  await m.inSync();
  const before = await m.manifest('beta');

  m.net.cut('alpha', 'priv1');
  burst(m.folder('alpha'), d, 'during-cut');
  await m.eventually('the source queues, disconnected', async () => {
    const s = await m.status('alpha');
    return s !== undefined && !s.connected && (s.sourceQueue?.records ?? 0) > 0;
  });
  assert.equal(await m.manifest('beta'), before, 'nothing reached beta during the cut');
  assert.equal((await m.status('alpha'))?.role, 'source', 'no failover: the heartbeat still runs on priv2');
  writeFileSync(join(m.folder('alpha'), 'late.txt'), 'still during the cut\n');

  m.net.restore('alpha', 'priv1');
  await m.inSync();
  assert.equal((await m.status('beta'))?.role, 'target');
});

test('target-write pause freezes the target while its spool grows; resume drains it in order', async (t) => {
  const m = await NetnsMirror.create(t);
  const d = dataset(m);
  startBoth(m);
  await m.inSync();
  const frozen = await m.manifest('beta');
  await m.command('alpha', 'pause-target');

  /** Everything alpha sent is acknowledged into beta's spool; resolves with the spool's record count. */
  const spooled = async (more: number): Promise<number> => {
    let records = 0;
    await m.eventually(`beta's spool holds more than ${more} records and alpha has nothing left to send`, async () => {
      const [source, target] = [await m.status('alpha'), await m.status('beta')];
      records = target?.targetQueue?.records ?? 0;
      return records > more && source?.sourceQueue?.records === 0;
    });
    return records;
  };
  writeFileSync(join(m.folder('alpha'), 'one.txt'), 'first\n');
  appendFileSync(join(m.folder('alpha'), 'one.txt'), 'second\n');
  renameSync(join(m.folder('alpha'), 'one.txt'), join(m.folder('alpha'), 'two.txt'));
  const first = await spooled(0);
  const beta = await m.status('beta');
  assert.equal(beta?.state, 'paused');
  assert.ok(beta.pausedTarget);
  burst(m.folder('alpha'), d, 'while-paused');
  await spooled(first);
  assert.equal(await m.manifest('beta'), frozen, 'the target copy stays frozen while paused');

  await m.command('alpha', 'resume');
  await m.inSync();
  assert.equal(readFileSync(join(m.folder('beta'), 'two.txt'), 'utf8'), 'first\nsecond\n');
  assert.equal((await m.status('beta'))?.targetQueue?.records, 0);
});

test('vigil mirror diff repairs a target changed behind the mirror\'s back, a thorough one what kept its size and mtime too; vigil mirror full resends everything', async (t) => {
  const m = await NetnsMirror.create(t);
  const d = dataset(m);
  startBoth(m);
  await m.inSync();
  const [small, large] = [d.files[7]!.path, d.files.at(-1)!.path];
  writeFileSync(join(m.folder('beta'), small), 'damaged on the target\n');
  truncateSync(join(m.folder('beta'), large), MiB);
  writeFileSync(join(m.folder('beta'), 'stray.txt'), 'not on the source\n');

  /** The last sync of that kind finished after `since`, and beta is level. */
  const synced = (kind: 'diff' | 'full', since: number) => async (): Promise<boolean> => {
    const s = await m.status('alpha');
    return s?.lastSync?.kind === kind && s.lastSync.startedAt >= since && s.lastSync.finishedAt !== undefined && await m.level();
  };
  let since = Date.now();
  await m.command('alpha', 'diff');
  await m.eventually('the differential mirror ran and repaired beta', synced('diff', since));

  // Damage that keeps size, mtime (to the nanosecond) and inode: beta's listing index would vouch for the file,
  // so only a thorough differential mirror reads it again.
  const hidden = join(m.folder('beta'), d.files[9]!.path);
  const stamp = join(m.folder('beta'), '..', 'stamp');
  spawnSync('touch', ['-r', hidden, stamp]);
  const bytes = readFileSync(hidden);
  bytes[0] = bytes[0]! ^ 0xff;
  writeFileSync(hidden, bytes);
  assert.equal(spawnSync('touch', ['-r', stamp, hidden]).status, 0);
  since = Date.now();
  await m.control('alpha', 'mirror', { action: 'diff', name: MIRROR, thorough: true }, 120_000);
  await m.eventually('the thorough differential mirror repaired beta', synced('diff', since));

  rmSync(join(m.folder('beta'), small));
  rmSync(join(m.folder('beta'), dirname(d.files[100]!.path)), { recursive: true });
  since = Date.now();
  await m.command('alpha', 'full');
  await m.eventually('the full mirror ran and beta is whole again', synced('full', since));
});

// A kill -9 while transmission is paused: the pause survives, and so does the stream reset described above.
test('source-transmission pause survives an agent restart; the journal holds the changes until resume', async (t) => {
  const m = await NetnsMirror.create(t);
  const d = dataset(m);
  startBoth(m);
  await m.inSync();
  const frozen = await m.manifest('beta');
  await m.command('alpha', 'pause-source');
  burst(m.folder('alpha'), d, 'held');
  await m.eventually('the source queues', async () => ((await m.status('alpha'))?.sourceQueue?.records ?? 0) > 0);

  await maintenance(m, true);
  await m.kill('alpha');
  m.start('alpha');
  await m.eventually('alpha answers', () => m.answers('alpha'));
  await maintenance(m, false);
  await m.eventually('alpha is the source again, still paused', async () => {
    const s = await m.status('alpha');
    return s?.role === 'source' && s.pausedSource && s.state === 'paused';
  });
  assert.equal(await m.manifest('beta'), frozen, 'nothing was sent while paused');

  await m.command('alpha', 'resume');
  await m.inSync('alpha', 'beta', STUCK_MIRROR_WAIT_MS);
});

test('a full journal marks the mirror dirty and a differential mirror brings the target level', async (t) => {
  const m = await NetnsMirror.create(t, { journalSize: '1MiB' });
  const d = dataset(m);
  startBoth(m);
  await m.inSync();
  await m.command('alpha', 'pause-source');
  burst(m.folder('alpha'), d, 'overflowing'); // several MB into a 1 MiB journal
  await m.eventually('the source reports the dirty mark', async () => {
    const s = await m.status('alpha');
    return s !== undefined && s.dirtyFiles !== 0 && s.reasons.some((r) => /dirty: the journal was full/.test(r));
  });
  await m.command('alpha', 'resume');
  await m.inSync();
  assert.equal((await m.status('alpha'))?.dirtyFiles, 0);
});

test('failover while the mirror lags; the old source returns, is resynced from the new one, and only then does the group switch back', async (t) => {
  const m = await NetnsMirror.create(t, { switchback: 'auto' });
  const d = dataset(m);
  writeFileSync(join(m.folder('alpha'), 'shared.txt'), 'version 1\n');
  startBoth(m);
  await m.inSync();

  // Lag: alpha changes things that never reach beta before alpha dies.
  await m.command('alpha', 'pause-source');
  writeFileSync(join(m.folder('alpha'), 'shared.txt'), 'version 2, never sent\n');
  writeFileSync(join(m.folder('alpha'), 'unsent.txt'), 'lost with alpha\n');
  await m.eventually('the change is queued on alpha', async () => ((await m.status('alpha'))?.sourceQueue?.records ?? 0) > 0);
  await m.kill('alpha');
  await m.eventually('beta took over on its copy', async () => (await m.status('beta'))?.role === 'source');
  assert.equal(readFileSync(join(m.folder('beta'), 'shared.txt'), 'utf8'), 'version 1\n', 'beta runs on the copy it had');

  writeFileSync(join(m.folder('beta'), 'shared.txt'), 'version 3, written on beta\n');
  writeFileSync(join(m.folder('beta'), 'big.bin'), keystream(SEED, 'written on beta', 0, 0, 16 * MiB));
  burst(m.folder('beta'), d, 'on-beta');
  // What beta holds now, kept aside: nobody writes from here on, so alpha must end up with exactly this.
  const betas = join(m.net.tempDir, 'beta-before-alpha-returns');
  // cp -a: times too (of folders as well), which the comparison below checks.
  const copied = spawnSync('cp', ['-a', m.folder('beta'), betas], { encoding: 'utf8' });
  assert.equal(copied.status, 0, copied.stderr);

  // Alpha returns over a slow link, so its resync lasts seconds; watch what it reports meanwhile.
  m.throttle('alpha', SLOW_LINK);
  const seen = new Set<string>();
  let watching = true;
  const watcher = (async () => {
    while (watching) {
      const s = await m.status('alpha');
      if (s !== undefined) seen.add(`${s.role} ${s.state}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  t.after(async () => { watching = false; await watcher; });
  m.start('alpha');
  await m.eventually('the group is back on alpha', async () => (await m.status('alpha'))?.role === 'source');
  watching = false;
  await watcher;
  m.unthrottle('alpha');

  assert.ok([...seen].some((s) => s.startsWith('target ')), `alpha was a target before it became the source again (saw: ${[...seen].join(', ')})`);
  // Had the group switched back before the resync ended, alpha's partial copy would have become the truth.
  const switchedBackWith = await equalTrees(betas, m.folder('alpha'));
  assert.ok(switchedBackWith.equal, `alpha switched back holding exactly beta's copy: ${JSON.stringify(switchedBackWith)}`);
  assert.equal(readFileSync(join(m.folder('alpha'), 'shared.txt'), 'utf8'), 'version 3, written on beta\n');
  assert.ok(!existsSync(join(m.folder('alpha'), 'unsent.txt')), 'the change beta never had is gone: beta\'s newer copy won');
  await m.inSync();
  assert.equal((await m.status('beta'))?.role, 'target');
  assert.equal((await m.status('beta'))?.generation, (await m.status('alpha'))?.generation, 'the target holds the source\'s generation');
});

/** A TLS session through a relay socket as node `identity` with `key`; resolves with what the peer sent until it closed. */
function rawSession(relay: string, key: Buffer, identity: string, send: (socket: TLSSocket) => void): Promise<{ error?: string; received: Buffer }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let error: string | undefined;
    const socket = tlsConnect({ socket: netConnect(relay), ...clientTlsOptions(key, identity) }, () => send(socket));
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('error', (e) => { error = e.message; });
    socket.on('close', () => resolve({ ...(error === undefined ? {} : { error }), received: Buffer.concat(chunks) }));
    setTimeout(() => socket.destroy(), 10_000).unref();
  });
}

test('bad input on the replication port (garbage, a wrong key, a truncated frame, a bad record) is refused and changes nothing', async (t) => {
  const m = await NetnsMirror.create(t);
  dataset(m);
  startBoth(m);
  await m.inSync();
  const before = await m.manifest('beta');
  await m.command('alpha', 'pause-source'); // alpha's own stream would replace our sessions
  const relay = await m.relayToReplicationPort('alpha', 'beta');
  const key = Buffer.from(m.key, 'hex');

  // Plain garbage, no TLS at all.
  await new Promise<void>((resolve) => {
    const s = netConnect(relay, () => s.write(Buffer.from('GET / HTTP/1.0\r\n\r\n\x00\xff garbage')));
    s.on('error', () => undefined);
    s.on('close', () => resolve());
    s.resume();
  });
  // A wrong key: the handshake fails.
  const wrong = await rawSession(relay, Buffer.alloc(32, 9), 'alpha', () => assert.fail('a wrong key must not complete the handshake'));
  assert.ok(wrong.error !== undefined, 'the handshake with a wrong key failed');
  // The right key, a valid HELLO, then a frame cut short, and then a record that is not a change record.
  const target = await m.status('beta');
  const hello = Buffer.from(encodeHello({ window: 1 << 20, fromSeq: 1, clusterId: 'mirrors', mirror: MIRROR, sourceNode: 'alpha', lineage: target!.generation }));
  const truncated = await rawSession(relay, key, 'alpha', (s) => {
    s.write(hello);
    s.once('data', () => { s.write(Buffer.concat([Buffer.from(encodeRecordPrefix(1_000_000, 100)), Buffer.alloc(10)])); s.end(); });
  });
  assert.ok(truncated.received.length > 0, 'the target answered the HELLO');
  const garbage = Buffer.from('\x63not a change record at all');
  const badRecord = await rawSession(relay, key, 'alpha', (s) => {
    s.write(hello);
    s.once('data', (d: Buffer) => {
      // HELLO_OK: u64 lastApplied right after the 6-byte header; send the next record with a garbage payload.
      const lastApplied = d.readUInt32BE(6) * 2 ** 32 + d.readUInt32BE(10);
      s.write(Buffer.concat([Buffer.from(encodeRecordPrefix(lastApplied + 1, garbage.length)), garbage]));
    });
  });
  assert.match(badRecord.received.toString('latin1'), /VIGIL_BAD_RECORD.*version at byte 0/, 'refused, naming the byte');
  assert.equal(await m.manifest('beta'), before, "nothing in the target's folder changed");

  // The agent and the mirror still work.
  await m.command('alpha', 'resume');
  writeFileSync(join(m.folder('alpha'), 'b.txt'), 'still mirrored\n');
  await m.inSync();
  assert.equal(readFileSync(join(m.folder('beta'), 'b.txt'), 'utf8'), 'still mirrored\n');
});
