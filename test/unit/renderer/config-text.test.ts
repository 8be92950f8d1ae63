// The config screen's pure parts: the line diff shown before a commit, and the form's edits of the YAML text
// (one path changed, comments and layout elsewhere kept, the loader's problems naming the field).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { diffHunks, diffLines, diffStats } from '../../../renderer/config/line-diff.js';
import { appendItem, checkLocally, editText, parseForEditing, problemsFromDetails, valueAt } from '../../../renderer/config/config-text.js';

const marks = (before: string, after: string): string =>
  diffLines(before, after).map((l) => `${l.kind === 'same' ? ' ' : l.kind === 'added' ? '+' : '-'}${l.text}`).join('|');

test('the diff marks removed and added lines and keeps the rest in order', () => {
  assert.equal(marks('a\nb\nc\n', 'a\nB\nc\n'), ' a|-b|+B| c');
  assert.equal(marks('a\nb\nc', 'a\nc'), ' a|-b| c');
  assert.equal(marks('a\nc', 'a\nb\nc'), ' a|+b| c');
  assert.equal(marks('', 'x\ny\n'), '+x|+y');
  assert.equal(marks('x\ny\n', ''), '-x|-y');
  assert.equal(marks('same\n', 'same\n'), ' same');
  // A moved line: the longest common part is kept, the move shows as one removal and one addition.
  assert.equal(marks('a\nb\nc\nd', 'b\nc\na\nd'), '-a| b| c|+a| d');
  assert.equal(marks('a\r\nb\r\n', 'a\nb\n'), ' a| b', 'line endings do not count as changes');
});

test('diff line numbers point into each text, and stats count the changes', () => {
  const diff = diffLines('keep\nold\nkeep2\n', 'keep\nnew1\nnew2\nkeep2\n');
  assert.deepEqual(diff, [
    { kind: 'same', text: 'keep', oldLine: 1, newLine: 1 },
    { kind: 'removed', text: 'old', oldLine: 2 },
    { kind: 'added', text: 'new1', newLine: 2 },
    { kind: 'added', text: 'new2', newLine: 3 },
    { kind: 'same', text: 'keep2', oldLine: 3, newLine: 4 },
  ]);
  assert.deepEqual(diffStats(diff), { added: 2, removed: 1 });
});

test('hunks keep the changes and their context, and split where unchanged lines are far between', () => {
  const before = Array.from({ length: 30 }, (_, i) => `line ${i}`).join('\n');
  const after = before.replace('line 2\n', 'line two\n').replace('line 25\n', 'line twenty-five\n');
  const hunks = diffHunks(diffLines(before, after), 2);
  assert.equal(hunks.length, 2);
  assert.deepEqual(hunks[0]!.map((l) => l.text), ['line 0', 'line 1', 'line 2', 'line two', 'line 3', 'line 4']);
  assert.deepEqual(hunks[1]!.map((l) => l.text), ['line 23', 'line 24', 'line 25', 'line twenty-five', 'line 26', 'line 27']);
  assert.deepEqual(diffHunks(diffLines(before, before)), []);
});

const TEXT = `# the cluster
cluster: { id: demo, keyFile: /etc/vigil/cluster.key } # inline comment
nodes:
  - id: alpha # the first
  - id: beta
heartbeat:
  links:
    - { name: p1, kind: udp, endpoints: { alpha: "10.0.0.1:7405", beta: "10.0.0.2:7405" } }
`;

test('a form edit changes one field and keeps comments and the flow style elsewhere', () => {
  const edited = editText(TEXT, ['nodes', 1, 'api'], '10.0.0.2:7480');
  assert.equal(edited, TEXT.replace('  - id: beta\n', '  - id: beta\n    api: 10.0.0.2:7480\n'));
  assert.equal(valueAt(parseForEditing(edited).doc, ['nodes', 1, 'api']), '10.0.0.2:7480');

  const renamed = editText(TEXT, ['heartbeat', 'links', 0, 'endpoints', 'beta'], '10.0.9.2:7405');
  assert.equal(renamed, TEXT.replace('"10.0.0.2:7405"', '"10.0.9.2:7405"'), 'the quoting of the value is kept too');

  const removed = editText(TEXT, ['cluster', 'keyFile'], undefined);
  assert.equal(valueAt(parseForEditing(removed).doc, ['cluster']) !== undefined, true);
  assert.equal(valueAt(parseForEditing(removed).doc, ['cluster', 'keyFile']), undefined);

  const added = appendItem(TEXT, ['nodes'], { id: 'gamma' });
  assert.deepEqual(valueAt(parseForEditing(added).doc, ['nodes']), [{ id: 'alpha' }, { id: 'beta' }, { id: 'gamma' }]);
  assert.match(added, /# the first/);
  assert.deepEqual(valueAt(parseForEditing(appendItem(TEXT, ['alerts', 'rules'], { channels: ['ops'] })).doc, ['alerts']), { rules: [{ channels: ['ops'] }] });

  assert.throws(() => editText('a: [1,\n', ['a'], 1), /syntax/);

  // Typed into an empty field: plain where that reads back as the text typed, quoted where it would not.
  assert.equal(editText('a: ""\nb: 1\n', ['a'], 'nginx'), 'a: nginx\nb: 1\n');
  assert.equal(editText('a: ""\nb: 1\n', ['a'], 'x: y'), 'a: "x: y"\nb: 1\n');
  assert.equal(editText('a: ""\nb: 1\n', ['a'], '123'), 'a: "123"\nb: 1\n', 'a string that looks like a number stays a string');

  // Structural edits re-serialise, but lines the edit did not touch keep their bracket padding.
  const flow = 'a: [x, y] # list\nb: { c: 1 }\nd: 1\n';
  assert.equal(editText(flow, ['d'], [1, 2]), 'a: [x, y] # list\nb: { c: 1 }\nd:\n  - 1\n  - 2\n');
  assert.equal(editText(flow, ['a'], ['y', 'x']), 'a: [ y, x ] # list\nb: { c: 1 }\nd: 1\n', 'a flow list stays a flow list');
  assert.equal(editText(flow, ['b', 'e'], 'new'), 'a: [x, y] # list\nb: { c: 1, e: new }\nd: 1\n');
});

test('the local check is the agent loader: it names the field and the line', () => {
  assert.deepEqual(checkLocally(TEXT), []);
  const problems = checkLocally(TEXT.replace('id: demo', 'id: Demo'));
  assert.equal(problems.length, 1);
  assert.equal(problems[0]!.field, 'cluster.id');
  assert.equal(problems[0]!.line, 2);
  assert.match(problems[0]!.message, /lowercase name/);
  const syntax = checkLocally('cluster: [\n');
  assert.equal(syntax[0]!.field, '');
  assert.match(syntax[0]!.message, /YAML syntax/);
});

test('the problems of a refusal are read from its details, and malformed ones are dropped', () => {
  const good = { node: 'beta', path: 'nodes[1].api', message: 'not an address of this host', line: 5 };
  assert.deepEqual(problemsFromDetails({ problems: [good, { node: 1 }, 'x'] }), [good]);
  assert.deepEqual(problemsFromDetails(undefined), []);
  assert.deepEqual(problemsFromDetails({ problems: 'no' }), []);
});
