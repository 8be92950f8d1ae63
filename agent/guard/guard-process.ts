#!/usr/bin/env node
/**
 * vigil-guard: a tiny process next to each agent. It does nothing while the agent lives; when the agent dies
 * (its pipe closes without "bye") or stands still past the release period, it stops the resources the agent last
 * reported active, last first in each group, logs what it did in the node's event log, and exits.
 */
import { parseArgs } from 'node:util';
import { closeSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { ClusterConfig } from '../../common/config/schema.js';
import { createPlatform } from '../platform/index.js';
import { createResourceAgent } from '../resources/index.js';
import { parseGuardMessage, systemMonotonicMs } from './messages.js';

const { values } = parseArgs({ options: { node: { type: 'string' }, 'state-dir': { type: 'string' }, 'release-after': { type: 'string' }, 'ready-fd': { type: 'string' } }, strict: true });
/** No word from the agent for this long and it is frozen (SIGSTOP, a hung host): release before a peer takes over. */
const releaseAfter = Number(values['release-after'] ?? 0);
const node = values.node!;
const stateDir = values['state-dir']!;
/** The agent's first line (see GuardMessage): undefined until then. */
let config: ClusterConfig | undefined;

/** Ready before it is needed: a release has no time to spare. */
const platform = createPlatform();

let active: Readonly<Record<string, readonly string[]>> = {};
let goodbye = false;
let releasing = false;
let silence: NodeJS.Timeout | undefined;
/**
 * The agent was alive at `at` (the machine's monotonic clock): release once it has been silent for the release
 * period since then. Counted from when the agent spoke, not from when the guard read it: ticks read late (the
 * guard busy or descheduled) must not move the release past a peer's takeover.
 */
function heardFromAgent(at: number): void {
  if (releaseAfter <= 0 || releasing || goodbye) return;
  clearTimeout(silence);
  silence = setTimeout(() => void release('the agent is frozen (no word for ' + releaseAfter + ' ms)'), Math.max(0, at + releaseAfter - systemMonotonicMs()));
}
heardFromAgent(systemMonotonicMs());
let buffer = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk: string) => {
  buffer += chunk;
  let newline: number;
  // Every line read is handled before the timer can fire: only the newest tick counts.
  while ((newline = buffer.indexOf('\n')) >= 0) {
    const line = buffer.slice(0, newline);
    const message = parseGuardMessage(line);
    buffer = buffer.slice(newline + 1);
    if (config === undefined) {
      if (message?.t !== 'config') {
        process.stderr.write(`${new Date().toISOString()} guard: the agent's first line is not its configuration: ${line.slice(0, 200)}\n`);
        process.exit(1);
      }
      config = message.config;
      ready(message.digest);
      continue;
    }
    if (message?.t === 'active') active = message.groups;
    if (message?.t === 'tick') heardFromAgent(message.at);
    if (message?.t === 'bye') { goodbye = true; clearTimeout(silence); }
  }
});
process.stdin.on('close', () => void (goodbye ? process.exit(0) : release('the agent died')));
// The agent's terminal or session going away must not take the guard with it.
process.on('SIGHUP', () => undefined);
process.on('SIGINT', () => undefined);
/**
 * Loaded, listening and told its configuration: the agent starts no resource before it reads this (a guard still
 * loading could not release in time). The log says which configuration: a catch-up at the agent's start replaces
 * a guard told an older one.
 */
function ready(digest: string): void {
  process.stdout.write(`${new Date().toISOString()} guard: ready for ${node}, configuration ${digest}\n`);
  if (values['ready-fd'] === undefined) return;
  const fd = Number(values['ready-fd']);
  writeSync(fd, 'ready\n');
  closeSync(fd);
}

async function release(why: string): Promise<void> {
  if (releasing) return;
  releasing = true;
  clearTimeout(silence);
  // Stops first, the event log after: a peer may be taking over, and an insert waits on the disk.
  const started = Date.now();
  const events: { at: number; message: string; severity: 'warning' | 'critical'; group?: string; resource?: string }[] = [];
  const log = (message: string, severity: 'warning' | 'critical' = 'critical', group?: string, resource?: string): void => {
    events.push({ at: Date.now(), message, severity, ...(group ? { group } : {}), ...(resource ? { resource } : {}) });
    process.stdout.write(`${new Date().toISOString()} guard: ${message}\n`);
  };
  log(`${why}: stopping what it ran (${Object.keys(active).join(', ') || 'nothing'})`);
  // Nothing is active before the configuration came: the agent reports only after it.
  await Promise.all((config?.groups ?? []).filter((g) => active[g.id]?.length).map(async (group) => {
    for (const r of [...group.resources].reverse()) {
      if (!active[group.id]!.includes(r.id)) continue;
      const agent = createResourceAgent(r, { stateDir, platform, nodeId: node });
      const result = await agent.run('stop');
      agent.dispose();
      if (result.rc === 0) log(`stopped ${r.id} after the agent died`, 'warning', group.id, r.id);
      else log(`could not stop ${r.id} after the agent died (rc ${result.rc}: ${result.message})`, 'critical', group.id, r.id);
    }
  }));
  process.stdout.write(`${new Date().toISOString()} guard: released in ${Date.now() - started} ms\n`);
  try {
    // Loaded only now: the native addon is no part of the guard's start.
    const { StateStore } = await import('../store/state-store.js');
    const store = StateStore.open(join(stateDir, 'state.db'));
    for (const e of events) store.appendEvent({ ...e, kind: 'fault', node });
    // Waits for the database's lock, which a frozen agent may hold, up to the store's busy timeout.
    store.close();
  } catch (e) {
    process.stdout.write(`${new Date().toISOString()} guard: the event log was not written (${(e as Error).message}); what it did is above\n`);
  }
  process.exit(0);
}
