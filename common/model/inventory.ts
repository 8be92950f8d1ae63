import type { EpochMs, NodeId } from './ids.js';

/** One address on a NIC; `prefix` is the prefix length (24 for a /24). */
export interface NicAddress {
  readonly address: string;
  readonly prefix: number;
  readonly family: 'ipv4' | 'ipv6';
}

/** A network interface as the OS reports it. Optional fields are absent where the OS does not say. */
export interface NicInfo {
  readonly name: string;
  /** Administratively up (`ip link set up`, enabled in Windows). */
  readonly up: boolean;
  /** The link has a carrier: a cable, a peer, a switch port that answers. */
  readonly carrier: boolean;
  readonly mac?: string;
  readonly mtu?: number;
  readonly speedMbps?: number;
  readonly addresses: readonly NicAddress[];
  readonly rxBytes?: number;
  readonly txBytes?: number;
  readonly rxErrors?: number;
  readonly txErrors?: number;
}

/**
 * ok: the device exists and nothing reports a problem; degraded: it works but has lost redundancy (a RAID member
 * gone, a rebuild running); failed: it does not work; unknown: no source could tell (a network file system, a
 * device that did not answer).
 */
export type VolumeHealth = 'ok' | 'degraded' | 'failed' | 'unknown';
export const VOLUME_HEALTHS: readonly VolumeHealth[] = ['ok', 'degraded', 'failed', 'unknown'];

/** A mounted file system (Linux) or volume (Windows). */
export interface VolumeInfo {
  readonly mount: string;
  readonly device: string;
  readonly fsType: string;
  readonly totalBytes: number;
  readonly freeBytes: number;
  /** Free to unprivileged users (without the root reserve). */
  readonly availableBytes: number;
  /** As df computes it: used / (used + available) * 100, rounded to 0.01. */
  readonly usedPercent: number;
  readonly readOnly: boolean;
  readonly health: VolumeHealth;
  /** Why the health is not ok, each a sentence the operator can act on. */
  readonly healthReasons: readonly string[];
}

export interface NodeInventory {
  readonly node: NodeId;
  readonly at: EpochMs;
  readonly nics: readonly NicInfo[];
  readonly volumes: readonly VolumeInfo[];
  /** What could not be collected (a PowerShell that failed, an unreadable /proc/self/mounts), each a sentence. */
  readonly faults: readonly string[];
}
