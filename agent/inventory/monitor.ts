/**
 * Keeps the node's inventory fresh: collects every `intervalMs` (the next run is scheduled when the last one
 * ends, so slow collections never overlap), keeps the last result, and tells listeners when something an operator
 * cares about changed (see changes.ts). A failed collection keeps the last NICs and volumes and adds the failure
 * to `faults`; it is logged once, when it first appears.
 */
import type { NodeId } from '../../common/model/ids.js';
import type { NodeInventory } from '../../common/model/inventory.js';
import { systemClock, type Clock, type Disposable } from '../util/clock.js';
import { inventoryChanges } from './changes.js';
import { errorText, type InventorySource } from './types.js';

export interface InventoryMonitorOptions {
  readonly node: NodeId;
  readonly source: InventorySource;
  /** Default 5000. */
  readonly intervalMs?: number;
  readonly clock?: Clock;
  readonly log?: (line: string) => void;
}

/** `changes` are sentences (see inventoryChanges), never empty. */
export type InventoryListener = (inventory: NodeInventory, changes: readonly string[]) => void;

export const DEFAULT_INVENTORY_INTERVAL_MS = 5_000;

export class InventoryMonitor implements Disposable {
  private readonly intervalMs: number;
  private readonly clock: Clock;
  private readonly log: (line: string) => void;
  private readonly listeners = new Set<InventoryListener>();
  private last: NodeInventory | undefined;
  private running: Promise<NodeInventory> | undefined;
  private timer: Disposable | undefined;
  private disposed = false;

  constructor(private readonly options: InventoryMonitorOptions) {
    this.intervalMs = options.intervalMs ?? DEFAULT_INVENTORY_INTERVAL_MS;
    if (!(this.intervalMs > 0)) throw new RangeError(`intervalMs must be a positive number of milliseconds, got ${this.intervalMs}`);
    this.clock = options.clock ?? systemClock;
    this.log = options.log ?? (() => undefined);
  }

  /** Collects now, then every intervalMs until dispose(). */
  start(): void {
    if (this.disposed || this.timer !== undefined) return;
    const tick = (): void => {
      this.timer = undefined;
      void this.refresh().finally(() => {
        if (!this.disposed) this.timer = this.clock.setTimer(this.intervalMs, tick);
      });
    };
    this.timer = this.clock.setTimer(0, tick);
  }

  /** The last inventory collected; undefined before the first collection ends. */
  get current(): NodeInventory | undefined {
    return this.last;
  }

  /** Collects now (joining a collection already running) and resolves with the result. Never rejects. */
  refresh(): Promise<NodeInventory> {
    this.running ??= this.collect().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  onChange(listener: InventoryListener): Disposable {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }

  dispose(): void {
    this.disposed = true;
    this.timer?.dispose();
    this.timer = undefined;
    this.listeners.clear();
  }

  private async collect(): Promise<NodeInventory> {
    let next: NodeInventory;
    try {
      const reading = await this.options.source.collect();
      next = { node: this.options.node, at: this.clock.now(), nics: reading.nics, volumes: reading.volumes, faults: reading.faults };
    } catch (e) {
      const fault = `inventory collection failed: ${errorText(e)}`;
      next = { node: this.options.node, at: this.clock.now(), nics: this.last?.nics ?? [], volumes: this.last?.volumes ?? [], faults: [fault] };
    }
    const previous = this.last;
    this.last = next;
    for (const fault of next.faults) if (!previous?.faults.includes(fault)) this.log(`inventory: ${fault}`);
    if (previous === undefined || this.disposed) return next;
    const changes = inventoryChanges(previous, next);
    if (changes.length > 0) {
      for (const listener of [...this.listeners]) {
        try {
          listener(next, changes);
        } catch (e) {
          this.log(`inventory: a change listener failed: ${errorText(e)}`);
        }
      }
    }
    return next;
  }
}
