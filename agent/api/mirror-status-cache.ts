/**
 * The mirrors' status, kept current for the API: asking a source for its target's queue is a round trip on the
 * replication connection, so the status is refreshed in the background and read from here. Every second while
 * someone watches the mirrors live, otherwise only often enough for a snapshot or a metrics scrape (maxAgeMs), and
 * at once after a command.
 */
import type { MirrorStatus } from '../../common/model/index.js';

export interface MirrorStatusSource {
  command(action: 'status', name: undefined): Promise<{ status: MirrorStatus[] }>;
}

export class MirrorStatusCache {
  current: MirrorStatus[] = [];
  private timer: NodeJS.Timeout | undefined;
  private refreshing = false;

  private refreshedAt = 0;

  constructor(
    private readonly source: MirrorStatusSource, private readonly onChange: () => void,
    private readonly watched: () => boolean, private readonly intervalMs = 1000, private readonly maxAgeMs = 10_000,
  ) {}

  start(): void {
    void this.refresh();
    this.timer = setInterval(() => {
      if (this.watched() || Date.now() - this.refreshedAt >= this.maxAgeMs) void this.refresh();
    }, this.intervalMs);
    this.timer.unref();
  }

  async refresh(): Promise<void> {
    if (this.refreshing) return;
    this.refreshing = true;
    try {
      this.current = (await this.source.command('status', undefined)).status;
      this.refreshedAt = Date.now();
      this.onChange();
    } catch {
      // Kept as it was; the next tick asks again.
    } finally {
      this.refreshing = false;
    }
  }

  dispose(): void {
    clearInterval(this.timer);
  }
}
