import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateConfig } from '../../../common/config/load.js';
import type { ClusterConfigInput } from '../../../common/config/schema.js';
import { classifyChange, type ConfigChange } from '../../../agent/core/config-change.js';
import { decideCatchUp, type PeerConfigState } from '../../../agent/core/config-catchup.js';

function base(): ClusterConfigInput {
  return {
    cluster: { id: 'c1', key: 'ab'.repeat(32) },
    nodes: [{ id: 'alpha' }, { id: 'beta' }],
    heartbeat: { links: [{ name: 'l1', kind: 'udp', endpoints: { alpha: '127.0.0.1:7001', beta: '127.0.0.1:7002' } }] },
    groups: [
      { id: 'web', resources: [
        { id: 'app', kind: 'ocf', agent: 'ocf:test:dummy', params: { port: 80 } },
        { id: 'ip', kind: 'vip', address: '198.51.100.10/24' },
      ] },
      { id: 'db', nodes: ['alpha', 'beta'], resources: [{ id: 'pg', kind: 'service', name: 'postgresql' }] },
    ],
  };
}

const cases: [string, (c: ClusterConfigInput) => void, ConfigChange][] = [
  ['nothing', () => {}, { live: [], reload: [] }],
  ['the same values written differently (2s and 2000 ms)', (c) => { c.groups![0]!.resources[0]!.monitorInterval = '2s'; }, { live: [], reload: [] }],
  ['group policies', (c) => { Object.assign(c.groups![0]!, { switchback: 'manual', switchbackDelay: '1m', migrationThreshold: 5, failureTimeout: '10m' }); },
    { live: ['groups[web].failureTimeout', 'groups[web].migrationThreshold', 'groups[web].switchback', 'groups[web].switchbackDelay'], reload: [] }],
  ['resource timeouts, monitor interval and params', (c) => { Object.assign(c.groups![0]!.resources[0]!, { startTimeout: '1m', monitorInterval: '9s', params: { port: 8080 } }); },
    { live: [], reload: ['groups[web].resources[app].monitorInterval', 'groups[web].resources[app].params', 'groups[web].resources[app].startTimeout'] }],
  ['startup grace', (c) => { c.cluster.startupGrace = '10s'; }, { live: ['cluster.startupGrace'], reload: [] }],
  ['the cluster key', (c) => { c.cluster.key = 'cd'.repeat(32); }, { live: [], reload: ['cluster.key'] }],
  ['nodes', (c) => { c.nodes.push({ id: 'gamma' }); c.heartbeat.links[0]!.endpoints['gamma'] = '127.0.0.1:7003'; }, { live: [], reload: ['heartbeat', 'nodes'] }],
  ['heartbeat timing', (c) => { c.heartbeat.links[0]!.deadTime = '2s'; }, { live: [], reload: ['heartbeat'] }],
  ['arbitration', (c) => { c.arbitration = { pingTargets: ['192.0.2.1'] }; }, { live: [], reload: ['arbitration'] }],
  ['a group added', (c) => { c.groups!.push({ id: 'mail', resources: [{ id: 'smtp', kind: 'service', name: 'postfix' }] }); }, { live: [], reload: ['groups[mail] (added)'] }],
  ['a group removed', (c) => { c.groups!.pop(); }, { live: [], reload: ['groups[db] (removed)'] }],
  ['groups reordered', (c) => { c.groups!.reverse(); }, { live: [], reload: ['groups (order)'] }],
  ['the nodes of a group', (c) => { c.groups![1]!.nodes = ['beta', 'alpha']; }, { live: [], reload: ['groups[db].nodes'] }],
  ['a resource added, one removed', (c) => { c.groups![0]!.resources[1] = { id: 'ip2', kind: 'vip', address: '198.51.100.11/24' }; },
    { live: [], reload: ['groups[web].resources[ip] (removed)', 'groups[web].resources[ip2] (added)'] }],
  ['resources reordered', (c) => { c.groups![0]!.resources.reverse(); }, { live: [], reload: ['groups[web].resources (order)'] }],
  ['what a resource is', (c) => { c.groups![0]!.resources[1] = { id: 'ip', kind: 'vip', address: '198.51.100.99/24' }; }, { live: [], reload: ['groups[web].resources[ip].address'] }],
  ['a resource\'s kind', (c) => { c.groups![1]!.resources[0] = { id: 'pg', kind: 'ocf', agent: 'ocf:heartbeat:pgsql' }; }, { live: [], reload: ['groups[db].resources[pg].kind'] }],
  ['live and reload at once', (c) => { c.groups![1]!.switchback = 'manual'; c.heartbeat.links[0]!.interval = '100ms'; },
    { live: ['groups[db].switchback'], reload: ['heartbeat'] }],
];

for (const [name, edit, expected] of cases) {
  test(`classifyChange: ${name}`, () => {
    const next = structuredClone(base());
    edit(next);
    assert.deepEqual(classifyChange(validateConfig(base()), validateConfig(next)), expected);
  });
}

test('classifyChange: sections it does not know need a reload, and so do API settings; alert settings apply live', () => {
  const old = validateConfig(base());
  const withSections = (extra: Record<string, unknown>): typeof old => ({ ...old, ...extra }) as typeof old;
  assert.deepEqual(classifyChange(old, withSections({ alerts: { email: 'ops@example.com' }, api: { port: 7410 }, quorum: { votes: 3 } })),
    { live: ['alerts'], reload: ['api', 'quorum'] });
});

test('classifyChange: a mirror\'s bandwidth limit applies live (its source takes it at once); its other settings need a reload', () => {
  const withMirror = (fields: Record<string, unknown>): ReturnType<typeof validateConfig> => validateConfig({
    ...base(),
    groups: [{ id: 'files', nodes: ['alpha', 'beta'], resources: [{ id: 'data', kind: 'mirror', folders: ['/srv/data'], endpoints: { alpha: '127.0.0.1:7420', beta: '127.0.0.1:7421' }, ...fields }] }],
  } as ClusterConfigInput);
  assert.deepEqual(classifyChange(withMirror({}), withMirror({ maxSendRate: '10MiB/s' })), { live: ['groups[files].resources[data].maxSendRate'], reload: [] });
  assert.deepEqual(classifyChange(withMirror({ maxSendRate: '10MiB/s' }), withMirror({})), { live: ['groups[files].resources[data].maxSendRate'], reload: [] });
  assert.deepEqual(classifyChange(withMirror({ maxSendRate: '10MiB/s' }), withMirror({ maxSendRate: '10MiB/s', journalSize: '2GiB' })),
    { live: [], reload: ['groups[files].resources[data].journalSize'] });
});

const A = 'a'.repeat(64), B = 'b'.repeat(64), C = 'c'.repeat(64);
const peer = (node: string, generation: number | undefined, digest: string | undefined, alive = true): PeerConfigState =>
  ({ node, alive, ...(generation === undefined ? {} : { generation }), ...(digest === undefined ? {} : { digest }) });

test('decideCatchUp: the newest generation of an alive peer wins; ties go to the first node by name', () => {
  const local = { generation: 2, digest: A };
  assert.equal(decideCatchUp({ local, peers: [] }), undefined);
  assert.equal(decideCatchUp({ local, peers: [peer('beta', 2, A), peer('gamma', 1, C)] }), undefined, 'nobody is newer');
  assert.deepEqual(decideCatchUp({ local, peers: [peer('gamma', 4, B), peer('beta', 4, B), peer('delta', 3, C)] }), { fetchFrom: 'beta', generation: 4 });
  assert.equal(decideCatchUp({ local, peers: [peer('beta', 9, B, false)] }), undefined, 'a dead peer is not asked');
  assert.equal(decideCatchUp({ local, peers: [peer('beta', undefined, undefined)] }), undefined, 'a peer that has not said');
});

test('decideCatchUp: one generation with two digests is a conflict, never resolved silently', () => {
  const local = { generation: 2, digest: A };
  assert.deepEqual(decideCatchUp({ local, peers: [peer('beta', 2, B)] }),
    { conflict: `generation 2 differs between this node (${'a'.repeat(12)}) and beta (${'b'.repeat(12)})` });
  assert.deepEqual(decideCatchUp({ local, peers: [peer('beta', 3, B), peer('gamma', 2, C)] }),
    { conflict: `generation 2 differs between this node (${'a'.repeat(12)}) and gamma (${'c'.repeat(12)})` }, 'even when a newer one exists');
  assert.deepEqual(decideCatchUp({ local, peers: [peer('beta', 3, B), peer('gamma', 3, C)] }),
    { conflict: `generation 3 differs between beta (${'b'.repeat(12)}) and gamma (${'c'.repeat(12)})` });
});
