// RS-232 heartbeats over real pseudo-terminal pairs made by socat: serial on one pair of nodes, UDP on others.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../../common/config/load.js';
import { Heartbeat } from '../../../agent/heartbeat/heartbeat.js';
import { freePort, status, until } from './helpers.js';

const key = randomBytes(32);

/** A null-modem cable: two pty ends joined by socat. Pulling it (killing socat) closes both ends. */
async function cable(t: TestContext): Promise<{ a: string; b: string; pull: () => void }> {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-serial-'));
  const a = join(dir, 'a');
  const b = join(dir, 'b');
  const socat = spawn('socat', [`pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], { stdio: 'ignore' });
  const pull = (): void => { if (socat.exitCode === null) socat.kill('SIGKILL'); };
  t.after(() => { pull(); rmSync(dir, { recursive: true, force: true }); });
  await until('socat made the ptys', () => existsSync(a) && existsSync(b));
  return { a, b, pull };
}

test('serial between alpha and beta, UDP to gamma: everyone alive; pulling the cable loses only that pair', async (t) => {
  const { a, b, pull } = await cable(t);
  const [ag1, ag2, bg1, bg2] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const config = parseConfig(`
cluster: { id: rs, key: "${key.toString('hex')}" }
nodes: [{ id: alpha }, { id: beta }, { id: gamma }]
heartbeat:
  links:
    - { name: rs232, kind: serial, baudRate: 115200, interval: 100ms, deadTime: 500ms, endpoints: { alpha: "${a}", beta: "${b}" } }
    - { name: lan-ag, kind: udp, interval: 100ms, deadTime: 500ms, endpoints: { alpha: "127.0.0.1:${ag1}", gamma: "127.0.0.1:${ag2}" } }
    - { name: lan-bg, kind: udp, interval: 100ms, deadTime: 500ms, endpoints: { beta: "127.0.0.1:${bg1}", gamma: "127.0.0.1:${bg2}" } }
`, 'rs.yaml');
  const nodes = ['alpha', 'beta', 'gamma'].map((id, i) => new Heartbeat({ config, localNode: id, key, incarnation: 100 + i, onChange: () => undefined }));
  t.after(async () => { for (const n of nodes) await n.close(); });
  for (const n of nodes) await n.start();
  nodes.forEach((n, i) => n.setStatus(status(['alpha', 'beta', 'gamma'][i]!)));
  const [alpha, beta, gamma] = nodes as [Heartbeat, Heartbeat, Heartbeat];
  await until('all alive', () => alpha.peers()['beta']!.alive && alpha.peers()['gamma']!.alive && beta.peers()['alpha']!.alive && gamma.peers()['alpha']!.alive && gamma.peers()['beta']!.alive);
  const serial = alpha.linkStatuses().find((l) => l.link === 'rs232')!;
  assert.equal(serial.kind, 'serial');
  assert.equal(serial.peer, 'beta');
  assert.equal(alpha.peers()['beta']!.status?.node, 'beta', 'status travels over the serial line');
  await until('a round trip over serial', () => alpha.linkStatuses().find((l) => l.link === 'rs232')!.rttMs !== undefined);

  // Line noise between frames: counted, resynchronised, the link stays up.
  writeFileSync(b, Buffer.concat([Buffer.from('\x00\xffnoiseV'), randomBytes(200)]));
  await until('noise counted', () => alpha.linkStatuses().find((l) => l.link === 'rs232')!.rejected.malformed + alpha.linkStatuses().find((l) => l.link === 'rs232')!.rejected.badMac > 0);
  await new Promise((r) => setTimeout(r, 600));
  assert.equal(alpha.peers()['beta']!.alive, true, 'noise does not take the link down');

  pull();
  await until('alpha loses beta (the cable was its only link to beta)', () => !alpha.peers()['beta']!.alive);
  assert.equal(gamma.peers()['alpha']!.alive && gamma.peers()['beta']!.alive, true, 'gamma still hears both over UDP');
});

test('a serial device that cannot be opened is named in the error', async () => {
  const port = await freePort();
  const config = parseConfig(`
cluster: { id: rs, key: "${key.toString('hex')}" }
nodes: [{ id: alpha }, { id: beta }]
heartbeat:
  links:
    - { name: rs232, kind: serial, endpoints: { alpha: "/dev/vigil-no-such-tty", beta: "/dev/ttyS9" } }
    - { name: lan, kind: udp, endpoints: { alpha: "127.0.0.1:${port}", beta: "127.0.0.1:1" } }
`, 'rs.yaml');
  const hb = new Heartbeat({ config, localNode: 'alpha', key, incarnation: 1, onChange: () => undefined });
  await assert.rejects(hb.start(), /heartbeat link rs232: cannot open serial \/dev\/vigil-no-such-tty/);
  await hb.close();
});

test('serial links join exactly two nodes; endpoints must be device paths', () => {
  const base = (links: string) => `cluster: { id: rs, key: "${key.toString('hex')}" }\nnodes: [{ id: alpha }, { id: beta }, { id: gamma }]\nheartbeat:\n  links:\n${links}`;
  assert.throws(() => parseConfig(base('    - { name: s, kind: serial, endpoints: { alpha: "/dev/a", beta: "/dev/b", gamma: "/dev/c" } }\n'), 'x.yaml'), /a serial link joins exactly two nodes, not 3/);
  assert.throws(() => parseConfig(base('    - { name: s, kind: serial, endpoints: { alpha: "ttyS0", beta: "/dev/b" } }\n    - { name: u, kind: udp, endpoints: { alpha: "127.0.0.1:1", beta: "127.0.0.1:2", gamma: "127.0.0.1:3" } }\n'), 'x.yaml'), /endpoints\.alpha: expected an absolute device path/);
  assert.throws(() => parseConfig(base('    - { name: s, kind: serial, endpoints: { alpha: "/dev/a", beta: "/dev/b" } }\n'), 'x.yaml'), /a link between "alpha" and "gamma"/);
});
