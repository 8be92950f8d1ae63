/**
 * Replay protection for one sender on one link: a sender's restart (higher incarnation) opens a new window;
 * within an incarnation each sequence number is accepted once, in a 64-wide sliding window as in IPsec.
 */
const WINDOW = 64n;

export class ReplayWindow {
  private incarnation = -1;
  private highest = 0;
  private seen = 0n; // bit i set: sequence (highest - i) was accepted

  /** True if the packet is new; records it. */
  accept(incarnation: number, seq: number): boolean {
    if (incarnation < this.incarnation) return false;
    if (incarnation > this.incarnation) {
      this.incarnation = incarnation;
      this.highest = seq;
      this.seen = 1n;
      return true;
    }
    if (seq > this.highest) {
      const shift = BigInt(seq - this.highest);
      this.seen = shift >= WINDOW ? 1n : ((this.seen << shift) | 1n) & ((1n << WINDOW) - 1n);
      this.highest = seq;
      return true;
    }
    const offset = BigInt(this.highest - seq);
    if (offset >= WINDOW) return false;
    const bit = 1n << offset;
    if ((this.seen & bit) !== 0n) return false;
    this.seen |= bit;
    return true;
  }
}
