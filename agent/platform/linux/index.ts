/** The Linux platform: process groups, /proc, systemd when it runs. */
import { existsSync } from 'node:fs';
import { systemClock, type Clock } from '../../util/clock.js';
import { createProcessRunner } from '../process-runner.js';
import type { Platform, ProcessRunner, ServiceManager, ServiceManagerKind } from '../types.js';
import { createProcessServiceManager, type ProcessServiceOptions } from './process-service-manager.js';
import { createSystemdServiceManager } from './systemd-service-manager.js';

export interface LinuxPlatformOptions {
  readonly clock?: Clock;
  readonly ocfRoot?: string;
  /** systemd is the service manager when this directory exists (what sd_booted() checks). */
  readonly systemdMarker?: string;
  /** Runs systemctl; tests inject one that records the commands. */
  readonly commandRunner?: ProcessRunner;
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
  return {
    os: 'linux',
    ocfRoot: options.ocfRoot ?? DEFAULT_OCF_ROOT,
    processRunner,
    hasSystemd: () => existsSync(systemdMarker),
    serviceManager: (kind) => managers[kind],
  };
}
