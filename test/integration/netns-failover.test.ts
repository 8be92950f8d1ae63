// Real agents on real test hosts (network namespaces): a web service and its virtual IP move between alpha and
// beta, and a client on the public network sees the outcome. In every scenario, sampled every 20 ms throughout,
// the VIP is never on two hosts at once; afterwards exactly one host holds it, the client's ARP entry for it
// names that host, and the client is served by it.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { NetnsCluster, type NetnsClusterOptions, type NodeName } from '../support/netns-cluster.js';

const LONG = 30_000;

async function eventually(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = LONG): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The condition holds for the whole period (checked every 200 ms): for "nothing moves" scenarios. */
async function throughout(c: NetnsCluster, what: string, condition: () => boolean | Promise<boolean>, periodMs: number): Promise<void> {
  const end = Date.now() + periodMs;
  while (Date.now() < end) {
    if (!(await condition())) assert.fail(`expected throughout ${periodMs} ms: ${what}; not so at ${new Date().toISOString()}\n${agentLogs(c)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

interface Scenario {
  readonly c: NetnsCluster;
  /** Stop sampling and check every invariant with `holder` as the host that must serve now. */
  finish(holder: NodeName): Promise<void>;
}

/** A fresh two-node cluster, both agents started, the group settled on alpha; VIP sampling running. */
async function scenario(t: TestContext, options: NetnsClusterOptions = {}): Promise<Scenario> {
  const c = await NetnsCluster.create(options);
  t.after(() => c.destroy());
  c.start('alpha');
  c.start('beta');
  await settledOn(c, 'alpha');
  const label = c.net.addresses('alpha').find((a) => a.address === '203.0.113.100')?.label;
  assert.ok(label?.startsWith('pub:'), `the VIP carries a label (${label})`);
  const watch = c.watchVip();
  t.after(() => watch.stop());
  return {
    c,
    async finish(holder) {
      await settledOn(c, holder);
      const { overlaps, overlapsAt, samples } = await watch.stop();
      assert.ok(samples >= 3, `the VIP was sampled (${samples})`);
      assert.equal(overlaps, 0, `the VIP was on two hosts at once in ${overlaps} of ${samples} samples, at ${overlapsAt.join(', ')}\n${agentLogs(c)}`);
      assert.deepEqual(c.vipHolders(), [holder]);
      assert.equal(c.servedBy(), holder);
      assert.equal(c.clientArpOwner(), holder, `the client's ARP entry for the VIP names ${holder}`);
    },
  };
}

/** The client is served by `node`, which alone holds the VIP, and every agent asked (by default every live one)
 * agrees on where the group runs. */
async function settledOn(c: NetnsCluster, node: NodeName, asking: readonly NodeName[] = c.hosts()): Promise<void> {
  try {
    await eventually(`the group settles on ${node}`, async () => {
      if (c.servedBy() !== node || c.vipHolders().join() !== node) return false;
      for (const n of asking) {
        const where = await c.runningOn(n);
        if (where !== undefined && where.join() !== node) return false;
      }
      return true;
    });
  } catch (e) {
    throw new Error(`${(e as Error).message}\n${agentLogs(c)}`, { cause: e });
  }
}

/** The end of both agents' logs, for a failure message. */
function agentLogs(c: NetnsCluster): string {
  return `--- alpha ---\n${c.agentLog('alpha').slice(-3000)}\n--- beta ---\n${c.agentLog('beta').slice(-3000)}`;
}

/** alpha is back: both agents see each other, and alpha too reports the group on `holder` (it may hear beta a
 * beat later than beta hears it). */
async function backAndAgreeing(c: NetnsCluster, holder: NodeName): Promise<void> {
  await eventually('alpha is back and both agents agree', async () => {
    for (const n of ['alpha', 'beta'] as const) {
      const s = await c.status(n).catch(() => undefined);
      if (!s?.nodes.every((x) => x.alive) || (await c.runningOn(n))?.join() !== holder) return false;
    }
    return true;
  });
}

test('kill -9 of the active agent: beta takes over; alpha returns as standby (manual switchback) until `switchback`', async (t) => {
  const { c, finish } = await scenario(t);
  await c.net.kill(c.agent('alpha'));
  await settledOn(c, 'beta');
  assert.deepEqual(c.servicePids('alpha'), [], "the guard stopped alpha's service when its agent died");
  c.start('alpha');
  await backAndAgreeing(c, 'beta');
  await throughout(c, 'the group stays on beta', async () => c.servedBy() === 'beta' && (await c.runningOn('alpha'))?.join() === 'beta', 3000);
  await c.switchback('alpha');
  await finish('alpha');
});

test('switchback auto: the group returns to alpha as soon as its agent is back', async (t) => {
  const { c, finish } = await scenario(t, { switchback: 'auto' });
  await c.net.kill(c.agent('alpha'));
  await settledOn(c, 'beta');
  c.start('alpha');
  await finish('alpha');
});

test('the protected service dies: restarted in place, and on the second failure (migrationThreshold 2) moved to beta', async (t) => {
  const { c, finish } = await scenario(t, { migrationThreshold: 2 });
  const [first] = c.servicePids('alpha');
  assert.ok(first !== undefined, 'the service runs on alpha');
  process.kill(first, 'SIGKILL');
  await eventually('the service is restarted on alpha', () => { const p = c.servicePids('alpha'); return p.length === 1 && p[0] !== first; });
  await settledOn(c, 'alpha');
  process.kill(c.servicePids('alpha')[0]!, 'SIGKILL');
  await finish('beta');
  assert.deepEqual(c.servicePids('alpha'), []);
});

test('the active agent is frozen (SIGSTOP) past the dead time: beta takes over; thawed, alpha stays standby', async (t) => {
  const { c, finish } = await scenario(t);
  c.net.freeze(c.agent('alpha'));
  await settledOn(c, 'beta');
  await new Promise((r) => setTimeout(r, 1000)); // frozen well past the dead time
  c.net.thaw(c.agent('alpha'));
  await backAndAgreeing(c, 'beta');
  await throughout(c, 'the group stays on beta and nothing of it runs on alpha',
    async () => c.servedBy() === 'beta' && c.servicePids('alpha').length === 0 && (await c.runningOn('alpha'))?.join() === 'beta', 3000);
  await finish('beta');
});

test('one private link cut: nothing moves, and both agents report that link down', async (t) => {
  const { c, finish } = await scenario(t);
  c.cutPrivate('alpha', ['priv1']);
  for (const [node, peer] of [['alpha', 'beta'], ['beta', 'alpha']] as const) {
    await eventually(`${node} sees priv1 to ${peer} down, priv2 up`, async () => {
      const links = (await c.status(node)).nodes.find((n) => n.id === peer)!.links;
      return links.some((l) => l.link === 'priv1' && !l.up) && links.some((l) => l.link === 'priv2' && l.up);
    });
  }
  await throughout(c, 'the group stays on alpha', async () => c.servedBy() === 'alpha' && (await c.runningOn('beta'))?.join() === 'alpha', 3000);
  c.restorePrivate('alpha', ['priv1']);
  await finish('alpha');
});

test('every private link cut, public network up: no takeover, and beta raises a fault', async (t) => {
  const { c, finish } = await scenario(t);
  c.cutPrivate('alpha');
  await eventually('beta reports the private networks down', async () =>
    (await c.status('beta')).faults.some((f) => /every private link to alpha is down/.test(f)));
  await throughout(c, 'the group stays on alpha', async () => c.servedBy() === 'alpha' && (await c.runningOn('beta'))?.join() === 'alpha', 3000);
  const faults = await c.events('beta', ['fault']);
  assert.ok(faults.some((e) => e.severity === 'warning' && /every private link to alpha is down/.test(e.message)), 'the fault is in the event log once it appears');
  c.restorePrivate('alpha');
  await eventually('the fault clears', async () => !(await c.status('beta')).faults.some((f) => /private link/.test(f)));
  await finish('alpha');
});

test('every link of the active node cut: alpha releases (its ping target is silent), beta takes over; reconnected, alpha is standby', async (t) => {
  const { c, finish } = await scenario(t);
  c.isolate('alpha');
  await settledOn(c, 'beta', ['beta']); // cut off, alpha knows nothing of beta
  await eventually('alpha released everything', () => c.servicePids('alpha').length === 0 && !c.vipHolders().includes('alpha'));
  c.reconnect('alpha');
  await backAndAgreeing(c, 'beta');
  await throughout(c, 'the group stays on beta', async () => c.servedBy() === 'beta' && (await c.runningOn('alpha'))?.join() === 'beta', 2000);
  await finish('beta');
});

test('reconnected, alpha hears its ping target before beta\'s heartbeat: it waits out the startup grace and starts nothing', async (t) => {
  const { c, finish } = await scenario(t);
  c.isolate('alpha');
  await settledOn(c, 'beta', ['beta']);
  await eventually('alpha released everything', () => c.servicePids('alpha').length === 0 && !c.vipHolders().includes('alpha'));
  const startsBefore = (await c.events('alpha', ['resource-started'])).length;
  // beta's heartbeats to alpha are held up until alpha's ping target answers again; beta keeps serving meanwhile.
  c.blockSending('beta', 'alpha');
  c.reconnect('alpha');
  await eventually('alpha has its public network back', async () => !(await c.status('alpha')).faults.some((f) => /lost the public network/.test(f)));
  c.unblockSending('beta', 'alpha');
  await backAndAgreeing(c, 'beta');
  await throughout(c, 'the group stays on beta', async () => c.servedBy() === 'beta' && c.servicePids('alpha').length === 0, 2000);
  assert.equal((await c.events('alpha', ['resource-started'])).length, startsBefore, 'alpha started nothing after the cut');
  await finish('beta');
});

test('the active host vanishes: beta takes over', async (t) => {
  const { c, finish } = await scenario(t);
  await c.net.removeHost('alpha');
  await finish('beta');
});
