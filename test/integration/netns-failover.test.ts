// Real agents on real test hosts (network namespaces): a virtual IP and a web service move between hosts,
// and a client on the public network sees the outcome. The invariant: the VIP is never on two hosts at once.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { callAgent } from '../../agent/control/control-client.js';
import type { ClusterStatus } from '../../common/model/index.js';
import { TestNetwork, type HostProcess } from '../support/netns.js';
import { until } from '../support/process.js';

const VIP = '203.0.113.100';
const VIGILD = resolve('dist/agent/cli/vigild.js');

interface Cluster {
  readonly net: TestNetwork;
  readonly agents: Map<string, HostProcess>;
  start(node: string): HostProcess;
  status(node: string): Promise<ClusterStatus>;
  /** What the client gets from http://VIP:8080/, or undefined if nothing answers. */
  fetch(): string | undefined;
  vipHolders(): string[];
}

async function cluster(t: TestContext): Promise<Cluster> {
  const net = await TestNetwork.create({
    nets: [{ name: 'priv1', subnet: '198.51.100.0/24' }, { name: 'pub', subnet: '203.0.113.0/24' }],
    hosts: [
      { name: 'alpha', addresses: { priv1: '198.51.100.1/24', pub: '203.0.113.1/24' } },
      { name: 'beta', addresses: { priv1: '198.51.100.2/24', pub: '203.0.113.2/24' } },
      { name: 'client', addresses: { pub: '203.0.113.10/24' } },
    ],
  });
  t.after(() => net.destroy());
  const config = join(net.tempDir, 'cluster.yaml');
  writeFileSync(config, `cluster: { id: netns, key: "${randomBytes(32).toString('hex')}", startupGrace: 2s }
nodes: [{ id: alpha }, { id: beta }]
heartbeat:
  links:
    - { name: priv1, kind: udp, endpoints: { alpha: "198.51.100.1:7405", beta: "198.51.100.2:7405" } }
    - { name: pub, kind: udp, role: public, endpoints: { alpha: "203.0.113.1:7406", beta: "203.0.113.2:7406" } }
groups:
  - id: web
    nodes: [alpha, beta]
    switchback: manual
    resources:
      - { id: web-ip, kind: vip, address: "${VIP}/24", arpCount: 3, monitorInterval: 500ms }
      - id: web-svc
        kind: service
        name: web
        manager: process
        command: ["${process.execPath}", "${resolve('scripts/demo/web-service.mjs')}"]
        env: { DEMO_PORT: "8080", DEMO_HOST: "0.0.0.0" }
        monitorInterval: 500ms
`);
  const agents = new Map<string, HostProcess>();
  const stateDir = (node: string): string => join(net.tempDir, `state-${node}`);
  return {
    net, agents,
    start(node) {
      mkdirSync(stateDir(node), { recursive: true });
      const p = net.spawn(node, [process.execPath, VIGILD, '--config', config, '--node', node, '--state-dir', stateDir(node)]);
      agents.set(node, p);
      return p;
    },
    // Unix sockets are files, not network: the test reaches each agent's control socket from outside its host.
    status: (node) => callAgent(join(stateDir(node), 'vigild.sock'), 'status', {}, 5000),
    fetch() {
      const r = net.run('client', [process.execPath, '-e',
        `require('http').get({ host: '${VIP}', port: 8080, timeout: 800 }, (res) => { let b = ''; res.on('data', (d) => b += d); res.on('end', () => process.stdout.write(b)); }).on('error', () => process.exit(1)).on('timeout', () => process.exit(1));`],
      { timeoutMs: 3000 });
      return r.code === 0 ? r.stdout.trim() : undefined;
    },
    vipHolders: () => ['alpha', 'beta'].filter((h) => net.addresses(h).some((a) => a.address === VIP)),
  };
}

test('kill -9 of the active agent on a real host: the VIP moves, never on two hosts, and the client is served again', async (t) => {
  const c = await cluster(t);
  c.start('alpha');
  c.start('beta');
  await until('the client is served by alpha', () => /served by alpha/.test(c.fetch() ?? ''), 30_000);
  assert.deepEqual(c.vipHolders(), ['alpha']);
  const label = c.net.addresses('alpha').find((a) => a.address === VIP)?.label;
  assert.ok(label?.startsWith('pub:'), `the VIP carries a label (${label})`);

  let overlap = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      if (c.vipHolders().length > 1) overlap++;
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  await c.net.kill(c.agents.get('alpha')!);
  await until('the client is served by beta', () => /served by beta/.test(c.fetch() ?? ''), 30_000);
  sampling = false;
  await sampler;
  assert.equal(overlap, 0, 'the VIP was on both hosts at once');
  assert.deepEqual(c.vipHolders(), ['beta']);
  const arp = c.net.neighbours('client').find((n) => n.address === VIP);
  assert.equal(arp?.mac, c.net.macOf('beta', 'pub'), "the client's ARP entry for the VIP points at beta");
  const status = await c.status('beta');
  assert.deepEqual(status.groups[0]!.runningOn, ['beta']);
});
