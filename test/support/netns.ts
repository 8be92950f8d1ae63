/**
 * A small network of test hosts built from Linux network namespaces, for integration tests that run real agents
 * and move real addresses between them (the idea of keepalived's test/netns-test.sh, as a typed fixture).
 *
 *   host  = namespace `vg<run>-<host>`: lo up, one veth per net it joins, named after the net ("priv1").
 *   net   = namespace `vg<run>-sw-<net>` holding one bridge `br0`; the switch end of each cable is named after
 *           the host it leads to.
 *
 * Every veth pair is created with both ends already inside their namespaces, so nothing of the fixture ever exists
 * in the machine's own namespace and nothing is bridged to its interfaces. Hosts get only their connected routes
 * (no default route), IPv6 is disabled in every namespace (the test ranges are IPv4, and this keeps neighbour tables
 * and switch tables exact), and the bridges do no STP and no multicast snooping: a plain learning switch.
 *
 * Nothing may leak. `<run>` is `<pid>.<process start time, base 36>.<counter>`, so a namespace names the process
 * that owns it even after pid reuse. destroy() is idempotent; while a fixture lives, an 'exit' handler
 * (synchronous) and SIGINT/SIGTERM/SIGHUP handlers (clean up, then re-raise) tear it down; create() first sweeps
 * namespaces and temp dirs whose owner is dead (e.g. SIGKILLed). `node dist/test/support/netns-cli.js sweep` does
 * the same by hand. Killing is always `ip netns pids NS`, SIGKILL, repeat until empty, then `ip netns del NS`.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { procStat } from './proc-stat.js';

export interface NetSpec {
  readonly name: string;
  /** A subnet inside 198.51.100.0/24 or 203.0.113.0/24, e.g. "198.51.100.0/24" or "203.0.113.64/26". */
  readonly subnet: string;
}

export interface HostSpec {
  readonly name: string;
  /** net name -> the host's address on it with the net's prefix length, e.g. { priv1: "198.51.100.11/24" }. */
  readonly addresses: Readonly<Record<string, string>>;
}

export interface NetworkSpec {
  /** Switches: each a bridge living in its own namespace. */
  readonly nets: readonly NetSpec[];
  /** Hosts: each a namespace with lo up and one interface per net it joins, named after the net. */
  readonly hosts: readonly HostSpec[];
}

/** A long-running process started by TestNetwork.spawn. Its stdout and stderr go to `logPath`. */
export interface HostProcess {
  readonly host: string;
  readonly argv: readonly string[];
  readonly pid: number;
  readonly child: ChildProcess;
  readonly logPath: string;
}

export interface RunResult {
  /** The exit status; -1 when the command was ended by a signal (see `signal`, and `timedOut`). */
  readonly code: number;
  readonly signal: NodeJS.Signals | null;
  readonly timedOut: boolean;
  readonly stdout: string;
  readonly stderr: string;
}

export interface HostAddress {
  readonly iface: string;
  /** The IPv4 address without its prefix, e.g. "198.51.100.11". */
  readonly address: string;
  readonly prefixLength: number;
  /** Only when the address carries a label other than the interface name (e.g. "priv1:vip"). */
  readonly label?: string;
}

export interface Neighbour {
  readonly address: string;
  readonly iface: string;
  /** Absent while the entry is INCOMPLETE/FAILED (no answer yet). */
  readonly mac?: string;
  /** The kernel's NUD state flags, e.g. ["REACHABLE"], ["STALE"], ["FAILED"]. */
  readonly state: string[];
}

/** A spec the fixture refuses; `field` names the offending part, e.g. "hosts[1].addresses.priv1". */
export class NetworkSpecError extends Error {
  constructor(readonly field: string, problem: string) {
    super(`invalid network spec: ${field}: ${problem}`);
    this.name = 'NetworkSpecError';
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Names and ownership

const NS_PREFIX = 'vg';
const TEMP_PREFIX = 'vigil-netns-';
/** vg<pid>.<start36>.<counter>-... */
const RUN_PATTERN = /^vg(\d+)\.([0-9a-z]+)\.(\d+)-/;
const BRIDGE = 'br0';
/** Interface names are at most 15 bytes; host and net names become interface names. No '-', so that a host
 * namespace `vg<run>-<host>` can never be mistaken for a switch namespace `vg<run>-sw-<net>`. */
const NAME_PATTERN = /^[a-z][a-z0-9_]{0,14}$/;
const TEST_RANGES: readonly Cidr[] = [cidr(0xc6336400, 24), cidr(0xcb007100, 24)]; // 198.51.100.0/24, 203.0.113.0/24

let runCounter = 0;
// Every ip(8) call below names its interface with `dev`/`name`: ip accepts abbreviated keywords, so a host called
// "a" would otherwise be read as "address".

/** The start time of a process in clock ticks since boot (field 22 of /proc/PID/stat); undefined if it is gone
 * or a zombie. Together with the pid it names one process for good: a reused pid has another start time. */
export function processStartTime(pid: number): string | undefined {
  const field = procStat(pid);
  if (field === undefined || field(3) === 'Z' || field(3) === 'X') return undefined;
  return field(22);
}

interface RunOwner { readonly run: string; readonly pid: number; readonly alive: boolean }

/** Who made a fixture namespace (or temp dir, after its prefix) and whether that process still lives. */
function ownerOf(name: string): RunOwner | undefined {
  const m = RUN_PATTERN.exec(name);
  if (!m) return undefined;
  const pid = Number(m[1]);
  const start = processStartTime(pid);
  return { run: `${NS_PREFIX}${m[1]}.${m[2]}.${m[3]}`, pid, alive: start !== undefined && Number(start).toString(36) === m[2] };
}

// ---------------------------------------------------------------------------------------------------------------
// ip(8) and friends

function ip(args: readonly string[]): string {
  const r = spawnSync('ip', args, { encoding: 'utf8', timeout: 10_000 });
  if (r.error) throw new Error(`ip ${args.join(' ')}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')} failed (${r.status ?? r.signal}): ${r.stderr.trim()}`);
  return r.stdout;
}

function ipJson(args: readonly string[]): unknown[] {
  const out = ip(['-j', ...args]).trim();
  const data: unknown = out === '' ? [] : JSON.parse(out);
  if (!Array.isArray(data)) throw new Error(`ip -j ${args.join(' ')}: expected a JSON array`);
  return data as unknown[];
}

function field(o: unknown, key: string): unknown {
  return typeof o === 'object' && o !== null ? (o as Record<string, unknown>)[key] : undefined;
}
function str(o: unknown, key: string): string | undefined {
  const v = field(o, key);
  return typeof v === 'string' ? v : undefined;
}

/** Every named network namespace on the machine (`ip netns list`). */
export function listNamespaces(): string[] {
  return ip(['netns', 'list']).split('\n').map((l) => l.trim().split(' ')[0] ?? '').filter((n) => n !== '');
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function namespacePids(ns: string): number[] {
  const r = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8', timeout: 10_000 });
  if (r.status !== 0) return [];
  return r.stdout.split(/\s+/).filter((s) => s !== '').map(Number);
}

/** SIGKILL everything in `ns` until nothing is left (a process may fork just before it dies). */
function killNamespaceSync(ns: string): void {
  for (let round = 0; round < 200; round++) {
    const pids = namespacePids(ns);
    if (pids.length === 0) return;
    for (const pid of pids) {
      try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
    }
    sleepSync(round < 10 ? 2 : 20);
  }
  throw new Error(`processes in namespace ${ns} survive SIGKILL: ${namespacePids(ns).join(' ')}`);
}

/** Kill what runs in `ns`, then delete it. Quiet if it is already gone (a parallel sweep may have won). */
function deleteNamespaceSync(ns: string): void {
  if (!listNamespaces().includes(ns)) return;
  killNamespaceSync(ns);
  const r = spawnSync('ip', ['netns', 'del', ns], { encoding: 'utf8', timeout: 10_000 });
  if (r.status !== 0 && listNamespaces().includes(ns)) throw new Error(`ip netns del ${ns}: ${r.stderr.trim()}`);
}

export interface SweepResult { readonly namespaces: string[]; readonly tempDirs: string[] }

/** Delete every fixture namespace and temp dir whose creating process is dead. Never touches a live fixture. */
export function sweepStale(): SweepResult {
  const namespaces = listNamespaces().filter((ns) => { const o = ownerOf(ns); return o !== undefined && !o.alive; });
  for (const ns of namespaces) deleteNamespaceSync(ns);
  const tempDirs: string[] = [];
  for (const entry of readdirSync(tmpdir())) {
    if (!entry.startsWith(TEMP_PREFIX)) continue;
    const o = ownerOf(entry.slice(TEMP_PREFIX.length));
    if (o === undefined || o.alive) continue;
    const dir = join(tmpdir(), entry);
    unmountUnder(dir);
    rmSync(dir, { recursive: true, force: true });
    tempDirs.push(dir);
  }
  return { namespaces, tempDirs };
}

/**
 * Unmounts whatever is mounted inside `dir`, deepest first: a run killed before its cleanup can leave a loop-mounted
 * file system there (bench:mirror's fresh ext4), and removing the folder would then fail with EBUSY.
 */
function unmountUnder(dir: string): void {
  const decode = (field: string): string => field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
  const mountPoints = readFileSync('/proc/self/mounts', 'utf8').split('\n')
    .map((line) => decode(line.split(' ')[1] ?? ''))
    .filter((m) => m.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
  for (const m of mountPoints) {
    const r = spawnSync('umount', [m], { encoding: 'utf8', timeout: 30_000 });
    if (r.status !== 0) throw new Error(`umount ${m} (left by a run that was killed): ${r.stderr.trim() !== '' ? r.stderr : (r.error?.message ?? '')}`.trim());
  }
}

/** Fixture namespaces on the machine, with their owner and whether it still lives (for the CLI's `list`). */
export function listFixtureNamespaces(): { name: string; pid: number; alive: boolean }[] {
  const out: { name: string; pid: number; alive: boolean }[] = [];
  for (const name of listNamespaces()) {
    const o = ownerOf(name);
    if (o) out.push({ name, pid: o.pid, alive: o.alive });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Spec validation

interface Cidr { readonly network: number; readonly prefix: number }

function cidr(network: number, prefix: number): Cidr { return { network, prefix }; }
function mask(prefix: number): number { return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0; }
function contains(outer: Cidr, addr: number): boolean { return ((addr & mask(outer.prefix)) >>> 0) === outer.network; }
function within(inner: Cidr, outer: Cidr): boolean { return inner.prefix >= outer.prefix && contains(outer, inner.network); }
function overlap(a: Cidr, b: Cidr): boolean { return within(a, b) || within(b, a); }
function fmt(addr: number): string { return [24, 16, 8, 0].map((s) => (addr >>> s) & 255).join('.'); }

function parseIPv4(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4 || !parts.every((p) => /^(0|[1-9]\d{0,2})$/.test(p) && Number(p) <= 255)) return undefined;
  return parts.reduce((acc, p) => acc * 256 + Number(p), 0);
}

function parseCidr(text: unknown, where: string): { addr: number; prefix: number } {
  if (typeof text !== 'string') throw new NetworkSpecError(where, 'expected a string like "198.51.100.11/24"');
  const m = /^([0-9.]+)\/(\d{1,2})$/.exec(text);
  const addr = m ? parseIPv4(m[1]!) : undefined;
  const prefix = m ? Number(m[2]) : NaN;
  if (addr === undefined || !(prefix >= 0 && prefix <= 32)) {
    throw new NetworkSpecError(where, `${JSON.stringify(text)} is not an IPv4 address with a prefix length, like "198.51.100.11/24"`);
  }
  return { addr, prefix };
}

function checkName(name: unknown, where: string, reserved: readonly string[]): string {
  if (typeof name !== 'string' || !NAME_PATTERN.test(name)) {
    throw new NetworkSpecError(where, `${JSON.stringify(name)} must match ${NAME_PATTERN} (it becomes an interface name)`);
  }
  if (reserved.includes(name)) throw new NetworkSpecError(where, `"${name}" is reserved`);
  return name;
}

const RANGES_TEXT = '198.51.100.0/24 and 203.0.113.0/24';

/** Refuse a spec that is not exact: unknown nets, addresses outside the test ranges or their net, duplicates. */
export function validateSpec(spec: NetworkSpec): void {
  const nets = new Map<string, Cidr>();
  spec.nets.forEach((net, i) => {
    const name = checkName(net.name, `nets[${i}].name`, ['lo']);
    if (nets.has(name)) throw new NetworkSpecError(`nets[${i}].name`, `duplicate net "${name}"`);
    const where = `nets[${i}].subnet`;
    const { addr, prefix } = parseCidr(net.subnet, where);
    const subnet = cidr(addr, prefix);
    if (!TEST_RANGES.some((r) => within(subnet, r))) {
      throw new NetworkSpecError(where, `${net.subnet} is outside the test ranges ${RANGES_TEXT}`);
    }
    if (((addr & ~mask(prefix)) >>> 0) !== 0) {
      throw new NetworkSpecError(where, `${net.subnet} has host bits set (the network is ${fmt((addr & mask(prefix)) >>> 0)}/${prefix})`);
    }
    for (const [other, o] of nets) {
      if (overlap(subnet, o)) throw new NetworkSpecError(where, `${net.subnet} overlaps net "${other}"`);
    }
    nets.set(name, subnet);
  });

  const hosts = new Set<string>();
  const used = new Map<number, string>();
  spec.hosts.forEach((host, i) => {
    const name = checkName(host.name, `hosts[${i}].name`, ['lo', BRIDGE]);
    if (hosts.has(name)) throw new NetworkSpecError(`hosts[${i}].name`, `duplicate host "${name}"`);
    hosts.add(name);
    if (typeof host.addresses !== 'object' || host.addresses === null) {
      throw new NetworkSpecError(`hosts[${i}].addresses`, 'expected an object { net: "address/prefix" }');
    }
    for (const [netName, text] of Object.entries(host.addresses)) {
      const where = `hosts[${i}].addresses.${netName}`;
      const subnet = nets.get(netName);
      if (!subnet) throw new NetworkSpecError(where, `unknown net "${netName}" (nets: ${[...nets.keys()].join(', ') || 'none'})`);
      const { addr, prefix } = parseCidr(text, where);
      const net = `${fmt(subnet.network)}/${subnet.prefix}`;
      if (!TEST_RANGES.some((r) => contains(r, addr))) {
        throw new NetworkSpecError(where, `${text} is outside the test ranges ${RANGES_TEXT}`);
      }
      if (!contains(subnet, addr)) throw new NetworkSpecError(where, `${text} is outside net "${netName}" (${net})`);
      if (prefix !== subnet.prefix) throw new NetworkSpecError(where, `${text} must have the net's prefix length /${subnet.prefix}`);
      const hostBits = (addr & ~mask(prefix)) >>> 0;
      if (prefix <= 30 && (hostBits === 0 || hostBits === (~mask(prefix) >>> 0))) {
        throw new NetworkSpecError(where, `${text} is the network or broadcast address of ${net}`);
      }
      const owner = used.get(addr);
      if (owner !== undefined) throw new NetworkSpecError(where, `${fmt(addr)} is already used by ${owner}`);
      used.set(addr, `hosts[${i}] (${name})`);
    }
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Teardown on exit and on signals, for every fixture still alive in this process

const live = new Set<TestNetwork>();
const SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

function cleanupAllSync(): void {
  for (const net of [...live]) {
    try { net.destroySync(); } catch (err) { process.stderr.write(`netns fixture cleanup: ${String(err)}\n`); }
  }
}

function onExit(): void { cleanupAllSync(); }

function onSignal(signal: NodeJS.Signals): void {
  cleanupAllSync();
  uninstallHandlers();
  process.kill(process.pid, signal); // re-raise: with our listener gone, the default action (or the next listener) applies
}

function installHandlers(): void {
  if (live.size !== 1) return;
  process.on('exit', onExit);
  for (const s of SIGNALS) process.on(s, onSignal);
}

function uninstallHandlers(): void {
  process.removeListener('exit', onExit);
  for (const s of SIGNALS) process.removeListener(s, onSignal);
}

// ---------------------------------------------------------------------------------------------------------------
// The fixture

interface HostState { readonly ns: string; readonly nets: ReadonlyMap<string, string> /* net -> address/prefix */ }

export class TestNetwork {
  /** Every namespace of this fixture starts with this, e.g. "vg4711.1k2j3.0-". */
  readonly prefix: string;
  readonly tempDir: string;
  private readonly hosts = new Map<string, HostState>();
  private readonly switches = new Map<string, string>(); // net -> switch namespace
  private readonly processes = new Set<HostProcess>();
  private spawned = 0;
  private destroyed: Promise<void> | undefined;

  private constructor(run: string) {
    this.prefix = `${run}-`;
    this.tempDir = mkdtempSync(join(tmpdir(), `${TEMP_PREFIX}${run}-`));
  }

  /** Validate the spec, sweep stale fixtures, build the network and wait until every cable carries. */
  static async create(spec: NetworkSpec): Promise<TestNetwork> {
    validateSpec(spec);
    sweepStale();
    const start = processStartTime(process.pid);
    if (start === undefined) throw new Error('cannot read this process\'s start time from /proc');
    const net = new TestNetwork(`${NS_PREFIX}${process.pid}.${Number(start).toString(36)}.${runCounter++}`);
    live.add(net);
    installHandlers();
    try {
      net.build(spec);
      await net.untilCarrier();
    } catch (err) {
      await net.destroy();
      throw err;
    }
    return net;
  }

  private build(spec: NetworkSpec): void {
    for (const { name } of spec.nets) {
      const ns = `${this.prefix}sw-${name}`;
      this.addNamespace(ns);
      this.switches.set(name, ns);
      ip(['-n', ns, 'link', 'add', 'name', BRIDGE, 'type', 'bridge', 'stp_state', '0', 'mcast_snooping', '0']);
      ip(['-n', ns, 'link', 'set', 'dev', BRIDGE, 'up']);
    }
    for (const host of spec.hosts) {
      const ns = `${this.prefix}${host.name}`;
      this.addNamespace(ns);
      this.hosts.set(host.name, { ns, nets: new Map(Object.entries(host.addresses)) });
      ip(['-n', ns, 'link', 'set', 'dev', 'lo', 'up']);
      for (const [netName, address] of Object.entries(host.addresses)) {
        const sw = this.switches.get(netName)!;
        ip(['link', 'add', 'name', netName, 'netns', ns, 'type', 'veth', 'peer', 'name', host.name, 'netns', sw]);
        ip(['-n', sw, 'link', 'set', 'dev', host.name, 'master', BRIDGE, 'up']);
        ip(['-n', ns, 'addr', 'add', address, 'dev', netName]);
        ip(['-n', ns, 'link', 'set', 'dev', netName, 'up']);
      }
    }
  }

  /** A namespace with IPv6 off, set before any interface exists so every interface inherits it. */
  private addNamespace(ns: string): void {
    ip(['netns', 'add', ns]);
    const r = spawnSync('ip', ['netns', 'exec', ns, 'sysctl', '-q', '-w',
      'net.ipv6.conf.default.disable_ipv6=1', 'net.ipv6.conf.all.disable_ipv6=1'], { encoding: 'utf8', timeout: 10_000 });
    if (r.status !== 0 && readdirSafe('/proc/sys/net/ipv6').length > 0) {
      throw new Error(`disabling IPv6 in ${ns}: ${r.stderr.trim() || r.error?.message || r.status}`);
    }
  }

  private async untilCarrier(): Promise<void> {
    const deadline = Date.now() + 5000;
    for (;;) {
      const down = [...this.hosts].flatMap(([h, s]) => [...s.nets.keys()].filter((n) => !this.carrierUp(h, n)).map((n) => `${h}/${n}`));
      if (down.length === 0) return;
      if (Date.now() > deadline) throw new Error(`links never came up: ${down.join(', ')}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** Both ends of the cable are up and the host end has carrier. */
  private carrierUp(host: string, net: string): boolean {
    const hostEnd = ipJson(['-n', this.host(host).ns, 'link', 'show', 'dev', net])[0];
    const switchEnd = ipJson(['-n', this.switchOf(net), 'link', 'show', 'dev', host])[0];
    return str(hostEnd, 'operstate') === 'UP' && str(switchEnd, 'operstate') === 'UP';
  }

  private assertLive(): void {
    if (this.destroyed) throw new Error(`network ${this.prefix}* is destroyed`);
  }

  private host(name: string): HostState {
    this.assertLive();
    const h = this.hosts.get(name);
    if (!h) throw new Error(`unknown host "${name}" (hosts: ${[...this.hosts.keys()].join(', ') || 'none'})`);
    return h;
  }

  private switchOf(net: string): string {
    this.assertLive();
    const sw = this.switches.get(net);
    if (!sw) throw new Error(`unknown net "${net}" (nets: ${[...this.switches.keys()].join(', ') || 'none'})`);
    return sw;
  }

  private cable(host: string, net: string): { ns: string; sw: string } {
    const h = this.host(host);
    const sw = this.switchOf(net);
    if (!h.nets.has(net)) throw new Error(`host "${host}" is not on net "${net}"`);
    return { ns: h.ns, sw };
  }

  /** The namespace of a host, for tools the fixture does not wrap (`ip -n NS ...`). */
  namespaceOf(host: string): string { return this.host(host).ns; }
  /** The namespace of a net's switch; its bridge is `br0` and its ports are named after the hosts. */
  switchNamespaceOf(net: string): string { return this.switchOf(net); }
  /** Every namespace the fixture currently owns. */
  namespaces(): string[] { return [...this.switches.values(), ...[...this.hosts.values()].map((h) => h.ns)]; }

  /**
   * Start a long-running process inside a host; stdout and stderr go to a log file in tempDir. `env` is added to
   * the inherited environment. The child is unref'd: a forgotten destroy() cannot keep the test process alive,
   * and the exit handler then kills it. `ip netns exec` execs the command, so `pid` is the command's own pid.
   */
  spawn(host: string, argv: readonly string[], options: { env?: Record<string, string>; cwd?: string } = {}): HostProcess {
    const { ns } = this.host(host);
    if (argv.length === 0) throw new Error('spawn: empty argv');
    const logPath = join(this.tempDir, `${host}-${++this.spawned}-${basename(argv[0]!)}.log`);
    const fd = openSync(logPath, 'w');
    let child: ChildProcess;
    try {
      child = spawn('ip', ['netns', 'exec', ns, ...argv], {
        stdio: ['ignore', fd, fd],
        env: { ...process.env, ...options.env },
        ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
      });
    } finally {
      closeSync(fd);
    }
    child.on('error', () => { /* reported through the exit status and the log */ });
    child.unref();
    if (child.pid === undefined) throw new Error(`spawn in ${host} failed: ${argv.join(' ')}`);
    const p: HostProcess = { host, argv: [...argv], pid: child.pid, child, logPath };
    this.processes.add(p);
    return p;
  }

  /** Run a command to completion inside a host (SIGKILL after timeoutMs, default 10 s). */
  run(host: string, argv: readonly string[], options: { timeoutMs?: number; input?: string } = {}): RunResult {
    const { ns } = this.host(host);
    const r = spawnSync('ip', ['netns', 'exec', ns, ...argv], {
      encoding: 'utf8',
      timeout: options.timeoutMs ?? 10_000,
      killSignal: 'SIGKILL',
      maxBuffer: 16 * 1024 * 1024,
      ...(options.input !== undefined ? { input: options.input } : {}),
    });
    const timedOut = r.error !== undefined && (r.error as NodeJS.ErrnoException).code === 'ETIMEDOUT';
    if (r.error && !timedOut) throw new Error(`run in ${host}: ${argv.join(' ')}: ${r.error.message}`);
    return { code: r.status ?? -1, signal: r.signal, timedOut, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  }

  /**
   * Pull the cable between a host and a net: the switch port goes down, so the host's end loses carrier
   * (NO-CARRIER, operstate DOWN) and nothing passes either way. The host's own configuration (admin state,
   * addresses, routes) stays as its software left it, exactly as with a real unplugged cable.
   */
  cut(host: string, net: string): void {
    const { sw } = this.cable(host, net);
    ip(['-n', sw, 'link', 'set', 'dev', host, 'down']);
  }

  /** Plug the cable back in; returns once both ends are up again. As after a real replug, the host's neighbour
   * table is left alone: an ARP lookup that began during the cut (INCOMPLETE, up to 3 s) can still fail and drop
   * the packets queued on it. Flush it (`ip neigh flush dev NET` via run()) when a test needs a clean start. */
  restore(host: string, net: string): void {
    const { sw } = this.cable(host, net);
    ip(['-n', sw, 'link', 'set', 'dev', host, 'up']);
    const deadline = Date.now() + 5000;
    while (!this.carrierUp(host, net)) {
      if (Date.now() > deadline) throw new Error(`cable ${host}/${net} did not come back up`);
      sleepSync(10);
    }
  }

  freeze(p: HostProcess): void { this.signal(p, 'SIGSTOP'); }
  thaw(p: HostProcess): void { this.signal(p, 'SIGCONT'); }

  /** Send a signal (SIGKILL by default) and wait until the process has exited. A frozen process only receives
   * SIGKILL; anything else waits for thaw(), so this then times out. */
  async kill(p: HostProcess, signal: NodeJS.Signals = 'SIGKILL', timeoutMs = 10_000): Promise<void> {
    if (exited(p)) return;
    this.signal(p, signal);
    await this.waitForExit(p, timeoutMs);
  }

  /** Resolves when the process has exited (a ref'd timer keeps the event loop alive meanwhile). */
  waitForExit(p: HostProcess, timeoutMs = 10_000): Promise<void> {
    if (exited(p)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        p.child.removeListener('exit', done);
        reject(new Error(`${p.host}: ${p.argv.join(' ')} (pid ${p.pid}) did not exit within ${timeoutMs} ms`));
      }, timeoutMs);
      function done(): void { clearTimeout(timer); resolve(); }
      p.child.once('exit', done);
    });
  }

  private signal(p: HostProcess, signal: NodeJS.Signals): void {
    if (!this.processes.has(p)) throw new Error(`pid ${p.pid} was not started by this network`);
    if (exited(p)) throw new Error(`${p.host}: ${p.argv.join(' ')} (pid ${p.pid}) has already exited`);
    process.kill(p.pid, signal);
  }

  /**
   * The host vanishes: every process in it is killed, its cables are pulled, then its namespace is deleted. The
   * cables go first because the kernel tears a deleted namespace's interfaces down later, on a work queue: the
   * switch ports would outlive the call. Deleting one end of a veth deletes its peer at once.
   */
  async removeHost(host: string): Promise<void> {
    const { ns, nets } = this.host(host);
    killNamespaceSync(ns);
    await Promise.all([...this.processes].filter((p) => p.host === host).map((p) => this.waitForExit(p)));
    for (const net of nets.keys()) ip(['-n', ns, 'link', 'del', 'dev', net]);
    deleteNamespaceSync(ns);
    this.hosts.delete(host);
  }

  /** The host's IPv4 addresses on every interface, lo included (`ip -j -4 addr`). */
  addresses(host: string): HostAddress[] {
    const out: HostAddress[] = [];
    for (const link of ipJson(['-n', this.host(host).ns, '-4', 'addr', 'show'])) {
      const iface = str(link, 'ifname') ?? '';
      const infos = field(link, 'addr_info');
      for (const info of Array.isArray(infos) ? infos as unknown[] : []) {
        const address = str(info, 'local');
        const prefixLength = field(info, 'prefixlen');
        if (address === undefined || typeof prefixLength !== 'number') continue;
        const label = str(info, 'label');
        out.push({ iface, address, prefixLength, ...(label !== undefined && label !== iface ? { label } : {}) });
      }
    }
    return out;
  }

  /** The host's ARP table (`ip -j -4 neigh`). */
  neighbours(host: string): Neighbour[] {
    return ipJson(['-n', this.host(host).ns, '-4', 'neigh', 'show']).map((n) => {
      const mac = str(n, 'lladdr');
      const state = field(n, 'state');
      return {
        address: str(n, 'dst') ?? '',
        iface: str(n, 'dev') ?? '',
        ...(mac !== undefined ? { mac } : {}),
        state: Array.isArray(state) ? state.filter((s): s is string => typeof s === 'string') : [],
      };
    });
  }

  /** The MAC address of the host's interface on a net. */
  macOf(host: string, net: string): string {
    const { ns } = this.cable(host, net);
    const mac = str(ipJson(['-n', ns, 'link', 'show', 'dev', net])[0], 'address');
    if (mac === undefined) throw new Error(`no MAC address on ${host}/${net}`);
    return mac;
  }

  /** Kill every process in every namespace of the fixture, delete the namespaces and the temp dir. Idempotent;
   * throws if any namespace of the fixture is still there afterwards. */
  destroy(): Promise<void> {
    this.destroyed ??= (async () => {
      for (const ns of this.namespaces()) killNamespaceSync(ns);
      await Promise.all([...this.processes].map((p) => this.waitForExit(p).catch(() => undefined)));
      this.teardown();
    })();
    return this.destroyed;
  }

  /** destroy() for the exit and signal handlers: synchronous, no waiting for 'exit' events. */
  destroySync(): void {
    this.destroyed ??= Promise.resolve();
    this.teardown();
  }

  private teardown(): void {
    try {
      for (const ns of this.namespaces()) deleteNamespaceSync(ns);
      // Partly built namespaces (create() failed midway) are found by name.
      for (const ns of listNamespaces().filter((n) => n.startsWith(this.prefix))) deleteNamespaceSync(ns);
      rmSync(this.tempDir, { recursive: true, force: true });
      const left = listNamespaces().filter((n) => n.startsWith(this.prefix));
      if (left.length > 0) throw new Error(`namespaces left behind: ${left.join(' ')}`);
    } finally {
      this.hosts.clear();
      this.switches.clear();
      if (live.delete(this) && live.size === 0) uninstallHandlers();
    }
  }
}

function exited(p: HostProcess): boolean {
  return p.child.exitCode !== null || p.child.signalCode !== null;
}

function readdirSafe(dir: string): string[] {
  try { return readdirSync(dir); } catch { return []; }
}
