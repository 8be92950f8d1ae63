/**
 * The virtual IP resource against the real kernel: two network namespaces joined by a veth pair, 198.51.100.0/24
 * only, created per test and always deleted. Nothing here touches the machine's own interfaces.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { vipResource, type VipResourceConfig } from '../../../common/config/schema.js';
import { createLinuxPlatform } from '../../../agent/platform/linux/index.js';
import { createResourceAgent } from '../../../agent/resources/index.js';
import { VipResourceAgent, vipLabel } from '../../../agent/resources/vip.js';
import { defer, tempDir, waitFor } from './support.js';

const canUseNetns = process.platform === 'linux' && process.getuid?.() === 0 && spawnSync('ip', ['netns', 'list']).status === 0;
// In CI nothing may be skipped: there the tests run (and fail) even if namespaces are unavailable.
const skip = canUseNetns || process.env['CI'] ? false : 'needs root and `ip netns`';

function ip(...args: string[]): string {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

let pairs = 0;

interface Pair {
  readonly a: string;
  readonly b: string;
  readonly macA: string;
  readonly macB: string;
}

/** Namespaces A (lan-a, 198.51.100.1) and B (lan-b, 198.51.100.2) joined by a veth pair; deleted when the test ends. */
function pair(t: TestContext): Pair {
  const n = ++pairs;
  const a = `vgvip${process.pid}n${n}a`;
  const b = `vgvip${process.pid}n${n}b`;
  for (const ns of [a, b]) {
    ip('netns', 'add', ns);
    defer(t, () => {
      // Kill whatever still runs inside (a leaked arping fails the dispose test, but must not outlive it).
      for (const pid of spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).stdout.split('\n').filter((l) => l !== '')) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          // gone
        }
      }
      spawnSync('ip', ['netns', 'del', ns]);
    });
  }
  // Both ends are created inside their namespaces: nothing ever exists in the machine's own.
  ip('link', 'add', 'lan-a', 'netns', a, 'type', 'veth', 'peer', 'name', 'lan-b', 'netns', b);
  for (const [ns, dev, addr] of [[a, 'lan-a', '198.51.100.1/24'], [b, 'lan-b', '198.51.100.2/24']] as const) {
    ip('-n', ns, 'link', 'set', 'lo', 'up');
    ip('-n', ns, 'link', 'set', dev, 'up');
    ip('-n', ns, 'addr', 'add', addr, 'dev', dev);
  }
  return { a, b, macA: mac(a, 'lan-a'), macB: mac(b, 'lan-b') };
}

function mac(ns: string, dev: string): string {
  const [link] = JSON.parse(ip('-n', ns, '-j', 'link', 'show', 'dev', dev)) as { address: string }[];
  return link!.address;
}

/** The IPv4 addresses of a namespace's interface, as the kernel reports them. */
function addresses(ns: string, dev: string): { local: string; prefixlen: number; label: string }[] {
  const [link] = JSON.parse(ip('-n', ns, '-j', '-4', 'addr', 'show', 'dev', dev)) as { addr_info: { local: string; prefixlen: number; label: string }[] }[];
  return (link?.addr_info ?? []).map(({ local, prefixlen, label }) => ({ local, prefixlen, label }));
}

/** The MAC a namespace's neighbour table holds for an address, if any. */
function neighbour(ns: string, address: string): string | undefined {
  const entries = JSON.parse(ip('-n', ns, '-j', 'neigh', 'show', 'to', address)) as { dst: string; lladdr?: string }[];
  return entries.find((e) => e.dst === address)?.lladdr;
}

/** Pids of arping processes inside the namespace. */
function arpings(ns: string): number[] {
  const pids = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).stdout.split('\n').filter((l) => l !== '').map(Number);
  return pids.filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes('arping');
    } catch {
      return false;
    }
  });
}

function vipConfig(input: Record<string, unknown>): VipResourceConfig {
  return vipResource.parse({ id: 'vip', kind: 'vip', address: '198.51.100.50/24', ...input });
}

function agentIn(t: TestContext, ns: string, input: Record<string, unknown>, nodeId?: string): VipResourceAgent {
  const platform = createLinuxPlatform({ netns: ns });
  const agent = createResourceAgent(vipConfig(input), { stateDir: tempDir(t), platform, ...(nodeId === undefined ? {} : { nodeId }) });
  defer(t, () => agent.dispose());
  assert.ok(agent instanceof VipResourceAgent);
  return agent;
}

test('labels: IFACE:SUFFIX cut to Linux\'s 15 characters, none when the interface name leaves no room', () => {
  assert.equal(vipLabel('eth0', 'web'), 'eth0:web');
  assert.equal(vipLabel('lan-a', 'web-frontend-vip'), 'lan-a:web-front');
  assert.equal(vipLabel('enp0s31f6', 'database'), 'enp0s31f6:datab');
  assert.equal(vipLabel('verylonginterfa', 'x'), undefined);
  assert.equal(vipLabel('fourteen-chars', 'x'), undefined);
});

test('start adds the address with its label, idempotently; monitor 0; stop removes it; monitor 7; stop again 0', { skip }, async (t) => {
  const { a } = pair(t);
  const agent = agentIn(t, a, { id: 'web-frontend-vip', interface: 'lan-a', arpCount: 1 });

  const started = await agent.run('start');
  assert.equal(started.rc, 0, started.message);
  assert.match(started.message, /198\.51\.100\.50\/24 added to lan-a as lan-a:web-front/);
  assert.deepEqual(addresses(a, 'lan-a'), [
    { local: '198.51.100.1', prefixlen: 24, label: 'lan-a' },
    { local: '198.51.100.50', prefixlen: 24, label: 'lan-a:web-front' },
  ]);

  const again = await agent.run('start');
  assert.equal(again.rc, 0, again.message);
  assert.match(again.message, /already on lan-a/);
  assert.equal(addresses(a, 'lan-a').filter((x) => x.local === '198.51.100.50').length, 1);
  assert.equal((await agent.run('monitor')).rc, 0);
  assert.equal((await agent.run('probe')).rc, 0);

  const stopped = await agent.run('stop');
  assert.equal(stopped.rc, 0, stopped.message);
  assert.match(stopped.message, /removed from lan-a/);
  assert.deepEqual(addresses(a, 'lan-a').map((x) => x.local), ['198.51.100.1']);
  const monitor = await agent.run('monitor');
  assert.equal(monitor.rc, 7);
  assert.match(monitor.message, /198\.51\.100\.50\/24 is not on lan-a/);
  assert.equal((await agent.run('stop')).rc, 0);
});

test('without an interface, the one whose subnet holds the address; no such subnet is 6, naming the address', { skip }, async (t) => {
  const { a } = pair(t);
  const agent = agentIn(t, a, { id: 'db', address: '198.51.100.60/32', arpCount: 0 });
  const started = await agent.run('start');
  assert.equal(started.rc, 0, started.message);
  assert.match(started.message, /added to lan-a \(its subnet\) as lan-a:db/);
  assert.deepEqual(addresses(a, 'lan-a').find((x) => x.local === '198.51.100.60'), { local: '198.51.100.60', prefixlen: 32, label: 'lan-a:db' });
  assert.equal((await agent.run('monitor')).rc, 0);
  assert.equal((await agent.run('validate-all')).rc, 0);

  const elsewhere = agentIn(t, a, { id: 'other', address: '203.0.113.60/24' });
  for (const op of ['monitor', 'probe', 'start', 'validate-all'] as const) {
    const r = await elsewhere.run(op);
    assert.equal(r.rc, 6, `${op}: ${r.message}`);
    assert.match(r.message, /no interface holds a subnet containing 203\.0\.113\.60/);
  }
  assert.equal((await elsewhere.run('stop')).rc, 0);
});

test('a per-node interface map picks this node\'s interface; a node it does not list falls back to the subnet', { skip }, async (t) => {
  const { a, b } = pair(t);
  const map = { interface: { alpha: 'lan-a', beta: 'lan-b' }, arpCount: 0 };
  const onB = agentIn(t, b, map, 'beta');
  const started = await onB.run('start');
  assert.equal(started.rc, 0, started.message);
  assert.match(started.message, /added to lan-b \(node beta\)/);
  assert.ok(addresses(b, 'lan-b').some((x) => x.local === '198.51.100.50'));
  assert.equal((await onB.run('stop')).rc, 0);

  const unlisted = agentIn(t, a, map, 'gamma');
  const r = await unlisted.run('validate-all');
  assert.equal(r.rc, 0, r.message);
  assert.match(r.message, /lan-a \(its subnet\)/);
  // A map whose entry for this node is missing, with no subnet to fall back to, says both.
  const none = await agentIn(t, a, { ...map, address: '203.0.113.9/24' }, 'gamma').run('monitor');
  assert.equal(none.rc, 6);
  assert.match(none.message, /no entry for node gamma/);
});

test('a missing interface is 6 (not configured) with a message naming it; stop still succeeds', { skip }, async (t) => {
  const { a } = pair(t);
  const agent = agentIn(t, a, { interface: 'nosuch0' });
  for (const op of ['monitor', 'probe', 'start', 'validate-all'] as const) {
    const r = await agent.run(op);
    assert.equal(r.rc, 6, `${op}: ${r.message}`);
    assert.match(r.message, /interface nosuch0 does not exist/);
    assert.match(r.message, /198\.51\.100\.50\/24/);
  }
  assert.equal((await agent.run('stop')).rc, 0);
});

test('gratuitous ARP: a neighbour that cached the old owner\'s MAC learns ours as start returns', { skip }, async (t) => {
  const { a, b, macA } = pair(t);
  // B talks to A, then holds what a client holds after a failover: the VIP mapped to the old owner's MAC.
  assert.equal(spawnSync('ip', ['netns', 'exec', b, 'ping', '-c', '1', '-W', '2', '198.51.100.1']).status, 0);
  assert.equal(neighbour(b, '198.51.100.1'), macA);
  const oldOwner = '02:00:5e:10:00:01';
  ip('-n', b, 'neigh', 'replace', '198.51.100.50', 'lladdr', oldOwner, 'dev', 'lan-b', 'nud', 'stale');
  assert.equal(neighbour(b, '198.51.100.50'), oldOwner);

  // The control: adding the address alone tells B nothing.
  const silent = agentIn(t, a, { interface: 'lan-a', arpCount: 0 });
  assert.equal((await silent.run('start')).rc, 0);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(neighbour(b, '198.51.100.50'), oldOwner);
  assert.equal((await silent.run('stop')).rc, 0);

  const agent = agentIn(t, a, { interface: 'lan-a', arpCount: 3, arpInterval: '100ms' });
  const started = await agent.run('start');
  assert.equal(started.rc, 0, started.message);
  assert.match(started.message, /announced by gratuitous ARP, 2 more every 100 ms/);
  // B sent nothing to the VIP: only A's announcement can have changed its entry, and the first is out already.
  assert.equal(neighbour(b, '198.51.100.50'), macA);
});

test('moving the VIP from A to B: A\'s neighbour table then maps it to B\'s MAC', { skip }, async (t) => {
  const { a, b, macA, macB } = pair(t);
  const config = { interface: { alpha: 'lan-a', beta: 'lan-b' }, arpCount: 2, arpInterval: '50ms' };
  const onA = agentIn(t, a, config, 'alpha');
  const onB = agentIn(t, b, config, 'beta');
  assert.equal((await onA.run('start')).rc, 0);
  // B is a client of the VIP on A.
  assert.equal(spawnSync('ip', ['netns', 'exec', b, 'ping', '-c', '1', '-W', '2', '198.51.100.50']).status, 0);
  assert.equal(neighbour(b, '198.51.100.50'), macA);

  assert.equal((await onA.run('stop')).rc, 0);
  // A, now a client like any other, still has the old owner (itself) cached for the VIP.
  ip('-n', a, 'neigh', 'replace', '198.51.100.50', 'lladdr', macA, 'dev', 'lan-a', 'nud', 'stale');
  const started = await onB.run('start');
  assert.equal(started.rc, 0, started.message);
  await waitFor('A to learn B\'s MAC for the VIP', () => neighbour(a, '198.51.100.50') === macB, 2_000);
  assert.equal((await onB.run('monitor')).rc, 0);
  assert.equal((await onA.run('monitor')).rc, 7);
});

test('background announcements stop on dispose and on stop: no timer, no arping left', { skip }, async (t) => {
  const { a } = pair(t);
  const agent = agentIn(t, a, { interface: 'lan-a', arpCount: 50, arpInterval: '50ms' });
  assert.equal((await agent.run('start')).rc, 0);
  assert.equal(agent.announcing, true);
  await waitFor('more announcements', () => arpings(a).length > 1, 2_000);
  agent.dispose();
  assert.equal(agent.announcing, false);
  await waitFor('every arping to be gone', () => arpings(a).length === 0, 1_000);
  // Nothing starts another one later.
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(arpings(a), []);
  assert.equal((await agent.run('monitor')).rc, -1);
  // dispose leaves the address: releasing the agent is not stopping the resource.
  assert.ok(addresses(a, 'lan-a').some((x) => x.local === '198.51.100.50'));

  const second = agentIn(t, a, { interface: 'lan-a', arpCount: 50, arpInterval: '50ms' });
  assert.equal((await second.run('start')).rc, 0);
  assert.equal(second.announcing, true);
  assert.equal((await second.run('stop')).rc, 0);
  assert.equal(second.announcing, false);
  await waitFor('every arping to be gone after stop', () => arpings(a).length === 0, 1_000);
});

test('meta-data is OCF-style XML naming the address and the actions', async (t) => {
  const agent = createResourceAgent(vipConfig({ monitorInterval: '3s' }), { stateDir: tempDir(t), platform: createLinuxPlatform({ netns: 'unused' }) });
  defer(t, () => agent.dispose());
  const r = await agent.run('meta-data');
  assert.equal(r.rc, 0);
  assert.match(r.stdout ?? '', /<resource-agent name="vip"/);
  assert.match(r.stdout ?? '', /198\.51\.100\.50\/24/);
  assert.match(r.stdout ?? '', /<action name="monitor" timeout="10s" interval="3s"\/>/);
});
