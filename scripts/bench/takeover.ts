/**
 * bench:takeover: two real agents on loopback; kill -9 the active agent and time until the peer reports the
 * group running (detection by heartbeat dead time + planning + the OCF start). Repeated; prints JSON.
 * Options: --trials N (default 10), --interval MS and --dead MS (heartbeat settings, default 200/800).
 */
import { parseArgs } from 'node:util';
import { LocalCluster } from '../../test/support/agent-cluster.js';
import { summarize } from './stats.js';

const { values } = parseArgs({ options: { trials: { type: 'string', default: '10' }, interval: { type: 'string', default: '200' }, dead: { type: 'string', default: '800' } } });
const trials = Number(values.trials);

async function main(): Promise<void> {
  const groups = `groups:
  - id: web
    nodes: [alpha, beta]
    switchback: manual
    resources:
      - { id: web-app, kind: ocf, agent: "@OCF@", monitorInterval: 1s }
`;
  const c = await LocalCluster.create(groups, ['alpha', 'beta'], { interval: Number(values.interval), deadTime: Number(values.dead) });
  const samples: number[] = [];
  try {
    c.start('alpha');
    c.start('beta');
    let active = 'alpha';
    await c.waitFor('web running', async () => (await c.status('alpha')).groups[0]!.runningOn.length === 1);
    active = (await c.status('alpha')).groups[0]!.runningOn[0]!;
    for (let i = 0; i < trials; i++) {
      const standby = active === 'alpha' ? 'beta' : 'alpha';
      await c.waitFor('both up and settled', async () => {
        const s = await c.status(standby);
        return s.nodes.every((n) => n.alive) && s.groups[0]!.runningOn.join() === active && s.groups[0]!.target === active;
      }, 30_000);
      const t0 = Date.now();
      await c.kill(active);
      await c.waitFor('takeover', async () => {
        const s = await c.status(standby);
        return s.groups[0]!.runningOn.join() === standby && s.groups[0]!.resources[0]!.states[standby] === 'running';
      }, 30_000);
      samples.push(Date.now() - t0);
      c.start(active); // it returns; with manual switchback the group stays where it is now
      active = standby;
    }
  } finally {
    await c.dispose();
  }
  process.stdout.write(JSON.stringify({
    bench: 'takeover', trials, heartbeat_interval_ms: Number(values.interval), dead_time_ms: Number(values.dead),
    takeover_ms: summarize(samples), note: 'kill -9 of the active agent until the peer reports the group running; status polled every 100 ms',
  }, null, 2) + '\n');
}

await main();
