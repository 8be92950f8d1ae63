/** There is no Windows here: these check the commands we would run, and the parsing of what they print. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  LIST_SCRIPT, createWindowsIpAddressManager, netshAddArgs, netshDeleteArgs, netshQuote, parseWindowsListing, powershellListArgs,
} from '../../../agent/platform/windows/ip-address.js';
import { RecordingRunner } from './recording-runner.js';

const call = { timeoutMs: 4_000 };

test('netsh add: the prefix as a dotted mask (/24, /32, /0), active only, the name quoted', () => {
  assert.deepEqual(netshAddArgs({ interface: 'Ethernet', address: '198.51.100.50', prefixLength: 24 }),
    ['interface', 'ipv4', 'add', 'address', 'name="Ethernet"', 'address=198.51.100.50', 'mask=255.255.255.0', 'store=active']);
  assert.equal(netshAddArgs({ interface: 'Ethernet', address: '203.0.113.5', prefixLength: 32 })[6], 'mask=255.255.255.255');
  assert.equal(netshAddArgs({ interface: 'Ethernet', address: '203.0.113.5', prefixLength: 0 })[6], 'mask=0.0.0.0');
});

test('interface names with spaces stay one value; a double quote or a control character is refused', () => {
  assert.deepEqual(netshDeleteArgs({ interface: 'Local Area Connection 2', address: '198.51.100.50', prefixLength: 24 }),
    ['interface', 'ipv4', 'delete', 'address', 'name="Local Area Connection 2"', 'address=198.51.100.50']);
  assert.equal(netshQuote('vEthernet (Default Switch)'), '"vEthernet (Default Switch)"');
  assert.throws(() => netshQuote('Eth" & del'), /cannot be passed to netsh/);
  assert.throws(() => netshQuote('Eth\nx'), /cannot be passed to netsh/);
  assert.throws(() => netshQuote(''), /cannot be passed to netsh/);
});

test('the manager runs netsh and PowerShell with argv only; a bad name is an error naming address and interface', async () => {
  const listing = JSON.stringify({ addresses: [{ InterfaceAlias: 'Ethernet 2', IPAddress: '198.51.100.1', PrefixLength: 24 }], interfaces: ['Ethernet 2', 'Wi-Fi'] });
  const runner = new RecordingRunner((r) => (r.file === 'powershell.exe' ? { stdout: listing } : {}));
  const ip = createWindowsIpAddressManager({ runner, env: { SystemRoot: 'C:\\Windows' } });
  assert.deepEqual(await ip.add({ interface: 'Ethernet 2', address: '198.51.100.50', prefixLength: 24, label: 'ignored' }, call), { ok: true, value: 'added' });
  assert.deepEqual(await ip.interfaceForSubnet('198.51.100.50', call), { ok: true, value: 'Ethernet 2' });
  assert.deepEqual(await ip.interfaceExists('Wi-Fi', call), { ok: true, value: true });
  assert.deepEqual(await ip.interfaceExists('Wi-*', call), { ok: true, value: false });
  assert.deepEqual(runner.argvs(), [
    ['netsh.exe', 'interface', 'ipv4', 'add', 'address', 'name="Ethernet 2"', 'address=198.51.100.50', 'mask=255.255.255.0', 'store=active'],
    ['powershell.exe', ...powershellListArgs()],
    ['powershell.exe', ...powershellListArgs()],
    ['powershell.exe', ...powershellListArgs()],
  ]);
  assert.ok(!LIST_SCRIPT.includes('Ethernet'), 'no interface name is ever embedded in PowerShell code');
  const bad = await ip.remove({ interface: 'a"b', address: '198.51.100.50', prefixLength: 24 }, call);
  assert.equal(bad.ok, false);
  if (!bad.ok) assert.match(bad.error.message, /198\.51\.100\.50\/24 from a"b/);
  assert.equal(runner.requests.length, 4, 'nothing ran for the bad name');
});

test('netsh\'s answers on stdout: already there, not there', async () => {
  const a = { interface: 'Ethernet', address: '198.51.100.50', prefixLength: 24 };
  const mk = (stdout: string) => createWindowsIpAddressManager({ runner: new RecordingRunner(() => ({ rc: 1, stdout })), env: {} });
  assert.deepEqual(await mk('The object already exists.\r\n').add(a, call), { ok: true, value: 'present' });
  assert.deepEqual(await mk('Element not found.\r\n').remove(a, call), { ok: true, value: 'absent' });
  const failed = await mk('Access is denied.\r\n').add(a, call);
  assert.equal(failed.ok, false);
  if (!failed.ok) assert.match(failed.error.message, /cannot add 198\.51\.100\.50\/24 to Ethernet: Access is denied\./);
});

test('the PowerShell listing parses, including ConvertTo-Json\'s single objects', () => {
  assert.deepEqual(parseWindowsListing('{"addresses":{"InterfaceAlias":"Ethernet","IPAddress":"203.0.113.4","PrefixLength":26},"interfaces":"Ethernet"}'), {
    addresses: [{ interface: 'Ethernet', address: '203.0.113.4', prefixLength: 26, label: '' }],
    interfaces: ['Ethernet'],
  });
  assert.deepEqual(parseWindowsListing('{"addresses":[],"interfaces":[]}'), { addresses: [], interfaces: [] });
});
