// Routes in the URL fragment: every screen's route survives formatting and parsing, ids are escaped, and anything
// unknown is the overview (never an exception).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRoute, routeHref, type Route } from '../../../renderer/app/route.js';

test('each route round-trips through its href, with ids escaped', () => {
  const routes: Route[] = [
    { screen: 'overview' }, { screen: 'wizard' }, { screen: 'events' },
    { screen: 'cluster', cluster: 'prod' }, { screen: 'mirrors', cluster: 'prod' }, { screen: 'config', cluster: 'a b/c' },
    { screen: 'events', cluster: 'prod.2' },
  ];
  for (const r of routes) assert.deepEqual(parseRoute(routeHref(r)), r, routeHref(r));
  assert.equal(routeHref({ screen: 'config', cluster: 'a b/c' }), '#/clusters/a%20b%2Fc/config');
});

test('unknown or partial fragments are the overview', () => {
  for (const hash of ['', '#', '#/', '#/nothing', '#/clusters', '#token=abc', '#/%E0%A4%A']) {
    const r = (() => { try { return parseRoute(hash); } catch (e) { return e; } })();
    assert.deepEqual(r, { screen: 'overview' }, hash);
  }
  assert.deepEqual(parseRoute('#/clusters/prod/unknown'), { screen: 'cluster', cluster: 'prod' });
});
