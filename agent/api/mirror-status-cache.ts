/**
 * The mirrors' status, kept current for the API: asking a source for its target's queue is a round trip, so the
 * status is refreshed in the background (every second and after a command) and read from here.
 */
import type { MirrorStatus } from '../../common/model/index.js';

export interface MirrorStatusSource {
  command(action: 'status', name: undefined): Promise<{ status: MirrorStatus[] }>;
}

export class MirrorStatusCache {
  current: MirrorStatus[] = [];
  private timer: NodeJS.Timeout | undefined;
  private refreshing = false;

  constructor(private readonly source: MirrorStatusSource, private readonly onChange: () => void, private readonly intervalMs = 1000) {}

  start(): void {
    void this.refresh();
    this.timer = setInterval(() => void this.refresh(), this.intervalMs);
    this.timer.unref();
  }

  async refresh(): Promise<void> {
    if (this.refreshing) return;
    this.refreshing = true;
    try {
      this.current = (await this.source.command('status', undefined)).status;
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
