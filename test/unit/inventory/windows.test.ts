/** There is no Windows here: these check the PowerShell command and the parsing of what it prints. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { INVENTORY_SCRIPT, createWindowsInventorySource, parseWindowsInventory, powershellInventoryArgs } from '../../../agent/inventory/windows.js';
import { RecordingRunner } from '../platform/recording-runner.js';

// The shape Windows PowerShell 5.1 prints for INVENTORY_SCRIPT (ConvertTo-Json -Compress, pretty-printed here):
// CIM enums as numbers, Status as the adapter's display string, link-local addresses with their zone, volumes
// without a drive letter (recovery partition), a CD-ROM drive, and a dirty NTFS volume.
const PS51 = JSON.stringify({
  adapters: [
    { Name: 'Ethernet', AdminStatus: 1, MediaConnectionState: 1, Status: 'Up', MacAddress: '00-15-5D-01-02-03', MtuSize: 1500, Speed: 10000000000 },
    { Name: 'Ethernet 2', AdminStatus: 1, MediaConnectionState: 2, Status: 'Disconnected', MacAddress: '00-15-5D-01-02-04', MtuSize: 1500, Speed: 0 },
    { Name: 'Wi-Fi', AdminStatus: 2, MediaConnectionState: 0, Status: 'Disabled', MacAddress: 'A4-C3-F0-11-22-33', MtuSize: 1500, Speed: 0 },
  ],
  statistics: [
    { Name: 'Ethernet', ReceivedBytes: 918273645, SentBytes: 123456789, ReceivedPacketErrors: 0, OutboundPacketErrors: 4 },
  ],
  addresses: [
    { InterfaceAlias: 'Ethernet', IPAddress: 'fe80::8d4f:2c1a:9e3b:7f10%12', PrefixLength: 64, AddressFamily: 23 },
    { InterfaceAlias: 'Ethernet', IPAddress: '198.51.100.21', PrefixLength: 24, AddressFamily: 2 },
    { InterfaceAlias: 'Ethernet', IPAddress: '198.51.100.50', PrefixLength: 24, AddressFamily: 2 },
    { InterfaceAlias: 'Loopback Pseudo-Interface 1', IPAddress: '127.0.0.1', PrefixLength: 8, AddressFamily: 2 },
  ],
  volumes: [
    { DriveLetter: 'C', Path: '\\\\?\\Volume{3f2a9c1e-0000-0000-0000-100000000000}\\', FileSystemLabel: '', FileSystem: 'NTFS', DriveType: 3, Size: 126696288256, SizeRemaining: 80217436160, HealthStatus: 0, OperationalStatus: 2, ReadOnly: false },
    { DriveLetter: 'D', Path: '\\\\?\\Volume{3f2a9c1e-0000-0000-0000-200000000000}\\', FileSystemLabel: 'Data', FileSystem: 'ReFS', DriveType: 3, Size: 1099511627776, SizeRemaining: 549755813888, HealthStatus: 1, OperationalStatus: [3, 0xd00d], ReadOnly: true },
    { DriveLetter: null, Path: '\\\\?\\Volume{3f2a9c1e-0000-0000-0000-300000000000}\\', FileSystemLabel: 'Recovery', FileSystem: 'NTFS', DriveType: 3, Size: 554692608, SizeRemaining: 82878464, HealthStatus: 0, OperationalStatus: 2, ReadOnly: false },
    { DriveLetter: 'E', Path: '\\\\?\\Volume{aa}\\', FileSystemLabel: 'DVD', FileSystem: 'UDF', DriveType: 5, Size: 4700000000, SizeRemaining: 0, HealthStatus: 0, OperationalStatus: 2 },
  ],
});

// PowerShell 7 with the NetAdapter/Storage type data: enums by name; one adapter and one volume written as objects.
const PS7 = JSON.stringify({
  adapters: { Name: 'vEthernet (Cluster)', AdminStatus: 'Up', MediaConnectionState: 'Connected', Status: 'Up', MacAddress: '00-15-5D-AA-BB-CC', MtuSize: 9000, Speed: 1000000000 },
  statistics: { Name: 'vEthernet (Cluster)', ReceivedBytes: 5, SentBytes: 6, ReceivedPacketErrors: 1, OutboundPacketErrors: 0 },
  addresses: { InterfaceAlias: 'vEthernet (Cluster)', IPAddress: '203.0.113.4', PrefixLength: 26, AddressFamily: 'IPv4' },
  volumes: { DriveLetter: 'S', Path: '\\\\?\\Volume{bb}\\', FileSystemLabel: 'Mirror', FileSystem: 'NTFS', DriveType: 'Fixed', Size: 1000, SizeRemaining: 250, HealthStatus: 'Unhealthy', OperationalStatus: 'Full Repair Needed', ReadOnly: false },
});

test('Windows PowerShell 5.1 output: admin state, carrier, speed, MAC, statistics and addresses per adapter', () => {
  const { nics, faults } = parseWindowsInventory(PS51);
  assert.deepEqual(faults, []);
  assert.deepEqual(nics.map((n) => [n.name, n.up, n.carrier]), [['Ethernet', true, true], ['Ethernet 2', true, false], ['Wi-Fi', false, false]]);
  assert.deepEqual(nics[0], {
    name: 'Ethernet', up: true, carrier: true, mac: '00:15:5d:01:02:03', mtu: 1500, speedMbps: 10000,
    rxBytes: 918273645, txBytes: 123456789, rxErrors: 0, txErrors: 4,
    addresses: [
      { address: 'fe80::8d4f:2c1a:9e3b:7f10', prefix: 64, family: 'ipv6' },
      { address: '198.51.100.21', prefix: 24, family: 'ipv4' },
      { address: '198.51.100.50', prefix: 24, family: 'ipv4' },
    ],
  });
  assert.equal(nics[1]?.speedMbps, undefined, 'a disconnected adapter reports speed 0: unknown, not 0 Mb/s');
});

test('Windows volumes: fixed drives only, by letter or volume path, health and read-only as reported', () => {
  const { volumes } = parseWindowsInventory(PS51);
  assert.deepEqual(volumes.map((v) => v.mount), ['C:\\', 'D:\\', '\\\\?\\Volume{3f2a9c1e-0000-0000-0000-300000000000}\\']);
  const [c, d] = volumes;
  assert.deepEqual(c, {
    mount: 'C:\\', device: '\\\\?\\Volume{3f2a9c1e-0000-0000-0000-100000000000}\\', fsType: 'NTFS',
    totalBytes: 126696288256, freeBytes: 80217436160, availableBytes: 80217436160, usedPercent: 36.69,
    readOnly: false, health: 'ok', healthReasons: [],
  });
  assert.equal(d?.health, 'degraded');
  assert.equal(d?.readOnly, true);
  assert.deepEqual(d?.healthReasons, ['volume D:\\ (Data) reports health 1, operational status 3, 53261']);
});

test('PowerShell 7 output: enums by name and single objects instead of one-element arrays', () => {
  const { nics, volumes } = parseWindowsInventory(PS7);
  assert.deepEqual(nics.map((n) => [n.name, n.up, n.carrier, n.mtu, n.rxErrors, n.addresses.length]), [['vEthernet (Cluster)', true, true, 9000, 1, 1]]);
  assert.deepEqual(volumes.map((v) => [v.mount, v.health, v.usedPercent]), [['S:\\', 'failed', 75]]);
  assert.match(volumes[0]!.healthReasons[0]!, /S:\\ \(Mirror\) reports health Unhealthy, operational status Full Repair Needed/);
});

test('malformed output is an error naming what is wrong; a nameless adapter is a fault, the rest still parses', () => {
  assert.throws(() => parseWindowsInventory('[1,2]'), /not a JSON object/);
  assert.throws(() => parseWindowsInventory('{"adapters":'), SyntaxError);
  const partial = parseWindowsInventory(JSON.stringify({ adapters: [{ AdminStatus: 1 }, { Name: 'Ethernet', AdminStatus: 1, MediaConnectionState: 1 }] }));
  assert.deepEqual(partial.nics.map((n) => n.name), ['Ethernet']);
  assert.match(partial.faults[0]!, /adapter without a name/);
});

test('the source runs one PowerShell with argv only and says why when it fails', async () => {
  const runner = new RecordingRunner(() => ({ stdout: PS7 }));
  const reading = await createWindowsInventorySource({ runner, env: { SystemRoot: 'C:\\Windows' } }).collect();
  assert.equal(reading.nics.length, 1);
  assert.deepEqual(runner.argvs(), [['powershell.exe', ...powershellInventoryArgs()]]);
  assert.ok(INVENTORY_SCRIPT.includes('Get-NetAdapter') && INVENTORY_SCRIPT.includes('Get-Volume') && INVENTORY_SCRIPT.includes('Get-NetIPAddress'));
  const failing = createWindowsInventorySource({ runner: new RecordingRunner(() => ({ rc: 1, stderrTail: 'Get-NetAdapter : Access denied' })), env: {} });
  await assert.rejects(failing.collect(), /cannot read the inventory from PowerShell: exit code 1: Get-NetAdapter : Access denied/);
  const garbled = createWindowsInventorySource({ runner: new RecordingRunner(() => ({ stdout: 'WARNING: x' })), env: {} });
  await assert.rejects(garbled.collect(), /cannot read the inventory from PowerShell: .*JSON/);
});
