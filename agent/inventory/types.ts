/** What every inventory adapter (linux.ts, windows.ts) implements; everything above speaks only this. */
import type { NicInfo, VolumeInfo } from '../../common/model/inventory.js';

export interface InventoryReading {
  readonly nics: readonly NicInfo[];
  readonly volumes: readonly VolumeInfo[];
  /** What could not be read, each a sentence; the rest of the reading is still good. */
  readonly faults: readonly string[];
}

export interface InventorySource {
  /** Never rejects for an unreadable NIC or volume: that goes into `faults` or a volume's healthReasons. */
  collect(): Promise<InventoryReading>;
}

export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** The fields that have a value: optional fields are absent, never undefined (exactOptionalPropertyTypes). */
export function definedOnly<T extends object>(fields: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)) as { [K in keyof T]?: Exclude<T[K], undefined> };
}
