/** The platform this agent runs on: the only place that asks the OS which it is. */
import { createLinuxPlatform, type LinuxPlatformOptions } from './linux/index.js';
import type { Platform } from './types.js';

export type { Platform } from './types.js';

export function createPlatform(options: LinuxPlatformOptions = {}): Platform {
  if (process.platform !== 'linux') {
    throw new Error(`vigild runs on Linux; ${process.platform} is not supported yet`);
  }
  return createLinuxPlatform(options);
}
