/**
 * What changed between two inventories, as sentences, counting only what an operator acts on: a NIC or volume
 * appearing or going, admin state, carrier, addresses, speed and MTU; a volume's health, read-only flag and usage
 * in whole percent. Byte and error counters move all the time and are left to the metrics.
 */
import type { NicInfo, NodeInventory, VolumeInfo } from '../../common/model/inventory.js';

function byKey<T>(items: readonly T[], key: (item: T) => string): Map<string, T> {
  return new Map(items.map((item) => [key(item), item]));
}

function nicChanges(before: NicInfo, after: NicInfo): string[] {
  const out: string[] = [];
  const name = after.name;
  if (before.up !== after.up) out.push(`NIC ${name} was set ${after.up ? 'up' : 'down'}`);
  if (before.carrier !== after.carrier) out.push(after.carrier ? `NIC ${name} has a link again` : `NIC ${name} lost its link`);
  if (before.speedMbps !== after.speedMbps) out.push(`NIC ${name} speed ${before.speedMbps ?? '?'} -> ${after.speedMbps ?? '?'} Mb/s`);
  if (before.mtu !== after.mtu) out.push(`NIC ${name} MTU ${before.mtu ?? '?'} -> ${after.mtu ?? '?'}`);
  if (before.mac !== after.mac) out.push(`NIC ${name} MAC ${before.mac ?? 'none'} -> ${after.mac ?? 'none'}`);
  const cidrs = (nic: NicInfo) => new Set(nic.addresses.map((a) => `${a.address}/${a.prefix}`));
  const was = cidrs(before);
  const is = cidrs(after);
  for (const a of is) if (!was.has(a)) out.push(`address ${a} added to NIC ${name}`);
  for (const a of was) if (!is.has(a)) out.push(`address ${a} removed from NIC ${name}`);
  return out;
}

function volumeChanges(before: VolumeInfo, after: VolumeInfo): string[] {
  const out: string[] = [];
  const mount = after.mount;
  if (before.health !== after.health) {
    const why = after.healthReasons.length > 0 ? `: ${after.healthReasons.join('; ')}` : '';
    out.push(`volume ${mount} health ${before.health} -> ${after.health}${why}`);
  }
  if (before.readOnly !== after.readOnly) out.push(`volume ${mount} is now ${after.readOnly ? 'read-only' : 'writable'}`);
  if (Math.floor(before.usedPercent) !== Math.floor(after.usedPercent)) {
    out.push(`volume ${mount} usage ${Math.floor(before.usedPercent)}% -> ${Math.floor(after.usedPercent)}%`);
  }
  if (before.device !== after.device) out.push(`volume ${mount} device ${before.device} -> ${after.device}`);
  return out;
}

/** Empty when nothing an operator cares about changed. */
export function inventoryChanges(before: NodeInventory, after: NodeInventory): string[] {
  const out: string[] = [];
  const nicsBefore = byKey(before.nics, (n) => n.name);
  const nicsAfter = byKey(after.nics, (n) => n.name);
  for (const [name, nic] of nicsAfter) {
    const old = nicsBefore.get(name);
    if (old === undefined) out.push(`NIC ${name} appeared`);
    else out.push(...nicChanges(old, nic));
  }
  for (const name of nicsBefore.keys()) if (!nicsAfter.has(name)) out.push(`NIC ${name} is gone`);

  const volumesBefore = byKey(before.volumes, (v) => v.mount);
  const volumesAfter = byKey(after.volumes, (v) => v.mount);
  for (const [mount, volume] of volumesAfter) {
    const old = volumesBefore.get(mount);
    if (old === undefined) out.push(`volume ${mount} (${volume.device}) was mounted`);
    else out.push(...volumeChanges(old, volume));
  }
  for (const mount of volumesBefore.keys()) if (!volumesAfter.has(mount)) out.push(`volume ${mount} was unmounted`);

  const faultsBefore = new Set(before.faults);
  const faultsAfter = new Set(after.faults);
  for (const f of faultsAfter) if (!faultsBefore.has(f)) out.push(`inventory fault: ${f}`);
  for (const f of faultsBefore) if (!faultsAfter.has(f)) out.push(`inventory fault cleared: ${f}`);
  return out;
}
