// The real `vigil` binary against real agents' network API: a token, a token file, the environment or a user
// certificate; refusals by credential and role; cluster-wide configuration from a file; the audit log; and
// `watch` seeing a switchover as it happens.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { LocalCluster, REPO } from '../support/agent-cluster.js';
import { issueUserCertificate } from '../../agent/security/pki.js';

const VIGIL = resolve(REPO, 'dist/agent/cli/vigil.js');

const GROUP = `groups:
  - id: web
    nodes: [alpha, beta]
    switchback: manual
    switchbackDelay: 1s
    resources:
      - { id: web-app, kind: ocf, agent: "@OCF@", monitorInterval: 300ms }
`;

interface Run { readonly code: number; readonly stdout: string; readonly stderr: string }

/** The CLI as a user runs it, with only the environment given (never the test runner's VIGIL_* variables). */
function vigil(args: readonly string[], env: Record<string, string> = {}): Run {
  const r = spawnSync(process.execPath, [VIGIL, ...args], { encoding: 'utf8', timeout: 60_000, env: { PATH: process.env['PATH'] ?? '', ...env } });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function succeeded(r: Run, what: string): string {
  assert.equal(r.code, 0, `${what}: exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r.stdout;
}

test('vigil against remote agents: credentials, roles, configuration, audit and watch', async (t) => {
  const c = await LocalCluster.createWithApi(GROUP);
  t.after(() => c.dispose());
  c.start('alpha');
  c.start('beta');
  await c.waitFor('web running on alpha, both nodes alive', async () => {
    const s = await c.status('alpha');
    return s.groups[0]?.runningOn.join() === 'alpha' && s.nodes.every((n) => n.alive);
  });
  const trust = join(c.pkiDir, 'trust.pem');
  const remote = (node: string, ...credentials: string[]): string[] => ['--agent', c.apiUrl(node), '--ca', trust, ...credentials];
  const admin = (node: string): string[] => remote(node, '--token', c.adminToken);

  await t.test('status with a token, a token file, the environment, and a certificate', async () => {
    assert.match(succeeded(vigil([...admin('beta'), 'status']), 'status'), /cluster it, as seen by beta/);
    const tokenFile = join(c.dir, 'viewer.token');
    writeFileSync(tokenFile, `${c.token('vera', 'viewer')}\n`, { mode: 0o600 });
    const json = JSON.parse(succeeded(vigil([...remote('alpha', '--token-file', tokenFile), 'status', '--json']), 'status --json')) as { reportedBy: string };
    assert.equal(json.reportedBy, 'alpha');
    assert.match(succeeded(vigil(['status'], { VIGIL_AGENT: c.apiUrl('beta'), VIGIL_CA: trust, VIGIL_TOKEN: c.adminToken }), 'status by env'), /as seen by beta/);
    const paths = await issueUserCertificate({ dir: c.pkiDir, user: 'olga', role: 'operator', days: 1 });
    assert.match(succeeded(vigil([...remote('alpha', '--cert', paths.cert, '--key', paths.key), 'status']), 'status by certificate'), /web\s+on alpha/);
  });

  await t.test('refusals: a wrong token, a viewer acting, a missing CA file, no CA at all', () => {
    const wrong = vigil([...remote('alpha', '--token', 'vgl_0123456789abcdef_nottherightsecretatall'), 'status']);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /^vigil: BAD_CREDENTIALS: /);
    const viewer = vigil([...remote('alpha', '--token', c.token('vic', 'viewer')), 'switchover', 'web', 'beta']);
    assert.equal(viewer.code, 1);
    assert.match(viewer.stderr, /^vigil: FORBIDDEN: switchover needs the operator role; vic is viewer/);
    const noCa = vigil(['--agent', c.apiUrl('alpha'), '--ca', join(c.dir, 'missing.pem'), '--token', c.adminToken, 'status']);
    assert.equal(noCa.code, 1);
    assert.match(noCa.stderr, /^vigil: --ca .*missing\.pem: ENOENT/);
    const usage = vigil(['--agent', c.apiUrl('alpha'), '--token', c.adminToken, 'status']);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /--agent needs --ca/);
  });

  let original = '';
  await t.test('config get and history', () => {
    original = succeeded(vigil([...admin('alpha'), 'config', 'get']), 'config get');
    assert.match(original, /switchbackDelay: 1s/);
    assert.match(succeeded(vigil([...admin('beta'), 'config', 'get', '--generation', '1']), 'config get 1'), /switchbackDelay: 1s/);
    assert.match(succeeded(vigil([...admin('beta'), 'config', 'history']), 'config history'), /^GENERATION.*\n1\s/);
    const missing = vigil([...admin('alpha'), 'config', 'get', '--generation', '99']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^vigil: NOT_FOUND: /);
  });

  await t.test('config validate and propose: a bad value is refused with its field path, a good one committed everywhere', () => {
    const bad = join(c.dir, 'bad.yaml');
    writeFileSync(bad, original.replace('switchbackDelay: 1s', 'switchbackDelay: soon'));
    const validated = vigil([...admin('alpha'), 'config', 'validate', bad]);
    assert.equal(validated.code, 1, validated.stderr);
    assert.match(validated.stdout, /alpha: FAILED VALIDATION_FAILED/);
    assert.match(validated.stdout, /beta: .*switchbackDelay/);
    const refused = vigil([...admin('alpha'), 'config', 'propose', bad]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^vigil: VALIDATION_FAILED: generation 2 is applied on none/);
    assert.match(refused.stderr, /\n {2}alpha: groups\[0\]\.switchbackDelay: expected a duration .* \(line \d+\)\n/);
    assert.match(refused.stderr, /\n {2}beta: groups\[0\]\.switchbackDelay: expected a duration/);

    const good = join(c.dir, 'good.yaml');
    writeFileSync(good, original.replace('switchbackDelay: 1s', 'switchbackDelay: 7s'));
    assert.match(succeeded(vigil([...admin('alpha'), 'config', 'validate', good]), 'config validate'), /^alpha: ok\nbeta: ok$/m);
    const proposed = succeeded(vigil([...admin('alpha'), 'config', 'propose', good, '--comment', 'slower switchback']), 'config propose');
    assert.match(proposed, /^generation 2 \([0-9a-f]{12}\) committed on alpha, beta$/m);
    assert.match(proposed, /pending \(catch up when back\): -/);
    assert.match(proposed, /applied live: .*switchbackDelay/);
    assert.match(proposed, /applied by reloading: -/);
    const history = succeeded(vigil([...admin('beta'), 'config', 'history']), 'history on beta');
    assert.match(history, /^2\s+\S+\s+admin\s+[0-9a-f]{12}\s+slower switchback$/m);
    assert.match(succeeded(vigil([...admin('beta'), 'config', 'get']), 'config get on beta'), /switchbackDelay: 7s/);
    // Built on generation 1 while 2 is current: refused, nothing changes.
    const stale = vigil([...admin('beta'), 'config', 'propose', good, '--base', '1']);
    assert.equal(stale.code, 1);
    assert.match(stale.stderr, /^vigil: STALE_GENERATION: /);
  });

  await t.test('audit shows the proposal and the refusals; a viewer may not read it', () => {
    const audit = succeeded(vigil([...admin('alpha'), 'audit', '--limit', '50']), 'audit');
    assert.match(audit, /admin\s+admin\s+token\s+\S+\s+config\.propose\s+ok\s+.*"comment":"slower switchback"/);
    assert.match(audit, /config\.propose\s+VALIDATION_FAILED/);
    assert.match(audit, /vic\s+viewer\s+token\s+\S+\s+switchover\s+FORBIDDEN/);
    const entries = JSON.parse(succeeded(vigil([...admin('alpha'), 'audit', '--since', '10m', '--json']), 'audit --json')) as { method: string; result: string }[];
    assert.ok(entries.some((e) => e.method === 'config.propose' && e.result === 'ok'));
    const denied = vigil([...remote('alpha', '--token', c.token('vic2', 'viewer')), 'audit']);
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /^vigil: FORBIDDEN: audit\.list needs the admin role/);
  });

  await t.test('alerts: an empty list, an unknown alert', () => {
    assert.match(succeeded(vigil([...admin('alpha'), 'alerts']), 'alerts'), /no alerts|^ID/);
    const unknown = vigil([...admin('alpha'), 'alerts', 'ack', 'no-such-alert']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /^vigil: NOT_FOUND: /);
  });

  await t.test('watch: --count on beta sees the effect of a switchover made through alpha; without it, runs until SIGTERM', async () => {
    const counted = watch(remote('beta', '--token', c.token('wanda', 'viewer')), '--topics', 'events', '--count', '1');
    const endless = watch(admin('alpha'), '--topics', 'status', '--json');
    t.after(() => { counted.stop('SIGKILL'); endless.stop('SIGKILL'); });
    await c.waitFor('both watchers subscribed', () => counted.stderr().includes('vigil: watching events on beta') && endless.stderr().includes('vigil: watching status on alpha'));
    succeeded(vigil([...remote('alpha', '--token', c.token('otto', 'operator')), 'switchover', 'web', 'beta']), 'switchover');

    assert.equal(await counted.exit(), 0, counted.stderr());
    const lines = counted.stdout().trim().split('\n');
    assert.equal(lines.length, 1, counted.stdout());
    // Beta did not take the request (alpha did): what beta logs is web coming to it.
    assert.match(lines[0]!, /^\S+Z event \w+ [\w-]+ beta web: .*beta/);

    await c.waitFor('alpha pushes a status with web on beta', () => endless.stdout().split('\n').some((l) => l !== '' &&
      (JSON.parse(l) as { data: { groups: { runningOn: string[] }[] } }).data.groups[0]?.runningOn.join() === 'beta'));
    endless.stop('SIGTERM');
    assert.equal(await endless.exit(), 0, endless.stderr());
  });
});

/** A `vigil watch` running in the background, its output collected. */
function watch(connection: readonly string[], ...args: string[]) {
  const child = spawn(process.execPath, [VIGIL, ...connection, 'watch', ...args], { env: { PATH: process.env['PATH'] ?? '' }, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  return {
    stdout: () => stdout,
    stderr: () => stderr,
    stop: (signal: NodeJS.Signals) => { if (child.exitCode === null && child.signalCode === null) child.kill(signal); },
    /** The exit code, or a description of what it printed if it is still running after 30 s. */
    exit: async (): Promise<number | string | null> => {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<string>((r) => { timer = setTimeout(() => r(`still running after 30 s; stdout: ${stdout}`), 30_000); });
      try {
        return await Promise.race([exited, late]);
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
