/**
 * IPv4 addresses on Windows: `netsh interface ipv4 add|delete address` to change them, one PowerShell query
 * (Get-NetIPAddress, Get-NetIPInterface) to list them. Windows has no address labels, and it announces an added
 * address itself (gratuitous ARP as part of duplicate address detection), so announce() runs nothing.
 *
 * Nothing here is ever passed through a shell: arguments go to the program as an argv, and no interface name is
 * ever embedded in PowerShell code (we list everything and compare in TypeScript, which also sidesteps
 * -InterfaceAlias's wildcards).
 */
import { interfaceForSubnet, prefixToMask } from '../ipv4.js';
import type { IpAddressManager, IpCallOptions, IpErrorCode, IpResult, Ipv4Address, Ipv4Assignment, ProcessRunner, RunResult } from '../types.js';

export interface WindowsIpOptions {
  readonly runner: ProcessRunner;
  /** The environment of netsh and PowerShell (they need SystemRoot); defaults to the essentials of ours. */
  readonly env?: Readonly<Record<string, string>>;
  readonly netsh?: string;
  readonly powershell?: string;
}

/**
 * netsh's value for an interface name, in double quotes so that "Ethernet 2" stays one value. netsh has no escape
 * for a double quote inside one, so such a name (or one with control characters) is refused, never mangled.
 */
export function netshQuote(name: string): string {
  const bad = netshNameError(name);
  if (bad !== undefined) throw new Error(bad);
  return `"${name}"`;
}

/** Why netsh cannot take this interface name; undefined when it can. */
export function netshNameError(name: string): string | undefined {
  // eslint-disable-next-line no-control-regex
  return name === '' || /["\u0000-\u001f\u007f]/.test(name) ? `interface name ${JSON.stringify(name)} cannot be passed to netsh` : undefined;
}

/**
 * store=active: the address lives until reboot only. A node that reboots must not come back holding a virtual IP
 * that another node has taken over since.
 */
export function netshAddArgs(a: Ipv4Assignment): string[] {
  return ['interface', 'ipv4', 'add', 'address', `name=${netshQuote(a.interface)}`, `address=${a.address}`, `mask=${prefixToMask(a.prefixLength)}`, 'store=active'];
}

export function netshDeleteArgs(a: Ipv4Assignment): string[] {
  return ['interface', 'ipv4', 'delete', 'address', `name=${netshQuote(a.interface)}`, `address=${a.address}`];
}

/** Prints {"addresses":[{InterfaceAlias, IPAddress, PrefixLength}...], "interfaces":["Ethernet", ...]}. */
export const LIST_SCRIPT = [
  "$ErrorActionPreference = 'Stop'",
  '$a = @(Get-NetIPAddress -AddressFamily IPv4 | Select-Object InterfaceAlias, IPAddress, PrefixLength)',
  '$i = @(Get-NetIPInterface -AddressFamily IPv4 | ForEach-Object { $_.InterfaceAlias })',
  'ConvertTo-Json -Compress -Depth 3 -InputObject @{ addresses = $a; interfaces = $i }',
].join('; ');

export function powershellListArgs(): string[] {
  return ['-NoLogo', '-NoProfile', '-NonInteractive', '-ExecutionPolicy', 'Bypass', '-Command', LIST_SCRIPT];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/** ConvertTo-Json writes a one-element array as the element itself. */
function asArray(value: unknown): unknown[] {
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? value : [value];
}

export function parseWindowsListing(text: string): { addresses: Ipv4Address[]; interfaces: string[] } {
  const parsed: unknown = JSON.parse(text);
  if (!isRecord(parsed)) throw new Error('the PowerShell listing is not a JSON object');
  const addresses: Ipv4Address[] = [];
  for (const a of asArray(parsed.addresses)) {
    if (!isRecord(a) || typeof a.InterfaceAlias !== 'string' || typeof a.IPAddress !== 'string' || typeof a.PrefixLength !== 'number') continue;
    addresses.push({ interface: a.InterfaceAlias, address: a.IPAddress, prefixLength: a.PrefixLength, label: '' });
  }
  const interfaces = asArray(parsed.interfaces).filter((n): n is string => typeof n === 'string');
  return { addresses, interfaces: [...new Set(interfaces)] };
}

function fail<T>(code: IpErrorCode, message: string): IpResult<T> {
  return { ok: false, error: { code, message } };
}

/** netsh prints its errors on stdout. */
function why(result: RunResult): string {
  const text = `${result.stdout}\n${result.stderrTail}`.trim().split(/\r?\n/).filter((l) => l.trim() !== '').join(' ');
  return text === '' ? `exit code ${result.rc}` : text;
}

function notCompleted<T>(result: RunResult, what: string, program: string): IpResult<T> | undefined {
  if (result.timedOut) return fail('TIMEOUT', `${what}: timeout after ${result.durationMs} ms`);
  if (result.aborted) return fail('ABORTED', `${what}: aborted`);
  if (result.spawnError !== undefined) {
    return fail(result.spawnError.code === 'ENOENT' ? 'NOT_INSTALLED' : 'FAILED', `${what}: cannot run ${program}: ${result.spawnError.message}`);
  }
  return undefined;
}

function defaultEnv(): Record<string, string> {
  const root = process.env.SystemRoot ?? 'C:\\Windows';
  return { SystemRoot: root, windir: root, PATH: `${root}\\System32;${root}\\System32\\WindowsPowerShell\\v1.0` };
}

export function createWindowsIpAddressManager(options: WindowsIpOptions): IpAddressManager {
  const { runner } = options;
  const env = options.env ?? defaultEnv();
  const netshFile = options.netsh ?? 'netsh.exe';
  const powershellFile = options.powershell ?? 'powershell.exe';
  const run = (file: string, args: readonly string[], call: IpCallOptions): Promise<RunResult> =>
    runner.run({ file, args, env, timeoutMs: call.timeoutMs, ...(call.signal === undefined ? {} : { signal: call.signal }) });

  const listing = async (call: IpCallOptions): Promise<IpResult<{ addresses: Ipv4Address[]; interfaces: string[] }>> => {
    const what = 'cannot list IPv4 addresses';
    const result = await run(powershellFile, powershellListArgs(), call);
    const incomplete = notCompleted<{ addresses: Ipv4Address[]; interfaces: string[] }>(result, what, 'PowerShell');
    if (incomplete !== undefined) return incomplete;
    if (result.rc !== 0) return fail('FAILED', `${what}: ${why(result)}`);
    try {
      return { ok: true, value: parseWindowsListing(result.stdout) };
    } catch (e) {
      return fail('FAILED', `${what}: ${e instanceof Error ? e.message : String(e)}`);
    }
  };


  return {
    async list(call) {
      const listed = await listing(call);
      return listed.ok ? { ok: true, value: listed.value.addresses } : listed;
    },

    async interfaceExists(name, call) {
      const listed = await listing(call);
      return listed.ok ? { ok: true, value: listed.value.interfaces.includes(name) || listed.value.addresses.some((a) => a.interface === name) } : listed;
    },

    async add(a, call) {
      const what = `cannot add ${a.address}/${a.prefixLength} to ${a.interface}`;
      const badName = netshNameError(a.interface);
      if (badName !== undefined) return fail('FAILED', `${what}: ${badName}`);
      const result = await run(netshFile, netshAddArgs(a), call);
      const incomplete = notCompleted<'added' | 'present'>(result, what, 'netsh');
      if (incomplete !== undefined) return incomplete;
      if (result.rc === 0) return { ok: true, value: 'added' };
      if (/object already exists/i.test(why(result))) return { ok: true, value: 'present' };
      if (/syntax is incorrect|not found|no such interface/i.test(why(result))) return fail('NO_SUCH_INTERFACE', `${what}: interface ${a.interface} does not exist`);
      return fail('FAILED', `${what}: ${why(result)}`);
    },

    async remove(a, call) {
      const what = `cannot remove ${a.address}/${a.prefixLength} from ${a.interface}`;
      const badName = netshNameError(a.interface);
      if (badName !== undefined) return fail('FAILED', `${what}: ${badName}`);
      const result = await run(netshFile, netshDeleteArgs(a), call);
      const incomplete = notCompleted<'removed' | 'absent'>(result, what, 'netsh');
      if (incomplete !== undefined) return incomplete;
      if (result.rc === 0) return { ok: true, value: 'removed' };
      if (/element not found/i.test(why(result))) return { ok: true, value: 'absent' };
      if (/syntax is incorrect/i.test(why(result))) return fail('NO_SUCH_INTERFACE', `${what}: interface ${a.interface} does not exist`);
      return fail('FAILED', `${what}: ${why(result)}`);
    },

    async interfaceForSubnet(address, call) {
      const listed = await listing(call);
      return listed.ok ? { ok: true, value: interfaceForSubnet(listed.value.addresses, address) } : listed;
    },

    // Windows sends gratuitous ARP itself when an address is added (duplicate address detection).
    announce: async () => ({ ok: true, value: undefined }),
    checkAnnouncer: async () => ({ ok: true, value: undefined }),
  };
}
