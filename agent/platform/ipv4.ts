/** IPv4 arithmetic every address adapter shares: parsing, masks, subnets. Pure, so it is tested without an OS. */
import type { Ipv4Address } from './types.js';

export interface Ipv4Cidr {
  readonly address: string;
  readonly prefixLength: number;
}

const OCTET = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/** The address as an unsigned 32-bit number; undefined unless it is a plain dotted quad (no leading zeros). */
export function ipv4ToNumber(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4 || !parts.every((p) => OCTET.test(p))) return undefined;
  return parts.reduce((n, p) => n * 256 + Number(p), 0);
}

export function numberToIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** "198.51.100.10/24"; undefined when either half is malformed. */
export function parseIpv4Cidr(text: string): Ipv4Cidr | undefined {
  const match = /^([^/]+)\/(\d{1,2})$/.exec(text);
  if (match === null) return undefined;
  const [, address, prefix] = match as unknown as [string, string, string];
  const prefixLength = Number(prefix);
  if (ipv4ToNumber(address) === undefined || prefixLength > 32 || String(prefixLength) !== prefix) return undefined;
  return { address, prefixLength };
}

/** The mask as a number: /24 is 0xffffff00, /0 is 0. */
function maskNumber(prefixLength: number): number {
  return prefixLength === 0 ? 0 : (0xffffffff << (32 - prefixLength)) >>> 0;
}

/** The dotted mask Windows asks for: /24 is 255.255.255.0, /32 is 255.255.255.255, /0 is 0.0.0.0. */
export function prefixToMask(prefixLength: number): string {
  if (!Number.isInteger(prefixLength) || prefixLength < 0 || prefixLength > 32) throw new RangeError(`an IPv4 prefix length is 0 to 32, not ${prefixLength}`);
  return numberToIpv4(maskNumber(prefixLength));
}

/** Whether `address` lies in the subnet of `network/prefixLength` (network may be any address of it). */
export function subnetContains(network: string, prefixLength: number, address: string): boolean {
  const net = ipv4ToNumber(network);
  const addr = ipv4ToNumber(address);
  if (net === undefined || addr === undefined) return false;
  const mask = maskNumber(prefixLength);
  return ((net & mask) >>> 0) === ((addr & mask) >>> 0);
}

/**
 * The interface whose subnet holds the address: the longest prefix wins, as in routing; on a tie the first
 * listed (a subnet's primary address comes before its secondaries).
 */
export function interfaceForSubnet(addresses: readonly Ipv4Address[], address: string): string | undefined {
  let best: Ipv4Address | undefined;
  for (const a of addresses) {
    if (!subnetContains(a.address, a.prefixLength, address)) continue;
    if (best === undefined || a.prefixLength > best.prefixLength) best = a;
  }
  return best?.interface;
}
