/**
 * A first-in, first-out queue whose shift() costs the same however long it is. Array.prototype.shift moves every
 * element once an array outgrows V8's fast path (about 16,000 elements): draining 50,000 queued records that way
 * took 0.8 s, and a batch of small records (a differential mirror's metadata) is that long.
 */
export class Fifo<T> {
  private items: (T | undefined)[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  /** The oldest item, left in place; undefined when empty. */
  peek(): T | undefined {
    return this.items[this.head];
  }

  /** Removes and returns the oldest item; undefined when empty. */
  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head++] = undefined; // let it be collected
    // Copy the rest down once the consumed part is most of the array: each item is copied O(1) times.
    if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  clear(): void {
    this.items = [];
    this.head = 0;
  }
}
