// `vigil simulate` and `vigil validate` as an administrator runs them: the real binary, real files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function vigil(...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['dist/agent/cli/vigil.js', ...args], { encoding: 'utf8', timeout: 20_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

test('simulate runs the real scheduler on a golden scenario file and prints its actions in order', () => {
  const r = vigil('simulate', '--config', 'test/scenarios/configs/as-auto.yaml', 'test/scenarios/cases/006-peer-lost-failover.json');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /1\. start web\/ip\n\s+2\. start web\/app/);
  assert.match(r.stdout, /web: target beta/);
});

test('simulate takes a plain what-if file and prints JSON on request', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-sim-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'what-if.json');
  writeFileSync(file, JSON.stringify({ now: 100000, local: 'alpha', nodes: { alpha: { groups: { web: { ip: 'running', app: 'failed' } } }, beta: {} } }));
  const r = vigil('simulate', '--json', '--config', 'test/scenarios/configs/as-auto.yaml', file);
  assert.equal(r.code, 0, r.stderr);
  const plan = JSON.parse(r.stdout) as { actions: { kind: string; resource: string }[] };
  assert.deepEqual(plan.actions.map((a) => `${a.kind} ${a.resource}`), ['stop app', 'start app']);
});

test('simulate and validate refuse bad input with a message that names the problem', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-sim-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const badState = join(dir, 'bad.json');
  writeFileSync(badState, JSON.stringify({ now: 1, local: 'alpha', nodes: { alpha: { groups: { web: { ip: 'exploded' } } } } }));
  const r = vigil('simulate', '--config', 'test/scenarios/configs/as-auto.yaml', badState);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /nodes\.alpha\.groups\.web/);
  const notJson = join(dir, 'nope.json');
  writeFileSync(notJson, '{');
  assert.match(vigil('simulate', '--config', 'test/scenarios/configs/as-auto.yaml', notJson).stderr, /nope\.json: .*JSON/);
  const unknownNode = join(dir, 'gamma.json');
  writeFileSync(unknownNode, JSON.stringify({ now: 1, local: 'gamma', nodes: {} }));
  assert.match(vigil('simulate', '--config', 'test/scenarios/configs/as-auto.yaml', unknownNode).stderr, /gamma: not a node of the configuration/);

  const badConfig = join(dir, 'bad.yaml');
  writeFileSync(badConfig, 'cluster: { id: x, key: k }\nnodes: [{ id: alpha }]\nheartbeat: { links: [] }\n');
  const v = vigil('validate', '--config', badConfig);
  assert.equal(v.code, 1);
  assert.match(v.stderr, /bad\.yaml:3:\d+: heartbeat\.links: /);
  const ok = vigil('validate', '--config', 'docs/examples/two-node.yaml');
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /valid: cluster demo, 2 nodes, 2 links, 1 groups/);
});
