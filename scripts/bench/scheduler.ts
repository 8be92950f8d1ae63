/**
 * bench:scheduler: how long one planning pass takes as clusters grow. The engine plans after every input, so
 * this bounds how fast a node reacts. Prints JSON.
 */
import { performance } from 'node:perf_hooks';
import { validateConfig } from '../../common/config/load.js';
import { plan } from '../../agent/core/plan.js';
import { expandWhatIf } from '../../agent/core/what-if.js';
import { summarize } from './stats.js';

function cluster(nodes: number, groups: number, resourcesPerGroup: number) {
  const ids = Array.from({ length: nodes }, (_, i) => `n${i}`);
  const config = validateConfig({
    cluster: { id: 'bench', key: 'ab'.repeat(32) },
    nodes: ids.map((id) => ({ id })),
    heartbeat: { links: [{ name: 'l', kind: 'udp', endpoints: Object.fromEntries(ids.map((id, i) => [id, `127.0.0.1:${10000 + i}`])) }] },
    groups: Array.from({ length: groups }, (_, g) => ({
      id: `g${g}`,
      nodes: ids.map((_, i) => ids[(g + i) % nodes]!),
      resources: Array.from({ length: resourcesPerGroup }, (_, r) => ({ id: `g${g}-r${r}`, kind: 'ocf', agent: '/bin/true' })),
    })),
  });
  // Each group runs on its preferred node; node 0 is lost, so its groups fail over: a busy plan.
  const running = (g: number) => Object.fromEntries(Array.from({ length: resourcesPerGroup }, (_, r) => [`g${g}-r${r}`, 'running']));
  const nodesState = Object.fromEntries(ids.map((id, i) => [id, {
    alive: i !== 0,
    groups: Object.fromEntries(Array.from({ length: groups }, (_, g) => [`g${g}`, g % nodes === i ? running(g) : {}]).filter(([, v]) => Object.keys(v as object).length)),
  }]));
  const { observed, now } = expandWhatIf(config, { now: 1_000_000, local: 'n1', nodes: nodesState });
  return { config, observed, now };
}

const results: Record<string, unknown> = {};
for (const [nodes, groups, resources] of [[2, 10, 3], [2, 200, 5], [8, 200, 5], [32, 1000, 5]] as const) {
  const { config, observed, now } = cluster(nodes, groups, resources);
  for (let i = 0; i < 20; i++) plan(config, observed, now); // warm up
  const samples: number[] = [];
  let actions = 0;
  const deadline = performance.now() + 2000;
  while (samples.length < 500 && performance.now() < deadline) {
    const t0 = performance.now();
    actions = plan(config, observed, now).actions.length;
    samples.push(performance.now() - t0);
  }
  results[`${nodes}n_${groups}g_${resources}r`] = { plan_ms: summarize(samples), actions };
}
process.stdout.write(JSON.stringify({ bench: 'scheduler', node: process.version, results }, null, 2) + '\n');
