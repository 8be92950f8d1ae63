/**
 * A mirror's bandwidth limit (`maxSendRate`): what the source sends is paced to a rate, as rsync's --bwlimit and
 * DRBD's resync rate do, so that a full mirror over a link the heartbeat or the clients share cannot take all of
 * it. Records, not bytes, are what it paces (a record goes whole): each is counted when sent, and the next waits
 * until those before it are paid for at the rate, less a short allowance so that a stream of small records is not
 * held up by timer granularity (a generic cell rate algorithm). Over any span the bytes sent are at most
 * rate x (span + allowance) + one record.
 */
export const PACER_ALLOWANCE_MS = 50;

export class SendPacer {
  /** When the bytes sent so far are paid for, in ms (the clock's). */
  private paidUntil = Number.NEGATIVE_INFINITY;

  constructor(readonly bytesPerSecond: number, private readonly allowanceMs = PACER_ALLOWANCE_MS) {
    if (!Number.isFinite(bytesPerSecond) || bytesPerSecond <= 0) throw new RangeError(`bytesPerSecond: ${bytesPerSecond} is not a positive number`);
  }

  /** 0: `bytes` may go at `now` and are counted; otherwise the ms to wait before asking again. */
  delay(bytes: number, now: number): number {
    const early = this.paidUntil - this.allowanceMs - now;
    if (early > 0) return early;
    this.paidUntil = Math.max(this.paidUntil, now) + (bytes * 1000) / this.bytesPerSecond;
    return 0;
  }
}
