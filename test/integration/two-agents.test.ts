// Two real agents on loopback protecting a real OCF resource, driven through the real CLI and control socket.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { encodePacket } from '../../agent/heartbeat/packet.js';
import type { TestContext } from 'node:test';
import { LocalCluster, freePort, isRunning } from '../support/agent-cluster.js';

const group = (switchback: 'auto' | 'manual', threshold = 3) => `groups:
  - id: web
    nodes: [alpha, beta]
    switchback: ${switchback}
    migrationThreshold: ${threshold}
    resources:
      - { id: web-ip, kind: ocf, agent: "@OCF@", monitorInterval: 300ms }
      - { id: web-app, kind: ocf, agent: "@OCF@", monitorInterval: 300ms }
`;

async function cluster(t: TestContext, yaml: string): Promise<LocalCluster> {
  const c = await LocalCluster.create(yaml);
  t.after(() => c.dispose());
  return c;
}

/** The group runs on exactly `node`, by its own report and by the processes that really run. */
async function settledOn(c: LocalCluster, node: string, observer = node): Promise<void> {
  await c.waitFor(`web running on ${node} only`, async () => {
    const s = await c.status(observer);
    const g = s.groups.find((x) => x.id === 'web')!;
    return g.runningOn.join() === node && g.resources.every((r) => r.states[node] === 'running')
      && c.runningOn('web-ip').join() === node && c.runningOn('web-app').join() === node;
  });
}

test('kill -9 of the active agent: the standby takes over; auto switchback returns the group', async (t) => {
  const c = await cluster(t, group('auto'));
  c.start('alpha');
  c.start('beta');
  await settledOn(c, 'alpha');
  const table = c.vigil('beta', 'status');
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /web\s+on alpha\s+alpha/);
  assert.match(table.stdout, /lan-udp:up/);

  await c.kill('alpha');
  // alpha's guard stops what the dead agent ran, so the group never runs twice; beta takes over.
  await settledOn(c, 'beta');
  const events = c.vigil('beta', 'events', '--kind', 'failover', '--json');
  assert.equal(events.code, 0, events.stderr);
  assert.equal((JSON.parse(events.stdout) as unknown[]).length >= 1, true, 'a failover event is logged');

  // alpha returns and the group switches back to it.
  c.start('alpha');
  await settledOn(c, 'alpha', 'beta');
  const guardEvents = JSON.parse(c.vigil('alpha', 'events', '--kind', 'fault', '--json').stdout) as { message: string }[];
  assert.ok(guardEvents.some((e) => /the agent died: stopping what it ran/.test(e.message)), 'the guard logged what it did');
});

test('manual switchback: the group stays on the standby until vigil switchback', async (t) => {
  const c = await cluster(t, group('manual'));
  c.start('alpha');
  c.start('beta');
  await settledOn(c, 'alpha');
  await c.kill('alpha');
  await settledOn(c, 'beta');
  c.start('alpha');
  // alpha comes back, probes, and sees the hold: the group stays on beta.
  await c.waitFor('alpha back and agreeing on beta', async () => {
    const s = await c.status('alpha');
    return s.nodes.every((n) => n.alive) && s.groups[0]!.target === 'beta' && s.groups[0]!.runningOn.join() === 'beta';
  });
  await new Promise((r) => setTimeout(r, 1500));
  assert.deepEqual(c.runningOn('web-app'), ['beta'], 'no automatic switchback');
  const back = c.vigil('alpha', 'switchback', 'web');
  assert.equal(back.code, 0, back.stderr);
  assert.match(back.stdout, /moving back to alpha/);
  await settledOn(c, 'alpha', 'beta');
});

test('a resource whose monitor fails is restarted in place, then moved after N failures', async (t) => {
  const c = await cluster(t, group('auto', 2));
  c.start('alpha');
  c.start('beta');
  await settledOn(c, 'alpha');
  const first = c.resourcePid('alpha', 'web-app')!;
  process.kill(first, 'SIGKILL'); // the service really dies
  // Restarted in place: the start has completed (a second resource-started) and a new process runs.
  await c.waitFor('web-app restarted on alpha', () => {
    const starts = JSON.parse(c.vigil('alpha', 'events', '--kind', 'resource-started', '--json').stdout) as { resource: string }[];
    const pid = c.resourcePid('alpha', 'web-app');
    return starts.filter((e) => e.resource === 'web-app').length === 2 && pid !== undefined && pid !== first && c.runningOn('web-app').join() === 'alpha';
  });
  const again = c.resourcePid('alpha', 'web-app')!;
  process.kill(again, 'SIGKILL');
  await settledOn(c, 'beta');
  const failures = JSON.parse(c.vigil('alpha', 'events', '--kind', 'monitor-failed', '--json').stdout) as { resource: string }[];
  assert.equal(failures.length, 2, c.vigil('alpha', 'events').stdout);
  assert.ok(failures.every((f) => f.resource === 'web-app'));
  const status = await c.status('alpha');
  assert.match(status.groups[0]!.reasons.join(), /beta/);
});

test('a clean stop of the active agent hands the group over', async (t) => {
  const c = await cluster(t, group('auto'));
  c.start('alpha');
  c.start('beta');
  await settledOn(c, 'alpha');
  await c.kill('alpha', 'SIGTERM');
  await settledOn(c, 'beta');
});

test('forged heartbeats are rejected, counted and logged; the cluster carries on', async (t) => {
  const c = await cluster(t, group('auto'));
  c.start('alpha');
  c.start('beta');
  await settledOn(c, 'alpha');
  const socket = createSocket('udp4');
  t.after(() => new Promise<void>((r) => socket.close(() => r())));
  const send = (b: Buffer) => new Promise<void>((r) => socket.send(b, c.ports.udp['beta']!, '127.0.0.1', () => r()));
  // An impostor claims alpha is gone (no groups running, leaving): wrong key, then a genuine-looking replay.
  const lie = { c: 'it', n: 'alpha', a: 'beta', l: 'lan-udp', i: Date.now() + 1e9, s: 1, t: Date.now(), p: { node: 'alpha', incarnation: 1, configDigest: 'x', groups: {}, intents: { targets: {} }, leaving: true } };
  for (let s = 1; s <= 5; s++) await send(encodePacket({ ...lie, s }, randomBytes(32)));
  await send(encodePacket({ ...lie, i: 1 }, Buffer.from(c.key, 'hex'))); // the right key but an old incarnation: a replay
  await send(Buffer.from('not a heartbeat at all'));
  await c.waitFor('rejections counted on beta', async () => {
    const link = (await c.status('beta')).nodes.find((n) => n.id === 'alpha')!.links.find((l) => l.link === 'lan-udp')!;
    return link.rejected.badMac >= 5 && link.rejected.replay >= 1 && link.rejected.malformed >= 1;
  });
  const events = JSON.parse(c.vigil('beta', 'events', '--kind', 'heartbeat-rejected', '--json').stdout) as { message: string }[];
  assert.ok(events.some((e) => /bad-mac/.test(e.message)), JSON.stringify(events));
  assert.ok(events.length <= 3, 'rejections are logged at most once per link and reason per interval, not per packet');
  await new Promise((r) => setTimeout(r, 500));
  const s = await c.status('beta');
  assert.ok(s.nodes.every((n) => n.alive), 'nobody was believed dead');
  assert.deepEqual(s.groups[0]!.runningOn, ['alpha'], 'the lie changed nothing');
  assert.deepEqual(c.runningOn('web-app'), ['alpha']);
});

test('CLI and daemon refuse bad arguments and bad configuration with a clear message', async (t) => {
  const c = await cluster(t, group('auto'));
  c.start('alpha');
  await c.waitFor('alpha answers', () => c.status('alpha'));
  const unknown = c.vigil('alpha', 'frobnicate');
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown command "frobnicate"/);
  const missing = c.vigil('alpha', 'switchover');
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /switchover: missing GROUP/);
  const badGroup = c.vigil('alpha', 'switchover', 'nosuch');
  assert.equal(badGroup.code, 1);
  assert.match(badGroup.stderr, /NOT_FOUND: no group "nosuch"/);
  const badNode = c.vigil('alpha', 'switchover', 'web', 'gamma');
  assert.match(badNode.stderr, /NOT_FOUND: no node "gamma"/);
  const badMaintenance = c.vigil('alpha', 'maintenance', 'maybe');
  assert.equal(badMaintenance.code, 2);
  assert.match(badMaintenance.stderr, /expected "on" or "off", not "maybe"/);
  const daemon = (...args: string[]) => spawnSync(process.execPath, ['dist/agent/cli/vigild.js', ...args], { encoding: 'utf8', timeout: 20_000 });
  const noConfig = daemon('--node', 'alpha');
  assert.equal(noConfig.status, 2);
  assert.match(noConfig.stderr, /--config is required/);
  const unknownFlag = daemon('--config', c.configPath, '--node', 'alpha', '--colour', 'red');
  assert.equal(unknownFlag.status, 2);
  assert.match(unknownFlag.stderr, /--colour/);
  const wrongNode = daemon('--config', c.configPath, '--node', 'gamma', '--state-dir', join(c.dir, 'gamma'));
  assert.equal(wrongNode.status, 1);
  assert.match(wrongNode.stderr, /--node gamma: not a node of .*\(nodes: alpha, beta\)/);
  const badConfig = join(c.dir, 'bad.yaml');
  writeFileSync(badConfig, readFileSync(c.configPath, 'utf8').replace('kind: udp', 'kind: ucp'));
  const invalid = daemon('--config', badConfig, '--node', 'alpha', '--state-dir', join(c.dir, 'x'));
  assert.equal(invalid.status, 1);
  assert.match(invalid.stderr, /bad\.yaml:\d+:\d+: heartbeat\.links\[0\]\.kind: expected one of "udp", "tcp"/);
  const noAgent = c.vigil('beta', 'status');
  assert.equal(noAgent.code, 1);
  assert.match(noAgent.stderr, /no agent is running at/);
});

test('a frozen agent (SIGSTOP past the dead time): its guard releases first, so the group never runs twice', async (t) => {
  const c = await cluster(t, group('manual'));
  c.start('alpha');
  c.start('beta');
  await settledOn(c, 'alpha');
  // Sample every 20 ms, through the freeze and the thaw, that the service never runs on both nodes at once.
  let overlap = 0;
  const overlapAt: string[] = [];
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      if (c.runningOn('web-app').length > 1) { overlap++; overlapAt.push(new Date().toISOString()); }
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  const alpha = c.agents.get('alpha')!;
  process.kill(alpha.pid, 'SIGSTOP');
  try {
    await c.waitFor('beta took over while alpha is frozen', async () => (await c.status('beta')).groups[0]!.runningOn.join() === 'beta' && c.runningOn('web-app').join() === 'beta');
    await new Promise((r) => setTimeout(r, 1000)); // frozen a while longer: beta's beats pile up in alpha's sockets
  } finally {
    process.kill(alpha.pid, 'SIGCONT');
  }
  // alpha wakes up, learns its guard released everything, probes, and agrees the group is held on beta.
  await c.waitFor('alpha agrees', async () => {
    const s = await c.status('alpha');
    return s.nodes.every((n) => n.alive) && s.groups[0]!.runningOn.join() === 'beta';
  });
  await new Promise((r) => setTimeout(r, 1000));
  sampling = false;
  await sampler;
  // A failure here is a race: it says when, and what each agent and alpha's guard did around it.
  const logs = (): string => ['alpha', 'beta'].map((n) => `--- ${n}:\n${readFileSync(join(c.stateDir(n), 'vigild.log'), 'utf8').split('\n').filter((l) => !/ monitor /.test(l)).slice(-30).join('\n')}`).join('\n')
    + `\n--- alpha's guard:\n${readFileSync(join(c.stateDir('alpha'), 'guard.log'), 'utf8')}`;
  assert.equal(overlap, 0, `web-app ran on both nodes at once (sampled at ${overlapAt.join(', ')})\n${overlap > 0 ? logs() : ''}`);
  assert.deepEqual(c.runningOn('web-app'), ['beta']);
  const faults = JSON.parse(c.vigil('alpha', 'events', '--kind', 'fault', '--json').stdout) as { message: string }[];
  assert.ok(faults.some((e) => /the agent is frozen/.test(e.message)), JSON.stringify(faults));
  // On the thaw alpha's timers fire before it reads beta's beats, which waited in its sockets: that silence was
  // alpha's own, and beta is never taken as lost for it.
  assert.ok(faults.some((e) => /this agent stood still for \d+ ms/.test(e.message)), JSON.stringify(faults));
  const lost = JSON.parse(c.vigil('alpha', 'events', '--kind', 'peer-lost', '--json').stdout) as unknown[];
  assert.deepEqual(lost, [], 'alpha never took beta as lost');
});

test('a guard that dies is replaced at once', async (t) => {
  const c = await cluster(t, group('auto'));
  const alpha = c.start('alpha');
  // Killed once it guards: the API answers before that, and a guard that dies while it loads fails the agent's start
  // instead (the guard's own tests).
  const readyLines = (): number => alpha.log().match(/guard ready/g)?.length ?? 0;
  await c.waitFor('alpha\'s guard ready', () => readyLines() === 1);
  const first = c.guardPid('alpha')!;
  process.kill(first, 'SIGKILL');
  await c.waitFor('a new guard, ready', () => { const pid = c.guardPid('alpha'); return pid !== undefined && pid !== first && isRunning(pid) && readyLines() === 2; });
  assert.match(alpha.log(), /guard exited \(SIGKILL\); starting a new one/);
});

test('no process, port or temp directory is left behind', async () => {
  const c = await LocalCluster.create(group('auto'));
  const alpha = c.start('alpha');
  const beta = c.start('beta');
  await settledOn(c, 'alpha');
  const others = [c.resourcePid('alpha', 'web-ip')!, c.resourcePid('alpha', 'web-app')!, c.guardPid('alpha')!, c.guardPid('beta')!];
  await c.kill('beta'); // a killed agent's socket file and guard must not block anything either
  await c.dispose();
  for (const pid of [alpha.pid, beta.pid, ...others]) assert.equal(isRunning(pid), false, `process ${pid} is gone`);
  assert.equal(existsSync(c.dir), false);
  // Every port the cluster used can be bound again.
  for (const port of [...Object.values(c.ports.udp), ...Object.values(c.ports.tcp)]) assert.ok(port > 0);
  assert.ok(await freePort());
});
