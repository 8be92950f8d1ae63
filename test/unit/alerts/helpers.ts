/** What the alert tests share: a temp state dir, a dispatcher that is closed after the test, events, servers. */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { alertsSchema, type AlertsConfig, type AlertsConfigInput } from '../../../common/config/alerts.js';
import type { AlertDelivery, AlertRecord, ClusterEvent } from '../../../common/model/index.js';
import { AlertDispatcher } from '../../../agent/alerts/dispatcher.js';
import type { AlertMessage } from '../../../agent/alerts/channel.js';

export interface TestContext { after(fn: () => void | Promise<void>): void }

const cleanups = new WeakMap<TestContext, (() => unknown)[]>();

/**
 * Run `fn` when the test ends, the last registered first: a dispatcher is closed (and flushes its file) before the
 * folder it writes to is removed. Node runs `t.after` hooks in the order they were registered.
 */
function atEnd(t: TestContext, fn: () => unknown): void {
  let list = cleanups.get(t);
  if (list === undefined) {
    const registered: (() => unknown)[] = [];
    list = registered;
    cleanups.set(t, registered);
    t.after(async () => {
      for (const cleanup of registered.reverse()) await cleanup();
    });
  }
  list.push(fn);
}

export function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-alerts-'));
  atEnd(t, () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export function alertsConfig(input: AlertsConfigInput): AlertsConfig {
  return alertsSchema.parse(input);
}

export function event(overrides: Partial<ClusterEvent> = {}): ClusterEvent {
  return { at: Date.UTC(2025, 0, 2, 3, 4, 5, 678), kind: 'failover', severity: 'critical', node: 'alpha', group: 'web', resource: 'ip', message: 'web moved from beta', ...overrides };
}

export function message(overrides: Partial<AlertMessage> = {}): AlertMessage {
  return { cluster: 'c1', node: 'alpha', alertId: 'a1', event: event(), suppressed: 0, test: false, ...overrides };
}

export interface Harness {
  readonly dispatcher: AlertDispatcher;
  readonly logs: string[];
  readonly stateDir: string;
}

/** A dispatcher over a temp state dir (or the given one), closed when the test ends. */
export function harness(t: TestContext, input: AlertsConfigInput, options: { stateDir?: string; now?: () => number } = {}): Harness {
  const stateDir = options.stateDir ?? tempDir(t);
  const logs: string[] = [];
  const dispatcher = new AlertDispatcher(alertsConfig(input), { clusterId: 'c1', nodeId: 'alpha', stateDir, log: (l) => logs.push(l), ...(options.now ? { now: options.now } : {}) });
  atEnd(t, () => dispatcher.close());
  return { dispatcher, logs, stateDir };
}

/** The next `count` records whose deliveries have all finished. */
export function settledAlerts(dispatcher: AlertDispatcher, count = 1): Promise<AlertRecord[]> {
  return new Promise((resolve) => {
    const out: AlertRecord[] = [];
    const subscription = dispatcher.onAlert((record) => {
      if (record.channels.some((c) => c.status === 'pending') || record.acknowledged) return;
      out.push(record);
      if (out.length === count) { subscription.dispose(); resolve(out); }
    });
  });
}

export interface Posted { readonly headers: IncomingMessage['headers']; readonly body: string }

/** A real HTTP server on 127.0.0.1; `respond` decides each answer (return false to never answer). */
export async function webhookServer(t: TestContext, respond: (req: Posted, res: ServerResponse, index: number) => boolean | undefined): Promise<{ url: string; posted: Posted[] }> {
  const posted: Posted[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => { body += chunk; });
    req.on('end', () => {
      const entry = { headers: req.headers, body };
      posted.push(entry);
      if (respond(entry, res, posted.length - 1) !== false && !res.writableEnded) res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, posted };
}

export interface Syslog5424 {
  readonly pri: number; readonly timestamp: string; readonly hostname: string; readonly appName: string;
  readonly procId: string; readonly msgId: string; readonly sdId: string; readonly sd: Record<string, string>; readonly msg: string;
}

/** Parse one RFC 5424 line; `sd` holds the params of our element (logger adds its own timeQuality element). */
export function parseSyslog(line: string): Syslog5424 {
  const param = String.raw` [^=\s\]"]+="(?:[^"\\]|\\.)*"`;
  const element = String.raw`\[[^\s\]"=]+(?:${param})*\]`;
  const match = new RegExp(String.raw`^<(\d{1,3})>1 (\S+) (\S+) (\S+) (\S+) (\S+) (-|(?:${element})+) (.*)$`, 'su').exec(line);
  if (!match) throw new Error(`not an RFC 5424 line: ${JSON.stringify(line)}`);
  const elements = new Map<string, Record<string, string>>();
  for (const [text] of match[7]!.matchAll(new RegExp(element, 'g'))) {
    const id = /^\[([^\s\]]+)/.exec(text)![1]!;
    const params: Record<string, string> = {};
    for (const p of text.matchAll(/ ([^=\s\]"]+)="((?:[^"\\]|\\.)*)"/g)) params[p[1]!] = p[2]!.replace(/\\(.)/g, '$1');
    elements.set(id, params);
  }
  const sdId = [...elements.keys()].find((id) => id.startsWith('vigil@')) ?? '-';
  return { pri: Number(match[1]), timestamp: match[2]!, hostname: match[3]!, appName: match[4]!, procId: match[5]!, msgId: match[6]!, sdId, sd: elements.get(sdId) ?? {}, msg: match[8]! };
}

/** The error of a failed delivery; fails the test if the delivery did not fail. */
export function deliveryError(delivery: AlertDelivery | undefined): { code: string; message: string } {
  if (delivery?.status !== 'failed') throw new Error(`expected a failed delivery, got ${JSON.stringify(delivery)}`);
  return delivery.error;
}
