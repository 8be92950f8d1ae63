/**
 * The `vigil` command line, parsed by a pure function so every bad argument gets a precise message and a
 * test. Exit code 2 for usage errors, as is customary. The PKI commands (init, token, cert, rotate) have their
 * own parser in pki-commands.ts.
 */
import { parseDuration } from '../../common/config/duration.js';
import { EVENT_KINDS, type EventKind } from '../../common/model/events.js';
import { MIRROR_ACTIONS, type MirrorAction } from '../../common/model/mirror.js';
import { SNAPSHOT_TOPICS, type SnapshotTopic } from '../../common/model/api.js';

export type Command =
  | { readonly name: 'status'; readonly json: boolean }
  | { readonly name: 'switchover'; readonly group: string; readonly node?: string }
  | { readonly name: 'switchback'; readonly group: string }
  | { readonly name: 'maintenance'; readonly on: boolean }
  | { readonly name: 'cleanup'; readonly group: string }
  | { readonly name: 'group-stop' | 'group-start'; readonly group: string }
  | { readonly name: 'events'; readonly json: boolean; readonly since?: number; readonly until?: number; readonly kinds: EventKind[]; readonly group?: string; readonly limit?: number }
  | { readonly name: 'simulate'; readonly config: string; readonly state: string; readonly json: boolean }
  | { readonly name: 'validate'; readonly config: string }
  | { readonly name: 'mirror'; readonly action: MirrorAction; readonly mirror?: string; readonly json: boolean; readonly thorough?: boolean }
  | { readonly name: 'config-get'; readonly generation?: number }
  | { readonly name: 'config-history'; readonly limit?: number; readonly json: boolean }
  | { readonly name: 'config-validate'; readonly file: string }
  | { readonly name: 'config-propose'; readonly file: string; readonly base?: number; readonly comment?: string }
  | { readonly name: 'config-rollback'; readonly generation: number; readonly base?: number; readonly comment?: string }
  | { readonly name: 'audit'; readonly json: boolean; readonly since?: number; readonly limit?: number }
  | { readonly name: 'alerts'; readonly json: boolean; readonly limit?: number }
  | { readonly name: 'alerts-ack'; readonly id: string }
  | { readonly name: 'alerts-test'; readonly channel?: string }
  | { readonly name: 'watch'; readonly topics: SnapshotTopic[]; readonly count?: number; readonly json: boolean }
  | { readonly name: 'help' };

/**
 * Which agent to talk to: the local one through its socket (the kernel vouches for root), or a remote one over
 * TLS, with a token or a user certificate. Files are named here and read when the command runs, so the parser
 * stays pure.
 */
export type Connection =
  | { readonly kind: 'local'; readonly socket: string }
  | { readonly kind: 'remote'; readonly url: string; readonly caFile: string; readonly credentials: RemoteCredentials };

export type RemoteCredentials =
  | { readonly kind: 'token'; readonly token: string }
  | { readonly kind: 'token-file'; readonly file: string }
  | { readonly kind: 'certificate'; readonly certFile: string; readonly keyFile: string };

export interface CommandLine {
  readonly command: Command;
  readonly connection: Connection;
}

export class UsageError extends Error {
  readonly exitCode = 2;
}

export const USAGE = `usage: vigil [CONNECTION] COMMAND

connection (before the command):
  --socket PATH | --state-dir DIR      the local agent's socket (default: $VIGIL_SOCKET, else /var/lib/vigil/vigild.sock)
  --agent wss://HOST:PORT              a remote agent instead ($VIGIL_AGENT); needs --ca and one credential:
  --ca FILE                            the cluster's trust.pem, to check the agent's certificate ($VIGIL_CA)
  --token TOKEN | --token-file FILE    an API token ($VIGIL_TOKEN)
  --cert FILE --key FILE               a user certificate and its key (from "vigil cert issue")

commands:
  status [--json]                      the cluster as this node sees it
  switchover GROUP [NODE]              move GROUP to NODE (default: the next eligible node)
  switchback GROUP                     move GROUP back to its most preferred eligible node
  maintenance on|off                   stop (or resume) all starting, stopping and monitoring, cluster-wide
  cleanup GROUP                        forget GROUP's failures on this node and probe it again
  group stop GROUP                     stop GROUP on every node and keep it stopped (restarts, failovers), cluster-wide
  group start GROUP                    let a stopped GROUP run again where it is placed as usual
  events [--since T] [--until T] [--kind K]... [--group G] [--limit N] [--json]
                                       the event log, newest first (T: an ISO time or an age such as 10m)
  simulate --config FILE STATE.json [--json]
                                       run the real scheduler on a what-if state and print its actions
  validate --config FILE               check a configuration file here, without asking any agent
  mirror status [NAME] [--json]        mirrors on this node: role, state, queues on both sides, lag, throughput
  mirror full|diff NAME [--thorough]   resend everything / only the blocks that differ (the target reports hashes;
                                       each side reads only files changed since it last hashed them, unless
                                       --thorough: both read every file, to find changes that kept size and mtime)
  mirror pause-target|pause-source NAME
                                       freeze the target's copy (it spools what arrives) / stop sending (the
                                       source spools); both survive restarts
  mirror resume NAME                   end either pause: the spools drain in order
  mirror verify NAME [--json]          compare source and target by content hash and list what differs
  config get [--generation N]          the cluster's configuration text (default: the current generation)
  config history [--limit N] [--json]  the configuration's generations, newest first
  config validate FILE                 ask every reachable node whether it would run FILE (nothing changes)
  config propose FILE [--base N] [--comment TEXT]
                                       apply FILE on every node or none; N: the generation FILE was edited from
                                       (default: the current one)
  config rollback GENERATION [--base N] [--comment TEXT]
                                       commit an earlier generation's text again, as a new generation
  audit [--since T] [--limit N] [--json]
                                       control commands and logins, newest first (admin)
  alerts [--limit N] [--json]          recent alerts and their deliveries
  alerts ack ID                        acknowledge an alert
  alerts test [CHANNEL]                send a test alert (to one channel, or all)
  watch [--topics T,T...] [--count N] [--json]
                                       print one line per change until interrupted (topics: ${SNAPSHOT_TOPICS.join(', ')};
                                       default: status,events); with --count, stop after N

cluster keys, certificates and tokens (on the PKI folder, no agent needed):
  init, token create|list|revoke, cert issue, rotate ca|finish|key (see "vigil init --help")`;

const DEFAULT_SOCKET = '/var/lib/vigil/vigild.sock';

/** Options given before the command; environment variables fill in what the flags leave out. */
interface GlobalOptions {
  socket?: string;
  stateDir?: string;
  agent?: string;
  ca?: string;
  token?: string;
  tokenFile?: string;
  cert?: string;
  key?: string;
}

const GLOBAL_FLAGS: Readonly<Record<string, keyof GlobalOptions>> = {
  '--socket': 'socket', '--state-dir': 'stateDir', '--agent': 'agent', '--ca': 'ca', '--token': 'token',
  '--token-file': 'tokenFile', '--cert': 'cert', '--key': 'key',
};

function parseConnection(given: GlobalOptions, env: Readonly<Record<string, string | undefined>>): Connection {
  if (given.socket !== undefined && given.stateDir !== undefined) throw new UsageError('--socket and --state-dir both name the local socket: give one');
  const localFlag = given.socket !== undefined ? '--socket' : given.stateDir !== undefined ? '--state-dir' : undefined;
  if (localFlag !== undefined && given.agent !== undefined) throw new UsageError(`${localFlag} is for the local agent, --agent for a remote one: give one`);
  // An explicit local socket wins over $VIGIL_AGENT: the flag is the more specific wish.
  const agent = given.agent ?? (localFlag === undefined ? env['VIGIL_AGENT'] : undefined);
  if (agent === undefined || agent === '') {
    for (const [flag, key] of [['--ca', 'ca'], ['--token', 'token'], ['--token-file', 'tokenFile'], ['--cert', 'cert'], ['--key', 'key']] as const) {
      if (given[key] !== undefined) throw new UsageError(`${flag} is for a remote agent: give --agent wss://HOST:PORT too`);
    }
    const socket = given.socket ?? (given.stateDir === undefined ? env['VIGIL_SOCKET'] ?? DEFAULT_SOCKET : `${given.stateDir.replace(/\/$/, '')}/vigild.sock`);
    return { kind: 'local', socket };
  }
  const url = parseAgentUrl(agent, given.agent === undefined ? '$VIGIL_AGENT' : '--agent');
  const caFile = given.ca ?? env['VIGIL_CA'];
  if (caFile === undefined || caFile === '') throw new UsageError('--agent needs --ca FILE (the cluster\'s trust.pem), to know the agent is ours');
  if (given.token !== undefined && given.tokenFile !== undefined) throw new UsageError('--token and --token-file: give one');
  if ((given.cert === undefined) !== (given.key === undefined)) throw new UsageError(given.cert === undefined ? '--key needs --cert' : '--cert needs --key');
  const tokenFlag = given.token !== undefined ? '--token' : given.tokenFile !== undefined ? '--token-file' : undefined;
  if (tokenFlag !== undefined && given.cert !== undefined) throw new UsageError(`${tokenFlag} and --cert: a token or a certificate, not both`);
  let credentials: RemoteCredentials;
  if (given.cert !== undefined && given.key !== undefined) credentials = { kind: 'certificate', certFile: given.cert, keyFile: given.key };
  else if (given.tokenFile !== undefined) credentials = { kind: 'token-file', file: given.tokenFile };
  else if (given.token !== undefined) credentials = { kind: 'token', token: given.token };
  else if (env['VIGIL_TOKEN'] !== undefined && env['VIGIL_TOKEN'] !== '') credentials = { kind: 'token', token: env['VIGIL_TOKEN'] };
  else throw new UsageError('--agent needs credentials: --token, --token-file, $VIGIL_TOKEN, or --cert with --key');
  return { kind: 'remote', url, caFile, credentials };
}

/** wss://HOST:PORT, with nothing after the port: the client adds the /api path itself. */
function parseAgentUrl(text: string, source: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`${source}: expected wss://HOST:PORT, not "${text}"`);
  }
  if (url.protocol !== 'wss:') throw new UsageError(`${source}: expected wss://HOST:PORT (the API is only served over TLS), not "${text}"`);
  if (url.port === '' || (url.pathname !== '/' && url.pathname !== '') || url.search !== '' || url.username !== '') {
    throw new UsageError(`${source}: expected wss://HOST:PORT with nothing after the port, not "${text}"`);
  }
  return `wss://${url.host}`;
}

export function parseCommandLine(argv: readonly string[], env: Readonly<Record<string, string | undefined>>, now: number): CommandLine {
  const args = [...argv];
  const given: GlobalOptions = {};
  // Global options come before the command.
  while (args[0]?.startsWith('--')) {
    const flag = args.shift()!;
    if (flag === '--help') return { command: { name: 'help' }, connection: parseConnection({}, {}) };
    const key = GLOBAL_FLAGS[flag];
    if (key === undefined) throw new UsageError(`unknown option ${flag} (before the command: ${Object.keys(GLOBAL_FLAGS).join(', ')})`);
    const value = args.shift();
    if (value === undefined || value.startsWith('--')) throw new UsageError(`${flag} needs a value`);
    if (given[key] !== undefined) throw new UsageError(`${flag} given twice`);
    given[key] = value;
  }
  const connection = parseConnection(given, env);
  const name = args.shift();
  if (name === undefined || name === 'help') return { command: { name: 'help' }, connection };
  const rest = new Arguments(name, args);
  const command = ((): Command => {
    switch (name) {
      case 'status': { const json = rest.flag('--json'); rest.done(); return { name, json }; }
      case 'switchover': {
        const group = rest.positional('GROUP');
        const node = rest.optionalPositional();
        rest.done();
        return node === undefined ? { name, group } : { name, group, node };
      }
      case 'switchback':
      case 'cleanup': { const group = rest.positional('GROUP'); rest.done(); return { name, group }; }
      case 'maintenance': {
        const value = rest.positional('on|off');
        if (value !== 'on' && value !== 'off') throw new UsageError(`maintenance: expected "on" or "off", not "${value}"`);
        rest.done();
        return { name, on: value === 'on' };
      }
      case 'events': {
        const json = rest.flag('--json');
        const since = rest.option('--since');
        const until = rest.option('--until');
        const group = rest.option('--group');
        const limit = rest.wholeNumber('--limit', 1, 10_000);
        const kinds = rest.repeated('--kind').map((k) => {
          if (!(EVENT_KINDS as readonly string[]).includes(k)) throw new UsageError(`events: unknown --kind "${k}" (kinds: ${EVENT_KINDS.join(', ')})`);
          return k as EventKind;
        });
        rest.done();
        return {
          name, json, kinds,
          ...(since === undefined ? {} : { since: parseTime('--since', since, now) }),
          ...(until === undefined ? {} : { until: parseTime('--until', until, now) }),
          ...(group === undefined ? {} : { group }),
          ...(limit === undefined ? {} : { limit }),
        };
      }
      case 'simulate': {
        const json = rest.flag('--json');
        const config = rest.required('--config');
        const state = rest.positional('STATE.json');
        rest.done();
        return { name, config, state, json };
      }
      case 'validate': { const config = rest.required('--config'); rest.done(); return { name, config }; }
      case 'mirror': {
        const json = rest.flag('--json');
        const thorough = rest.flag('--thorough');
        const action = rest.positional(MIRROR_ACTIONS.join('|'));
        if (!(MIRROR_ACTIONS as readonly string[]).includes(action)) throw new UsageError(`mirror: unknown action "${action}" (actions: ${MIRROR_ACTIONS.join(', ')})`);
        if (thorough && action !== 'diff') throw new UsageError(`mirror ${action}: --thorough goes with diff only`);
        const mirror = action === 'status' ? rest.optionalPositional() : rest.positional('NAME');
        rest.done();
        return { name, action: action as MirrorAction, json, ...(thorough ? { thorough } : {}), ...(mirror === undefined ? {} : { mirror }) };
      }
      case 'config': return parseConfigCommand(args);
      case 'group': {
        const action = rest.positional('stop|start');
        if (action !== 'stop' && action !== 'start') throw new UsageError(`group: expected "stop" or "start", not "${action}"`);
        const sub = new Arguments(`group ${action}`, args);
        const group = sub.positional('GROUP');
        sub.done();
        return { name: action === 'stop' ? 'group-stop' : 'group-start', group };
      }
      case 'audit': {
        const json = rest.flag('--json');
        const since = rest.option('--since');
        const limit = rest.wholeNumber('--limit', 1, 10_000);
        rest.done();
        return { name, json, ...(since === undefined ? {} : { since: parseTime('--since', since, now) }), ...(limit === undefined ? {} : { limit }) };
      }
      case 'alerts': {
        const action = args[0] !== undefined && !args[0].startsWith('--') ? args.shift() : undefined;
        const sub = new Arguments(`alerts${action === undefined ? '' : ` ${action}`}`, args);
        if (action === undefined) {
          const json = sub.flag('--json');
          const limit = sub.wholeNumber('--limit', 1, 1000);
          sub.done();
          return { name: 'alerts', json, ...(limit === undefined ? {} : { limit }) };
        }
        if (action === 'ack') { const id = sub.positional('ID'); sub.done(); return { name: 'alerts-ack', id }; }
        if (action === 'test') {
          const channel = sub.optionalPositional();
          sub.done();
          return { name: 'alerts-test', ...(channel === undefined ? {} : { channel }) };
        }
        throw new UsageError(`alerts: expected ack or test (or nothing, to list), not "${action}"`);
      }
      case 'watch': {
        const json = rest.flag('--json');
        const topicsText = rest.option('--topics');
        const count = rest.wholeNumber('--count', 1, 1_000_000);
        rest.done();
        const topics = topicsText === undefined ? (['status', 'events'] as SnapshotTopic[]) : topicsText.split(',').map((t) => {
          if (!(SNAPSHOT_TOPICS as readonly string[]).includes(t)) throw new UsageError(`watch: unknown topic "${t}" in --topics (topics: ${SNAPSHOT_TOPICS.join(', ')})`);
          return t as SnapshotTopic;
        });
        return { name, topics: [...new Set(topics)], json, ...(count === undefined ? {} : { count }) };
      }
      default:
        throw new UsageError(`unknown command "${name}" (commands: status, switchover, switchback, maintenance, cleanup, group, events, simulate, validate, mirror, config, audit, alerts, watch, init, token, cert, rotate)`);
    }
  })();
  return { command, connection };
}

const CONFIG_ACTIONS = ['get', 'history', 'validate', 'propose', 'rollback'] as const;

function parseConfigCommand(args: string[]): Command {
  const action = args[0] !== undefined && !args[0].startsWith('--') ? args.shift() : undefined;
  if (action === undefined || !(CONFIG_ACTIONS as readonly string[]).includes(action)) {
    throw new UsageError(`config: expected ${CONFIG_ACTIONS.join(', ')}, not ${action === undefined ? 'nothing' : `"${action}"`}`);
  }
  const rest = new Arguments(`config ${action}`, args);
  switch (action as (typeof CONFIG_ACTIONS)[number]) {
    case 'get': {
      const generation = rest.wholeNumber('--generation', 1, Number.MAX_SAFE_INTEGER);
      rest.done();
      return { name: 'config-get', ...(generation === undefined ? {} : { generation }) };
    }
    case 'history': {
      const json = rest.flag('--json');
      const limit = rest.wholeNumber('--limit', 1, 1000);
      rest.done();
      return { name: 'config-history', json, ...(limit === undefined ? {} : { limit }) };
    }
    case 'validate': { const file = rest.positional('FILE'); rest.done(); return { name: 'config-validate', file }; }
    case 'propose': {
      const base = rest.wholeNumber('--base', 1, Number.MAX_SAFE_INTEGER);
      const comment = rest.option('--comment');
      const file = rest.positional('FILE');
      rest.done();
      return { name: 'config-propose', file, ...(base === undefined ? {} : { base }), ...(comment === undefined ? {} : { comment }) };
    }
    case 'rollback': {
      const base = rest.wholeNumber('--base', 1, Number.MAX_SAFE_INTEGER);
      const comment = rest.option('--comment');
      const text = rest.positional('GENERATION');
      const generation = Number(text);
      if (!/^\d+$/.test(text) || generation < 1 || !Number.isSafeInteger(generation)) throw new UsageError(`config rollback: GENERATION must be a whole number from 1, not "${text}"`);
      rest.done();
      return { name: 'config-rollback', generation, ...(base === undefined ? {} : { base }), ...(comment === undefined ? {} : { comment }) };
    }
  }
}

/** An ISO time, or an age ("10m" = ten minutes ago). */
function parseTime(flag: string, text: string, now: number): number {
  const age = parseDuration(text);
  if (age !== undefined && /[a-z]$/.test(text)) return now - age;
  const at = Date.parse(text);
  if (Number.isNaN(at)) throw new UsageError(`${flag}: expected an ISO time (2026-01-31T12:00:00Z) or an age (10m, 2h), not "${text}"`);
  return at;
}

/** The arguments after the command, consumed as the command's parser asks for them. */
class Arguments {
  constructor(private readonly command: string, private readonly args: string[]) {}

  flag(name: string): boolean {
    const i = this.args.indexOf(name);
    if (i < 0) return false;
    this.args.splice(i, 1);
    return true;
  }

  option(name: string): string | undefined {
    const i = this.args.indexOf(name);
    if (i < 0) return undefined;
    const value = this.args[i + 1];
    if (value === undefined || value.startsWith('--')) throw new UsageError(`${this.command}: ${name} needs a value`);
    this.args.splice(i, 2);
    if (this.args.includes(name)) throw new UsageError(`${this.command}: ${name} given twice`);
    return value;
  }

  repeated(name: string): string[] {
    const out: string[] = [];
    for (let value = this.optionOnce(name); value !== undefined; value = this.optionOnce(name)) out.push(value);
    return out;
  }

  private optionOnce(name: string): string | undefined {
    const i = this.args.indexOf(name);
    if (i < 0) return undefined;
    const value = this.args[i + 1];
    if (value === undefined || value.startsWith('--')) throw new UsageError(`${this.command}: ${name} needs a value`);
    this.args.splice(i, 2);
    return value;
  }

  /** An optional whole-number option within [min, max]. */
  wholeNumber(name: string, min: number, max: number): number | undefined {
    const text = this.option(name);
    if (text === undefined) return undefined;
    const n = Number(text);
    if (!/^\d+$/.test(text) || n < min || n > max) throw new UsageError(`${this.command}: ${name} must be a whole number from ${min} to ${max}, not "${text}"`);
    return n;
  }

  required(name: string): string {
    const value = this.option(name);
    if (value === undefined) throw new UsageError(`${this.command}: ${name} is required`);
    return value;
  }

  positional(what: string): string {
    const value = this.optionalPositional();
    if (value === undefined) throw new UsageError(`${this.command}: missing ${what}`);
    return value;
  }

  optionalPositional(): string | undefined {
    const i = this.args.findIndex((a) => !a.startsWith('--'));
    return i < 0 ? undefined : this.args.splice(i, 1)[0];
  }

  done(): void {
    if (this.args.length > 0) throw new UsageError(`${this.command}: unexpected argument "${this.args[0]}"`);
  }
}
