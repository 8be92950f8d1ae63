// When the guard releases a frozen agent's resources: before any peer can take over, on every link of the node.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { guardReleaseAfter } from '../../../agent/guard/guard-link.js';

const link = (interval: number, deadTime: number, nodes = ['alpha', 'beta']) => ({
  interval, deadTime, endpoints: Object.fromEntries(nodes.map((n, i) => [n, `10.0.0.${i + 1}:7405`])),
});

test('the guard releases at half the earliest takeover (deadTime - interval) of the quickest link the node is on', () => {
  assert.equal(guardReleaseAfter([link(100, 500)], 'alpha'), 200);
  // A long interval brings the takeover forward: half the dead time (250 ms) would come after the peer's 200 ms.
  assert.equal(guardReleaseAfter([link(300, 500)], 'alpha'), 100);
  assert.equal(guardReleaseAfter([link(200, 800), link(100, 500), link(1000, 3000)], 'alpha'), 200);
  assert.equal(guardReleaseAfter([link(200, 800), link(50, 301, ['beta', 'gamma'])], 'alpha'), 300, 'a link alpha is not on does not count');
  assert.equal(guardReleaseAfter([link(200, 801)], 'alpha'), 300, 'whole milliseconds, rounded down');
  assert.equal(guardReleaseAfter([link(50, 301, ['beta', 'gamma'])], 'alpha'), 0, 'no link: the guard acts only when the agent dies');
});
