// The README's first command, `npm run demo`, as a user runs it (without a terminal): it prints the console's
// address; the page is served there; through the center's bridge both demo nodes are connected with their status;
// Ctrl-C (SIGINT) stops everything and leaves no agent, namespace or folder behind. Both modes: loopback, and (as
// root) test hosts with the center in its own host, reached through the demo's forwarder.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import WebSocket from 'ws';
import type { CenterClusterView } from '../../common/ipc/contract.js';
import { WebBridge, type BrowserSocket } from '../../renderer/web/web-bridge.js';
import { listFixtureNamespaces } from '../support/netns.js';
import { freePort, until } from '../support/process.js';

const REPO = process.cwd();
/** CI runs as root: there it is never skipped. */
const skip = process.getuid?.() !== 0 ? 'needs root for ip netns' : false;

async function runDemo(args: readonly string[], settleMs: number): Promise<void> {
  const port = await freePort();
  const child = spawn(process.execPath, [resolve(REPO, 'dist/scripts/demo.js'), '--port', String(port), ...args], { stdio: ['ignore', 'pipe', 'pipe'], cwd: REPO });
  let out = '';
  child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  try {
    let open = '';
    await until('the demo prints the console\'s address', () => {
      if (child.exitCode !== null) throw new Error(`the demo exited (${child.exitCode}):\n${out}`);
      open = /Monitoring center:\s+(http:\/\/127\.0\.0\.1:\d+\/#token=\S+)/.exec(out)?.[1] ?? '';
      return open !== '';
    }, settleMs, 200);
    const url = new URL(open);
    assert.equal(url.port, String(port));
    const page = await fetch(`${url.origin}/`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<div id="root">/);

    const bridge = new WebBridge({
      url: `ws://127.0.0.1:${port}/ipc`, token: url.hash.replace('#token=', ''),
      openSocket: (u) => { const ws = new WebSocket(u); ws.on('error', () => undefined); return ws as unknown as BrowserSocket; },
    });
    try {
      let clusters: CenterClusterView[] = [];
      await until('both demo nodes connected with their status', async () => {
        const r = await bridge.invoke('clusters.list', {});
        clusters = r.ok ? r.result : [];
        const nodes = clusters.find((c) => c.id === 'demo')?.nodes ?? [];
        return nodes.length === 2 && nodes.every((n) => n.state === 'connected' && n.status !== undefined);
      }, 60_000, 250);
      const status = clusters[0]!.nodes[0]!.status!;
      assert.deepEqual(status.nodes.map((n) => n.id).sort(), ['alpha', 'beta']);
      assert.ok(status.groups.some((g) => g.id === 'web'));
    } finally {
      bridge.close();
    }
  } finally {
    if (child.exitCode === null) child.kill('SIGINT');
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    const code = await exited;
    clearTimeout(timer);
    assert.equal(code, 0, `the demo stops cleanly on Ctrl-C:\n${out.slice(-2000)}`);
  }
}

test('npm run demo -- --loopback: the console\'s address, the page, both nodes through the center; Ctrl-C stops it', async (t) => {
  // The demo keeps its folder (configuration, logs) for the user; the test removes it unless it was there before.
  const folder = resolve(REPO, '.demo');
  if (!existsSync(folder)) t.after(() => rmSync(folder, { recursive: true, force: true }));
  await runDemo(['--loopback'], 60_000);
  assert.equal(spawnSync('pgrep', ['-f', `${REPO}/.demo/`]).status, 1, 'no demo agent is left');
});

test('npm run demo as root: test hosts, the center in its own host, reached through the forwarder; nothing left behind', { skip }, async () => {
  const before = new Set(listFixtureNamespaces().map((n) => n.name));
  await runDemo([], 150_000);
  const left = listFixtureNamespaces().filter((n) => !before.has(n.name) && n.alive);
  assert.deepEqual(left, [], 'no namespace of the demo is left');
});
