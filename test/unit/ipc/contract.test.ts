// The IPC contract's validation: every channel accepts a good request, an unknown channel is refused naming it,
// and a bad request is refused naming the field.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CENTER_METHODS, INVOKE_CHANNELS, IpcError, PUSH_CHANNELS, parseRequest, type InvokeChannel, type InvokeInput,
} from '../../../common/ipc/contract.js';

const cluster = {
  id: 'prod', name: 'Production',
  nodes: [
    { id: 'alpha', url: 'wss://10.0.0.1:7443' },
    { id: 'beta', url: 'wss://10.0.0.2:7443', via: { host: 'bastion', username: 'ops', password: 'pw' } },
  ],
  credentials: { ca: '-----BEGIN CERTIFICATE-----\n...', token: 'vgl_x' },
};
const fp = `SHA256:${'A'.repeat(43)}`;
const good: { [C in InvokeChannel]: InvokeInput<C> } = {
  'clusters.list': {},
  'clusters.add': cluster,
  'clusters.remove': { cluster: 'prod' },
  'agent.call': { cluster: 'prod', node: 'alpha', method: 'switchover', params: { group: 'web', node: 'beta' } },
  'hostKey.accept': { cluster: 'prod', node: 'beta', fingerprint: fp },
  'connection.retry': { cluster: 'prod', node: 'beta' },
  'center.problems': {},
};

function refused(channel: unknown, params: unknown): IpcError {
  try {
    parseRequest(channel, params);
  } catch (e) {
    assert.ok(e instanceof IpcError, String(e));
    return e;
  }
  assert.fail(`${String(channel)} accepted ${JSON.stringify(params)}`);
}

test('contract: every channel accepts a well-formed request, and the channel lists are complete', () => {
  assert.deepEqual(INVOKE_CHANNELS.sort(), Object.keys(good).sort());
  assert.deepEqual(PUSH_CHANNELS, ['center.change']);
  for (const channel of INVOKE_CHANNELS) assert.equal(parseRequest(channel, good[channel]).channel, channel);
  // Defaults are filled in: the SSH hop's port.
  const add = parseRequest('clusters.add', cluster);
  assert.equal(add.channel === 'clusters.add' && add.params.nodes[1]?.via?.port, 22);
  // clusters.list may be sent without params.
  assert.equal(parseRequest('clusters.list', undefined).channel, 'clusters.list');
  // A credentials reference instead of secrets.
  assert.equal(parseRequest('clusters.add', { ...cluster, credentials: { ref: '/etc/vigil/prod' } }).channel, 'clusters.add');
});

test('contract: an unknown channel is refused, naming it', () => {
  for (const channel of ['shell.exec', '__proto__', 'toString', 42]) {
    const e = refused(channel, {});
    assert.equal(e.code, 'UNKNOWN_CHANNEL');
    assert.match(e.message, new RegExp(JSON.stringify(channel).replace(/[.]/g, '\\.')));
  }
});

test('contract: bad params are refused naming the field', () => {
  const cases: [InvokeChannel, unknown, string][] = [
    ['clusters.list', { extra: 1 }, ''],
    ['clusters.add', { ...cluster, nodes: [{ id: 'alpha', url: 'http://10.0.0.1' }] }, 'nodes.0.url'],
    ['clusters.add', { ...cluster, nodes: [] }, 'nodes'],
    ['clusters.add', { ...cluster, id: '../etc' }, 'id'],
    ['clusters.add', { ...cluster, credentials: { ca: 'x' } }, 'credentials.token'],
    ['clusters.add', { ...cluster, nodes: [{ id: 'b', url: 'wss://h:1', via: { host: 'h', port: 70000, username: 'u' } }] }, 'nodes.0.via.port'],
    ['clusters.remove', {}, 'cluster'],
    ['agent.call', { cluster: 'prod', node: 'alpha', method: 'switchover', params: {} }, 'params.group'],
    ['agent.call', { cluster: 'prod', node: 'alpha', method: 'status', params: { verbose: true } }, 'params'],
    ['hostKey.accept', { cluster: 'prod', node: 'beta', fingerprint: 'MD5:aa' }, 'fingerprint'],
    ['connection.retry', { cluster: 'prod' }, 'node'],
  ];
  for (const [channel, params, path] of cases) {
    const e = refused(channel, params);
    assert.equal(e.code, 'BAD_PARAMS', `${channel} ${JSON.stringify(params)}`);
    assert.match(e.message, new RegExp(`^${channel.replace('.', '\\.')}: `));
    if (path !== '') assert.equal((e.details as { path: string }).path, path, e.message);
  }
});

test('contract: agent.call reuses the API methods, without agent-to-agent ones or the subscriptions the center owns', () => {
  assert.ok(CENTER_METHODS.includes('status') && CENTER_METHODS.includes('config.propose'));
  for (const m of ['config.prepare', 'config.commit', 'subscribe', 'unsubscribe']) {
    const e = refused('agent.call', { cluster: 'prod', node: 'alpha', method: m, params: {} });
    assert.equal(e.code, 'BAD_PARAMS');
    assert.equal((e.details as { path: string }).path, 'method');
  }
});
