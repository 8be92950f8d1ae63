import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCommandLine, UsageError } from '../../../agent/cli/args.js';

const NOW = Date.parse('2026-06-01T12:00:00Z');
const parse = (...argv: string[]) => parseCommandLine(argv, {}, NOW);

function usage(argv: string[], message: RegExp): void {
  assert.throws(() => parse(...argv), (e: unknown) => e instanceof UsageError && e.exitCode === 2 && message.test(e.message));
}

test('commands and their arguments', () => {
  assert.deepEqual(parse('status').command, { name: 'status', json: false });
  assert.deepEqual(parse('status', '--json').command, { name: 'status', json: true });
  assert.deepEqual(parse('switchover', 'web').command, { name: 'switchover', group: 'web' });
  assert.deepEqual(parse('switchover', 'web', 'beta').command, { name: 'switchover', group: 'web', node: 'beta' });
  assert.deepEqual(parse('switchback', 'web').command, { name: 'switchback', group: 'web' });
  assert.deepEqual(parse('maintenance', 'on').command, { name: 'maintenance', on: true });
  assert.deepEqual(parse('cleanup', 'db').command, { name: 'cleanup', group: 'db' });
  assert.deepEqual(parse('simulate', '--config', 'c.yaml', 's.json').command, { name: 'simulate', config: 'c.yaml', state: 's.json', json: false });
  assert.deepEqual(parse().command, { name: 'help' });
  assert.deepEqual(parse('mirror', 'status').command, { name: 'mirror', action: 'status', json: false });
  assert.deepEqual(parse('mirror', 'status', 'data', '--json').command, { name: 'mirror', action: 'status', mirror: 'data', json: true });
  assert.deepEqual(parse('mirror', 'pause-target', 'data').command, { name: 'mirror', action: 'pause-target', mirror: 'data', json: false });
});

test('events: ages, ISO times, repeated kinds, limits', () => {
  const c = parse('events', '--since', '10m', '--until', '2026-06-01T11:59:00Z', '--kind', 'failover', '--kind', 'peer-lost', '--limit', '5', '--json').command;
  assert.deepEqual(c, { name: 'events', json: true, kinds: ['failover', 'peer-lost'], since: NOW - 600_000, until: NOW - 60_000, limit: 5 });
});

test('where the socket is: flag, state dir, environment, default', () => {
  assert.equal(parse('--socket', '/tmp/s', 'status').socket, '/tmp/s');
  assert.equal(parse('--state-dir', '/srv/vigil/', 'status').socket, '/srv/vigil/vigild.sock');
  assert.equal(parseCommandLine(['status'], { VIGIL_SOCKET: '/x.sock' }, NOW).socket, '/x.sock');
  assert.equal(parse('status').socket, '/var/lib/vigil/vigild.sock');
});

test('bad arguments get a message that names them', () => {
  usage(['frobnicate'], /unknown command "frobnicate"/);
  usage(['switchover'], /switchover: missing GROUP/);
  usage(['switchover', 'web', 'beta', 'gamma'], /unexpected argument "gamma"/);
  usage(['maintenance', 'maybe'], /expected "on" or "off", not "maybe"/);
  usage(['status', '--verbose'], /unexpected argument "--verbose"/);
  usage(['events', '--kind', 'explosion'], /unknown --kind "explosion"/);
  usage(['events', '--since', 'yesterday'], /--since: expected an ISO time/);
  usage(['events', '--limit', '0'], /--limit must be a whole number/);
  usage(['events', '--limit'], /--limit needs a value/);
  usage(['simulate', 's.json'], /--config is required/);
  usage(['--colour', 'red', 'status'], /unknown option --colour/);
  usage(['--socket'], /--socket needs a value/);
  usage(['mirror', 'explode', 'data'], /mirror: unknown action "explode"/);
  usage(['mirror', 'full'], /mirror: missing NAME/);
});
