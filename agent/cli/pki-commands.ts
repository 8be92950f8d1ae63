/**
 * `vigil init | token | cert | rotate`: the cluster's keys, certificates and API tokens. These work on the PKI
 * folder directly (the administrator's machine), not through an agent, so they run before any agent exists.
 */
import { USER_ROLES, type UserRole } from '../../common/model/auth.js';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { writeSecretFile } from '../security/secret-files.js';
import { DEFAULT_CERT_DAYS, finishRotation, initCluster, issueUserCertificate, pkiPaths, rotateCa, type NodeHosts } from '../security/pki.js';
import { TokenStore } from '../security/tokens.js';
import { UsageError } from './args.js';

export const PKI_COMMANDS = ['init', 'token', 'cert', 'rotate'] as const;

export const PKI_USAGE = `usage: vigil COMMAND --dir DIR ...   (DIR: the cluster's PKI folder, kept owner-only)

  init --dir DIR --cluster ID --node ID=HOST,HOST... [--node ...] [--days N] [--force]
                                       create the CA, node certificates, cluster key, the admin's certificate
                                       and a first admin token (printed once); --force replaces an existing CA
  token create --dir DIR --name NAME --role viewer|operator|admin [--ttl 30d]
                                       a new API token, printed once (ttl: Ns, Nm, Nh or Nd)
  token list --dir DIR                 tokens: id, name, role, created, expires (never the secret)
  token revoke --dir DIR ID            the token stops working at once, on every agent reading the file
  cert issue --dir DIR --user NAME --role viewer|operator|admin [--days N]
                                       a client certificate for a user (users/NAME.crt and .key)
  rotate ca --dir DIR [--days N]       a new CA; trust.pem holds old and new; node certificates are reissued
  rotate finish --dir DIR              drop the old CA from trust.pem: its certificates stop working
  rotate key --dir DIR                 a new cluster key in cluster.next.key, and the three steps to roll it out`;

export function isPkiCommand(name: string | undefined): boolean {
  return (PKI_COMMANDS as readonly string[]).includes(name ?? '');
}

interface OptionSpec {
  readonly values?: readonly string[];
  readonly repeated?: readonly string[];
  readonly flags?: readonly string[];
  readonly positionals?: readonly string[];
}

interface Parsed {
  readonly values: ReadonlyMap<string, string>;
  readonly repeated: ReadonlyMap<string, readonly string[]>;
  readonly flags: ReadonlySet<string>;
  readonly positionals: readonly string[];
}

/** Options in any order; anything not in the spec is an error that names it. */
function parseOptions(command: string, args: readonly string[], spec: OptionSpec): Parsed {
  const values = new Map<string, string>();
  const repeated = new Map<string, string[]>();
  const flags = new Set<string>();
  const positionals: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (!arg.startsWith('--')) {
      if (positionals.length >= (spec.positionals?.length ?? 0)) throw new UsageError(`${command}: unexpected argument "${arg}"`);
      positionals.push(arg);
      continue;
    }
    if (spec.flags?.includes(arg)) {
      flags.add(arg);
      continue;
    }
    const isValue = spec.values?.includes(arg) ?? false;
    if (!isValue && !(spec.repeated?.includes(arg) ?? false)) {
      const known = [...(spec.values ?? []), ...(spec.repeated ?? []), ...(spec.flags ?? [])];
      throw new UsageError(`${command}: unknown option ${arg} (options: ${known.join(', ')})`);
    }
    const value = args[++i];
    if (value === undefined || value.startsWith('--')) throw new UsageError(`${command}: ${arg} needs a value`);
    if (isValue) {
      if (values.has(arg)) throw new UsageError(`${command}: ${arg} given twice`);
      values.set(arg, value);
    } else {
      repeated.set(arg, [...(repeated.get(arg) ?? []), value]);
    }
  }
  const missing = spec.positionals?.[positionals.length];
  if (missing !== undefined) throw new UsageError(`${command}: missing ${missing}`);
  return { values, repeated, flags, positionals };
}

function required(command: string, parsed: Parsed, name: string): string {
  const value = parsed.values.get(name);
  if (value === undefined) throw new UsageError(`${command}: ${name} is required`);
  return value;
}

function role(command: string, text: string): UserRole {
  if (!(USER_ROLES as readonly string[]).includes(text)) throw new UsageError(`${command}: --role must be one of ${USER_ROLES.join(', ')}, not "${text}"`);
  return text as UserRole;
}

function days(command: string, parsed: Parsed): number {
  const text = parsed.values.get('--days');
  if (text === undefined) return DEFAULT_CERT_DAYS;
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1 || n > 3650) throw new UsageError(`${command}: --days must be a whole number from 1 to 3650, not "${text}"`);
  return n;
}

const TTL_UNITS: Readonly<Record<string, number>> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "90s", "15m", "12h", "30d". */
export function parseTtl(text: string): number | undefined {
  const match = /^(\d+)([smhd])$/.exec(text);
  if (!match) return undefined;
  const ms = Number(match[1]) * TTL_UNITS[match[2]!]!;
  return ms > 0 && Number.isSafeInteger(ms) ? ms : undefined;
}

/** "alpha=198.51.100.1,alpha.example" (hosts optional: "alpha" alone is reached as localhost only). */
function parseNode(text: string): NodeHosts {
  const eq = text.indexOf('=');
  const id = eq < 0 ? text : text.slice(0, eq);
  const hosts = eq < 0 ? [] : text.slice(eq + 1).split(',');
  if (id === '' || hosts.some((h) => h === '')) throw new UsageError(`init: --node "${text}": expected ID=HOST,HOST... (such as alpha=198.51.100.1,alpha.example)`);
  return { id, hosts };
}

const iso = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** Run one PKI command (`args` starts with the command's name); returns what to print. */
export async function runPkiCommand(args: readonly string[]): Promise<string> {
  const [name, ...rest] = args;
  switch (name) {
    case 'init': {
      const p = parseOptions('init', rest, { values: ['--dir', '--cluster', '--days'], repeated: ['--node'], flags: ['--force'] });
      const dir = required('init', p, '--dir');
      const clusterId = required('init', p, '--cluster');
      const nodes = (p.repeated.get('--node') ?? []).map(parseNode);
      if (nodes.length === 0) throw new UsageError('init: at least one --node ID=HOST,... is required');
      const result = await initCluster({ dir, clusterId, nodes, days: days('init', p), overwrite: p.flags.has('--force') });
      return [
        `cluster ${clusterId}: CA, ${nodes.length} node certificate${nodes.length === 1 ? '' : 's'}, cluster key and the admin's certificate written to ${dir}:`,
        ...result.files.map((f) => `  ${f}`),
        `On each node install trust.pem, nodes/<id>.crt, nodes/<id>.key and cluster.key.`,
        `Admin token (shown only now, keep it safe): ${result.adminToken}`,
      ].join('\n');
    }
    case 'token': {
      const [action, ...options] = rest;
      const command = `token ${action ?? ''}`.trim();
      switch (action) {
        case 'create': {
          const p = parseOptions(command, options, { values: ['--dir', '--name', '--role', '--ttl'] });
          const store = TokenStore.open(pkiPaths(required(command, p, '--dir')).tokens);
          const ttlText = p.values.get('--ttl');
          const ttlMs = ttlText === undefined ? undefined : parseTtl(ttlText);
          if (ttlText !== undefined && ttlMs === undefined) throw new UsageError(`${command}: --ttl must be a positive duration such as 90s, 15m, 12h or 30d, not "${ttlText}"`);
          const created = store.create({ name: required(command, p, '--name'), role: role(command, required(command, p, '--role')), ...(ttlMs === undefined ? {} : { ttlMs }) });
          return `token ${created.id} (shown only now, keep it safe): ${created.token}`;
        }
        case 'list': {
          const p = parseOptions(command, options, { values: ['--dir'] });
          const tokens = TokenStore.open(pkiPaths(required(command, p, '--dir')).tokens).list();
          if (tokens.length === 0) return 'no tokens';
          const now = Date.now();
          const rows = tokens.map((t) => [t.id, t.name, t.role, iso(t.created), t.expires === undefined ? 'never' : `${iso(t.expires)}${t.expires <= now ? ' (expired)' : ''}`]);
          return table([['ID', 'NAME', 'ROLE', 'CREATED', 'EXPIRES'], ...rows]);
        }
        case 'revoke': {
          const p = parseOptions(command, options, { values: ['--dir'], positionals: ['ID'] });
          const revoked = TokenStore.open(pkiPaths(required(command, p, '--dir')).tokens).revoke(p.positionals[0]!);
          return `token ${revoked.id} (${revoked.name}, ${revoked.role}) revoked`;
        }
        default:
          throw new UsageError(`token: expected create, list or revoke, not ${action === undefined ? 'nothing' : `"${action}"`}`);
      }
    }
    case 'cert': {
      const [action, ...options] = rest;
      if (action !== 'issue') throw new UsageError(`cert: expected issue, not ${action === undefined ? 'nothing' : `"${action}"`}`);
      const p = parseOptions('cert issue', options, { values: ['--dir', '--user', '--role', '--days'] });
      const user = required('cert issue', p, '--user');
      const paths = await issueUserCertificate({ dir: required('cert issue', p, '--dir'), user, role: role('cert issue', required('cert issue', p, '--role')), days: days('cert issue', p) });
      return `certificate for ${user} written: ${paths.cert} and ${paths.key}`;
    }
    case 'rotate': {
      const [action, ...options] = rest;
      const command = `rotate ${action ?? ''}`.trim();
      if (action === 'ca') {
        const p = parseOptions(command, options, { values: ['--dir', '--days'] });
        const dir = required(command, p, '--dir');
        const result = await rotateCa({ dir, days: days(command, p) });
        return [
          `new CA in ${dir}; trust.pem holds the new and the old CA; node certificates reissued.`,
          'Next: install trust.pem and nodes/<id>.crt/.key on every node, re-issue user certificates, then "vigil rotate finish".',
          ...(result.usersOnOldCa.length ? [`Users still on the old CA: ${result.usersOnOldCa.join(', ')}`] : []),
        ].join('\n');
      }
      if (action === 'finish') {
        const p = parseOptions(command, options, { values: ['--dir'] });
        const result = finishRotation({ dir: required(command, p, '--dir') });
        return [
          'trust.pem holds only the new CA: install it on every node; certificates of the old CA are refused from then on.',
          ...(result.usersOnOldCa.length ? [`These users' certificates are of the old CA and stop working: ${result.usersOnOldCa.join(', ')}`] : []),
        ].join('\n');
      }
      if (action === 'key') {
        const p = parseOptions(command, options, { values: ['--dir'] });
        const dir = required(command, p, '--dir');
        const next = join(dir, 'cluster.next.key');
        if (existsSync(next)) throw new UsageError(`rotate key: ${next} exists already (a rotation under way?): finish it or remove the file`);
        writeSecretFile(next, randomBytes(32).toString('base64') + '\n');
        return [
          `new cluster key written to ${next}. Copy it to every node, then commit three configurations in turn`,
          '("vigil config propose"; each reaches every node at once, and no heartbeat is ever refused):',
          '  1. keyFile: <current key>, acceptKeyFiles: [cluster.next.key]   every node accepts the new key',
          '  2. keyFile: cluster.next.key, acceptKeyFiles: [<old key>]       every node sends the new key',
          '  3. keyFile: cluster.next.key, acceptKeyFiles: []                the old key is refused; delete it',
        ].join('\n');
      }
      throw new UsageError(`rotate: expected ca, finish or key, not ${action === undefined ? 'nothing' : `"${action}"`}`);
    }
    default:
      throw new UsageError(`unknown command "${name ?? ''}" (PKI commands: ${PKI_COMMANDS.join(', ')})`);
  }
}

function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c]!)).join('  ').trimEnd()).join('\n');
}
