/**
 * The `vigil` command line, parsed by a pure function so every bad argument gets a precise message and a
 * test. Exit code 2 for usage errors, as is customary.
 */
import { parseDuration } from '../../common/config/duration.js';
import { EVENT_KINDS, type EventKind } from '../../common/model/events.js';
import { MIRROR_ACTIONS, type MirrorAction } from '../../common/model/mirror.js';

export type Command =
  | { readonly name: 'status'; readonly json: boolean }
  | { readonly name: 'switchover'; readonly group: string; readonly node?: string }
  | { readonly name: 'switchback'; readonly group: string }
  | { readonly name: 'maintenance'; readonly on: boolean }
  | { readonly name: 'cleanup'; readonly group: string }
  | { readonly name: 'events'; readonly json: boolean; readonly since?: number; readonly until?: number; readonly kinds: EventKind[]; readonly group?: string; readonly limit?: number }
  | { readonly name: 'simulate'; readonly config: string; readonly state: string; readonly json: boolean }
  | { readonly name: 'validate'; readonly config: string }
  | { readonly name: 'mirror'; readonly action: MirrorAction; readonly mirror?: string; readonly json: boolean }
  | { readonly name: 'help' };

export interface CommandLine {
  readonly command: Command;
  /** Where the local agent's control socket is. */
  readonly socket: string;
}

export class UsageError extends Error {
  readonly exitCode = 2;
}

export const USAGE = `usage: vigil [--socket PATH | --state-dir DIR] COMMAND

commands:
  status [--json]                      the cluster as this node sees it
  switchover GROUP [NODE]              move GROUP to NODE (default: the next eligible node)
  switchback GROUP                     move GROUP back to its most preferred eligible node
  maintenance on|off                   stop (or resume) all starting, stopping and monitoring, cluster-wide
  cleanup GROUP                        forget GROUP's failures on this node and probe it again
  events [--since T] [--until T] [--kind K]... [--group G] [--limit N] [--json]
                                       the event log, newest first (T: an ISO time or an age such as 10m)
  simulate --config FILE STATE.json [--json]
                                       run the real scheduler on a what-if state and print its actions
  validate --config FILE               check a configuration file
  mirror status [NAME] [--json]        mirrors on this node: role, state, queues on both sides, lag, throughput
  mirror full|diff NAME                resend everything / only the blocks that differ (the target reports hashes)
  mirror pause-target|pause-source NAME
                                       freeze the target's copy (it spools what arrives) / stop sending (the
                                       source spools); both survive restarts
  mirror resume NAME                   end either pause: the spools drain in order
  mirror verify NAME [--json]          compare source and target by content hash and list what differs

The socket defaults to $VIGIL_SOCKET, else /var/lib/vigil/vigild.sock.`;

const DEFAULT_SOCKET = '/var/lib/vigil/vigild.sock';

export function parseCommandLine(argv: readonly string[], env: Readonly<Record<string, string | undefined>>, now: number): CommandLine {
  const args = [...argv];
  let socket = env['VIGIL_SOCKET'] ?? DEFAULT_SOCKET;
  // Global options come before the command.
  while (args[0]?.startsWith('--')) {
    const flag = args.shift()!;
    if (flag === '--help') return { command: { name: 'help' }, socket };
    const value = args.shift();
    if (value === undefined) throw new UsageError(`${flag} needs a value`);
    if (flag === '--socket') socket = value;
    else if (flag === '--state-dir') socket = `${value.replace(/\/$/, '')}/vigild.sock`;
    else throw new UsageError(`unknown option ${flag} (before the command: --socket, --state-dir)`);
  }
  const name = args.shift();
  if (name === undefined || name === 'help') return { command: { name: 'help' }, socket };
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
        const limitText = rest.option('--limit');
        const kinds = rest.repeated('--kind').map((k) => {
          if (!(EVENT_KINDS as readonly string[]).includes(k)) throw new UsageError(`events: unknown --kind "${k}" (kinds: ${EVENT_KINDS.join(', ')})`);
          return k as EventKind;
        });
        rest.done();
        let limit: number | undefined;
        if (limitText !== undefined) {
          limit = Number(limitText);
          if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) throw new UsageError(`events: --limit must be a whole number from 1 to 10000, not "${limitText}"`);
        }
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
        const action = rest.positional(MIRROR_ACTIONS.join('|'));
        if (!(MIRROR_ACTIONS as readonly string[]).includes(action)) throw new UsageError(`mirror: unknown action "${action}" (actions: ${MIRROR_ACTIONS.join(', ')})`);
        const mirror = action === 'status' ? rest.optionalPositional() : rest.positional('NAME');
        rest.done();
        return { name, action: action as MirrorAction, json, ...(mirror === undefined ? {} : { mirror }) };
      }
      default:
        throw new UsageError(`unknown command "${name}" (commands: status, switchover, switchback, maintenance, cleanup, events, simulate, validate, mirror)`);
    }
  })();
  return { command, socket };
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
