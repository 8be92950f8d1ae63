/**
 * A virtual IP address: the address clients use, which moves with its group. Start adds it to the interface and
 * announces it by gratuitous ARP, as keepalived does after a takeover (vrrp_arp.c): the first announcement before
 * start returns, the rest `arpInterval` apart in the background, so that a switch or a client that missed one still
 * learns the new owner, without ever holding up the engine. Stop, a new start and dispose cancel what is left.
 *
 * The interface is the configured one, this node's entry of a per-node map, or (neither) the interface whose IPv4
 * subnet holds the address. It is looked up on every operation: interfaces come and go (a bond at boot, a hotplug).
 */
import type { VipResourceConfig } from '../../common/config/schema.js';
import type { ResourceOperation } from '../../common/model/index.js';
import { interfaceForSubnet, ipv4ToNumber, parseIpv4Cidr, type Ipv4Cidr } from '../platform/ipv4.js';
import type { IpAddressManager, IpCallOptions, IpError, Ipv4Address } from '../platform/types.js';
import { sleep } from '../platform/wait.js';
import { systemClock, type Clock } from '../util/clock.js';
import { OperationGuard, type Outcome } from './operation.js';
import type { AgentResult, ResourceAgent, ResourceAgentContext } from './types.js';
import { actionsXml } from './meta-data.js';

/** Linux's limit on an address label (IFNAMSIZ less the NUL), which starts with the interface name. */
export const LABEL_MAX = 15;
/** Deadline of one arping process; it normally exits after about a second. */
export const ANNOUNCE_TIMEOUT_MS = 5_000;

/**
 * "IFACE:SUFFIX", the suffix cut to fit 15 characters; undefined when the interface name leaves no room
 * (then the address simply carries the interface's own label).
 */
export function vipLabel(iface: string, suffix: string): string | undefined {
  const room = LABEL_MAX - iface.length - 1;
  const cleaned = suffix.replace(/[^A-Za-z0-9_-]/g, '');
  if (room <= 0 || cleaned === '') return undefined;
  return `${iface}:${cleaned.slice(0, room)}`;
}

export interface InterfaceChoice {
  readonly name: string;
  readonly from: 'configured' | 'node' | 'subnet';
}

/** The interface the configuration names for this node; undefined when the subnet decides. */
export function configuredInterface(config: Pick<VipResourceConfig, 'interface'>, nodeId: string | undefined): InterfaceChoice | undefined {
  if (config.interface === undefined) return undefined;
  if (typeof config.interface === 'string') return { name: config.interface, from: 'configured' };
  const name = nodeId === undefined ? undefined : config.interface[nodeId];
  return name === undefined ? undefined : { name, from: 'node' };
}

/** The OCF code for an address manager's error: a timeout is -1, a missing program 5, a missing interface 6. */
export function rcOfIpError(error: IpError): number {
  switch (error.code) {
    case 'TIMEOUT':
    case 'ABORTED': return -1;
    case 'NOT_INSTALLED': return 5;
    case 'NO_SUCH_INTERFACE': return 6;
    case 'FAILED': return 1;
  }
}

const xml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

const META_DATA = (c: VipResourceConfig): string => `<?xml version="1.0"?>
<resource-agent name="vip" version="1.0">
  <version>1.1</version>
  <shortdesc lang="en">Virtual IP ${xml(c.address)}</shortdesc>
  <longdesc lang="en">An IPv4 address that moves with its group, announced by gratuitous ARP after it is added.</longdesc>
  <parameters>
    <parameter name="address" required="1" unique="1"><shortdesc lang="en">Address and prefix length</shortdesc><content type="string" default="${xml(c.address)}"/></parameter>
    <parameter name="interface"><shortdesc lang="en">Interface (one name, one per node, or the one whose subnet holds the address)</shortdesc><content type="string"/></parameter>
    <parameter name="label"><shortdesc lang="en">Label suffix: the address shows as IFACE:LABEL</shortdesc><content type="string" default="${xml(c.label ?? c.id)}"/></parameter>
    <parameter name="arpCount"><shortdesc lang="en">Gratuitous ARP announcements after start</shortdesc><content type="integer" default="${c.arpCount}"/></parameter>
    <parameter name="arpInterval"><shortdesc lang="en">Milliseconds between announcements</shortdesc><content type="integer" default="${c.arpInterval}"/></parameter>
  </parameters>
${actionsXml(c)}
</resource-agent>
`;

/** One operation's deadline, shared by the commands it runs. */
class Deadline {
  private readonly end: number;
  constructor(private readonly clock: Clock, readonly ms: number, private readonly signal: AbortSignal) {
    this.end = clock.now() + ms;
  }
  /** What the next command may take; undefined once the time is up. */
  call(): IpCallOptions | undefined {
    const left = this.end - this.clock.now();
    return left <= 0 ? undefined : { timeoutMs: left, signal: this.signal };
  }
  get expired(): Outcome {
    return { rc: -1, message: `timeout after ${this.ms} ms` };
  }
}

type Located =
  | { readonly ok: true; readonly iface: InterfaceChoice; readonly present: readonly Ipv4Address[] }
  | { readonly ok: false; readonly outcome: Outcome };

export class VipResourceAgent implements ResourceAgent {
  readonly id: string;
  private readonly cidr: Ipv4Cidr | undefined;
  private readonly ip: IpAddressManager;
  private readonly clock: Clock;
  private readonly guard: OperationGuard;
  /** Aborting it cancels the announcements of the last start: timers and arping processes alike. */
  private announcements: AbortController | undefined;
  private backgroundRunning = false;
  private lastAnnounceError: string | undefined;

  constructor(private readonly config: VipResourceConfig, private readonly context: ResourceAgentContext) {
    this.id = config.id;
    this.cidr = parseIpv4Cidr(config.address);
    this.ip = context.platform.ipAddresses;
    this.clock = context.clock ?? systemClock;
    this.guard = new OperationGuard(this.clock);
  }

  /** Whether gratuitous ARP announcements are still scheduled. */
  get announcing(): boolean {
    return this.backgroundRunning;
  }

  run(operation: ResourceOperation): Promise<AgentResult> {
    return this.guard.run(operation, (signal) => this.perform(operation, signal));
  }

  dispose(): void {
    // The address itself stays: dispose releases the agent, it does not stop the resource.
    this.stopAnnouncing();
    this.guard.dispose();
  }

  private async perform(operation: ResourceOperation, signal: AbortSignal): Promise<Outcome> {
    if (operation === 'meta-data') return { rc: 0, message: 'success', stdout: META_DATA(this.config) };
    const cidr = this.cidr;
    if (cidr === undefined) return { rc: 6, message: `${this.config.address} is not an IPv4 address with a prefix length` };
    const timeoutMs = operation === 'start' ? this.config.startTimeout : operation === 'stop' ? this.config.stopTimeout : this.config.monitorTimeout;
    const deadline = new Deadline(this.clock, timeoutMs, signal);
    switch (operation) {
      case 'start': return this.start(cidr, deadline);
      case 'stop': return this.stop(cidr, deadline);
      case 'monitor':
      case 'probe': return this.monitor(cidr, deadline);
      case 'validate-all': return this.validate(cidr, deadline);
    }
  }

  private describe(choice: InterfaceChoice): string {
    if (choice.from === 'node') return `${choice.name} (node ${this.context.nodeId ?? '?'})`;
    if (choice.from === 'subnet') return `${choice.name} (its subnet)`;
    return choice.name;
  }

  /** The interface for this node and the entries of our address already on it, or why there is none (rc 6). */
  private async locate(cidr: Ipv4Cidr, deadline: Deadline): Promise<Located> {
    const call = deadline.call();
    if (call === undefined) return { ok: false, outcome: deadline.expired };
    const listed = await this.ip.list(call);
    if (!listed.ok) return { ok: false, outcome: { rc: rcOfIpError(listed.error), message: `${this.config.address}: ${listed.error.message}` } };
    const addresses = listed.value;
    let choice = configuredInterface(this.config, this.context.nodeId);
    if (choice === undefined) {
      const name = interfaceForSubnet(addresses, cidr.address);
      const forNode = this.config.interface !== undefined ? ` (the interface map has no entry for node ${this.context.nodeId ?? '(unknown)'})` : '';
      if (name === undefined) return { ok: false, outcome: { rc: 6, message: `no interface holds a subnet containing ${cidr.address}${forNode}: set "interface" for ${this.config.address}` } };
      choice = { name, from: 'subnet' };
    } else if (!addresses.some((a) => a.interface === choice!.name)) {
      // Not listed: it has no IPv4 address, or it does not exist at all.
      const next = deadline.call();
      if (next === undefined) return { ok: false, outcome: deadline.expired };
      const exists = await this.ip.interfaceExists(choice.name, next);
      if (!exists.ok) return { ok: false, outcome: { rc: rcOfIpError(exists.error), message: exists.error.message } };
      if (!exists.value) return { ok: false, outcome: { rc: 6, message: `interface ${this.describe(choice)} does not exist: nowhere to put ${this.config.address}` } };
    }
    const iface = choice.name;
    return { ok: true, iface: choice, present: addresses.filter((a) => a.interface === iface && a.address === cidr.address) };
  }

  private async start(cidr: Ipv4Cidr, deadline: Deadline): Promise<Outcome> {
    this.stopAnnouncing();
    const located = await this.locate(cidr, deadline);
    if (!located.ok) return located.outcome;
    const iface = located.iface.name;
    const label = vipLabel(iface, this.config.label ?? this.config.id);
    let verb = 'was already on';
    if (located.present.length === 0) {
      const call = deadline.call();
      if (call === undefined) return deadline.expired;
      const added = await this.ip.add({ interface: iface, address: cidr.address, prefixLength: cidr.prefixLength, ...(label === undefined ? {} : { label }) }, call);
      if (!added.ok) return { rc: rcOfIpError(added.error), message: added.error.message };
      if (added.value === 'added') verb = 'added to';
    }
    // Announced even when it was already there: a start follows a failure or a move, when caches may be stale.
    const announced = await this.announce(iface, cidr.address);
    return { rc: 0, message: `${this.config.address} ${verb} ${this.describe(located.iface)}${label === undefined ? '' : ` as ${label}`}; ${announced}` };
  }

  private async stop(cidr: Ipv4Cidr, deadline: Deadline): Promise<Outcome> {
    this.stopAnnouncing();
    const located = await this.locate(cidr, deadline);
    // No such interface: the address cannot be on it, and stop must succeed when there is nothing to stop.
    if (!located.ok) return located.outcome.rc === 6 ? { rc: 0, message: `${located.outcome.message}; nothing to remove` } : located.outcome;
    const where = this.describe(located.iface);
    if (located.present.length === 0) return { rc: 0, message: `${this.config.address} is not on ${where}` };
    for (const entry of located.present) {
      // The entry as listed: the kernel removes an address only by its own prefix length.
      const call = deadline.call();
      if (call === undefined) return deadline.expired;
      const removed = await this.ip.remove({ interface: entry.interface, address: entry.address, prefixLength: entry.prefixLength }, call);
      if (!removed.ok) return { rc: rcOfIpError(removed.error), message: removed.error.message };
    }
    return { rc: 0, message: `${this.config.address} removed from ${where}` };
  }

  private async monitor(cidr: Ipv4Cidr, deadline: Deadline): Promise<Outcome> {
    const located = await this.locate(cidr, deadline);
    if (!located.ok) return located.outcome;
    const where = this.describe(located.iface);
    if (located.present.length === 0) return { rc: 7, message: `${this.config.address} is not on ${where}` };
    const arp = this.lastAnnounceError === undefined ? '' : `; ${this.lastAnnounceError}`;
    return { rc: 0, message: `${this.config.address} is on ${where}${arp}` };
  }

  private async validate(cidr: Ipv4Cidr, deadline: Deadline): Promise<Outcome> {
    const n = ipv4ToNumber(cidr.address)!;
    const hostBits = 32 - cidr.prefixLength;
    if (hostBits >= 2) {
      const host = n % 2 ** hostBits;
      if (host === 0 || host === 2 ** hostBits - 1) return { rc: 6, message: `${this.config.address} is the ${host === 0 ? 'network' : 'broadcast'} address of its subnet, not a host address` };
    }
    const located = await this.locate(cidr, deadline);
    if (!located.ok) return located.outcome;
    if (this.config.arpCount > 0) {
      const announcer = await this.ip.checkAnnouncer();
      if (!announcer.ok) return { rc: rcOfIpError(announcer.error), message: announcer.error.message };
    }
    const label = vipLabel(located.iface.name, this.config.label ?? this.config.id);
    return { rc: 0, message: `success: ${this.config.address} goes on ${this.describe(located.iface)}${label === undefined ? '' : ` as ${label}`}` };
  }

  /** The first announcement now, the rest in the background; what happened, for start's message. */
  private async announce(iface: string, address: string): Promise<string> {
    const { arpCount, arpInterval } = this.config;
    this.lastAnnounceError = undefined;
    if (arpCount === 0) return 'no gratuitous ARP (arpCount is 0)';
    const controller = new AbortController();
    this.announcements = controller;
    const first = await this.ip.announce(iface, address, { timeoutMs: ANNOUNCE_TIMEOUT_MS, signal: controller.signal });
    if (!first.ok) this.lastAnnounceError = first.error.message;
    // Nothing will run later where the program is missing; a stop or dispose may also have come meanwhile.
    if ((!first.ok && first.error.code === 'NOT_INSTALLED') || controller.signal.aborted) return first.ok ? 'announced by gratuitous ARP' : first.error.message;
    if (arpCount > 1) this.announceLater(iface, address, arpCount - 1, controller.signal);
    const rest = arpCount > 1 ? `, ${arpCount - 1} more every ${arpInterval} ms` : '';
    return first.ok ? `announced by gratuitous ARP${rest}` : `${first.error.message}${rest === '' ? '' : ` (will retry${rest})`}`;
  }

  private announceLater(iface: string, address: string, count: number, signal: AbortSignal): void {
    this.backgroundRunning = true;
    const loop = async (): Promise<void> => {
      for (let i = 0; i < count; i++) {
        if (!(await sleep(this.clock, this.config.arpInterval, signal))) return;
        const result = await this.ip.announce(iface, address, { timeoutMs: ANNOUNCE_TIMEOUT_MS, signal });
        if (!result.ok && !signal.aborted) this.lastAnnounceError = result.error.message;
      }
    };
    loop()
      .catch((e: unknown) => {
        this.lastAnnounceError = `gratuitous ARP for ${address} on ${iface}: ${e instanceof Error ? e.message : String(e)}`;
      })
      .finally(() => {
        if (this.announcements?.signal === signal) this.backgroundRunning = false;
      });
  }

  private stopAnnouncing(): void {
    this.announcements?.abort();
    this.announcements = undefined;
    this.backgroundRunning = false;
  }
}
