import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { validateOnThisNode, type LocalValidationOptions } from '../../../agent/config-sync/validate.js';
import { installAgent, tempDir, type TestContext } from './helpers.js';

/** alpha's endpoints are on this host (127.0.0.1, or "localhost"); beta's are elsewhere and never checked here. */
function text(options: { key?: string; alphaHeartbeat?: string; serial?: string; mirrorEndpoint?: string; folder?: string; agent?: string; groupNodes?: string } = {}): string {
  return `cluster: { id: c1, ${options.key ?? `key: "${'ab'.repeat(32)}"`} }
nodes: [{ id: alpha }, { id: beta }]
heartbeat:
  links:
    - { name: l1, kind: udp, endpoints: { alpha: "${options.alphaHeartbeat ?? '127.0.0.1:7001'}", beta: "192.0.2.2:7001" } }
    - { name: l2, kind: tcp, endpoints: { alpha: "localhost:7002", beta: "192.0.2.2:7002" } }
${options.serial === undefined ? '' : `    - { name: s1, kind: serial, endpoints: { alpha: "${options.serial}", beta: /dev/ttyS0 } }\n`}groups:
  - id: web
${options.groupNodes === undefined ? '' : `    nodes: ${options.groupNodes}\n`}    resources:
      - { id: app, kind: ocf, agent: "${options.agent ?? 'ocf:test:dummy'}" }
      - id: data
        kind: mirror
        folders: [{ alpha: "${options.folder ?? '/srv/new/data'}", beta: /nowhere/at/all }]
        endpoints: { alpha: "${options.mirrorEndpoint ?? '127.0.0.1:7100'}", beta: "192.0.2.2:7100" }
`;
}

function setup(t: TestContext): { dir: string; options: LocalValidationOptions } {
  const dir = tempDir(t);
  const ocfRoot = join(dir, 'ocf');
  installAgent(ocfRoot, 'dummy');
  return { dir, options: { nodeId: 'alpha', configDir: dir, localAddresses: ['127.0.0.1', '::1', '10.1.2.3', 'fe80::1'], ocfRoot } };
}

async function problems(candidate: string, options: LocalValidationOptions): Promise<[string, string, string][]> {
  const result = await validateOnThisNode(candidate, options);
  assert.equal(result.ok, false, 'expected the configuration to be refused');
  return result.ok ? [] : result.problems.map((p) => [p.node, p.path, p.message]);
}

test('a configuration this node can run passes, with its parsed form', async (t) => {
  const { dir, options } = setup(t);
  const result = await validateOnThisNode(text({ folder: join(dir, 'data', 'new') }), options);
  assert.ok(result.ok, JSON.stringify(result));
  assert.equal(result.config.groups[0]!.resources.length, 2);
  // Any address of the host, and the wildcard, are this host's.
  assert.ok((await validateOnThisNode(text({ alphaHeartbeat: '10.1.2.3:7001', mirrorEndpoint: '0.0.0.0:7100', folder: dir }), options)).ok);
});

test('schema problems are mapped to field paths and lines, for this node', async (t) => {
  const { options } = setup(t);
  assert.deepEqual(await problems(text().replace('kind: udp', 'kind: carrier-pigeon'), options),
    [['alpha', 'heartbeat.links[0].kind', 'expected one of "udp", "tcp", "serial"']]);
  const syntax = await validateOnThisNode('cluster: [unclosed', options);
  assert.ok(!syntax.ok && syntax.problems[0]!.path === '' && syntax.problems[0]!.line === 1 && /^YAML syntax/.test(syntax.problems[0]!.message), JSON.stringify(syntax));
});

test('this node must still be one of the nodes', async (t) => {
  const { options } = setup(t);
  assert.deepEqual(await problems(text(), { ...options, nodeId: 'gamma' }),
    [['gamma', 'nodes', '"gamma" (this node) is not one of the nodes (alpha, beta): stop a node before removing it from the cluster']]);
});

test('the cluster key file must be readable here', async (t) => {
  const { dir, options } = setup(t);
  assert.deepEqual(await problems(text({ key: 'keyFile: missing.key', folder: dir }), options),
    [['alpha', 'cluster.keyFile', `cluster.keyFile ${join(dir, 'missing.key')}: cannot be read (ENOENT)`]]);
  writeFileSync(join(dir, 'cluster.key'), 'ab'.repeat(32));
  assert.ok((await validateOnThisNode(text({ key: 'keyFile: cluster.key', folder: dir }), options)).ok);
});

test('every endpoint of this node is an address of this host', async (t) => {
  const { dir, options } = setup(t);
  const found = await problems(text({ alphaHeartbeat: '192.0.2.1:7001', mirrorEndpoint: '[2001:db8::1]:7100', folder: dir }), options);
  assert.deepEqual(found.map(([node, path]) => [node, path]), [['alpha', 'groups[0].resources[1].endpoints.alpha'], ['alpha', 'heartbeat.links[0].endpoints.alpha']]);
  assert.match(found[1]![2], /^192\.0\.2\.1 is not an address of this host \(127\.0\.0\.1, ::1, 10\.1\.2\.3, fe80::1\)$/);
  assert.match(found[0]![2], /^2001:db8::1 is not an address of this host/);
  // A name is resolved (here by DNS for "localhost"): it must resolve to an address of this host.
  const unknown = await problems(text({ alphaHeartbeat: 'no-such-host.invalid:7001', folder: dir }), options);
  assert.deepEqual(unknown.map(([, path]) => path), ['heartbeat.links[0].endpoints.alpha']);
  assert.match(unknown[0]![2], /^no-such-host\.invalid cannot be resolved on this host/);
  const elsewhere = await problems(text({ folder: dir }), { ...options, localAddresses: ['10.1.2.3'] });
  assert.deepEqual(elsewhere.map(([, path]) => path), ['groups[0].resources[1].endpoints.alpha', 'heartbeat.links[0].endpoints.alpha', 'heartbeat.links[1].endpoints.alpha']);
  assert.match(elsewhere[2]![2], /^localhost resolves to [0-9a-f:.]+(, [0-9a-f:.]+)*, none of them an address of this host$/);
});

test('a serial device of this node must exist here', async (t) => {
  const { dir, options } = setup(t);
  const device = join(dir, 'ttyS9');
  assert.deepEqual(await problems(text({ serial: device, folder: dir }), options),
    [['alpha', 'heartbeat.links[2].endpoints.alpha', `${device} cannot be opened on this host (ENOENT)`]]);
  writeFileSync(device, '');
  assert.ok((await validateOnThisNode(text({ serial: device, folder: dir }), options)).ok);
});

test('a mirror folder of this node exists as a directory or can be created', async (t) => {
  const { dir, options } = setup(t);
  const file = join(dir, 'a-file');
  writeFileSync(file, '');
  assert.deepEqual(await problems(text({ folder: file }), options),
    [['alpha', 'groups[0].resources[1].folders[0].alpha', `${file} is not a directory`]]);
  assert.deepEqual(await problems(text({ folder: join(file, 'below') }), options),
    [['alpha', 'groups[0].resources[1].folders[0].alpha', `${join(file, 'below')} cannot be created: ${file} is not a directory`]]);
  mkdirSync(join(dir, 'exists'));
  assert.ok((await validateOnThisNode(text({ folder: join(dir, 'exists') }), options)).ok);
});

test('the OCF agents of groups this node may run are installed and executable here', async (t) => {
  const { dir, options } = setup(t);
  assert.deepEqual(await problems(text({ agent: 'ocf:test:absent', folder: dir }), options),
    [['alpha', 'groups[0].resources[0].agent', `${join(options.ocfRoot, 'resource.d', 'test', 'absent')} is not installed on this host`]]);
  const plain = join(dir, 'not-executable');
  writeFileSync(plain, '#!/bin/sh\n');
  chmodSync(plain, 0o644);
  assert.deepEqual(await problems(text({ agent: plain, folder: dir }), options),
    [['alpha', 'groups[0].resources[0].agent', `${plain} cannot be run (EACCES)`]]);
  assert.deepEqual(await problems(text({ agent: dir, folder: dir }), options),
    [['alpha', 'groups[0].resources[0].agent', `${dir} is not a file`]]);
});
