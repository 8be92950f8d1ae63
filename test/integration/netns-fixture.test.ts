// The network-namespace fixture, on real namespaces: it builds exactly the network it is asked for, its cables
// cut and restore, processes run inside hosts, and nothing it makes survives destroy(), a signal or a SIGKILL.
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NetworkSpecError, TestNetwork, listNamespaces } from '../support/netns.js';
import type { HostProcess, NetworkSpec } from '../support/netns.js';
import { isRunning, until } from '../support/process.js';

const skip = process.getuid?.() !== 0 ? 'needs root for ip netns' : false;

const SPEC: NetworkSpec = {
  nets: [{ name: 'priv1', subnet: '198.51.100.0/24' }, { name: 'pub', subnet: '203.0.113.0/24' }],
  hosts: [
    { name: 'alpha', addresses: { priv1: '198.51.100.11/24' } },
    { name: 'beta', addresses: { priv1: '198.51.100.12/24' } },
    { name: 'gamma', addresses: { pub: '203.0.113.13/24' } },
  ],
};

async function network(t: TestContext, spec: NetworkSpec = SPEC): Promise<TestNetwork> {
  const net = await TestNetwork.create(spec);
  t.after(() => net.destroy());
  return net;
}

/** One bounded ping: one packet, one second. */
function ping(net: TestNetwork, from: string, to: string): ReturnType<TestNetwork['run']> {
  return net.run(from, ['ping', '-n', '-c', '1', '-W', '1', to], { timeoutMs: 5000 });
}

/** Bounded retries of one-packet pings until one is answered. */
async function pingsWithin(net: TestNetwork, from: string, to: string, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const r = ping(net, from, to);
    if (r.code === 0) return;
    if (Date.now() > deadline) assert.fail(`${from} cannot reach ${to} within ${ms} ms: ${r.stdout}${r.stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The State line of /proc/PID/status, e.g. "S" (sleeping) or "T" (stopped). */
function procState(pid: number): string {
  return /^State:\s+(\S)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? '?';
}

function rootLinks(): string[] {
  return (JSON.parse(spawnSync('ip', ['-j', 'link', 'show'], { encoding: 'utf8' }).stdout) as { ifname: string }[])
    .map((l) => l.ifname).sort();
}

function ownedBy(prefix: string): string[] {
  return listNamespaces().filter((n) => n.startsWith(prefix)).sort();
}

test('builds exactly the hosts and switches asked for, all inside namespaces', { skip }, async (t) => {
  const before = rootLinks();
  const net = await network(t);
  assert.deepEqual(rootLinks(), before, 'no interface appears in the machine\'s own namespace');
  assert.match(net.prefix, /^vg\d+\.[0-9a-z]+\.\d+-$/);
  assert.deepEqual(ownedBy(net.prefix), [
    `${net.prefix}alpha`, `${net.prefix}beta`, `${net.prefix}gamma`, `${net.prefix}sw-priv1`, `${net.prefix}sw-pub`,
  ].sort());

  assert.deepEqual(net.addresses('alpha'), [
    { iface: 'lo', address: '127.0.0.1', prefixLength: 8 },
    { iface: 'priv1', address: '198.51.100.11', prefixLength: 24 },
  ]);
  assert.deepEqual(net.addresses('gamma').map((a) => `${a.iface} ${a.address}`), ['lo 127.0.0.1', 'pub 203.0.113.13']);
  // Only the connected route: nothing outside the fixture is reachable, not even by mistake.
  const routes = net.run('alpha', ['ip', '-4', 'route', 'show']);
  assert.equal(routes.stdout.trim(), '198.51.100.0/24 dev priv1 proto kernel scope link src 198.51.100.11');
  const links = net.run('alpha', ['ip', '-o', 'link', 'show']).stdout.trim().split('\n').map((l) => l.split(': ')[1]?.split('@')[0]);
  assert.deepEqual(links, ['lo', 'priv1'], 'lo and one interface per net joined');
  assert.equal(net.run('alpha', ['ip', '-6', 'addr', 'show']).stdout, '', 'IPv6 is off');

  // Each switch is one bridge whose ports are the cables of the hosts on that net, named after them.
  const ports = spawnSync('ip', ['-n', net.switchNamespaceOf('priv1'), '-j', 'link', 'show', 'master', 'br0'], { encoding: 'utf8' });
  assert.deepEqual((JSON.parse(ports.stdout) as { ifname: string }[]).map((p) => p.ifname.split('@')[0]).sort(), ['alpha', 'beta']);
});

test('two hosts on one net ping each other; a host on another net is unreachable even with a route', { skip }, async (t) => {
  const net = await network(t);
  assert.equal(ping(net, 'alpha', '198.51.100.12').code, 0);
  assert.equal(ping(net, 'beta', '198.51.100.11').code, 0);

  const noRoute = ping(net, 'alpha', '203.0.113.13');
  assert.notEqual(noRoute.code, 0);
  assert.match(noRoute.stderr, /unreachable/i);
  // Even told that gamma's net is on its cable, alpha cannot reach it: the switches are separate.
  assert.equal(net.run('alpha', ['ip', 'route', 'add', '203.0.113.0/24', 'dev', 'priv1']).code, 0);
  assert.notEqual(ping(net, 'alpha', '203.0.113.13').code, 0);
});

test('names that look like ip(8) keywords are plain names', { skip }, async (t) => {
  const net = await network(t, {
    nets: [{ name: 'master', subnet: '203.0.113.16/28' }],
    hosts: [{ name: 'a', addresses: { master: '203.0.113.17/28' } }, { name: 'dev', addresses: { master: '203.0.113.18/28' } }],
  });
  assert.equal(ping(net, 'a', '203.0.113.18').code, 0);
  net.cut('dev', 'master');
  assert.notEqual(ping(net, 'a', '203.0.113.18').code, 0);
  net.restore('dev', 'master');
  await pingsWithin(net, 'dev', '203.0.113.17', 5000);
});

test('neighbours shows the peer\'s MAC after a ping', { skip }, async (t) => {
  const net = await network(t);
  assert.deepEqual(net.neighbours('alpha'), []);
  assert.equal(ping(net, 'alpha', '198.51.100.12').code, 0);
  const mac = net.macOf('beta', 'priv1');
  assert.match(mac, /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
  assert.notEqual(mac, net.macOf('alpha', 'priv1'));
  const [entry, ...more] = net.neighbours('alpha');
  assert.deepEqual(more, []);
  assert.equal(entry?.address, '198.51.100.12');
  assert.equal(entry?.iface, 'priv1');
  assert.equal(entry?.mac, mac);
  assert.ok(entry?.state.includes('REACHABLE') || entry?.state.includes('DELAY'), `state ${entry?.state.join()}`);
  // beta learned alpha from the request.
  assert.equal(net.neighbours('beta').find((n) => n.address === '198.51.100.11')?.mac, net.macOf('alpha', 'priv1'));
});

test('cut stops traffic both ways like a pulled cable; restore brings it back', { skip }, async (t) => {
  const net = await network(t);
  assert.equal(ping(net, 'alpha', '198.51.100.12').code, 0);

  net.cut('alpha', 'priv1');
  assert.notEqual(ping(net, 'alpha', '198.51.100.12').code, 0);
  assert.notEqual(ping(net, 'beta', '198.51.100.11').code, 0);
  const hostEnd = net.run('alpha', ['ip', '-o', 'link', 'show', 'priv1']).stdout;
  assert.match(hostEnd, /NO-CARRIER/, 'the host end lost carrier');
  assert.match(hostEnd, /state DOWN/);
  const switchEnd = spawnSync('ip', ['-n', net.switchNamespaceOf('priv1'), '-o', 'link', 'show', 'alpha'], { encoding: 'utf8' }).stdout;
  assert.match(switchEnd, /state DOWN/, 'the switch end is down');
  assert.deepEqual(net.addresses('alpha').map((a) => a.address), ['127.0.0.1', '198.51.100.11'], 'the host keeps its addresses');

  net.restore('alpha', 'priv1');
  assert.match(net.run('alpha', ['ip', '-o', 'link', 'show', 'priv1']).stdout, /state UP/);
  // As after a real replug, an ARP lookup begun during the cut (INCOMPLETE, up to 3 s) may eat the first packet.
  await pingsWithin(net, 'alpha', '198.51.100.12', 5000);
  assert.equal(ping(net, 'beta', '198.51.100.11').code, 0);

  assert.throws(() => net.cut('gamma', 'priv1'), /host "gamma" is not on net "priv1"/);
  assert.throws(() => net.cut('alpha', 'nowhere'), /unknown net "nowhere"/);
});

test('spawn runs a process inside the host; freeze, thaw and kill act on it', { skip }, async (t) => {
  const net = await network(t);
  const sleeper = net.spawn('alpha', ['sleep', '60']);
  await until('sleep has exec\'d', () => readFileSync(`/proc/${sleeper.pid}/comm`, 'utf8').trim() === 'sleep');
  const identify = spawnSync('ip', ['netns', 'identify', String(sleeper.pid)], { encoding: 'utf8' });
  assert.equal(identify.stdout.trim(), net.namespaceOf('alpha'), 'the pid is the command itself, inside alpha');
  assert.equal(procState(sleeper.pid), 'S');

  net.freeze(sleeper);
  await until('stopped', () => procState(sleeper.pid) === 'T');
  net.thaw(sleeper);
  await until('running again', () => procState(sleeper.pid) === 'S');
  await net.kill(sleeper);
  assert.equal(sleeper.child.signalCode, 'SIGKILL');
  assert.equal(isRunning(sleeper.pid), false);
  assert.throws(() => net.freeze(sleeper), /already exited/);

  // Its output goes to its log; the environment is passed; it sees only the host's interfaces.
  const shell = net.spawn('beta', ['sh', '-c', 'echo "var=$VG_TEST"; ip -4 -o addr show priv1'], { env: { VG_TEST: 'x1' } });
  await net.waitForExit(shell);
  assert.equal(shell.child.exitCode, 0);
  assert.ok(shell.logPath.startsWith(net.tempDir));
  const log = readFileSync(shell.logPath, 'utf8');
  assert.match(log, /^var=x1$/m);
  assert.match(log, /priv1\s+inet 198\.51\.100\.12\/24/);

  // kill with another signal waits for the exit too.
  const term = net.spawn('alpha', ['sleep', '60']);
  await net.kill(term, 'SIGTERM');
  assert.equal(term.child.signalCode, 'SIGTERM');
});

test('run returns code and output, passes input, and a timeout is bounded', { skip }, async (t) => {
  const net = await network(t);
  assert.deepEqual(net.run('gamma', ['cat'], { input: 'hello' }), { code: 0, signal: null, timedOut: false, stdout: 'hello', stderr: '' });
  const fail = net.run('gamma', ['sh', '-c', 'echo oops >&2; exit 3']);
  assert.equal(fail.code, 3);
  assert.equal(fail.stderr, 'oops\n');
  const started = Date.now();
  const slow = net.run('gamma', ['sleep', '30'], { timeoutMs: 200 });
  assert.equal(slow.timedOut, true);
  assert.equal(slow.signal, 'SIGKILL');
  assert.ok(Date.now() - started < 5000);
  assert.throws(() => net.run('nobody', ['true']), /unknown host "nobody"/);
});

test('removeHost kills everything in the host and deletes it with its cables', { skip }, async (t) => {
  const net = await network(t);
  const direct = net.spawn('beta', ['sleep', '60']);
  // A grandchild the fixture never started itself must die too.
  const parent = net.spawn('beta', ['sh', '-c', 'sleep 60 & echo $! ; wait']);
  let grandchild = 0;
  await until('grandchild pid logged', () => (grandchild = Number(readFileSync(parent.logPath, 'utf8').trim())) > 0);
  const betaNs = net.namespaceOf('beta');
  assert.equal(ping(net, 'alpha', '198.51.100.12').code, 0);

  await net.removeHost('beta');
  for (const pid of [direct.pid, parent.pid, grandchild]) assert.equal(isRunning(pid), false, `pid ${pid} is dead`);
  assert.equal(listNamespaces().includes(betaNs), false);
  const ports = spawnSync('ip', ['-n', net.switchNamespaceOf('priv1'), '-o', 'link', 'show', 'master', 'br0'], { encoding: 'utf8' });
  assert.doesNotMatch(ports.stdout, /beta/, 'the switch port went with the host');
  assert.notEqual(ping(net, 'alpha', '198.51.100.12').code, 0);
  assert.throws(() => net.run('beta', ['true']), /unknown host "beta"/);
  assert.equal(ping(net, 'alpha', '198.51.100.11').code, 0, 'the rest of the network is untouched');
});

test('an invalid spec is refused before anything is built, naming the field', { skip }, async () => {
  const priv1 = { name: 'priv1', subnet: '198.51.100.0/24' };
  const cases: [NetworkSpec, string, RegExp][] = [
    [{ nets: [priv1], hosts: [{ name: 'a', addresses: { priv2: '198.51.100.1/24' } }] }, 'hosts[0].addresses.priv2', /unknown net "priv2"/],
    [{ nets: [{ name: 'lan', subnet: '10.0.0.0/24' }], hosts: [] }, 'nets[0].subnet', /outside the test ranges/],
    [{ nets: [{ name: 'lan', subnet: '198.51.0.0/16' }], hosts: [] }, 'nets[0].subnet', /outside the test ranges/],
    [{ nets: [{ name: 'lan', subnet: '198.51.100.1/24' }], hosts: [] }, 'nets[0].subnet', /host bits set/],
    [{ nets: [priv1], hosts: [{ name: 'a', addresses: { priv1: '192.168.1.5/24' } }] }, 'hosts[0].addresses.priv1', /outside the test ranges/],
    [{ nets: [priv1, { name: 'pub', subnet: '203.0.113.0/24' }], hosts: [{ name: 'a', addresses: { priv1: '203.0.113.5/24' } }] },
      'hosts[0].addresses.priv1', /outside net "priv1" \(198\.51\.100\.0\/24\)/],
    [{ nets: [{ name: 'p', subnet: '198.51.100.0/25' }], hosts: [{ name: 'a', addresses: { p: '198.51.100.200/25' } }] },
      'hosts[0].addresses.p', /outside net "p"/],
    [{ nets: [priv1], hosts: [{ name: 'a', addresses: { priv1: '198.51.100.5/25' } }] }, 'hosts[0].addresses.priv1', /prefix length \/24/],
    [{ nets: [priv1], hosts: [{ name: 'a', addresses: { priv1: '198.51.100.255/24' } }] }, 'hosts[0].addresses.priv1', /broadcast/],
    [{ nets: [priv1], hosts: [{ name: 'a', addresses: { priv1: '198.51.100.300/24' } }] }, 'hosts[0].addresses.priv1', /not an IPv4 address/],
    [{ nets: [priv1], hosts: [{ name: 'a', addresses: {} }, { name: 'a', addresses: {} }] }, 'hosts[1].name', /duplicate host "a"/],
    [{ nets: [priv1, { name: 'priv1', subnet: '203.0.113.0/24' }], hosts: [] }, 'nets[1].name', /duplicate net "priv1"/],
    [{ nets: [priv1, { name: 'priv2', subnet: '198.51.100.128/25' }], hosts: [] }, 'nets[1].subnet', /overlaps net "priv1"/],
    [{ nets: [priv1], hosts: [{ name: 'a', addresses: { priv1: '198.51.100.7/24' } }, { name: 'b', addresses: { priv1: '198.51.100.7/24' } }] },
      'hosts[1].addresses.priv1', /already used by hosts\[0\] \(a\)/],
    [{ nets: [priv1], hosts: [{ name: 'sw-priv1', addresses: {} }] }, 'hosts[0].name', /must match/],
    [{ nets: [{ name: 'a_very_long_net_name', subnet: '198.51.100.0/24' }], hosts: [] }, 'nets[0].name', /must match/],
  ];
  const before = listNamespaces();
  for (const [spec, fieldName, problem] of cases) {
    await assert.rejects(TestNetwork.create(spec), (err: unknown) => {
      assert.ok(err instanceof NetworkSpecError, String(err));
      assert.equal(err.field, fieldName);
      assert.match(err.message, problem);
      assert.ok(err.message.startsWith(`invalid network spec: ${fieldName}: `), err.message);
      return true;
    });
  }
  assert.deepEqual(listNamespaces().filter((n) => !before.includes(n) && n.startsWith(`vg${process.pid}.`)), []);
});

test('destroy leaves no namespace, process or temp dir behind, and is idempotent', { skip }, async () => {
  const net = await TestNetwork.create(SPEC);
  const procs: HostProcess[] = [net.spawn('alpha', ['sleep', '60']), net.spawn('gamma', ['sh', '-c', 'sleep 60 & sleep 60 & wait'])];
  const inGamma = (): number[] => spawnSync('ip', ['netns', 'pids', net.namespaceOf('gamma')], { encoding: 'utf8' })
    .stdout.trim().split(/\s+/).filter((x) => x !== '').map(Number);
  await until('sh and its two sleeps run in gamma', () => inGamma().length === 3);
  const nested = inGamma();
  assert.ok(procs.every((p) => isRunning(p.pid)));
  assert.equal(ownedBy(net.prefix).length, 5);

  await Promise.all([net.destroy(), net.destroy()]);
  assert.deepEqual(ownedBy(net.prefix), []);
  for (const pid of [...procs.map((p) => p.pid), ...nested]) assert.equal(isRunning(pid), false, `pid ${pid} is dead`);
  assert.equal(existsSync(net.tempDir), false);
  await net.destroy();
  assert.throws(() => net.spawn('alpha', ['true']), /destroyed/);
});

// ---- Teardown when the owning process dies: a fixture is made in a child process, which then meets its end.

const NETNS_MODULE = fileURLToPath(new URL('../support/netns.js', import.meta.url));
const CLI = fileURLToPath(new URL('../support/netns-cli.js', import.meta.url));

interface ChildFixture { child: ChildProcess; prefix: string; sleeper: number; tempDir: string }

/** A child process that creates a two-host fixture with a sleep in it, reports it, then waits (or exits). */
async function childFixture(then: 'wait' | 'exit'): Promise<ChildFixture> {
  const script = `
    import { TestNetwork } from ${JSON.stringify(NETNS_MODULE)};
    const net = await TestNetwork.create(${JSON.stringify(SPEC)});
    const p = net.spawn('alpha', ['sleep', '60']);
    console.log(JSON.stringify({ prefix: net.prefix, sleeper: p.pid, tempDir: net.tempDir }));
    if (${JSON.stringify(then)} === 'exit') process.exit(3);
    setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error('child fixture never reported')); }, 10_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) { clearTimeout(timer); resolve(out.slice(0, out.indexOf('\n'))); }
    });
    child.once('exit', () => { clearTimeout(timer); if (!out.includes('\n')) reject(new Error('child fixture died before reporting')); });
  });
  return { child, ...(JSON.parse(line) as { prefix: string; sleeper: number; tempDir: string }) };
}

function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1] ?? '').filter((m) => m.startsWith(`${dir}/`));
}

function exitOf(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

test('a fixture whose process was SIGKILLed is swept by the next create(); a live one is left alone', { skip }, async (t) => {
  const dead = await childFixture('wait');
  const alive = await childFixture('wait');
  t.after(async () => { alive.child.kill('SIGKILL'); await exitOf(alive.child); });
  dead.child.kill('SIGKILL');
  assert.equal((await exitOf(dead.child)).signal, 'SIGKILL');
  // SIGKILL runs no handler: the namespaces, the sleep and the temp dir are left behind...
  assert.equal(ownedBy(dead.prefix).length, 5);
  assert.equal(isRunning(dead.sleeper), true);
  // A file system mounted in its folder stays too (bench:mirror's fresh ext4), and would make removing it fail.
  const mounted = join(dead.tempDir, 'fs');
  mkdirSync(mounted);
  const mount = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'vigil-sweep-test', mounted], { encoding: 'utf8' });
  assert.equal(mount.status, 0, mount.stderr);
  t.after(() => { if (mountsUnder(dead.tempDir).length > 0) spawnSync('umount', [mounted]); });

  // ...until the next fixture is made anywhere.
  await network(t);
  assert.deepEqual(ownedBy(dead.prefix), []);
  assert.equal(isRunning(dead.sleeper), false);
  assert.deepEqual(mountsUnder(dead.tempDir), []);
  assert.equal(existsSync(dead.tempDir), false);
  assert.equal(ownedBy(alive.prefix).length, 5, 'a fixture whose process lives is not touched');
  assert.equal(isRunning(alive.sleeper), true);
});

test('netns-cli sweep deletes stale fixtures by hand', { skip }, async () => {
  const dead = await childFixture('wait');
  dead.child.kill('SIGKILL');
  await exitOf(dead.child);
  const list = spawnSync(process.execPath, [CLI, 'list'], { encoding: 'utf8' });
  assert.equal(list.status, 0, list.stderr);
  assert.match(list.stdout, new RegExp(`^${dead.prefix.replace(/\./g, '\\.')}alpha\tpid ${dead.child.pid}\tstale$`, 'm'));
  const sweep = spawnSync(process.execPath, [CLI, 'sweep'], { encoding: 'utf8' });
  assert.equal(sweep.status, 0, sweep.stderr);
  assert.match(sweep.stdout, new RegExp(`deleted namespace ${dead.prefix.replace(/\./g, '\\.')}sw-priv1`));
  assert.deepEqual(ownedBy(dead.prefix), []);
  assert.equal(isRunning(dead.sleeper), false);
  assert.equal(existsSync(dead.tempDir), false);
  assert.equal(spawnSync(process.execPath, [CLI, 'bogus'], { encoding: 'utf8' }).status, 2);
});

test('SIGTERM and SIGINT clean up and re-raise; process.exit without destroy cleans up too', { skip }, async () => {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    const termed = await childFixture('wait');
    termed.child.kill(signal);
    assert.deepEqual(await exitOf(termed.child), { code: null, signal }, 'the process still dies by the signal');
    assert.deepEqual(ownedBy(termed.prefix), []);
    assert.equal(isRunning(termed.sleeper), false);
    assert.equal(existsSync(termed.tempDir), false);
  }

  const exited = await childFixture('exit');
  assert.deepEqual(await exitOf(exited.child), { code: 3, signal: null });
  assert.deepEqual(ownedBy(exited.prefix), []);
  assert.equal(isRunning(exited.sleeper), false);
  assert.equal(existsSync(exited.tempDir), false);
});
