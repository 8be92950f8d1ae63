/**
 * Inventory on Windows: one PowerShell run (Get-NetAdapter, Get-NetAdapterStatistics, Get-NetIPAddress,
 * Get-Volume) printing one JSON document, parsed here. Nothing of ours is embedded in the script.
 *
 * PowerShell versions differ in how ConvertTo-Json writes enums (5.1: numbers, 7 with type data: names) and chars
 * (DriveLetter), and write a one-element array as the element itself: the parser accepts each form. Only fixed
 * drives are volumes (no CD-ROM, no removable media). Windows has no root reserve: free and available are equal.
 */
import type { NicAddress, NicInfo, VolumeHealth, VolumeInfo } from '../../common/model/inventory.js';
import type { ProcessRunner } from '../platform/types.js';
import { definedOnly, errorText, type InventoryReading, type InventorySource } from './types.js';

export interface WindowsInventoryOptions {
  readonly runner: ProcessRunner;
  readonly powershell?: string;
  /** PowerShell's environment (it needs SystemRoot); defaults to the essentials of ours. */
  readonly env?: Readonly<Record<string, string>>;
  readonly timeoutMs?: number;
}

/** Prints {"adapters":[...],"statistics":[...],"addresses":[...],"volumes":[...]}. */
export const INVENTORY_SCRIPT = [
  "$ErrorActionPreference = 'Stop'",
  '$n = @(Get-NetAdapter | Select-Object Name, AdminStatus, MediaConnectionState, Status, MacAddress, MtuSize, Speed)',
  '$s = @(Get-NetAdapterStatistics -ErrorAction SilentlyContinue | Select-Object Name, ReceivedBytes, SentBytes, ReceivedPacketErrors, OutboundPacketErrors)',
  '$a = @(Get-NetIPAddress | Select-Object InterfaceAlias, IPAddress, PrefixLength, AddressFamily)',
  '$v = @(Get-Volume | Select-Object DriveLetter, Path, FileSystemLabel, FileSystem, DriveType, Size, SizeRemaining, HealthStatus, OperationalStatus,' +
    ' @{ n = \'ReadOnly\'; e = { try { [bool]($_ | Get-Partition -ErrorAction Stop).IsReadOnly } catch { $false } } })',
  'ConvertTo-Json -Compress -Depth 4 -InputObject @{ adapters = $n; statistics = $s; addresses = $a; volumes = $v }',
].join('; ');

export function powershellInventoryArgs(): string[] {
  return ['-NoLogo', '-NoProfile', '-NonInteractive', '-ExecutionPolicy', 'Bypass', '-Command', INVENTORY_SCRIPT];
}

type Json = Record<string, unknown>;

function isRecord(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** ConvertTo-Json writes a one-element array as the element itself. */
function records(value: unknown): Json[] {
  if (value === undefined || value === null) return [];
  return (Array.isArray(value) ? value : [value]).filter(isRecord);
}

function num(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/** An enum as PowerShell wrote it: its number or its name. */
function enumIs(value: unknown, number: number, name: string): boolean {
  return value === number || (typeof value === 'string' && value.toLowerCase() === name.toLowerCase());
}

// MSFT_NetAdapter: AdminStatus 1 Up, 2 Down; MediaConnectionState 1 Connected, 2 Disconnected.
function parseAdapter(a: Json, addresses: readonly NicAddress[], stats: Json | undefined): NicInfo | undefined {
  if (typeof a.Name !== 'string') return undefined;
  const status = typeof a.Status === 'string' ? a.Status : '';
  const up = a.AdminStatus === undefined ? status !== 'Disabled' : enumIs(a.AdminStatus, 1, 'Up');
  const carrier = a.MediaConnectionState === undefined ? status === 'Up' : enumIs(a.MediaConnectionState, 1, 'Connected');
  const speed = num(a.Speed);
  return {
    name: a.Name,
    up,
    carrier,
    addresses,
    ...definedOnly({
      mac: typeof a.MacAddress === 'string' && a.MacAddress !== '' ? a.MacAddress.replace(/-/g, ':').toLowerCase() : undefined,
      mtu: num(a.MtuSize),
      speedMbps: speed !== undefined && speed > 0 ? speed / 1_000_000 : undefined,
      rxBytes: num(stats?.ReceivedBytes),
      txBytes: num(stats?.SentBytes),
      rxErrors: num(stats?.ReceivedPacketErrors),
      txErrors: num(stats?.OutboundPacketErrors),
    }),
  };
}

function parseAddress(a: Json): NicAddress | undefined {
  const prefix = num(a.PrefixLength);
  if (typeof a.IPAddress !== 'string' || prefix === undefined) return undefined;
  // AddressFamily: 2 IPv4, 23 IPv6.
  const family = enumIs(a.AddressFamily, 23, 'IPv6') || a.IPAddress.includes(':') ? 'ipv6' : 'ipv4';
  // Link-local IPv6 addresses carry their zone: fe80::1%12.
  return { address: a.IPAddress.replace(/%.*$/, ''), prefix, family };
}

// MSFT_Volume: HealthStatus 0 Healthy, 1 Warning, 2 Unhealthy; DriveType 3 Fixed.
function volumeHealth(v: Json): VolumeHealth {
  if (enumIs(v.HealthStatus, 0, 'Healthy')) return 'ok';
  if (enumIs(v.HealthStatus, 1, 'Warning')) return 'degraded';
  if (enumIs(v.HealthStatus, 2, 'Unhealthy')) return 'failed';
  return 'unknown';
}

function driveLetter(value: unknown): string | undefined {
  if (typeof value === 'string' && /^[A-Za-z]$/.test(value)) return value.toUpperCase();
  if (typeof value === 'number' && value >= 65 && value <= 122) return driveLetter(String.fromCharCode(value));
  return undefined;
}

function parseVolume(v: Json): VolumeInfo | undefined {
  const total = num(v.Size);
  const free = num(v.SizeRemaining);
  if (!enumIs(v.DriveType, 3, 'Fixed') || total === undefined || free === undefined || total <= 0) return undefined;
  const letter = driveLetter(v.DriveLetter);
  const path = typeof v.Path === 'string' ? v.Path : '';
  const mount = letter === undefined ? path : `${letter}:\\`;
  const health = volumeHealth(v);
  const operational = (Array.isArray(v.OperationalStatus) ? v.OperationalStatus : [v.OperationalStatus]).filter((s) => typeof s === 'string' || typeof s === 'number');
  const label = typeof v.FileSystemLabel === 'string' && v.FileSystemLabel !== '' ? ` (${v.FileSystemLabel})` : '';
  return {
    mount,
    device: path,
    fsType: typeof v.FileSystem === 'string' ? v.FileSystem : '',
    totalBytes: total,
    freeBytes: free,
    availableBytes: free,
    usedPercent: Math.round(((total - free) / total) * 10_000) / 100,
    readOnly: v.ReadOnly === true,
    health,
    healthReasons: health === 'ok' ? [] : [`volume ${mount}${label} reports health ${String(v.HealthStatus)}, operational status ${operational.join(', ') || 'unknown'}`],
  };
}

/** C:\ before D:\ before the volumes that have no letter. */
function byDriveLetterFirst(a: VolumeInfo, b: VolumeInfo): number {
  const unlettered = (v: VolumeInfo) => (v.mount.startsWith('\\') ? 1 : 0);
  return unlettered(a) - unlettered(b) || a.mount.localeCompare(b.mount);
}

export function parseWindowsInventory(text: string): InventoryReading {
  const parsed: unknown = JSON.parse(text);
  if (!isRecord(parsed)) throw new Error('the PowerShell inventory is not a JSON object');
  const addressesByNic = new Map<string, NicAddress[]>();
  for (const a of records(parsed.addresses)) {
    const address = parseAddress(a);
    if (address === undefined || typeof a.InterfaceAlias !== 'string') continue;
    addressesByNic.set(a.InterfaceAlias, [...(addressesByNic.get(a.InterfaceAlias) ?? []), address]);
  }
  const stats = new Map(records(parsed.statistics).filter((s) => typeof s.Name === 'string').map((s) => [s.Name as string, s]));
  const faults: string[] = [];
  const nics: NicInfo[] = [];
  for (const a of records(parsed.adapters)) {
    const nic = parseAdapter(a, addressesByNic.get(String(a.Name)) ?? [], stats.get(String(a.Name)));
    if (nic === undefined) faults.push(`a network adapter without a name was skipped: ${JSON.stringify(a).slice(0, 200)}`);
    else nics.push(nic);
  }
  const volumes = records(parsed.volumes).map(parseVolume).filter((v): v is VolumeInfo => v !== undefined);
  return { nics: nics.sort((a, b) => a.name.localeCompare(b.name)), volumes: volumes.sort(byDriveLetterFirst), faults };
}

function defaultEnv(): Record<string, string> {
  const root = process.env.SystemRoot ?? 'C:\\Windows';
  return { SystemRoot: root, windir: root, PATH: `${root}\\System32;${root}\\System32\\WindowsPowerShell\\v1.0` };
}

/** collect() rejects when PowerShell gives nothing usable: then nothing at all is known. */
export function createWindowsInventorySource(options: WindowsInventoryOptions): InventorySource {
  const file = options.powershell ?? 'powershell.exe';
  const env = options.env ?? defaultEnv();
  const timeoutMs = options.timeoutMs ?? 20_000;
  return {
    async collect() {
      const result = await options.runner.run({ file, args: powershellInventoryArgs(), env, timeoutMs });
      const what = 'cannot read the inventory from PowerShell';
      if (result.timedOut) throw new Error(`${what}: timeout after ${result.durationMs} ms`);
      if (result.spawnError !== undefined) throw new Error(`${what}: cannot run ${file}: ${result.spawnError.message}`);
      if (result.rc !== 0) throw new Error(`${what}: exit code ${result.rc}: ${result.stderrTail.trim()}`);
      try {
        return parseWindowsInventory(result.stdout);
      } catch (e) {
        throw new Error(`${what}: ${errorText(e)}`, { cause: e });
      }
    },
  };
}
