import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NicInfo, NodeInventory, VolumeInfo } from '../../../common/model/index.js';
import { inventoryChanges } from '../../../agent/inventory/changes.js';
import { InventoryMonitor } from '../../../agent/inventory/monitor.js';
import type { InventoryReading, InventorySource } from '../../../agent/inventory/types.js';
import { ManualClock } from '../heartbeat/helpers.js';

const eth0: NicInfo = { name: 'eth0', up: true, carrier: true, mtu: 1500, speedMbps: 1000, addresses: [{ address: '198.51.100.1', prefix: 24, family: 'ipv4' }], rxBytes: 10, txBytes: 20 };
const data: VolumeInfo = { mount: '/srv', device: '/dev/sdb1', fsType: 'xfs', totalBytes: 1000, freeBytes: 500, availableBytes: 500, usedPercent: 50.2, readOnly: false, health: 'ok', healthReasons: [] };

function inventory(nics: NicInfo[], volumes: VolumeInfo[], faults: string[] = []): NodeInventory {
  return { node: 'alpha', at: 0, nics, volumes, faults };
}

test('changes an operator cares about are reported; byte counters and sub-percent usage are not', () => {
  const base = inventory([eth0], [data]);
  assert.deepEqual(inventoryChanges(base, inventory([{ ...eth0, rxBytes: 999, txBytes: 999, rxErrors: 3 }], [{ ...data, usedPercent: 50.9, freeBytes: 491 }])), []);
  assert.deepEqual(inventoryChanges(base, inventory([{ ...eth0, carrier: false, addresses: [{ address: '198.51.100.50', prefix: 24, family: 'ipv4' }] }], [data])), [
    'NIC eth0 lost its link', 'address 198.51.100.50/24 added to NIC eth0', 'address 198.51.100.1/24 removed from NIC eth0',
  ]);
  assert.deepEqual(inventoryChanges(base, inventory([{ ...eth0, up: false, speedMbps: 100 }], [])), [
    'NIC eth0 was set down', 'NIC eth0 speed 1000 -> 100 Mb/s', 'volume /srv was unmounted',
  ]);
  assert.deepEqual(inventoryChanges(base, inventory([eth0], [{ ...data, usedPercent: 51, health: 'degraded', healthReasons: ['RAID array md0 runs on 1 of 2 devices [U_]'], readOnly: true }])), [
    'volume /srv health ok -> degraded: RAID array md0 runs on 1 of 2 devices [U_]', 'volume /srv is now read-only', 'volume /srv usage 50% -> 51%',
  ]);
  assert.deepEqual(inventoryChanges(inventory([], []), base), ['NIC eth0 appeared', 'volume /srv (/dev/sdb1) was mounted']);
  assert.deepEqual(inventoryChanges(base, inventory([eth0], [data], ['x'])), ['inventory fault: x']);
});

/** A source that answers with the readings a test queues, or throws them. */
class ScriptedSource implements InventorySource {
  calls = 0;
  constructor(private readonly answers: (InventoryReading | Error)[]) {}
  async collect(): Promise<InventoryReading> {
    const answer = this.answers[Math.min(this.calls++, this.answers.length - 1)]!;
    if (answer instanceof Error) throw answer;
    return answer;
  }
}

/** Lets the promise chains the monitor started settle. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

test('the monitor collects at once and then every interval, and dispose() leaves no timer', async () => {
  const clock = new ManualClock();
  const source = new ScriptedSource([{ nics: [eth0], volumes: [data], faults: [] }]);
  const monitor = new InventoryMonitor({ node: 'alpha', source, clock, intervalMs: 5_000 });
  assert.equal(monitor.current === undefined, true, 'nothing before the first collection');
  monitor.start();
  clock.advance(0);
  await settle();
  assert.equal(source.calls, 1);
  assert.equal(monitor.current?.nics[0]?.name, 'eth0');
  assert.equal(monitor.current?.at, clock.now());
  clock.advance(4_999);
  await settle();
  assert.equal(source.calls, 1);
  clock.advance(1);
  await settle();
  assert.equal(source.calls, 2);
  assert.equal(clock.pending, 1);
  monitor.dispose();
  assert.equal(clock.pending, 0);
  assert.throws(() => new InventoryMonitor({ node: 'alpha', source, intervalMs: 0 }), /intervalMs must be a positive number/);
});

test('a failed collection keeps the last NICs and volumes, becomes a fault, and is logged once', async () => {
  const clock = new ManualClock();
  const source = new ScriptedSource([
    { nics: [eth0], volumes: [data], faults: [] },
    new Error('powershell.exe: timeout after 20000 ms'),
    new Error('powershell.exe: timeout after 20000 ms'),
    { nics: [{ ...eth0, carrier: false }], volumes: [data], faults: [] },
  ]);
  const log: string[] = [];
  const monitor = new InventoryMonitor({ node: 'alpha', source, clock, log: (line) => log.push(line) });
  const seen: (readonly string[])[] = [];
  const subscription = monitor.onChange((_inventory, changes) => seen.push(changes));
  await monitor.refresh();
  const failed = await monitor.refresh();
  assert.deepEqual(failed.nics, [eth0]);
  assert.deepEqual(failed.volumes, [data]);
  assert.deepEqual(failed.faults, ['inventory collection failed: powershell.exe: timeout after 20000 ms']);
  await monitor.refresh();
  assert.deepEqual(log, ['inventory: inventory collection failed: powershell.exe: timeout after 20000 ms']);
  await monitor.refresh();
  assert.deepEqual(seen, [
    ['inventory fault: inventory collection failed: powershell.exe: timeout after 20000 ms'],
    ['NIC eth0 lost its link', 'inventory fault cleared: inventory collection failed: powershell.exe: timeout after 20000 ms'],
  ]);
  subscription.dispose();
  monitor.dispose();
});

test('refresh() joins a collection that is running; a throwing listener is logged, the others still hear', async () => {
  const source = new ScriptedSource([{ nics: [], volumes: [], faults: [] }, { nics: [eth0], volumes: [], faults: [] }]);
  const log: string[] = [];
  const monitor = new InventoryMonitor({ node: 'alpha', source, clock: new ManualClock(), log: (line) => log.push(line) });
  const [a, b] = await Promise.all([monitor.refresh(), monitor.refresh()]);
  assert.equal(a, b);
  assert.equal(source.calls, 1);
  monitor.onChange(() => { throw new Error('boom'); });
  let heard = 0;
  monitor.onChange(() => heard++);
  await monitor.refresh();
  assert.equal(heard, 1);
  assert.deepEqual(log, ['inventory: a change listener failed: boom']);
  monitor.dispose();
});
