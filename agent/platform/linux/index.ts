/** The Linux platform: process groups, /proc, systemd when it runs. */
import { existsSync } from 'node:fs';
import { systemClock, type Clock } from '../../util/clock.js';
import { createProcessRunner } from '../process-runner.js';
import type { Platform, ProcessRunner, ServiceManager, ServiceManagerKind } from '../types.js';
import { createLinuxIpAddressManager } from './ip-address.js';
import { createProcessServiceManager, type ProcessServiceOptions } from './process-service-manager.js';
import { createSystemdServiceManager } from './systemd-service-manager.js';

export interface LinuxPlatformOptions {
  readonly clock?: Clock;
  readonly ocfRoot?: string;
  /** systemd is the service manager when this directory exists (what sd_booted() checks). */
  readonly systemdMarker?: string;
  /** Runs systemctl, ip and arping; tests inject one that records the commands. */
  readonly commandRunner?: ProcessRunner;
  /** Manage addresses inside this network namespace (`ip -n NS`, `ip netns exec NS`): for tests and containers. */
  readonly netns?: string;
  readonly processService?: Omit<ProcessServiceOptions, 'clock'>;
}

export const DEFAULT_OCF_ROOT = '/usr/lib/ocf';

export function createLinuxPlatform(options: LinuxPlatformOptions = {}): Platform {
  const clock = options.clock ?? systemClock;
  const processRunner = createProcessRunner(clock);
  const systemdMarker = options.systemdMarker ?? '/run/systemd/system';
  const managers: Record<ServiceManagerKind, ServiceManager> = {
    systemd: createSystemdServiceManager(options.commandRunner ?? processRunner),
    process: createProcessServiceManager({ ...options.processService, clock }),
  };
  const ipAddresses = createLinuxIpAddressManager({
    runner: options.commandRunner ?? processRunner, clock, ...(options.netns === undefined ? {} : { netns: options.netns }),
  });
  return {
    os: 'linux',
    ocfRoot: options.ocfRoot ?? DEFAULT_OCF_ROOT,
    processRunner,
    ipAddresses,
    hasSystemd: () => existsSync(systemdMarker),
    serviceManager: (kind) => managers[kind],
  };
}
