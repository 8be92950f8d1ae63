/**
 * `npm run demo [-- --loopback] [--port N]`: a two-node cluster protecting a small web service, watched by the
 * monitoring center, whose console it serves on http://127.0.0.1:8090/ (the address with its access token is
 * printed), with a live status view in the terminal.
 *
 * As root (where `ip netns` works) the nodes are real test hosts built from network namespaces (private and public
 * networks, a virtual IP, a mirrored folder), and the center runs in a third host, "console"; keys kill the active
 * agent, restart it, write into the mirrored folder. Otherwise (or with --loopback) two agents share this machine's
 * loopback and the center runs in this process.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { resolve, join } from 'node:path';
import { parseArgs } from 'node:util';
import { callAgent } from '../agent/api/api-client.js';
import { formatStatus } from '../agent/cli/format.js';
import { initCluster } from '../agent/security/pki.js';
import { createCenter } from '../main/core/center-handlers.js';
import { ConnectionManager } from '../main/core/connection-manager.js';
import { CenterWeb } from '../main/web/center-web.js';
import { CONSOLE_HOST, GROUP, NODES, NetnsConsole, type NodeName } from '../test/support/netns-console.js';

const { values } = parseArgs({ options: { loopback: { type: 'boolean', default: false }, port: { type: 'string', default: '8090' } } });
const CENTER_PORT = Number(values.port);
if (!Number.isInteger(CENTER_PORT) || CENTER_PORT < 1 || CENTER_PORT > 65535) throw new Error(`--port: not a port: ${values.port}`);

function canUseNamespaces(): boolean {
  return process.getuid?.() === 0 && spawnSync('ip', ['netns', 'list'], { stdio: 'ignore' }).status === 0;
}

function draw(lines: readonly string[]): void {
  process.stdout.write(`\x1b[2J\x1b[H${lines.join('\n')}\n`);
}

// ---------------------------------------------------------------------------------------------------------------
// Real hosts: network namespaces, and the monitoring center

/**
 * Forwards 127.0.0.1:`port` of this machine into a host's own loopback (`ip netns exec … socat`, one per
 * connection), so a browser here reaches the center there while nothing of the test network is bridged to this
 * machine's interfaces.
 */
function forwardIntoHost(namespace: string, port: number, targetPort: number): Promise<Server> {
  const server = createServer((client) => {
    const pipe = spawn('ip', ['netns', 'exec', namespace, 'socat', 'STDIO', `TCP:127.0.0.1:${targetPort}`], { stdio: ['pipe', 'pipe', 'ignore'] });
    client.pipe(pipe.stdin);
    pipe.stdout.pipe(client);
    const end = (): void => { client.destroy(); pipe.kill(); };
    client.on('error', end).on('close', end);
    pipe.on('exit', () => client.destroy());
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

async function namespaceDemo(port: number): Promise<void> {
  process.stdout.write('building the test hosts (network namespaces alpha, beta and console)...\n');
  const teardowns: (() => Promise<void>)[] = [];
  const c = await NetnsConsole.create({ after: (fn) => teardowns.push(fn) });
  let stopping = false;
  const running: { forwarder?: Server } = {};
  async function shutdown(): Promise<void> {
    if (stopping) return;
    stopping = true;
    process.stdout.write('\nstopping: the center, the agents, then the test hosts...\n');
    running.forwarder?.close();
    for (const fn of teardowns.reverse()) await fn().catch((e: unknown) => process.stderr.write(`${(e as Error).message}\n`));
    process.exit(0);
  }
  process.on('SIGINT', () => void shutdown());
  process.on('SIGTERM', () => void shutdown());

  for (const node of NODES) c.start(node);
  process.stdout.write('starting the agents; the groups settle on alpha and the mirror levels...\n');
  await c.settled(90_000);
  const center = await c.startCenter([{ id: 'demo', name: 'Demo cluster', nodes: NODES }]);
  const inside = new URL(center.openUrl);
  running.forwarder = await forwardIntoHost(c.net.namespaceOf(CONSOLE_HOST), port, Number(inside.port));
  const open = `http://127.0.0.1:${port}/#token=${center.token}`;
  let message = 'both groups run on alpha; the mirror copies alpha\'s folder to beta';

  const active = async (): Promise<NodeName | undefined> => {
    for (const node of NODES) {
      const where = (await c.status(node).catch(() => undefined))?.groups.find((g) => g.id === GROUP)?.runningOn;
      if (where?.length === 1) return where[0] as NodeName;
    }
    return undefined;
  };
  const dead = new Set<NodeName>();
  const actions: Record<string, () => Promise<string>> = {
    k: async () => {
      const node = await active();
      if (!node) return 'no node runs the group right now';
      await c.kill(node);
      dead.add(node);
      return `killed ${node}'s agent (kill -9): watch the console show the failover`;
    },
    r: async () => {
      const restarted = [...dead];
      for (const n of restarted) c.start(n);
      dead.clear();
      return restarted.length === 0 ? 'every agent is running' : `restarted ${restarted.join(', ')} (switchback is manual: press Switch back in the console)`;
    },
    w: async () => {
      const file = join(c.folder((await active()) ?? 'alpha'), `demo-${Date.now()}.txt`);
      writeFileSync(file, `written at ${new Date().toISOString()}\n`.repeat(1000));
      return `wrote ${file}: the mirror sends it to the other node`;
    },
  };
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
      'Vigil demo on real test hosts (network namespaces): alpha and beta share two private networks and a public one.',
      '',
      `  Monitoring center:  ${open}`,
      '                      (center:web runs in the console host; this machine\'s 127.0.0.1 is forwarded to it)',
      `  agents:             ${NODES.map((n) => `${n}${dead.has(n) ? ' (killed)' : ''}`).join(', ')}`,
      '',
      process.stdin.isTTY
        ? '  keys: [k] kill -9 the active agent  [r] restart killed agents  [w] write a file into the mirrored folder  [q] quit'
        : '  Ctrl-C stops the demo',
      `  ${message}`,
      '',
    ];
    for (const node of NODES.filter((n) => !dead.has(n))) {
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

async function loopbackDemo(port: number): Promise<void> {
  const root = resolve('.demo');
  const ep = (base: number): string => `{ ${NODES.map((n, i) => `${n}: "127.0.0.1:${base + i}"`).join(', ')} }`;
  const apiPort = (node: NodeName): number => 17480 + NODES.indexOf(node);
  const config = `# Written by npm run demo
cluster: { id: demo, keyFile: cluster.key, startupGrace: 2s }
nodes: [${NODES.map((n) => `{ id: ${n}, api: "127.0.0.1:${apiPort(n)}" }`).join(', ')}]
api: { pki: pki }
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
  // The agents' certificates and the first admin token, as `vigil init` makes them.
  const pki = await initCluster({ dir: join(root, 'pki'), clusterId: 'demo', nodes: NODES.map((id) => ({ id, hosts: ['127.0.0.1'] })) });

  const children = new Map<string, ChildProcess>();
  for (const node of NODES) {
    const stateDir = join(root, node);
    mkdirSync(stateDir, { recursive: true });
    const log = openSync(join(stateDir, 'vigild.log'), 'a');
    children.set(node, spawn(process.execPath, [resolve('dist/agent/cli/vigild.js'), '--config', join(root, 'cluster.yaml'), '--node', node, '--state-dir', stateDir], { stdio: ['ignore', log, log] }));
  }
  const pids = [...children].map(([n, c]) => `${n}=${c.pid}`).join(' ');

  // The monitoring center, in this process, serving the console on 127.0.0.1.
  const manager = new ConnectionManager({ knownHostsFile: join(root, 'center-known-hosts.json'), client: 'vigil-demo' });
  const center = createCenter(manager);
  const web = await CenterWeb.start({ manager, handlers: center.handlers, port, staticDir: resolve('dist/ui') });
  await center.addUnsaved({
    id: 'demo', name: 'Demo cluster', credentials: { ca: readFileSync(join(root, 'pki', 'trust.pem'), 'utf8'), token: pki.adminToken },
    nodes: NODES.map((id) => ({ id, url: `wss://127.0.0.1:${apiPort(id)}` })),
  });
  const open = `${web.url}#token=${web.token}`;

  let stopping = false;
  async function shutdown(): Promise<void> {
    if (stopping) return;
    stopping = true;
    await web.close();
    await manager.dispose();
    process.stdout.write('\nstopping the demo agents (they release the service first)...\n');
    await Promise.all([...children.values()].map((c) => new Promise<void>((r) => { if (c.exitCode !== null) { r(); return; } c.once('exit', () => r()); c.kill('SIGTERM'); })));
    process.exit(0);
  }
  process.on('SIGINT', () => void shutdown());
  process.on('SIGTERM', () => void shutdown());

  async function render(): Promise<void> {
    const lines = [`Vigil demo: two agents on this machine (${pids}); the web service answers on http://127.0.0.1:18080/`,
      `  Monitoring center: ${open}`,
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

if (!values.loopback && canUseNamespaces()) await namespaceDemo(CENTER_PORT);
else await loopbackDemo(CENTER_PORT);
