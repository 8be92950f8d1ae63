// Golden scenarios: a cluster state in, the exact actions and placements out. They pin the brain's behaviour
// the way Pacemaker's cts/scheduler cases do; each file says in its description why the answer is right.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig } from '../../common/config/load.js';
import { describeAction } from '../../common/model/plan.js';
import { plan } from '../../agent/core/plan.js';
import { expandWhatIf } from '../../agent/core/what-if.js';

const ROOT = join(process.cwd(), 'test', 'scenarios');

interface Expectation {
  readonly actions: readonly string[];
  readonly targets?: Readonly<Record<string, string | null>>;
  readonly faultsInclude?: readonly string[];
  readonly reasonsInclude?: Readonly<Record<string, string>>;
  readonly wakeAt?: number | null;
}
interface Scenario { readonly description: string; readonly config: string; readonly whatIf: unknown; readonly expect: Expectation }

const files = readdirSync(join(ROOT, 'cases')).filter((f) => f.endsWith('.json')).sort();

test('there are at least 40 golden scenarios', () => {
  assert.ok(files.length >= 40, `only ${files.length} scenarios`);
});

for (const file of files) {
  const scenario = JSON.parse(readFileSync(join(ROOT, 'cases', file), 'utf8')) as Scenario;
  test(`${file}: ${scenario.description}`, () => {
    const configFile = join(ROOT, 'configs', `${scenario.config}.yaml`);
    const config = parseConfig(readFileSync(configFile, 'utf8'), configFile);
    const { observed, now } = expandWhatIf(config, scenario.whatIf);
    const result = plan(config, observed, now);
    const explain = `\nplan: ${JSON.stringify(result, null, 1)}`;
    assert.deepEqual(result.actions.map(describeAction), scenario.expect.actions, `actions${explain}`);
    for (const [group, target] of Object.entries(scenario.expect.targets ?? {})) {
      assert.equal(result.groups[group]?.target, target, `target of ${group}${explain}`);
    }
    for (const fault of scenario.expect.faultsInclude ?? []) {
      assert.ok(result.faults.some((f) => f.includes(fault)), `a fault mentioning "${fault}"${explain}`);
    }
    for (const [group, reason] of Object.entries(scenario.expect.reasonsInclude ?? {})) {
      assert.ok(result.groups[group]?.reasons.some((r) => r.includes(reason)), `a reason for ${group} mentioning "${reason}"${explain}`);
    }
    if (scenario.expect.wakeAt !== undefined) assert.equal(result.wakeAt, scenario.expect.wakeAt, `wakeAt${explain}`);
    // Pure: the same input gives the same plan.
    assert.deepEqual(plan(config, observed, now), result);
  });
}
