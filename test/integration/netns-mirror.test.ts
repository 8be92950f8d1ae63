// A mirror between two real test hosts (network namespaces): heartbeats on two private nets, replication on the
// first. Pulling the replication cable for a while makes the source queue its changes (nothing fails over: the
// heartbeat still runs on the second net); plugged back in, the target catches up and both trees are equal.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { appendFileSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { callAgent } from '../../agent/control/control-client.js';
import { compileGlobs } from '../../agent/replication/glob.js';
import { verifyTrees } from '../../agent/replication/verify.js';
import type { MirrorStatus } from '../../common/model/index.js';
import { TestNetwork } from '../support/netns.js';

const NODES = ['alpha', 'beta'] as const;

async function eventually(what: string, condition: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('the replication cable is pulled for a while: changes queue on the source, nothing fails over, and the target catches up', async (t) => {
  const net = await TestNetwork.create({
    nets: [{ name: 'priv1', subnet: '198.51.100.0/26' }, { name: 'priv2', subnet: '198.51.100.64/26' }],
    hosts: [
      { name: 'alpha', addresses: { priv1: '198.51.100.1/26', priv2: '198.51.100.65/26' } },
      { name: 'beta', addresses: { priv1: '198.51.100.2/26', priv2: '198.51.100.66/26' } },
    ],
  });
  t.after(() => net.destroy());
  const folder = (n: string): string => join(net.tempDir, `data-${n}`);
  const stateDir = (n: string): string => join(net.tempDir, `state-${n}`);
  for (const n of NODES) { mkdirSync(folder(n)); mkdirSync(stateDir(n)); }
  const config = join(net.tempDir, 'cluster.yaml');
  writeFileSync(config, `cluster: { id: mirrors, key: "${randomBytes(32).toString('hex')}", startupGrace: 2s }
nodes: [{ id: alpha }, { id: beta }]
heartbeat:
  links:
    - { name: priv1, kind: udp, endpoints: { alpha: "198.51.100.1:7405", beta: "198.51.100.2:7405" } }
    - { name: priv2, kind: udp, endpoints: { alpha: "198.51.100.65:7406", beta: "198.51.100.66:7406" } }
groups:
  - id: files
    nodes: [alpha, beta]
    switchback: manual
    resources:
      - id: data
        kind: mirror
        folders: [{ alpha: "${folder('alpha')}", beta: "${folder('beta')}" }]
        endpoints: { alpha: "198.51.100.1:7420", beta: "198.51.100.2:7420" }
        monitorInterval: 1s
`);
  for (const n of NODES) net.spawn(n, [process.execPath, resolve('dist/agent/cli/vigild.js'), '--config', config, '--node', n, '--state-dir', stateDir(n)]);
  const status = (n: string): Promise<MirrorStatus | undefined> =>
    callAgent(join(stateDir(n), 'vigild.sock'), 'mirror', { action: 'status', name: 'data' }, 10_000).then((r) => r.status[0], () => undefined);
  const level = async (): Promise<boolean> => (await verifyTrees(folder('alpha'), folder('beta'), compileGlobs([], []))).equal;

  writeFileSync(join(folder('alpha'), 'first.txt'), 'before the cut\n');
  await eventually('alpha is the source and beta level', async () => (await status('alpha'))?.state === 'in-sync' && await level());

  net.cut('alpha', 'priv1');
  mkdirSync(join(folder('alpha'), 'during/the/cut'), { recursive: true });
  writeFileSync(join(folder('alpha'), 'during/the/cut/big.bin'), Buffer.alloc(3_000_000, 4));
  appendFileSync(join(folder('alpha'), 'first.txt'), 'during the cut\n');
  renameSync(join(folder('alpha'), 'first.txt'), join(folder('alpha'), 'renamed.txt'));
  await eventually('the source queues, disconnected', async () => {
    const s = await status('alpha');
    return s !== undefined && !s.connected && (s.sourceQueue?.records ?? 0) > 0;
  });
  assert.ok(!(await level()), 'nothing reached beta during the cut');
  assert.equal((await status('alpha'))?.role, 'source', 'no failover: the heartbeat still runs on priv2');
  writeFileSync(join(folder('alpha'), 'late.txt'), 'still during the cut\n');
  rmSync(join(folder('alpha'), 'renamed.txt'));

  net.restore('alpha', 'priv1');
  await eventually('beta catches up', async () => (await status('alpha'))?.state === 'in-sync' && await level());
  assert.equal((await status('beta'))?.role, 'target');
});
