// The import rules are only worth having if they bite: lint fixtures that break them must be rejected.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ESLint } from 'eslint';

const eslint = new ESLint({ ignore: false });

async function restrictedImportErrors(file: string): Promise<string[]> {
  const [result] = await eslint.lintFiles([file]);
  assert.ok(result, `eslint returned no result for ${file}`);
  return result.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

test('common/ may not import Node modules', async () => {
  const errors = await restrictedImportErrors('test/lint-fixtures/common/imports-node.ts');
  assert.equal(errors.length, 1);
  assert.match(errors[0]!, /common\/ is pure/);
});

test('common/ may not import the agent', async () => {
  assert.equal((await restrictedImportErrors('test/lint-fixtures/common/imports-agent.ts')).length, 1);
});

test('agent/core may not import the engine', async () => {
  const errors = await restrictedImportErrors('test/lint-fixtures/agent/core/imports-engine.ts');
  assert.equal(errors.length, 1);
  assert.match(errors[0]!, /pure brain/);
});

test('main/ may not import the agent', async () => {
  assert.equal((await restrictedImportErrors('test/lint-fixtures/main/imports-agent.ts')).length, 1);
});

test('agent/core may import common/', async () => {
  assert.deepEqual(await restrictedImportErrors('test/lint-fixtures/agent/core/allowed.ts'), []);
});

test('main/core may not import Electron (it runs headless in center:web and the tests)', async () => {
  const errors = await restrictedImportErrors('test/lint-fixtures/main/core/imports-electron.ts');
  assert.equal(errors.length, 1);
  assert.match(errors[0]!, /without Electron/);
});
