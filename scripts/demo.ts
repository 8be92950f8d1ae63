/**
 * `npm run demo`: two agents on this machine protecting a small web service, with a live status view.
 * Try, in another terminal:  kill -9 <alpha's pid>  and watch the service move to beta.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { resolve, join } from 'node:path';
import { callAgent } from '../agent/control/control-client.js';
import { formatStatus } from '../agent/cli/format.js';

const root = resolve('.demo');
const nodes = ['alpha', 'beta'] as const;
const port = (base: number, i: number): number => base + i;

function config(): string {
  const ep = (base: number) => `{ ${nodes.map((n, i) => `${n}: "127.0.0.1:${port(base, i)}"`).join(', ')} }`;
  return `# Written by npm run demo
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
}

rmSync(root, { recursive: true, force: true });
mkdirSync(root, { recursive: true });
writeFileSync(join(root, 'cluster.key'), randomBytes(32).toString('hex') + '\n', { mode: 0o600 });
writeFileSync(join(root, 'cluster.yaml'), config());

const children = new Map<string, ChildProcess>();
for (const node of nodes) {
  const stateDir = join(root, node);
  mkdirSync(stateDir, { recursive: true });
  const log = openSync(join(stateDir, 'vigild.log'), 'a');
  const child = spawn(process.execPath, [resolve('dist/agent/cli/vigild.js'), '--config', join(root, 'cluster.yaml'), '--node', node, '--state-dir', stateDir], { stdio: ['ignore', log, log] });
  children.set(node, child);
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
    `  status: node dist/agent/cli/vigil.js --state-dir .demo/alpha status`,
    `  fail over: kill -9 ${children.get('alpha')?.pid}   switch over: node dist/agent/cli/vigil.js --state-dir .demo/alpha switchover web beta`,
    `  Ctrl-C stops the demo. Logs: .demo/*/vigild.log`, ''];
  for (const node of nodes) {
    try {
      lines.push(formatStatus(await callAgent(join(root, node, 'vigild.sock'), 'status', {}, 2000)));
      break;
    } catch (e) {
      lines.push(`(${node}: ${(e as Error).message})`);
    }
  }
  process.stdout.write(`\x1b[2J\x1b[H${lines.join('\n')}\n`);
}
setInterval(() => { if (!stopping) void render(); }, 1000);
