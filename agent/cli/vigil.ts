#!/usr/bin/env node
/**
 * `vigil`: the administrator's command line. It talks to the local agent through its control socket, or to a
 * remote agent's API over TLS with a token or a user certificate; the PKI commands work on files only.
 */
import { readFileSync } from 'node:fs';
import { parseConfig, ConfigError } from '../../common/config/load.js';
import type { NodeProblem } from '../../common/model/index.js';
import { ProtocolError, type Method, type Params, type Results } from '../../common/protocol/api.js';
import { plan } from '../core/plan.js';
import { expandWhatIf, WhatIfError } from '../core/what-if.js';
import { ApiClient, callOnce, type ApiClientOptions } from '../api/api-client.js';
import { parseCommandLine, USAGE, UsageError, type Command, type Connection } from './args.js';
import {
  formatAlerts, formatAlertTest, formatAudit, formatConfigChange, formatConfigHistory, formatEvents, formatMirrors, formatNodeResults,
  formatPlan, formatProblems, formatStatus, formatTopicEvent, formatVerify,
} from './format.js';
import { isPkiCommand, PKI_USAGE, runPkiCommand } from './pki-commands.js';

const DEFAULT_TIMEOUT_MS = 30_000;

/** What a command prints, and whether it succeeded (a validation that some node rejects exits 1). */
interface Outcome { readonly text: string; readonly exitCode: 0 | 1 }
const ok = (text: string): Outcome => ({ text, exitCode: 0 });

/** A file named on the command line, read with a message that names the option it came from. */
function readNamed(option: string, file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new CliError(`${option} ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** A failure before any agent was asked (a file that cannot be read): printed as is, exit 1. */
class CliError extends Error {}

function clientOptions(connection: Connection, timeoutMs: number): ApiClientOptions {
  if (connection.kind === 'local') return { socketPath: connection.socket, timeoutMs };
  const c = connection.credentials;
  const credentials = c.kind === 'certificate' ? { cert: readNamed('--cert', c.certFile), key: readNamed('--key', c.keyFile) }
    : { token: c.kind === 'token' ? c.token : readNamed('--token-file', c.file).trim() };
  return { url: connection.url, ca: readNamed('--ca', connection.caFile), timeoutMs, ...credentials };
}

async function run(command: Command, connection: Connection): Promise<Outcome> {
  const call = <M extends Method>(method: M, params: Params<M>, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<Results[M]> =>
    callOnce(clientOptions(connection, timeoutMs), method, params, timeoutMs);
  switch (command.name) {
    case 'help': return ok(USAGE);
    case 'status': {
      const status = await call('status', {});
      return ok(command.json ? JSON.stringify(status, null, 2) : formatStatus(status));
    }
    case 'switchover': {
      const r = await call('switchover', command.node === undefined ? { group: command.group } : { group: command.group, node: command.node });
      return ok(`${r.group} is moving to ${r.target}`);
    }
    case 'switchback': {
      const r = await call('switchback', { group: command.group });
      return ok(`${r.group} is moving back to ${r.target}`);
    }
    case 'maintenance': {
      const r = await call('maintenance', { on: command.on });
      return ok(`maintenance mode ${r.on ? 'on: Vigil will neither start, stop nor monitor anything' : 'off: resources are probed again'}`);
    }
    case 'cleanup': {
      const r = await call('cleanup', { group: command.group });
      return ok(`failures of ${r.group} cleared; its resources will be probed again`);
    }
    case 'group-stop': {
      const r = await call('group.stop', { group: command.group });
      return ok(`${r.group} is stopped on every node and stays stopped until "vigil group start ${r.group}"`);
    }
    case 'group-start': {
      const r = await call('group.start', { group: command.group });
      return ok(`${r.group} may run again: it starts where the scheduler places it`);
    }
    case 'events': {
      const { json: _json, name: _name, ...query } = command;
      const events = await call('events', query.kinds.length ? query : { ...query, kinds: undefined });
      return ok(command.json ? JSON.stringify(events, null, 2) : formatEvents(events));
    }
    case 'simulate': {
      const config = parseConfig(readFileSync(command.config, 'utf8'), command.config);
      let state: unknown;
      try {
        state = JSON.parse(readFileSync(command.state, 'utf8'));
      } catch (e) {
        throw new WhatIfError(`${command.state}: ${(e as Error).message}`);
      }
      // A golden scenario file carries its what-if under "whatIf"; a plain what-if file is the state itself.
      const whatIf = typeof state === 'object' && state !== null && 'whatIf' in state ? (state as { whatIf: unknown }).whatIf : state;
      const { observed, now } = expandWhatIf(config, whatIf);
      const result = plan(config, observed, now);
      return ok(command.json ? JSON.stringify(result, null, 2) : formatPlan(result));
    }
    case 'mirror': {
      const params = { action: command.action, ...(command.mirror === undefined ? {} : { name: command.mirror }), ...(command.thorough === true ? { thorough: true } : {}) };
      const r = await call('mirror', params, command.action === 'verify' ? 600_000 : DEFAULT_TIMEOUT_MS);
      if (command.json) return ok(JSON.stringify(command.action === 'verify' ? r.verify : r.status, null, 2));
      if (command.action === 'verify' && r.verify) return ok(formatVerify(r.verify));
      return ok([r.message, formatMirrors(r.status)].filter((x) => x !== undefined && x !== '').join('\n'));
    }
    case 'validate': {
      const config = parseConfig(readFileSync(command.config, 'utf8'), command.config);
      return ok(`${command.config}: valid: cluster ${config.cluster.id}, ${config.nodes.length} nodes, ${config.heartbeat.links.length} links, ${config.groups.length} groups`);
    }
    case 'config-get': {
      const version = await call('config.get', command.generation === undefined ? {} : { generation: command.generation });
      // The text exactly as written, so `vigil config get > cluster.yaml` round-trips.
      return ok(version.text.replace(/\n$/, ''));
    }
    case 'config-history': {
      const versions = await call('config.history', command.limit === undefined ? {} : { limit: command.limit });
      return ok(command.json ? JSON.stringify(versions, null, 2) : formatConfigHistory(versions));
    }
    case 'config-validate': {
      const { nodes } = await call('config.validate', { text: readNamed('config validate', command.file) }, 60_000);
      return { text: formatNodeResults(nodes), exitCode: nodes.some((n) => n.outcome === 'failed') ? 1 : 0 };
    }
    case 'config-propose': {
      const text = readNamed('config propose', command.file);
      // The default base is what is current now: the caller vouches that FILE was edited from it.
      const baseGeneration = command.base ?? (await call('config.get', {})).generation;
      const r = await call('config.propose', { text, baseGeneration, ...(command.comment === undefined ? {} : { comment: command.comment }) }, 120_000);
      return ok(formatConfigChange(r));
    }
    case 'config-rollback': {
      const baseGeneration = command.base ?? (await call('config.get', {})).generation;
      const r = await call('config.rollback', { toGeneration: command.generation, baseGeneration, ...(command.comment === undefined ? {} : { comment: command.comment }) }, 120_000);
      return ok(`generation ${command.generation}'s text is current again, as ${formatConfigChange(r)}`);
    }
    case 'audit': {
      const entries = await call('audit.list', { ...(command.since === undefined ? {} : { since: command.since }), ...(command.limit === undefined ? {} : { limit: command.limit }) });
      return ok(command.json ? JSON.stringify(entries, null, 2) : formatAudit(entries));
    }
    case 'alerts': {
      const alerts = await call('alerts.list', command.limit === undefined ? {} : { limit: command.limit });
      return ok(command.json ? JSON.stringify(alerts, null, 2) : formatAlerts(alerts));
    }
    case 'alerts-ack': {
      const alert = await call('alerts.ack', { id: command.id });
      return ok(`alert ${alert.id} acknowledged by ${alert.acknowledged?.by ?? '?'}`);
    }
    case 'alerts-test': {
      const results = await call('alerts.test', command.channel === undefined ? {} : { channel: command.channel }, 120_000);
      return { text: formatAlertTest(results), exitCode: results.every((r) => r.ok) ? 0 : 1 };
    }
    case 'watch': return watch(command, connection);
  }
}

/** Subscribe and print each change as it comes, until a signal, N events, or the agent ends the session. */
async function watch(command: Extract<Command, { name: 'watch' }>, connection: Connection): Promise<Outcome> {
  const client = await ApiClient.connect(clientOptions(connection, DEFAULT_TIMEOUT_MS));
  let seen = 0;
  let stopping = false;
  const stop = new Promise<void>((resolve) => {
    const onSignal = (): void => { stopping = true; resolve(); };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    client.onEvent((event) => {
      if (stopping) return;
      process.stdout.write(`${command.json ? JSON.stringify(event) : formatTopicEvent(event)}\n`);
      seen += 1;
      if (command.count !== undefined && seen >= command.count) { stopping = true; resolve(); }
    });
  });
  try {
    await client.call('subscribe', { topics: command.topics });
    // On stderr, so the output stays one line per event; a script (or a test) waits for it before acting.
    process.stderr.write(`vigil: watching ${command.topics.join(', ')} on ${client.welcome.node}\n`);
    const ended = await Promise.race([stop.then(() => undefined), client.ended]);
    if (ended !== undefined && !stopping) throw ended;
    return ok('');
  } finally {
    await client.close();
  }
}

function problemsOf(e: ProtocolError): readonly NodeProblem[] {
  const problems = (e.details as { problems?: unknown } | undefined)?.problems;
  return Array.isArray(problems) ? problems as NodeProblem[] : [];
}

async function main(): Promise<number> {
  const pki = isPkiCommand(process.argv[2]);
  try {
    if (pki) {
      process.stdout.write((await runPkiCommand(process.argv.slice(2))) + '\n');
      return 0;
    }
    const { command, connection } = parseCommandLine(process.argv.slice(2), process.env, Date.now());
    const outcome = await run(command, connection);
    if (outcome.text !== '') process.stdout.write(outcome.text + '\n');
    return outcome.exitCode;
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`vigil: ${e.message}\n\n${pki ? PKI_USAGE : USAGE}\n`);
      return 2;
    }
    if (e instanceof ProtocolError) {
      const problems = problemsOf(e);
      process.stderr.write(`vigil: ${e.code}: ${e.message}\n${problems.length > 0 ? `${formatProblems(problems)}\n` : ''}`);
      return 1;
    }
    if (e instanceof ConfigError || e instanceof WhatIfError || e instanceof CliError) {
      process.stderr.write(`vigil: ${e.message}\n`);
      return 1;
    }
    process.stderr.write(`vigil: ${(e as Error).message}\n`);
    return 1;
  }
}

process.exitCode = await main();
