import { test } from 'node:test';
import assert from 'node:assert/strict';
import { interfaceForSubnet, ipv4ToNumber, parseIpv4Cidr, prefixToMask, subnetContains } from '../../../agent/platform/ipv4.js';

test('prefix lengths become dotted masks: /24, /32, /0 and the odd ones', () => {
  assert.equal(prefixToMask(24), '255.255.255.0');
  assert.equal(prefixToMask(32), '255.255.255.255');
  assert.equal(prefixToMask(0), '0.0.0.0');
  assert.equal(prefixToMask(1), '128.0.0.0');
  assert.equal(prefixToMask(26), '255.255.255.192');
  assert.equal(prefixToMask(31), '255.255.255.254');
  assert.throws(() => prefixToMask(33), RangeError);
  assert.throws(() => prefixToMask(-1), RangeError);
});

test('addresses with a prefix parse strictly', () => {
  assert.deepEqual(parseIpv4Cidr('198.51.100.50/24'), { address: '198.51.100.50', prefixLength: 24 });
  assert.deepEqual(parseIpv4Cidr('203.0.113.7/32'), { address: '203.0.113.7', prefixLength: 32 });
  for (const bad of ['198.51.100.50', '198.51.100.256/24', '198.51.100.50/33', '198.51.100/24', '198.51.100.050/24', '198.51.100.50/024', 'a.b.c.d/8']) {
    assert.equal(parseIpv4Cidr(bad), undefined, bad);
  }
  assert.equal(ipv4ToNumber('255.255.255.255'), 0xffffffff);
});

test('subnets contain what their prefix says; the longest prefix picks the interface', () => {
  assert.equal(subnetContains('198.51.100.1', 24, '198.51.100.200'), true);
  assert.equal(subnetContains('198.51.100.1', 25, '198.51.100.200'), false);
  assert.equal(subnetContains('203.0.113.5', 0, '198.51.100.1'), true);
  assert.equal(subnetContains('203.0.113.5', 32, '203.0.113.5'), true);
  const addresses = [
    { interface: 'eth0', address: '198.51.100.1', prefixLength: 24, label: 'eth0' },
    { interface: 'eth1', address: '198.51.100.129', prefixLength: 25, label: 'eth1' },
    { interface: 'eth2', address: '198.51.100.2', prefixLength: 24, label: 'eth2' },
  ];
  assert.equal(interfaceForSubnet(addresses, '198.51.100.200'), 'eth1');
  assert.equal(interfaceForSubnet(addresses, '198.51.100.20'), 'eth0');
  assert.equal(interfaceForSubnet(addresses, '203.0.113.20'), undefined);
});
