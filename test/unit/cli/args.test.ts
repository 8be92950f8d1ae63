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
  assert.deepEqual(parse('mirror', 'diff', 'data', '--thorough').command, { name: 'mirror', action: 'diff', mirror: 'data', json: false, thorough: true });
});

test('group stop|start GROUP; a missing or wrong argument is named', () => {
  assert.deepEqual(parse('group', 'stop', 'web').command, { name: 'group-stop', group: 'web' });
  assert.deepEqual(parse('group', 'start', 'db').command, { name: 'group-start', group: 'db' });
  usage(['group'], /group: missing stop\|start/);
  usage(['group', 'pause', 'web'], /group: expected "stop" or "start", not "pause"/);
  usage(['group', 'stop'], /group stop: missing GROUP/);
  usage(['group', 'start', 'web', 'db'], /group start: unexpected argument "db"/);
});

test('events: ages, ISO times, repeated kinds, limits', () => {
  const c = parse('events', '--since', '10m', '--until', '2026-06-01T11:59:00Z', '--kind', 'failover', '--kind', 'peer-lost', '--limit', '5', '--json').command;
  assert.deepEqual(c, { name: 'events', json: true, kinds: ['failover', 'peer-lost'], since: NOW - 600_000, until: NOW - 60_000, limit: 5 });
});

test('where the socket is: flag, state dir, environment, default', () => {
  const local = (socket: string) => ({ kind: 'local', socket });
  assert.deepEqual(parse('--socket', '/tmp/s', 'status').connection, local('/tmp/s'));
  assert.deepEqual(parse('--state-dir', '/srv/vigil/', 'status').connection, local('/srv/vigil/vigild.sock'));
  assert.deepEqual(parseCommandLine(['status'], { VIGIL_SOCKET: '/x.sock' }, NOW).connection, local('/x.sock'));
  assert.deepEqual(parse('status').connection, local('/var/lib/vigil/vigild.sock'));
  // A token in the environment does not turn a local call into a remote one.
  assert.deepEqual(parseCommandLine(['status'], { VIGIL_TOKEN: 't', VIGIL_CA: 'ca.pem' }, NOW).connection, local('/var/lib/vigil/vigild.sock'));
});

test('a remote agent: URL, CA and one credential, from flags or the environment', () => {
  const remote = (credentials: object, url = 'wss://node1:7400', caFile = 'trust.pem') => ({ kind: 'remote', url, caFile, credentials });
  assert.deepEqual(parse('--agent', 'wss://node1:7400', '--ca', 'trust.pem', '--token', 'vgl_x', 'status').connection, remote({ kind: 'token', token: 'vgl_x' }));
  assert.deepEqual(parse('--agent', 'wss://node1:7400/', '--ca', 'trust.pem', '--token-file', 'tok', 'status').connection, remote({ kind: 'token-file', file: 'tok' }));
  assert.deepEqual(parse('--ca', 'trust.pem', '--cert', 'u.crt', '--key', 'u.key', '--agent', 'wss://[::1]:7400', 'status').connection,
    remote({ kind: 'certificate', certFile: 'u.crt', keyFile: 'u.key' }, 'wss://[::1]:7400'));
  const env = { VIGIL_AGENT: 'wss://10.0.0.1:7400', VIGIL_TOKEN: 'vgl_env', VIGIL_CA: '/etc/vigil/trust.pem', VIGIL_SOCKET: '/x.sock' };
  assert.deepEqual(parseCommandLine(['status'], env, NOW).connection, remote({ kind: 'token', token: 'vgl_env' }, 'wss://10.0.0.1:7400', '/etc/vigil/trust.pem'));
  // Flags beat the environment: a token flag, a certificate, or the local socket.
  assert.deepEqual(parseCommandLine(['--token', 'vgl_flag', 'status'], env, NOW).connection, remote({ kind: 'token', token: 'vgl_flag' }, 'wss://10.0.0.1:7400', '/etc/vigil/trust.pem'));
  assert.deepEqual(parseCommandLine(['--cert', 'c', '--key', 'k', 'status'], env, NOW).connection, remote({ kind: 'certificate', certFile: 'c', keyFile: 'k' }, 'wss://10.0.0.1:7400', '/etc/vigil/trust.pem'));
  assert.deepEqual(parseCommandLine(['--socket', '/s', 'status'], env, NOW).connection, { kind: 'local', socket: '/s' });
  assert.deepEqual(parseCommandLine(['--ca', 'mine.pem', 'status'], env, NOW).connection, remote({ kind: 'token', token: 'vgl_env' }, 'wss://10.0.0.1:7400', 'mine.pem'));
});

test('bad connection options get a message that names the option', () => {
  const A = ['--agent', 'wss://h:1'];
  usage([...A, '--token', 't', 'status'], /--agent needs --ca/);
  usage([...A, '--ca', 'c', 'status'], /--agent needs credentials/);
  usage([...A, '--ca', 'c', '--token', 't', '--token-file', 'f', 'status'], /--token and --token-file/);
  usage([...A, '--ca', 'c', '--token', 't', '--cert', 'x', '--key', 'y', 'status'], /--token and --cert: a token or a certificate/);
  usage([...A, '--ca', 'c', '--token-file', 'f', '--cert', 'x', '--key', 'y', 'status'], /--token-file and --cert/);
  usage([...A, '--ca', 'c', '--cert', 'x', 'status'], /--cert needs --key/);
  usage([...A, '--ca', 'c', '--key', 'y', 'status'], /--key needs --cert/);
  usage([...A, '--socket', '/s', '--ca', 'c', '--token', 't', 'status'], /--socket is for the local agent, --agent for a remote one/);
  usage(['--state-dir', '/d', ...A, 'status'], /--state-dir is for the local agent/);
  usage(['--socket', '/s', '--state-dir', '/d', 'status'], /--socket and --state-dir/);
  usage(['--agent', 'https://h:1', '--ca', 'c', '--token', 't', 'status'], /--agent: expected wss:\/\/HOST:PORT \(the API is only served over TLS\)/);
  usage(['--agent', 'ws://h:1', '--ca', 'c', '--token', 't', 'status'], /--agent: expected wss:/);
  usage(['--agent', 'wss://h', '--ca', 'c', '--token', 't', 'status'], /--agent: expected wss:\/\/HOST:PORT with nothing after the port/);
  usage(['--agent', 'wss://h:1/api', '--ca', 'c', '--token', 't', 'status'], /with nothing after the port/);
  usage(['--agent', 'node1', '--ca', 'c', '--token', 't', 'status'], /--agent: expected wss:\/\/HOST:PORT, not "node1"/);
  assert.throws(() => parseCommandLine(['status'], { VIGIL_AGENT: 'nonsense', VIGIL_CA: 'c', VIGIL_TOKEN: 't' }, NOW), /\$VIGIL_AGENT: expected wss/);
  usage(['--token', 't', 'status'], /--token is for a remote agent: give --agent/);
  usage(['--token-file', 'f', 'status'], /--token-file is for a remote agent/);
  usage(['--ca', 'c', 'status'], /--ca is for a remote agent/);
  usage(['--cert', 'c', '--key', 'k', 'status'], /--cert is for a remote agent/);
  usage(['--key', 'k', 'status'], /--key is for a remote agent/);
  usage(['--agent', 'wss://h:1', '--agent', 'wss://h:2', 'status'], /--agent given twice/);
  usage(['--agent'], /--agent needs a value/);
  usage(['--token', '--ca', 'c'], /--token needs a value/);
});

test('config, audit, alerts and watch commands', () => {
  assert.deepEqual(parse('config', 'get').command, { name: 'config-get' });
  assert.deepEqual(parse('config', 'get', '--generation', '3').command, { name: 'config-get', generation: 3 });
  assert.deepEqual(parse('config', 'history').command, { name: 'config-history', json: false });
  assert.deepEqual(parse('config', 'history', '--limit', '5', '--json').command, { name: 'config-history', json: true, limit: 5 });
  assert.deepEqual(parse('config', 'validate', 'c.yaml').command, { name: 'config-validate', file: 'c.yaml' });
  assert.deepEqual(parse('config', 'propose', 'c.yaml').command, { name: 'config-propose', file: 'c.yaml' });
  assert.deepEqual(parse('config', 'propose', '--comment', 'slower switchback', 'c.yaml', '--base', '4').command,
    { name: 'config-propose', file: 'c.yaml', base: 4, comment: 'slower switchback' });
  assert.deepEqual(parse('config', 'rollback', '2').command, { name: 'config-rollback', generation: 2 });
  assert.deepEqual(parse('config', 'rollback', '2', '--base', '5', '--comment', 'undo').command, { name: 'config-rollback', generation: 2, base: 5, comment: 'undo' });
  assert.deepEqual(parse('audit').command, { name: 'audit', json: false });
  assert.deepEqual(parse('audit', '--since', '2026-06-01T11:00:00Z', '--json').command, { name: 'audit', json: true, since: NOW - 3_600_000 });
  assert.deepEqual(parse('audit', '--since', '1h', '--limit', '20').command, { name: 'audit', json: false, since: NOW - 3_600_000, limit: 20 });
  assert.deepEqual(parse('alerts').command, { name: 'alerts', json: false });
  assert.deepEqual(parse('alerts', '--limit', '10', '--json').command, { name: 'alerts', json: true, limit: 10 });
  assert.deepEqual(parse('alerts', 'ack', 'a-17').command, { name: 'alerts-ack', id: 'a-17' });
  assert.deepEqual(parse('alerts', 'test').command, { name: 'alerts-test' });
  assert.deepEqual(parse('alerts', 'test', 'ops-mail').command, { name: 'alerts-test', channel: 'ops-mail' });
  assert.deepEqual(parse('watch').command, { name: 'watch', topics: ['status', 'events'], json: false });
  assert.deepEqual(parse('watch', '--topics', 'events,alerts,events', '--count', '3', '--json').command, { name: 'watch', topics: ['events', 'alerts'], json: true, count: 3 });
  assert.deepEqual(parse('help').command, { name: 'help' });
  assert.deepEqual(parse('--help').command, { name: 'help' });
});

test('bad config, audit, alerts and watch arguments', () => {
  usage(['config'], /config: expected get, history, validate, propose, rollback, not nothing/);
  usage(['config', 'edit'], /config: expected get, .* not "edit"/);
  usage(['config', '--json'], /config: expected .* not nothing/);
  usage(['config', 'get', '--generation', '0'], /config get: --generation must be a whole number from 1/);
  usage(['config', 'get', '--generation', 'two'], /--generation must be a whole number/);
  usage(['config', 'get', '7'], /config get: unexpected argument "7"/);
  usage(['config', 'history', '--limit', '1001'], /config history: --limit must be a whole number from 1 to 1000, not "1001"/);
  usage(['config', 'validate'], /config validate: missing FILE/);
  usage(['config', 'validate', 'a', 'b'], /config validate: unexpected argument "b"/);
  usage(['config', 'propose'], /config propose: missing FILE/);
  usage(['config', 'propose', 'c.yaml', '--base', '-1'], /config propose: --base must be a whole number/);
  usage(['config', 'propose', 'c.yaml', '--comment'], /config propose: --comment needs a value/);
  usage(['config', 'propose', 'c.yaml', '--comment', 'a', '--comment', 'b'], /--comment given twice/);
  usage(['config', 'propose', 'c.yaml', '--force'], /config propose: unexpected argument "--force"/);
  usage(['config', 'rollback'], /config rollback: missing GENERATION/);
  usage(['config', 'rollback', 'latest'], /GENERATION must be a whole number from 1, not "latest"/);
  usage(['config', 'rollback', '0'], /GENERATION must be a whole number from 1, not "0"/);
  usage(['audit', '--since', 'last week'], /--since: expected an ISO time/);
  usage(['audit', '--limit', '0'], /audit: --limit must be a whole number from 1 to 10000/);
  usage(['audit', 'everything'], /audit: unexpected argument "everything"/);
  usage(['alerts', '--limit', '5000'], /alerts: --limit must be a whole number from 1 to 1000/);
  usage(['alerts', 'silence'], /alerts: expected ack or test .* not "silence"/);
  usage(['alerts', 'ack'], /alerts ack: missing ID/);
  usage(['alerts', 'ack', 'a', 'b'], /alerts ack: unexpected argument "b"/);
  usage(['alerts', 'test', 'a', 'b'], /alerts test: unexpected argument "b"/);
  usage(['watch', '--topics', 'status,weather'], /watch: unknown topic "weather"/);
  usage(['watch', '--topics', ''], /watch: --topics needs a value|unknown topic ""/);
  usage(['watch', '--count', '0'], /watch: --count must be a whole number from 1/);
  usage(['watch', '--count'], /watch: --count needs a value/);
  usage(['watch', 'status'], /watch: unexpected argument "status"/);
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
  usage(['mirror', 'full', 'data', '--thorough'], /mirror full: --thorough goes with diff only/);
});
