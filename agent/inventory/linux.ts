/**
 * Inventory on Linux: NICs from /sys/class/net and os.networkInterfaces(); volumes from /proc/self/mounts, sizes
 * from statfs, health from sysfs (a disk's device/state) and /proc/mdstat (software RAID).
 *
 * Which mounts are volumes: those whose source is a block device (/dev/...), except squashfs (snap and live
 * images: read-only and always full, so only noise), plus network file systems (nfs, cifs, ceph, glusterfs) a
 * mirror may sit on. proc, sysfs, cgroup, devtmpfs and the like never hold data; tmpfs and overlay hold data
 * but are memory or a container's view of another volume, so they come only when `includeFsTypes` asks. A device
 * mounted several times (bind mounts) is listed once, at its shortest mount point, as df does.
 *
 * A dead NFS server or a dying disk can hang statfs for minutes, and each hung call holds one of libuv's four
 * threads. So a volume whose previous probe has not answered is not probed again, and one that does not answer
 * within `probeTimeoutMs` is reported with health 'unknown' and the reason, never awaited.
 */
import { readdir, readFile, realpath, stat, statfs } from 'node:fs/promises';
import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os';
import { basename, dirname } from 'node:path';
import type { NicAddress, NicInfo, VolumeHealth, VolumeInfo } from '../../common/model/inventory.js';
import { systemClock, type Clock } from '../util/clock.js';
import { mdHealth, parseMdstat, type MdArray } from './mdstat.js';
import { definedOnly, errorText, type InventoryReading, type InventorySource } from './types.js';

export interface LinuxInventoryOptions {
  /** Where sysfs and procfs are; tests point them at a tree of their own. */
  readonly sysRoot?: string;
  readonly mountsPath?: string;
  readonly mdstatPath?: string;
  /** File system types listed although they are not block devices, e.g. ['tmpfs', 'overlay']. */
  readonly includeFsTypes?: readonly string[];
  readonly probeTimeoutMs?: number;
  readonly clock?: Clock;
}

export interface MountEntry {
  readonly device: string;
  readonly mount: string;
  readonly fsType: string;
  readonly options: readonly string[];
}

const NETWORK_FS = new Set(['nfs', 'nfs4', 'cifs', 'smb3', 'ceph', 'glusterfs', 'fuse.glusterfs']);
const NOISE_BLOCK_FS = new Set(['squashfs']);
const IFF_UP = 0x1;

/** /proc/self/mounts writes space, tab, newline and backslash as octal escapes (\040 ...). */
function unescapeMountField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

export function parseMounts(text: string): MountEntry[] {
  const entries: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const [device, mount, fsType, options] = line.split(' ');
    if (device === undefined || mount === undefined || fsType === undefined || options === undefined) continue;
    entries.push({ device: unescapeMountField(device), mount: unescapeMountField(mount), fsType, options: options.split(',') });
  }
  return entries;
}

/** The mounts that are volumes (see the header), one per device, at its shortest mount point. */
export function selectVolumeMounts(entries: readonly MountEntry[], includeFsTypes: readonly string[] = []): MountEntry[] {
  const include = new Set(includeFsTypes);
  // A later mount on the same point hides the earlier one.
  const visible = new Map<string, MountEntry>();
  for (const entry of entries) visible.set(entry.mount, entry);
  const byDevice = new Map<string, MountEntry>();
  for (const entry of visible.values()) {
    const blockDevice = entry.device.startsWith('/dev/');
    const wanted = include.has(entry.fsType) || NETWORK_FS.has(entry.fsType) || (blockDevice && !NOISE_BLOCK_FS.has(entry.fsType));
    if (!wanted) continue;
    // Only a block device names one file system; "tmpfs" or "server:/export" may name many.
    const key = blockDevice ? entry.device : `mount:${entry.mount}`;
    const seen = byDevice.get(key);
    if (seen === undefined || entry.mount.length < seen.mount.length) byDevice.set(key, entry);
  }
  return [...byDevice.values()].sort((a, b) => a.mount.localeCompare(b.mount));
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch {
    return undefined; // absent, or EINVAL (carrier and speed of a NIC that is down)
  }
}

function toNumber(text: string | undefined): number | undefined {
  if (text === undefined || text === '') return undefined;
  const n = Number(text);
  return Number.isFinite(n) ? n : undefined;
}

function addressesOf(infos: readonly NetworkInterfaceInfo[] | undefined): NicAddress[] {
  const out: NicAddress[] = [];
  for (const info of infos ?? []) {
    const prefix = info.cidr === null ? undefined : Number(info.cidr.slice(info.cidr.lastIndexOf('/') + 1));
    if (prefix === undefined || !Number.isInteger(prefix)) continue;
    out.push({ address: info.address, prefix, family: info.family === 'IPv6' ? 'ipv6' : 'ipv4' });
  }
  return out;
}

async function readNic(dir: string, name: string, infos: readonly NetworkInterfaceInfo[] | undefined): Promise<NicInfo> {
  const base = `${dir}/${name}`;
  const [flags, carrier, address, mtu, speed, rxBytes, txBytes, rxErrors, txErrors] = await Promise.all([
    readText(`${base}/flags`), readText(`${base}/carrier`), readText(`${base}/address`), readText(`${base}/mtu`), readText(`${base}/speed`),
    readText(`${base}/statistics/rx_bytes`), readText(`${base}/statistics/tx_bytes`),
    readText(`${base}/statistics/rx_errors`), readText(`${base}/statistics/tx_errors`),
  ]);
  const speedMbps = toNumber(speed);
  const optional = {
    // Loopback and tunnels have an all-zero or empty address: no MAC to show.
    mac: address !== undefined && /[1-9a-f]/i.test(address) ? address : undefined,
    mtu: toNumber(mtu),
    // -1 (unknown) for virtual NICs.
    speedMbps: speedMbps !== undefined && speedMbps > 0 ? speedMbps : undefined,
    rxBytes: toNumber(rxBytes), txBytes: toNumber(txBytes), rxErrors: toNumber(rxErrors), txErrors: toNumber(txErrors),
  };
  return {
    name,
    up: ((toNumber(flags) ?? 0) & IFF_UP) !== 0,
    carrier: carrier === '1',
    addresses: addressesOf(infos),
    ...definedOnly(optional),
  };
}

export async function collectLinuxNics(sysRoot = '/sys'): Promise<{ nics: NicInfo[]; faults: string[] }> {
  const dir = `${sysRoot}/class/net`;
  let names: string[];
  try {
    names = (await readdir(dir)).sort();
  } catch (e) {
    return { nics: [], faults: [`cannot list network interfaces in ${dir}: ${errorText(e)}`] };
  }
  const infos = networkInterfaces();
  return { nics: await Promise.all(names.map((name) => readNic(dir, name, infos[name]))), faults: [] };
}

const HEALTH_RANK: Record<VolumeHealth, number> = { ok: 0, unknown: 1, degraded: 2, failed: 3 };

interface Health {
  health: VolumeHealth;
  reasons: string[];
}

function worst(parts: readonly Health[]): Health {
  let health: VolumeHealth = 'ok';
  for (const p of parts) if (HEALTH_RANK[p.health] > HEALTH_RANK[health]) health = p.health;
  return { health, reasons: parts.flatMap((p) => p.reasons) };
}

/**
 * The health of a block device by its kernel name (sda1, dm-0, md0): an md array by /proc/mdstat; a partition by
 * its disk; a device-mapper volume (LVM, LUKS) by the worst of the devices under it; a disk by device/state.
 */
export async function blockDeviceHealth(name: string, sysRoot: string, arrays: readonly MdArray[], depth = 0): Promise<Health> {
  const dir = `${sysRoot}/class/block/${name}`;
  let real: string;
  try {
    real = await realpath(dir);
  } catch {
    return { health: 'unknown', reasons: [`block device ${name} is not in ${sysRoot}/class/block`] };
  }
  if (depth > 8) return { health: 'unknown', reasons: [`block device ${name} is nested too deep to judge`] };
  const array = arrays.find((a) => a.name === name);
  if (array !== undefined) return mdHealth(array);
  if ((await readText(`${dir}/partition`)) !== undefined) return blockDeviceHealth(basename(dirname(real)), sysRoot, arrays, depth + 1);
  let below: string[] = [];
  try {
    below = await readdir(`${dir}/slaves`);
  } catch {
    // a disk or loop device has no slaves/ directory on older kernels
  }
  if (below.length > 0) return worst(await Promise.all(below.map((b) => blockDeviceHealth(b, sysRoot, arrays, depth + 1))));
  const state = await readText(`${dir}/device/state`);
  if (state !== undefined && state !== 'running') {
    return { health: 'failed', reasons: [`disk ${name} is ${state} (its device state is not 'running')`] };
  }
  return { health: 'ok', reasons: [] };
}

/** Linux's dev_t layout (new_decode_dev), for st_dev as a bigint. */
export function majorMinor(dev: bigint): string {
  const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn);
  const minor = (dev & 0xffn) | ((dev >> 12n) & ~0xffn);
  return `${major}:${minor}`;
}

interface Probe {
  readonly size: { bsize: number; blocks: number; bfree: number; bavail: number };
  /** "major:minor" of the file system's device. */
  readonly dev: string;
}

export function createLinuxInventorySource(options: LinuxInventoryOptions = {}): InventorySource {
  const sysRoot = options.sysRoot ?? '/sys';
  const mountsPath = options.mountsPath ?? '/proc/self/mounts';
  const mdstatPath = options.mdstatPath ?? '/proc/mdstat';
  const probeTimeoutMs = options.probeTimeoutMs ?? 2_000;
  const clock = options.clock ?? systemClock;
  /** Probes still running, by mount point: never started twice (see the header). */
  const inFlight = new Map<string, Promise<Probe>>();

  const probe = (mount: string): Promise<Probe | 'timeout'> => {
    let running = inFlight.get(mount);
    if (running === undefined) {
      const started = Promise.all([statfs(mount), stat(mount, { bigint: true })]).then(([s, st]) => ({ size: s, dev: majorMinor(st.dev) }));
      running = started;
      inFlight.set(mount, started);
      started.then(() => inFlight.delete(mount), () => inFlight.delete(mount));
    }
    const answer = running;
    return new Promise((resolve, reject) => {
      const timer = clock.setTimer(probeTimeoutMs, () => resolve('timeout'));
      answer.then((v) => { timer.dispose(); resolve(v); }, (e: unknown) => { timer.dispose(); reject(e instanceof Error ? e : new Error(String(e))); });
    });
  };

  const volume = async (entry: MountEntry, arrays: readonly MdArray[]): Promise<VolumeInfo> => {
    const base = { mount: entry.mount, device: entry.device, fsType: entry.fsType, readOnly: entry.options.includes('ro') };
    const empty = { ...base, totalBytes: 0, freeBytes: 0, availableBytes: 0, usedPercent: 0 };
    let answer: Probe | 'timeout';
    try {
      answer = await probe(entry.mount);
    } catch (e) {
      return { ...empty, health: 'unknown', healthReasons: [`cannot read the size of ${entry.mount}: ${errorText(e)}`] };
    }
    if (answer === 'timeout') {
      return { ...empty, health: 'unknown', healthReasons: [`${entry.mount} did not answer statfs within ${probeTimeoutMs} ms (a hung disk or network file system?)`] };
    }
    const { bsize, blocks, bfree, bavail } = answer.size;
    const used = (blocks - bfree) * bsize;
    const usable = used + bavail * bsize;
    let health: Health = { health: 'unknown', reasons: [] };
    if (entry.device.startsWith('/dev/')) {
      // Resolve by st_dev, not the mount's source: /dev/root, /dev/mapper/x and UUID links all end up here.
      const name = basename(await realpath(`${sysRoot}/dev/block/${answer.dev}`).catch(() => entry.device));
      health = await blockDeviceHealth(name, sysRoot, arrays);
    }
    return {
      ...base,
      totalBytes: blocks * bsize,
      freeBytes: bfree * bsize,
      availableBytes: bavail * bsize,
      usedPercent: usable === 0 ? 0 : Math.round((used / usable) * 10_000) / 100,
      health: health.health,
      healthReasons: health.reasons,
    };
  };

  return {
    async collect(): Promise<InventoryReading> {
      const faults: string[] = [];
      const nicsRead = collectLinuxNics(sysRoot);
      let mounts: MountEntry[] = [];
      try {
        mounts = selectVolumeMounts(parseMounts(await readFile(mountsPath, 'utf8')), options.includeFsTypes);
      } catch (e) {
        faults.push(`cannot list the mounted file systems in ${mountsPath}: ${errorText(e)}`);
      }
      // Absent without the md driver: then no array exists.
      const arrays = parseMdstat((await readText(mdstatPath)) ?? '');
      const volumes = await Promise.all(mounts.map((m) => volume(m, arrays)));
      const nics = await nicsRead;
      return { nics: nics.nics, volumes, faults: [...nics.faults, ...faults] };
    },
  };
}
