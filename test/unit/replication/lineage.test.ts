// Which copy is newer after sequences of promotions and failures: every sequence of up to six events on two
// nodes is played, and the verdict must agree with the truth kept alongside (who wrote since the other last
// caught up).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EMPTY_LINEAGE, adoptLineage, compareLineage, nextGeneration, type Lineage } from '../../../agent/replication/lineage.js';

test('the four verdicts on hand-made cases', () => {
  const a1 = nextGeneration(EMPTY_LINEAGE, 'a1');
  assert.equal(compareLineage(a1, a1), 'same');
  assert.equal(compareLineage(a1, EMPTY_LINEAGE), 'mine-newer');
  assert.equal(compareLineage(EMPTY_LINEAGE, a1), 'peer-newer');
  const b2 = nextGeneration(a1, 'b2');
  const a3 = nextGeneration(a1, 'a3');
  assert.equal(compareLineage(a3, b2), 'diverged');
  assert.equal(compareLineage(adoptLineage(b2), b2), 'same');
});

type Event = 'promote-a' | 'promote-b' | 'sync';
const EVENTS: readonly Event[] = ['promote-a', 'promote-b', 'sync'];

test('every sequence of six events: the verdict matches who really holds newer data', () => {
  let sequences = 0;
  const play = (events: readonly Event[]): void => {
    let a: Lineage = EMPTY_LINEAGE;
    let b: Lineage = EMPTY_LINEAGE;
    // The truth: the set of "writes" (promotions) each copy contains.
    let ta = new Set<string>();
    let tb = new Set<string>();
    let n = 0;
    for (const e of events) {
      n++;
      if (e === 'promote-a') { a = nextGeneration(a, `a${n}`); ta = new Set([...ta, `a${n}`]); }
      if (e === 'promote-b') { b = nextGeneration(b, `b${n}`); tb = new Set([...tb, `b${n}`]); }
      if (e === 'sync') {
        // They meet: the newer copy wins; diverged copies are left alone (the operator decides).
        const v = compareLineage(a, b);
        if (v === 'mine-newer') { b = adoptLineage(a); tb = new Set(ta); }
        if (v === 'peer-newer') { a = adoptLineage(b); ta = new Set(tb); }
      }
    }
    const aHasAll = [...tb].every((w) => ta.has(w));
    const bHasAll = [...ta].every((w) => tb.has(w));
    const expected = aHasAll && bHasAll ? 'same' : aHasAll ? 'mine-newer' : bHasAll ? 'peer-newer' : 'diverged';
    assert.equal(compareLineage(a, b), expected, events.join(' '));
    assert.equal(compareLineage(b, a), expected === 'mine-newer' ? 'peer-newer' : expected === 'peer-newer' ? 'mine-newer' : expected, `reversed: ${events.join(' ')}`);
    sequences++;
  };
  const walk = (prefix: Event[]): void => {
    play(prefix);
    if (prefix.length < 6) for (const e of EVENTS) walk([...prefix, e]);
  };
  walk([]);
  assert.equal(sequences, (3 ** 7 - 1) / 2);
});
