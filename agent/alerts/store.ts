/**
 * Recent alerts, kept across restarts in a JSON-lines file: each change appends the record's new state, the
 * last line of an id wins, and the file is rewritten once it holds twice the history. Writes are queued
 * asynchronously, so a slow disk never holds up the caller. Damaged lines are skipped and logged by number.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { appendFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';
import { ALERT_ERROR_CODES, EVENT_KINDS, type AlertRecord } from '../../common/model/index.js';

const eventSchema = z.object({
  id: z.number().optional(), at: z.number(), kind: z.enum(EVENT_KINDS), severity: z.enum(['info', 'warning', 'critical']),
  node: z.string(), group: z.string().optional(), resource: z.string().optional(), message: z.string(),
});
const channelBase = { channel: z.string(), kind: z.enum(['email', 'webhook', 'syslog']), attempts: z.number().int().min(0) };
const deliverySchema = z.discriminatedUnion('status', [
  z.object({ ...channelBase, status: z.literal('pending') }),
  z.object({ ...channelBase, status: z.literal('ok'), at: z.number() }),
  z.object({ ...channelBase, status: z.literal('failed'), at: z.number(), error: z.object({ code: z.enum(ALERT_ERROR_CODES), message: z.string() }) }),
]);
const recordSchema = z.object({
  id: z.string().min(1), at: z.number(), event: eventSchema, suppressed: z.number().int().min(0), test: z.boolean(),
  channels: z.array(deliverySchema), acknowledged: z.object({ by: z.string(), at: z.number() }).optional(),
});

export class AlertLog {
  private readonly records = new Map<string, AlertRecord>();
  private lines = 0;
  private writes: Promise<void> = Promise.resolve();

  private constructor(readonly path: string, private history: number, private readonly log: (line: string) => void) {}

  /** Load the file (absent is empty). Deliveries still pending were cut short by the previous agent's end. */
  static open(path: string, history: number, log: (line: string) => void, now: number): AlertLog {
    const store = new AlertLog(path, history, log);
    mkdirSync(dirname(path), { recursive: true });
    let text = '';
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    let changed = false;
    text.split('\n').forEach((line, i) => {
      if (line.trim() === '') return;
      store.lines++;
      let parsed: ReturnType<typeof recordSchema.safeParse>;
      try {
        parsed = recordSchema.safeParse(JSON.parse(line));
      } catch (e) {
        log(`alerts: ${path}:${i + 1}: damaged line skipped (${(e as Error).message})`);
        return;
      }
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        log(`alerts: ${path}:${i + 1}: damaged line skipped (${issue?.path.join('.') || 'record'}: ${issue?.message ?? 'invalid'})`);
        return;
      }
      const record = interrupted(parsed.data as AlertRecord, now);
      changed ||= record !== parsed.data;
      store.remember(record);
    });
    if (changed || store.lines > store.records.size) store.compact();
    return store;
  }

  /** Oldest first. */
  list(): AlertRecord[] {
    return [...this.records.values()];
  }

  get(id: string): AlertRecord | undefined {
    return this.records.get(id);
  }

  put(record: AlertRecord): void {
    this.remember(record);
    this.lines++;
    if (this.lines > 2 * this.history) this.compact();
    else this.enqueue(() => appendFile(this.path, `${JSON.stringify(record)}\n`));
  }

  setHistory(history: number): void {
    this.history = history;
    while (this.records.size > history) this.records.delete(this.records.keys().next().value!);
  }

  /** Waits for the queued writes. */
  async close(): Promise<void> {
    await this.writes;
  }

  private remember(record: AlertRecord): void {
    this.records.set(record.id, record);
    if (this.records.size > this.history) this.records.delete(this.records.keys().next().value!);
  }

  private compact(): void {
    const text = this.list().map((r) => `${JSON.stringify(r)}\n`).join('');
    this.lines = this.records.size;
    const temp = `${this.path}.tmp`;
    this.enqueue(async () => { await writeFile(temp, text); await rename(temp, this.path); });
  }

  private enqueue(write: () => Promise<void>): void {
    this.writes = this.writes.then(write).catch((e: unknown) => this.log(`alerts: cannot write ${this.path}: ${(e as Error).message}`));
  }
}

function interrupted(record: AlertRecord, now: number): AlertRecord {
  if (!record.channels.some((c) => c.status === 'pending')) return record;
  return {
    ...record,
    channels: record.channels.map((c) => c.status !== 'pending' ? c : {
      ...c, status: 'failed', at: now, error: { code: 'VIGIL_ALERT_INTERRUPTED', message: 'the agent stopped before the delivery finished' },
    }),
  };
}
