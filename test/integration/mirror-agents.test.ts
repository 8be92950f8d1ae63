// Two real agents mirror a folder through their mirror service: files written on the node running the group
// appear on the other; after kill -9 of that node's agent the other one takes over on its own copy and becomes
// the source; the old node returns as target and is brought level. After each step the two trees are equal by
// content hash (verify). Loopback only; the same on network-namespace hosts is in netns-mirror.test.ts.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { callAgent } from '../../agent/control/control-client.js';
import { compileGlobs } from '../../agent/replication/glob.js';
import { verifyTrees } from '../../agent/replication/verify.js';
import type { MirrorStatus } from '../../common/model/index.js';
import { LocalCluster, freePort } from '../support/agent-cluster.js';

async function mirrored(t: TestContext): Promise<{ c: LocalCluster; folder: (node: string) => string }> {
  const ports = { alpha: await freePort(), beta: await freePort() };
  const c = await LocalCluster.create('groups: []');
  t.after(() => c.dispose());
  const folder = (node: string): string => join(c.dir, `data-${node}`);
  const config = readFileSync(c.configPath, 'utf8').replace('groups: []', `groups:
  - id: files
    nodes: [alpha, beta]
    switchback: manual
    resources:
      - id: data
        kind: mirror
        folders: [{ alpha: "${folder('alpha')}", beta: "${folder('beta')}" }]
        exclude: ["*.tmp"]
        endpoints: { alpha: "127.0.0.1:${ports.alpha}", beta: "127.0.0.1:${ports.beta}" }
        journalSize: 64MiB
        monitorInterval: 1s
`);
  writeFileSync(c.configPath, config);
  mkdirSync(folder('alpha'));
  mkdirSync(folder('beta'));
  return { c, folder };
}

const mirrorStatus = async (c: LocalCluster, node: string): Promise<MirrorStatus> =>
  (await callAgent(c.socket(node), 'mirror', { action: 'status', name: 'data' }, 10_000)).status[0]!;

async function equal(c: LocalCluster, a: string, b: string): Promise<boolean> {
  const report = await verifyTrees(a, b, compileGlobs([], ['*.tmp']));
  return report.equal;
}

test('a mirror follows its group: live changes reach the target, kill -9 fails over onto the copy, the old source returns as target', async (t) => {
  const { c, folder } = await mirrored(t);
  writeFileSync(join(folder('alpha'), 'before.txt'), 'written before the agents started\n');
  c.start('alpha');
  c.start('beta');
  await c.waitFor('alpha is the source and in sync', async () => {
    const s = await mirrorStatus(c, 'alpha').catch(() => undefined);
    return s?.role === 'source' && s.state === 'in-sync' && await equal(c, folder('alpha'), folder('beta'));
  }, 60_000);

  // Live changes: creates in new folders, appends, renames, deletes, an excluded file.
  mkdirSync(join(folder('alpha'), 'deep/er'), { recursive: true });
  writeFileSync(join(folder('alpha'), 'deep/er/new.bin'), Buffer.alloc(300_000, 1));
  appendFileSync(join(folder('alpha'), 'before.txt'), 'and appended to\n');
  writeFileSync(join(folder('alpha'), 'scratch.tmp'), 'not mirrored');
  renameSync(join(folder('alpha'), 'deep/er/new.bin'), join(folder('alpha'), 'moved.bin'));
  writeFileSync(join(folder('alpha'), 'gone.txt'), 'short-lived');
  rmSync(join(folder('alpha'), 'gone.txt'));
  await c.waitFor('the target has every change', () => equal(c, folder('alpha'), folder('beta')), 30_000);
  assert.equal(readFileSync(join(folder('beta'), 'before.txt'), 'utf8'), 'written before the agents started\nand appended to\n');
  const verify = await callAgent(c.socket('alpha'), 'mirror', { action: 'verify', name: 'data' }, 60_000);
  assert.equal(verify.verify?.equal, true, JSON.stringify(verify.verify));

  // Fail over: beta's copy becomes the source.
  await c.kill('alpha');
  await c.waitFor('beta is the source', async () => (await mirrorStatus(c, 'beta')).role === 'source', 30_000);
  writeFileSync(join(folder('beta'), 'after-failover.txt'), 'written on beta\n');
  c.start('alpha');
  await c.waitFor('alpha, back as target, is level with beta', async () => {
    const s = await mirrorStatus(c, 'beta').catch(() => undefined);
    return s?.state === 'in-sync' && await equal(c, folder('beta'), folder('alpha'));
  }, 60_000);
  assert.equal(readFileSync(join(folder('alpha'), 'after-failover.txt'), 'utf8'), 'written on beta\n');
  const alpha = await mirrorStatus(c, 'alpha');
  assert.equal(alpha.role, 'target');
  assert.equal(alpha.generation, (await mirrorStatus(c, 'beta')).generation, 'the target holds the source\'s generation');
});
