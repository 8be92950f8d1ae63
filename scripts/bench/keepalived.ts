/**
 * keepalived as bench:failover's baseline: VRRP on the same test hosts, at the same advert interval as Vigil's
 * heartbeat, guarding the same VIP in front of the same web service (which runs on both nodes all the time, as
 * keepalived moves only the address).
 *
 * Both instances start as BACKUP with nopreempt and equal priority, the VRRP equivalent of Vigil's manual
 * switchback. Adverts go unicast over priv1, so the result does not depend on multicast through the test bridges.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { HostProcess } from '../../test/support/netns.js';
import { NODES, SERVICE_PORT, VIP, type NetnsCluster, type NodeName } from '../../test/support/netns-cluster.js';

export type VrrpState = 'INIT' | 'BACKUP' | 'MASTER' | 'FAULT' | 'STOP';

const PRIORITY = 100;
const ROUTER_ID = 51;
const INSTANCE = 'web';
const STATE_LINE = new RegExp(`\\(${INSTANCE}\\) Entering (\\w+) STATE`, 'g');

/** The advert interval keepalived is given (VRRPv3 counts centiseconds) and RFC 5798's Master_Down_Interval:
 * three adverts plus a skew that shrinks as the priority grows. */
export function vrrpTiming(advertIntervalMs: number): { advert_int_s: number; master_down_ms: number } {
  const advert = Math.max(1, Math.round(advertIntervalMs / 10)) / 100;
  return { advert_int_s: advert, master_down_ms: Math.round(3 * advert * 1000 + ((256 - PRIORITY) * advert * 1000) / 256) };
}

/** The installed keepalived's version line, or undefined when it is not installed. */
export function keepalivedVersion(): string | undefined {
  const r = spawnSync('keepalived', ['--version'], { encoding: 'utf8', timeout: 5000 });
  if (r.error || r.status !== 0) return undefined;
  return /Keepalived v\S+/.exec(`${r.stdout}${r.stderr}`)?.[0] ?? 'unknown version';
}

export class KeepalivedPair {
  private readonly daemons = new Map<NodeName, HostProcess>();
  private readonly services = new Map<NodeName, HostProcess>();
  private readonly startedAt = new Map<NodeName, number>();

  constructor(private readonly cluster: NetnsCluster, readonly advertIntervalMs: number) {
    for (const node of NODES) writeFileSync(this.file(node, 'conf'), this.config(node));
  }

  get masterDownMs(): number { return vrrpTiming(this.advertIntervalMs).master_down_ms; }

  private file(node: NodeName, what: string): string {
    return join(this.cluster.net.tempDir, `keepalived-${node}.${what}`);
  }

  private privateAddress(node: NodeName): string {
    const a = this.cluster.net.addresses(node).find((x) => x.iface === 'priv1');
    if (!a) throw new Error(`${node} has no address on priv1`);
    return a.address;
  }

  private config(node: NodeName): string {
    const peer = NODES.find((n) => n !== node)!;
    const advert = vrrpTiming(this.advertIntervalMs).advert_int_s.toFixed(2);
    return `# bench:failover: keepalived on ${node}
global_defs {
  router_id ${node}
  vrrp_version 3
}
vrrp_instance ${INSTANCE} {
  state BACKUP
  nopreempt
  interface priv1
  virtual_router_id ${ROUTER_ID}
  priority ${PRIORITY}
  advert_int ${advert}
  unicast_src_ip ${this.privateAddress(node)}
  unicast_peer {
    ${this.privateAddress(peer)}
  }
  virtual_ipaddress {
    ${VIP}/24 dev pub
  }
}
`;
  }

  /** The web service on both nodes for the whole run: with keepalived only the address moves. */
  startServices(): void {
    for (const node of NODES) {
      this.services.set(node, this.cluster.net.spawn(node, [process.execPath, resolve('scripts/demo/web-service.mjs')],
        { env: { VIGIL_NODE: node, DEMO_PORT: String(SERVICE_PORT), DEMO_HOST: '0.0.0.0' } }));
    }
  }

  /** keepalived in the foreground with its own pid files, VRRP only, logging to the fixture's log file. */
  start(node: NodeName): void {
    for (const what of ['pid', 'vrrp.pid', 'checkers.pid']) rmSync(this.file(node, what), { force: true });
    this.daemons.set(node, this.cluster.net.spawn(node, ['keepalived', '--vrrp', '--dont-fork', '--log-console', '--log-detail',
      '--use-file', this.file(node, 'conf'), '--pid', this.file(node, 'pid'),
      '--vrrp_pid', this.file(node, 'vrrp.pid'), '--checkers_pid', this.file(node, 'checkers.pid')]));
    this.startedAt.set(node, Date.now());
  }

  /** Milliseconds since keepalived was last started on the node. */
  upFor(node: NodeName): number {
    return Date.now() - (this.startedAt.get(node) ?? Date.now());
  }

  running(node: NodeName): boolean {
    const p = this.daemons.get(node);
    return p !== undefined && p.child.exitCode === null && p.child.signalCode === null;
  }

  /** Every keepalived process inside the node (the parent and its VRRP child). */
  private pids(node: NodeName): number[] {
    const r = spawnSync('ip', ['netns', 'pids', this.cluster.net.namespaceOf(node)], { encoding: 'utf8', timeout: 5000 });
    return r.stdout.split(/\s+/).filter((s) => s !== '').map(Number).filter((pid) => {
      try { return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'keepalived'; } catch { return false; }
    });
  }

  /** kill -9 of every keepalived process of the node at once: no priority-0 advert, like kill -9 of our agent.
   * The VIP stays on the host, as it does after a real crash of keepalived. */
  async crash(node: NodeName): Promise<void> {
    const pids = this.pids(node);
    for (const pid of pids) {
      try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
    }
    const daemon = this.daemons.get(node);
    if (daemon) await this.cluster.net.waitForExit(daemon);
    const deadline = Date.now() + 5000;
    while (this.pids(node).length > 0) {
      if (Date.now() > deadline) throw new Error(`keepalived on ${node} survives SIGKILL`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** What an operator does after such a crash: remove the orphaned VIP, then start keepalived again. */
  recover(node: NodeName): void {
    this.removeVip(node);
    this.start(node);
  }

  removeVip(node: NodeName): void {
    if (this.cluster.net.addresses(node).some((a) => a.address === VIP)) {
      this.cluster.net.run(node, ['ip', 'addr', 'del', `${VIP}/24`, 'dev', 'pub']);
    }
  }

  /** The log of the node's current keepalived, from byte `from` on. */
  log(node: NodeName, from = 0): string {
    const p = this.daemons.get(node);
    try { return p ? readFileSync(p.logPath).subarray(from).toString('utf8') : ''; } catch { return ''; }
  }

  logSize(node: NodeName): number {
    const p = this.daemons.get(node);
    try { return p ? statSync(p.logPath).size : 0; } catch { return 0; }
  }

  /** The state the node's keepalived last announced in its log. */
  state(node: NodeName): VrrpState | undefined {
    const states = [...this.log(node).matchAll(STATE_LINE)].map((m) => m[1] as VrrpState);
    return states[states.length - 1];
  }

  /** How often the node's current keepalived entered MASTER after `fromByte` of its log (see logSize). */
  masterEntriesSince(node: NodeName, fromByte: number): number {
    return [...this.log(node, fromByte).matchAll(STATE_LINE)].filter((m) => m[1] === 'MASTER').length;
  }
}
