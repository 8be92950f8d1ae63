import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { configDigest } from '../../../common/config/digest.js';
import { ConfigError, parseConfig, validateConfig } from '../../../common/config/load.js';
import { parseDuration } from '../../../common/config/duration.js';

const base = `cluster: { id: c1, key: "${'ab'.repeat(32)}" }
nodes: [{ id: alpha }, { id: beta }]
heartbeat:
  links:
    - name: l1
      kind: udp
      endpoints: { alpha: "127.0.0.1:7001", beta: "127.0.0.1:7002" }
groups:
  - id: web
    resources:
      - { id: app, kind: ocf, agent: /usr/lib/ocf/resource.d/heartbeat/anything }
`;

function problems(text: string): { line: number; field: string; message: string }[] {
  try {
    parseConfig(text, 'c.yaml');
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    return e.problems.map((p) => ({ line: p.line, field: p.field, message: p.message }));
  }
  assert.fail('expected the configuration to be rejected');
}

test('a valid configuration gets its defaults: 200 ms heartbeats, 800 ms dead time, auto switchback', () => {
  const config = parseConfig(base, 'c.yaml');
  assert.equal(config.heartbeat.links[0]!.interval, 200);
  assert.equal(config.heartbeat.links[0]!.deadTime, 800);
  assert.ok(config.heartbeat.links[0]!.deadTime < 1000, 'a dead peer is declared in under a second by default');
  assert.equal(config.groups[0]!.switchback, 'auto');
  assert.equal(config.groups[0]!.migrationThreshold, 3);
  assert.equal(config.cluster.startupGrace, 3000);
});

test('every example under docs/examples is valid', () => {
  for (const file of readdirSync('docs/examples').filter((f) => f.endsWith('.yaml'))) {
    assert.doesNotThrow(() => parseConfig(readFileSync(`docs/examples/${file}`, 'utf8'), file), file);
  }
});

test('errors name the line, the field and what was expected', () => {
  const bad = base.replace('kind: udp', 'kind: carrier-pigeon').replace('"127.0.0.1:7002"', '"127.0.0.1:70000"');
  assert.deepEqual(problems(bad), [
    { line: 6, field: 'heartbeat.links[0].kind', message: 'expected one of "udp", "tcp", "serial"' },
    { line: 7, field: 'heartbeat.links[0].endpoints.beta', message: 'expected a port from 1 to 65535 (or, for a serial link, a device path)' },
  ]);
});

test('a missing field is reported at its parent, an unknown field by name', () => {
  const [missing] = problems(base.replace('      kind: udp\n', ''));
  assert.deepEqual(missing, { line: 5, field: 'heartbeat.links[0].kind', message: 'expected one of "udp", "tcp", "serial"' });
  const [unknown] = problems(base.replace('id: c1,', 'id: c1, colour: red,'));
  assert.equal(unknown!.field, 'cluster');
  assert.match(unknown!.message, /unknown field "colour"/);
});

test('cross-field rules: nodes referenced must exist, ids are unique, dead time exceeds the interval', () => {
  const text = base.replace('  - id: web\n', '  - id: web\n    nodes: [alpha, gamma]\n')
    .replace('kind: udp', 'kind: udp\n      interval: 1s\n      deadTime: 500ms');
  const found = problems(text);
  assert.ok(found.some((p) => p.field === 'groups[0].nodes[1]' && /"gamma" is not one of the nodes/.test(p.message)), JSON.stringify(found));
  assert.ok(found.some((p) => p.field === 'heartbeat.links[0].deadTime' && /longer than the interval/.test(p.message)));
  const twice = problems(base.replace('{ id: beta }', '{ id: alpha }'));
  assert.ok(twice.some((p) => /listed twice/.test(p.message)));
  const noKey = problems(base.replace(`key: "${'ab'.repeat(32)}"`, 'startupGrace: 1s'));
  assert.ok(noKey.some((p) => p.field === 'cluster.key' && /exactly one of/.test(p.message)));
});

test('arbitration must notice a cut-off node before its peer can take over: the rule names the link and the times', () => {
  const withPing = (arbitration: string): string => base.replace('groups:', `arbitration: ${arbitration}\ngroups:`);
  assert.doesNotThrow(() => parseConfig(withPing('{ pingTargets: ["203.0.113.254"] }'), 'c.yaml'), 'the defaults are consistent');
  const [slow] = problems(withPing('{ pingTargets: ["203.0.113.254"], interval: 1s, timeout: 500ms }'));
  assert.deepEqual(slow, {
    line: 8, field: 'arbitration',
    message: 'expected faster pinging or a longer dead time: a node cut off from every network notices it after up to 2500 ms (rounds x interval + timeout), but its peer may take over after 600 ms (deadTime - interval of link "l1"), so both would hold the resources for a moment',
  });
  const [overlapping] = problems(withPing('{ pingTargets: ["203.0.113.254"], interval: 100ms, timeout: 150ms }'));
  assert.equal(overlapping!.field, 'arbitration.timeout');
  assert.doesNotThrow(() => parseConfig(withPing('{ interval: 1s, timeout: 500ms }'), 'c.yaml'), 'no ping targets: timing does not matter');
  const longerDeadTime = withPing('{ pingTargets: ["203.0.113.254"], interval: 1s, timeout: 500ms }').replace('kind: udp', 'kind: udp\n      deadTime: 3s');
  assert.doesNotThrow(() => parseConfig(longerDeadTime, 'c.yaml'));
});

test('a mirror: sizes with units, per-node folders, endpoints for exactly the group\'s two nodes', () => {
  const mirror = (fields: string): string => base.replace('      - { id: app, kind: ocf, agent: /usr/lib/ocf/resource.d/heartbeat/anything }',
    `      - { id: data, kind: mirror, ${fields} }`);
  const ok = parseConfig(mirror('folders: ["/srv/a", { alpha: /srv/b, beta: /m/b }], endpoints: { alpha: "127.0.0.1:7420", beta: "127.0.0.1:7421" }, journalSize: 2GiB'), 'c.yaml');
  const r = ok.groups[0]!.resources[0]!;
  assert.ok(r.kind === 'mirror');
  assert.equal(r.journalSize, 2 * 1024 ** 3);
  assert.equal(r.blockSize, 65536);
  assert.equal(r.blockHash, 'xxh3-128');
  const bad = problems(mirror('folders: ["srv/a", { alpha: /srv/b }], endpoints: { alpha: "127.0.0.1:7420", gamma: "127.0.0.1:7421" }, journalSize: 2 lots, blockHash: md5'));
  const fields = bad.map((p) => `${p.field}: ${p.message}`);
  assert.ok(fields.some((f) => /^groups\[0\]\.resources\[0\]\.folders\[0\]/.test(f) && /absolute path/.test(f)), fields.join('\n'));
  assert.ok(fields.some((f) => /journalSize: expected a size/.test(f)), fields.join('\n'));
  assert.ok(fields.some((f) => /resources\[0\]\.blockHash: expected one of "xxh3-128", "sha256-128"/.test(f)), fields.join('\n'));
  // The bandwidth limit: none unless given; a size per second, "/s" optional; 0 or garbage named.
  assert.equal(r.maxSendRate, undefined);
  const endpoints = 'folders: ["/srv/a"], endpoints: { alpha: "127.0.0.1:7420", beta: "127.0.0.1:7421" }';
  for (const [text, bytes] of [['50MiB/s', 50 * 1024 ** 2], ['800KiB', 800 * 1024], ['"2.5MB/s"', 2_500_000], ['1000000', 1_000_000]] as const) {
    const limited = parseConfig(mirror(`${endpoints}, maxSendRate: ${text}`), 'c.yaml').groups[0]!.resources[0]!;
    assert.ok(limited.kind === 'mirror');
    assert.equal(limited.maxSendRate, bytes, text);
  }
  for (const text of ['0', '0MiB/s', 'fast', '10 MiB per second']) {
    const refused = problems(mirror(`${endpoints}, maxSendRate: ${text}`)).map((p) => `${p.line}:${p.field}: ${p.message}`);
    assert.deepEqual(refused, ['11:groups[0].resources[0].maxSendRate: expected a rate above 0 such as "50MiB/s", "800KiB/s" or a number of bytes per second'], text);
  }
});

test('YAML syntax errors and duplicate keys carry a line number', () => {
  const [syntax] = problems('cluster: { id: c1\nnodes: [');
  assert.ok(syntax!.line > 0);
  assert.match(syntax!.message, /YAML syntax/);
  const [dup] = problems(base.replace('nodes:', 'cluster: {}\nnodes:'));
  assert.match(dup!.message, /YAML syntax/);
});

test('durations: units, bare milliseconds and garbage', () => {
  assert.equal(parseDuration('200ms'), 200);
  assert.equal(parseDuration('1.5s'), 1500);
  assert.equal(parseDuration('2m'), 120000);
  assert.equal(parseDuration(250), 250);
  assert.equal(parseDuration('fast'), undefined);
  assert.equal(parseDuration(-1), undefined);
  const [p] = problems(base.replace('kind: udp', 'kind: udp\n      interval: soon'));
  assert.match(p!.message, /a duration such as "200ms".*not "soon"/);
});

test('validateConfig checks data that did not come from a file; the digest ignores key order', () => {
  const config = parseConfig(base, 'c.yaml');
  const reordered = JSON.parse(JSON.stringify({ groups: config.groups, heartbeat: config.heartbeat, nodes: config.nodes, cluster: config.cluster })) as unknown;
  assert.equal(configDigest(validateConfig(reordered)), configDigest(config));
  assert.throws(() => validateConfig({ cluster: {} }), (e: unknown) => e instanceof ConfigError && e.problems.some((p) => p.field === 'cluster.id'));
  const changed = parseConfig(base.replace('id: web', 'id: web2'), 'c.yaml');
  assert.notEqual(configDigest(changed), configDigest(config));
});
