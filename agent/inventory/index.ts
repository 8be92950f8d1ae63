/** The inventory source for the platform this agent runs on: the only place here that asks which it is. */
import { createProcessRunner } from '../platform/process-runner.js';
import { createLinuxInventorySource, type LinuxInventoryOptions } from './linux.js';
import type { InventorySource } from './types.js';
import { createWindowsInventorySource } from './windows.js';

export { InventoryMonitor, DEFAULT_INVENTORY_INTERVAL_MS, type InventoryListener, type InventoryMonitorOptions } from './monitor.js';
export { inventoryChanges } from './changes.js';
export type { InventoryReading, InventorySource } from './types.js';

export function createInventorySource(options: LinuxInventoryOptions = {}): InventorySource {
  if (process.platform === 'linux') return createLinuxInventorySource(options);
  if (process.platform === 'win32') return createWindowsInventorySource({ runner: createProcessRunner() });
  throw new Error(`no inventory source for ${process.platform}: Vigil runs on Linux and Windows`);
}
