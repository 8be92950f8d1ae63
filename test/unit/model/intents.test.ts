import { test } from 'node:test';
import assert from 'node:assert/strict';
import { intentsVersion, isStoppedByOperator, mergeIntents, type Intents } from '../../../common/model/resource.js';

const a: Intents = { targets: { web: { value: 'alpha', version: 2, by: 'alpha', at: 1 } }, maintenance: { value: true, version: 3, by: 'alpha', at: 1 } };
const b: Intents = { targets: { web: { value: 'beta', version: 4, by: 'beta', at: 2 }, db: { value: 'alpha', version: 1, by: 'beta', at: 2 } } };
const c: Intents = { targets: { web: { value: 'gamma', version: 4, by: 'gamma', at: 3 } }, maintenance: { value: false, version: 3, by: 'beta', at: 3 } };

test('merging intents: the higher version wins, ties go to the higher node id', () => {
  const merged = mergeIntents(a, b);
  assert.equal(merged.targets['web']?.value, 'beta');
  assert.equal(merged.targets['db']?.value, 'alpha');
  assert.equal(merged.maintenance?.value, true);
  assert.equal(mergeIntents(b, c).targets['web']?.value, 'gamma');
  assert.equal(mergeIntents(a, c).maintenance?.by, 'beta');
});

test('merging is commutative, associative and idempotent, so every node converges', () => {
  const all = [a, b, c, { targets: {} }];
  for (const x of all) {
    assert.deepEqual(mergeIntents(x, x), x.maintenance ? x : { targets: x.targets });
    for (const y of all) {
      assert.deepEqual(mergeIntents(x, y), mergeIntents(y, x));
      for (const z of all) assert.deepEqual(mergeIntents(mergeIntents(x, y), z), mergeIntents(x, mergeIntents(y, z)));
    }
  }
  assert.equal(intentsVersion(mergeIntents(a, b)), 4);
});

test('stopped groups merge per group like targets, count in the version, and are left out while empty', () => {
  const stop: Intents = { targets: {}, stopped: { web: { value: true, version: 5, by: 'alpha', at: 1 } } };
  const start: Intents = { targets: {}, stopped: { web: { value: false, version: 6, by: 'beta', at: 2 }, db: { value: true, version: 2, by: 'beta', at: 2 } } };
  const merged = mergeIntents(stop, start);
  assert.equal(isStoppedByOperator(merged, 'web'), false, 'the later start wins');
  assert.equal(isStoppedByOperator(merged, 'db'), true);
  assert.equal(isStoppedByOperator(mergeIntents(stop, a), 'web'), true, 'an agent that never saw a stop does not undo it');
  assert.deepEqual(mergeIntents(stop, start), mergeIntents(start, stop));
  assert.equal(intentsVersion(merged), 6);
  assert.equal(intentsVersion(mergeIntents(stop, a)), 5);
  assert.equal('stopped' in mergeIntents(a, b), false);
  assert.equal(isStoppedByOperator({ targets: {} }, 'web'), false);
});
