/**
 * `npm run demo`: a two-node cluster protecting a small web service, with a live status view.
 *
 * As root (where `ip netns` works) the nodes are real test hosts built from network namespaces, with private and
 * public networks and a client: the service lives behind a virtual IP that moves between the hosts, and keys
 * let you kill the active agent, cut its cables, switch over. Otherwise (or with --loopback) two agents share
 * this machine's loopback and the service moves between them.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { resolve, join } from 'node:path';
import { parseArgs } from 'node:util';
import { callAgent } from '../agent/api/api-client.js';
import { formatStatus } from '../agent/cli/format.js';
import { NetnsCluster, NODES, VIP, SERVICE_PORT, type NodeName } from '../test/support/netns-cluster.js';

const { values } = parseArgs({ options: { loopback: { type: 'boolean', default: false } } });

function canUseNamespaces(): boolean {
  return process.getuid?.() === 0 && spawnSync('ip', ['netns', 'list'], { stdio: 'ignore' }).status === 0;
}

function draw(lines: readonly string[]): void {
  process.stdout.write(`\x1b[2J\x1b[H${lines.join('\n')}\n`);
}

// ---------------------------------------------------------------------------------------------------------------
// Real hosts: network namespaces

async function namespaceDemo(): Promise<void> {
  process.stdout.write('building the test hosts (network namespaces alpha, beta, client)...\n');
  const c = await NetnsCluster.create();
  for (const node of NODES) c.start(node);
  const cut = new Set<NodeName>();
  let message = 'starting: the group settles on alpha within a few seconds';
  let stopping = false;

  const active = async (): Promise<NodeName | undefined> => {
    for (const node of NODES) {
      const where = await c.runningOn(node);
      if (where?.length === 1) return where[0] as NodeName;
    }
    return undefined;
  };

  const actions: Record<string, () => Promise<string>> = {
    k: async () => {
      const node = await active();
      if (!node) return 'no node runs the group right now';
      await c.net.kill(c.agent(node));
      return `killed ${node}'s agent (kill -9): its guard released the VIP; the peer takes over after the dead time`;
    },
    r: async () => {
      const dead = NODES.filter((n) => c.agent(n).child.exitCode !== null || c.agent(n).child.signalCode !== null);
      for (const n of dead) c.start(n);
      return dead.length === 0 ? 'every agent is running' : `restarted ${dead.join(', ')} (switchback is manual: the group stays)`;
    },
    c: async () => {
      const node = await active();
      if (!node) return 'no node runs the group right now';
      c.isolate(node);
      cut.add(node);
      return `pulled every cable of ${node}: it loses its ping target and releases; the peer takes over`;
    },
    u: async () => {
      for (const n of cut) c.reconnect(n);
      const which = [...cut].join(', ');
      cut.clear();
      return which === '' ? 'no cable is cut' : `plugged ${which} back in`;
    },
    s: async () => {
      const node = await active();
      const target = node === 'alpha' ? 'beta' : 'alpha';
      const asking = NODES.find((n) => !cut.has(n)) ?? 'alpha';
      await c.switchover(asking, target);
      return `switchover of web to ${target} requested`;
    },
  };

  async function shutdown(): Promise<void> {
    if (stopping) return;
    stopping = true;
    process.stdout.write('\nstopping: removing the test hosts...\n');
    await c.destroy();
    process.exit(0);
  }
  process.on('SIGINT', () => void shutdown());
  process.on('SIGTERM', () => void shutdown());
  if (process.stdin.isTTY) {
    process.stdin.setRawMode(true);
    process.stdin.on('data', (key: Buffer) => {
      const k = key.toString('utf8');
      if (k === 'q' || k === '\u0003') { void shutdown(); return; }
      const action = actions[k];
      if (action) action().then((m) => { message = m; }, (e: unknown) => { message = `failed: ${(e as Error).message}`; });
    });
  }

  for (;;) {
    if (stopping) return;
    const lines = [
      'Vigil demo on real test hosts (network namespaces): alpha and beta share two private networks and a public one;',
      `a client on the public network fetches http://${VIP}:${SERVICE_PORT}/ (the virtual IP).`,
      '',
      `  client sees:  ${((by) => (by === undefined ? 'no answer' : `served by ${by}`))(c.servedBy())}`,
      `  VIP held by:  ${c.vipHolders().join(', ') || 'nobody'}${cut.size > 0 ? `    (cables cut: ${[...cut].join(', ')})` : ''}`,
      `  agents:       ${NODES.map((n) => `${n} pid ${c.agent(n).pid}${c.agent(n).child.exitCode !== null || c.agent(n).child.signalCode !== null ? ' (dead)' : ''}`).join(', ')}`,
      '',
      process.stdin.isTTY
        ? '  keys: [k] kill -9 the active agent  [r] restart dead agents  [c] cut the active host\'s cables  [u] plug them back  [s] switch over  [q] quit'
        : `  kill -9 an agent's pid from another terminal and watch the VIP move; Ctrl-C stops the demo`,
      `  ${message}`,
      `  a node's view: node dist/agent/cli/vigil.js --state-dir ${c.stateDir('alpha')} status`,
      '',
    ];
    for (const node of NODES.filter((n) => !cut.has(n))) {
      try {
        lines.push(formatStatus(await c.status(node)));
        break;
      } catch { /* that agent is down: ask the other */ }
    }
    draw(lines);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Loopback: two agents on this machine

function loopbackDemo(): void {
  const root = resolve('.demo');
  const ep = (base: number): string => `{ ${NODES.map((n, i) => `${n}: "127.0.0.1:${base + i}"`).join(', ')} }`;
  const config = `# Written by npm run demo
cluster: { id: demo, keyFile: cluster.key, startupGrace: 2s }
nodes: [{ id: alpha }, { id: beta }]
heartbeat:
  links:
    - { name: private-udp, kind: udp, interval: 200ms, deadTime: 800ms, endpoints: ${ep(17405)} }
    - { name: private-tcp, kind: tcp, interval: 200ms, deadTime: 800ms, endpoints: ${ep(17415)} }
groups:
  - id: web
    nodes: [alpha, beta]
    switchback: auto
    resources:
      - id: web-service
        kind: service
        name: vigil-demo-web
        manager: process
        command: ["${process.execPath}", "${resolve('scripts/demo/web-service.mjs')}"]
        env: { DEMO_PORT: "18080" }
        monitorInterval: 1s
`;
  rmSync(root, { recursive: true, force: true });
  mkdirSync(root, { recursive: true });
  writeFileSync(join(root, 'cluster.key'), randomBytes(32).toString('hex') + '\n', { mode: 0o600 });
  writeFileSync(join(root, 'cluster.yaml'), config);

  const children = new Map<string, ChildProcess>();
  for (const node of NODES) {
    const stateDir = join(root, node);
    mkdirSync(stateDir, { recursive: true });
    const log = openSync(join(stateDir, 'vigild.log'), 'a');
    children.set(node, spawn(process.execPath, [resolve('dist/agent/cli/vigild.js'), '--config', join(root, 'cluster.yaml'), '--node', node, '--state-dir', stateDir], { stdio: ['ignore', log, log] }));
  }
  const pids = [...children].map(([n, c]) => `${n}=${c.pid}`).join(' ');
  let stopping = false;
  async function shutdown(): Promise<void> {
    if (stopping) return;
    stopping = true;
    process.stdout.write('\nstopping the demo agents (they release the service first)...\n');
    await Promise.all([...children.values()].map((c) => new Promise<void>((r) => { if (c.exitCode !== null) { r(); return; } c.once('exit', () => r()); c.kill('SIGTERM'); })));
    process.exit(0);
  }
  process.on('SIGINT', () => void shutdown());
  process.on('SIGTERM', () => void shutdown());

  async function render(): Promise<void> {
    const lines = [`Vigil demo: two agents on this machine (${pids}); the web service answers on http://127.0.0.1:18080/`,
      '  (as root, npm run demo uses real test hosts and a virtual IP instead)',
      `  status: node dist/agent/cli/vigil.js --state-dir .demo/alpha status`,
      `  fail over: kill -9 ${children.get('alpha')?.pid}   switch over: node dist/agent/cli/vigil.js --state-dir .demo/alpha switchover web beta`,
      `  Ctrl-C stops the demo. Logs: .demo/*/vigild.log`, ''];
    for (const node of NODES) {
      try {
        lines.push(formatStatus(await callAgent(join(root, node, 'vigild.sock'), 'status', {}, 2000)));
        break;
      } catch (e) {
        lines.push(`(${node}: ${(e as Error).message})`);
      }
    }
    draw(lines);
  }
  setInterval(() => { if (!stopping) void render(); }, 1000);
}

if (!values.loopback && canUseNamespaces()) await namespaceDemo();
else loopbackDemo();
