// Redaction of the inline cluster key: replaced wherever the YAML puts it (block or flow), the rest intact; texts
// without one, or not YAML, unchanged.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import { REDACTED_KEY, redactConfigSecrets } from '../../../common/config/redact.js';

const KEY = 'ab'.repeat(32);

test('the inline key is replaced, in block and flow style, and nothing else changes', () => {
  const flow = `# a comment\ncluster: { id: c, key: "${KEY}", startupGrace: 2s }\nnodes: [{ id: a }]\n`;
  const block = `cluster:\n  id: c\n  key: ${KEY}\nnodes:\n  - id: a\n`;
  for (const text of [flow, block]) {
    const out = redactConfigSecrets(text);
    assert.equal(out.includes(KEY), false);
    const parsed = parse(out) as { cluster: Record<string, unknown>; nodes: unknown };
    assert.equal(parsed.cluster.key, REDACTED_KEY);
    assert.equal(parsed.cluster.id, 'c');
    assert.deepEqual(parsed.nodes, [{ id: 'a' }]);
  }
  assert.match(redactConfigSecrets(flow), /^# a comment/);
});

test('texts without an inline key, or that are not YAML, come back unchanged', () => {
  for (const text of ['cluster: { id: c, keyFile: k }\n', 'cluster: [unclosed\n', '', 'just text']) {
    assert.equal(redactConfigSecrets(text), text);
  }
});
