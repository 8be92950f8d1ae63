/**
 * IPv4 addresses on Linux through iproute2 (`ip -j`), and gratuitous ARP through iputils' arping, all via the
 * process runner with a deadline. With a network namespace (tests, containers) every command runs inside it:
 * `ip -n NS ...` and `ip netns exec NS arping ...`; nothing touches the machine's own interfaces then.
 */
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import type { Clock } from '../../util/clock.js';
import { SANE_PATH } from '../environment.js';
import { interfaceForSubnet } from '../ipv4.js';
import type { IpAddressManager, IpCallOptions, IpErrorCode, IpResult, Ipv4Address, Ipv4Assignment, ProcessRunner, RunResult } from '../types.js';

export interface LinuxIpOptions {
  readonly runner: ProcessRunner;
  readonly clock: Clock;
  /** Run every command inside this network namespace. */
  readonly netns?: string;
}

/**
 * arping sends its packet at once, then idles for its 1-second interval before it exits (it takes no shorter
 * one). A run still alive after this long got past every setup step that can fail (device, bind, socket), so the
 * announcement is out: we return and leave the process to finish, tracked by the caller's signal.
 */
export const ARPING_SETTLE_MS = 150;

const ENV = { PATH: SANE_PATH, LANG: 'C', LC_ALL: 'C' };
const NO_DEVICE = /Cannot find device|does not exist|No such device/i;

/** The argv of an `ip` command, in the namespace when there is one. */
export function ipArgs(netns: string | undefined, args: readonly string[]): string[] {
  return netns === undefined ? [...args] : ['-n', netns, ...args];
}

/** `arping -U`: unsolicited ARP (sender and target are the address), which updates every neighbour's cache. */
export function arpingCommand(netns: string | undefined, iface: string, address: string): { file: string; args: string[] } {
  const arping = ['-q', '-U', '-c', '1', '-I', iface, address];
  return netns === undefined ? { file: 'arping', args: arping } : { file: 'ip', args: ['netns', 'exec', netns, 'arping', ...arping] };
}

export function addArgs(a: Ipv4Assignment): string[] {
  return ['addr', 'add', `${a.address}/${a.prefixLength}`, 'dev', a.interface, ...(a.label === undefined ? [] : ['label', a.label])];
}

export function removeArgs(a: Ipv4Assignment): string[] {
  return ['addr', 'del', `${a.address}/${a.prefixLength}`, 'dev', a.interface];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/** `ip -j -4 addr show`: [{ifname, addr_info: [{family, local, prefixlen, label}]}]; anything else is skipped. */
export function parseIpAddrJson(text: string): Ipv4Address[] {
  const parsed: unknown = JSON.parse(text === '' ? '[]' : text);
  if (!Array.isArray(parsed)) throw new Error('ip -j addr show did not print a JSON array');
  const out: Ipv4Address[] = [];
  for (const link of parsed) {
    if (!isRecord(link) || typeof link.ifname !== 'string' || !Array.isArray(link.addr_info)) continue;
    for (const info of link.addr_info) {
      if (!isRecord(info) || info.family !== 'inet' || typeof info.local !== 'string' || typeof info.prefixlen !== 'number') continue;
      out.push({ interface: link.ifname, address: info.local, prefixLength: info.prefixlen, label: typeof info.label === 'string' ? info.label : link.ifname });
    }
  }
  return out;
}

function fail<T>(code: IpErrorCode, message: string): IpResult<T> {
  return { ok: false, error: { code, message } };
}

/** A run that did not give an answer: timed out, aborted, or the program is missing. */
function notCompleted<T>(result: RunResult, what: string, program: string): IpResult<T> | undefined {
  if (result.timedOut) return fail('TIMEOUT', `${what}: timeout after ${result.durationMs} ms`);
  if (result.aborted) return fail('ABORTED', `${what}: aborted`);
  if (result.spawnError !== undefined) {
    return result.spawnError.code === 'ENOENT'
      ? fail('NOT_INSTALLED', `${what}: ${program} is not installed`)
      : fail('FAILED', `${what}: cannot run ${program}: ${result.spawnError.message}`);
  }
  return undefined;
}

function why(result: RunResult): string {
  return result.stderrTail === '' ? `exit code ${result.rc}` : result.stderrTail;
}

/** Resolves with the run's result, or 'running' if it has not finished after `ms`; the timer never outlives it. */
function settledWithin(clock: Clock, run: Promise<RunResult>, ms: number): Promise<RunResult | 'running'> {
  return new Promise((resolve) => {
    const timer = clock.setTimer(ms, () => resolve('running'));
    void run.then((result) => {
      timer.dispose();
      resolve(result);
    });
  });
}

export function createLinuxIpAddressManager(options: LinuxIpOptions): IpAddressManager {
  const { runner, clock, netns } = options;
  const where = netns === undefined ? '' : ` in network namespace ${netns}`;
  const ip = (args: readonly string[], call: IpCallOptions): Promise<RunResult> => runner.run({
    file: 'ip', args: ipArgs(netns, args), env: ENV, timeoutMs: call.timeoutMs, ...(call.signal === undefined ? {} : { signal: call.signal }),
  });

  const list = async (call: IpCallOptions): Promise<IpResult<readonly Ipv4Address[]>> => {
    const what = `cannot list IPv4 addresses${where}`;
    const result = await ip(['-j', '-4', 'addr', 'show'], call);
    const incomplete = notCompleted<readonly Ipv4Address[]>(result, what, 'ip (iproute2)');
    if (incomplete !== undefined) return incomplete;
    if (result.rc !== 0) return fail('FAILED', `${what}: ${why(result)}`);
    try {
      return { ok: true, value: parseIpAddrJson(result.stdout) };
    } catch (e) {
      return fail('FAILED', `${what}: ${e instanceof Error ? e.message : String(e)}`);
    }
  };

  return {
    list,

    async interfaceExists(name, call) {
      const what = `cannot look up interface ${name}${where}`;
      const result = await ip(['-j', 'link', 'show', 'dev', name], call);
      const incomplete = notCompleted<boolean>(result, what, 'ip (iproute2)');
      if (incomplete !== undefined) return incomplete;
      if (result.rc === 0) return { ok: true, value: true };
      if (NO_DEVICE.test(result.stderr)) return { ok: true, value: false };
      return fail('FAILED', `${what}: ${why(result)}`);
    },

    async add(a, call) {
      const what = `cannot add ${a.address}/${a.prefixLength} to ${a.interface}${where}`;
      const result = await ip(addArgs(a), call);
      const incomplete = notCompleted<'added' | 'present'>(result, what, 'ip (iproute2)');
      if (incomplete !== undefined) return incomplete;
      if (result.rc === 0) return { ok: true, value: 'added' };
      // EEXIST: "Address already assigned" (iproute2 6) or "RTNETLINK answers: File exists" (older).
      if (/already assigned|File exists/i.test(result.stderr)) return { ok: true, value: 'present' };
      if (NO_DEVICE.test(result.stderr)) return fail('NO_SUCH_INTERFACE', `${what}: interface ${a.interface} does not exist`);
      return fail('FAILED', `${what}: ${why(result)}`);
    },

    async remove(a, call) {
      const what = `cannot remove ${a.address}/${a.prefixLength} from ${a.interface}${where}`;
      const result = await ip(removeArgs(a), call);
      const incomplete = notCompleted<'removed' | 'absent'>(result, what, 'ip (iproute2)');
      if (incomplete !== undefined) return incomplete;
      if (result.rc === 0) return { ok: true, value: 'removed' };
      // EADDRNOTAVAIL: "Address not found" (iproute2 6) or "Cannot assign requested address" (older).
      if (/Address not found|Cannot assign requested address/i.test(result.stderr)) return { ok: true, value: 'absent' };
      if (NO_DEVICE.test(result.stderr)) return fail('NO_SUCH_INTERFACE', `${what}: interface ${a.interface} does not exist`);
      return fail('FAILED', `${what}: ${why(result)}`);
    },

    async interfaceForSubnet(address, call) {
      const listed = await list(call);
      return listed.ok ? { ok: true, value: interfaceForSubnet(listed.value, address) } : listed;
    },

    async announce(iface, address, call) {
      const what = `gratuitous ARP for ${address} on ${iface}${where} failed`;
      const { file, args } = arpingCommand(netns, iface, address);
      const run = runner.run({ file, args, env: ENV, timeoutMs: call.timeoutMs, ...(call.signal === undefined ? {} : { signal: call.signal }) });
      const result = await settledWithin(clock, run, ARPING_SETTLE_MS);
      if (result === 'running') return { ok: true, value: undefined };
      const incomplete: IpResult<void> | undefined = notCompleted(result, what, 'arping (iputils-arping)');
      if (incomplete !== undefined) return incomplete;
      // `ip netns exec` exits 255 when it cannot run arping at all.
      if (netns !== undefined && result.rc === 255 && /arping.*No such file/i.test(result.stderr)) return fail('NOT_INSTALLED', `${what}: arping (iputils-arping) is not installed`);
      if (result.rc === 0) return { ok: true, value: undefined };
      return fail('FAILED', `${what}: ${why(result)}`);
    },

    async checkAnnouncer() {
      for (const dir of SANE_PATH.split(':')) {
        try {
          await access(join(dir, 'arping'), constants.X_OK);
          return { ok: true, value: undefined };
        } catch {
          // try the next directory
        }
      }
      return fail('NOT_INSTALLED', `arping (iputils-arping) is not installed: no gratuitous ARP after takeover (searched ${SANE_PATH})`);
    },
  };
}
