import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileGlobs, GlobError } from '../../../agent/replication/glob.js';

/** [pattern, path, isDir, expected] for a single include pattern. */
const INCLUDE_CASES: readonly (readonly [string, string, boolean, boolean])[] = [
  // `*` stays inside one name; a pattern without '/' matches the name at any depth
  ['*.log', 'a.log', false, true],
  ['*.log', 'x/y/a.log', false, true],
  ['*.log', 'a.logx', false, false],
  ['*.log', '.log', false, true],
  ['a*', 'a', false, true],
  ['a*b', 'a/b', false, false],
  ['*', 'anything/at/all', false, true],
  // anchored patterns (with '/')
  ['src/*.ts', 'src/a.ts', false, true],
  ['src/*.ts', 'lib/src/a.ts', false, false],
  ['src/*.ts', 'src/x/a.ts', false, false],
  ['/top', 'top', false, true],
  ['/top', 'x/top', false, false],
  // `**`
  ['**/*.ts', 'a.ts', false, true],
  ['**/*.ts', 'a/b/c.ts', false, true],
  ['src/**/*.ts', 'src/a.ts', false, true],
  ['src/**/*.ts', 'src/x/y/a.ts', false, true],
  ['src/**/*.ts', 'other/a.ts', false, false],
  ['a/**/b', 'a/b', false, true],
  ['a/**/b', 'a/x/y/b', false, true],
  ['a/**/b', 'a/x/y/c', false, false],
  ['a/**', 'a', true, false],
  ['a/**', 'a/x', false, true],
  ['a/**', 'a/x/y', false, true],
  ['**', 'x', false, true],
  ['a**b', 'axxb', false, true],
  ['a**b', 'ax/xb', false, false],
  // `?`
  ['?.txt', 'a.txt', false, true],
  ['?.txt', 'ab.txt', false, false],
  ['?.txt', '.txt', false, false],
  ['a?b', 'a/b', false, false],
  ['?', 'é', false, true],
  // classes
  ['[abc].c', 'b.c', false, true],
  ['[abc].c', 'd.c', false, false],
  ['[a-c]x', 'bx', false, true],
  ['[a-c]x', 'dx', false, false],
  ['[!a-c]x', 'dx', false, true],
  ['[!a-c]x', 'ax', false, false],
  ['[^a-c]x', 'dx', false, true],
  ['[]]', ']', false, true],
  ['[!]]', 'a', false, true],
  ['[!]]', ']', false, false],
  ['[a-]', '-', false, true],
  ['[*?]', '*', false, true],
  ['[*?]', 'a', false, false],
  ['[\\]]', ']', false, true],
  ['a[!x]b', 'a/b', false, false],
  // braces
  ['*.{js,ts}', 'a.ts', false, true],
  ['*.{js,ts}', 'a.js', false, true],
  ['*.{js,ts}', 'a.css', false, false],
  ['{a,b/c}', 'x/a', false, true],
  ['{a,b/c}', 'b/c', false, true],
  ['{a,b/c}', 'x/b/c', false, false],
  ['{a,{b,c}}.txt', 'c.txt', false, true],
  ['x{,y}', 'x', false, true],
  ['x{,y}', 'xy', false, true],
  ['[{]a', '{a', false, true],
  // escapes
  ['\\*', '*', false, true],
  ['\\*', 'a', false, false],
  ['\\{a\\}', '{a}', false, true],
  // trailing '/' matches only folders, and everything below them
  ['build/', 'build', true, true],
  ['build/', 'build', false, false],
  ['build/', 'x/build/out.o', false, true],
  ['/build/', 'x/build', true, false],
  // a folder included includes what it holds
  ['docs', 'docs/a/b.md', false, true],
  ['src/lib', 'src/lib/x.ts', false, true],
  // regex characters in names are literal
  ['a+b(1).$', 'a+b(1).$', false, true],
  ['a.b', 'axb', false, false],
  // newlines in names are characters like any other
  ['a*', 'a\nb', false, true],
];

test('an include pattern matches exactly the paths its syntax describes', () => {
  for (const [pattern, path, isDir, expected] of INCLUDE_CASES) {
    assert.equal(compileGlobs([pattern], []).matches(path, isDir), expected, `include ${JSON.stringify(pattern)} on ${JSON.stringify(path)} (dir ${isDir})`);
  }
});

/** [include, exclude, path, isDir, expected] */
const FILTER_CASES: readonly (readonly [readonly string[], readonly string[], string, boolean, boolean])[] = [
  [[], [], 'anything', false, true],
  [[], [], 'a/b/c', true, true],
  [[], ['*.tmp'], 'x/y.tmp', false, false],
  [[], ['*.tmp'], 'x/y.txt', false, true],
  [[], ['node_modules/'], 'a/node_modules/p/index.js', false, false],
  [[], ['node_modules/'], 'a/node_modules', false, true], // a file so named is not a folder
  [[], ['cache'], 'cache/deep/file', false, false],
  [['src/'], ['*.o'], 'src/a.c', false, true],
  [['src/'], ['*.o'], 'src/a.o', false, false],
  [['src/'], [], 'lib/a.c', false, false],
  [['*.ts'], ['gen/'], 'gen/a.ts', false, false],
  [['*.ts'], ['gen/'], 'src/gen/a.ts', false, false],
  [['*.ts'], ['gen/'], 'src/a.ts', false, true],
  [['data/**'], ['data/tmp/**'], 'data/tmp', true, true],
  [['data/**'], ['data/tmp/**'], 'data/tmp/x', false, false],
  [['a/**/keep/*'], ['a/skip/'], 'a/skip/keep/x', false, false],
  [['a/**/keep/*'], ['a/skip/'], 'a/b/keep/x', false, true],
];

test('exclude wins over include, and a folder carries its verdict to everything below it', () => {
  for (const [include, exclude, path, isDir, expected] of FILTER_CASES) {
    assert.equal(compileGlobs(include, exclude).matches(path, isDir), expected, `include ${JSON.stringify(include)} exclude ${JSON.stringify(exclude)} on ${path}`);
  }
});

/** [include, exclude, folder, expected]: whether a scan must descend. */
const DESCEND_CASES: readonly (readonly [readonly string[], readonly string[], string, boolean])[] = [
  [[], [], 'a', true],
  [[], ['a/'], 'a', false],
  [[], ['a/'], 'x/a/y', false],
  [[], ['build/**'], 'build', false],
  [[], ['build/**'], 'x/build', true],
  [[], ['**/build/**'], 'x/build', false],
  [['src/**/*.ts'], [], 'src', true],
  [['src/**/*.ts'], [], 'src/a/b', true],
  [['src/**/*.ts'], [], 'lib', false],
  [['src/lib/*.c'], [], 'src', true],
  [['src/lib/*.c'], [], 'src/lib', true],
  [['src/lib/*.c'], [], 'src/other', false],
  [['src/lib/*.c'], [], 'src/lib/deeper', false],
  [['*.c'], [], 'any/where', true],
  [['src/'], [], 'src/a', true],
  [['src/'], ['src/gen/'], 'src/gen', false],
  [['{a,b}/x/*'], [], 'b/x', true],
  [['{a,b}/x/*'], [], 'c', false],
];

test('mayContain tells a scan which folders can hold an admitted path', () => {
  for (const [include, exclude, folder, expected] of DESCEND_CASES) {
    assert.equal(compileGlobs(include, exclude).mayContain(folder), expected, `include ${JSON.stringify(include)} exclude ${JSON.stringify(exclude)} folder ${folder}`);
  }
});

/** [pattern, position, words in the message] */
const BAD_PATTERNS: readonly (readonly [string, number, string])[] = [
  ['', 0, 'empty'],
  ['src/[ab', 4, "unclosed '['"],
  ['a]', 1, "unbalanced ']'"],
  ['{a,b', 0, "unclosed '{'"],
  ['x/{a,{b}', 2, "unclosed '{'"],
  ['a}b', 1, "unbalanced '}'"],
  ['[z-a]', 1, 'runs backwards'],
  ['a\\', 1, 'escapes nothing'],
  ['[a/b]', 2, "'/' cannot appear"],
  ['é[', 1, "unclosed '['"],
  ['{a,b}{c,d}{e,f}{g,h}{i,j}{k,l}{m,n}{o,p}{q,r}', 0, 'more than 256'],
  ['/', 0, 'matches no path'],
];

test('a bad pattern is refused with its text, the character position and a stable code', () => {
  for (const [pattern, position, words] of BAD_PATTERNS) {
    assert.throws(() => compileGlobs([], [pattern]), (e: unknown) => {
      assert.ok(e instanceof GlobError, `${pattern}: ${String(e)}`);
      assert.equal(e.code, 'VIGIL_BAD_GLOB');
      assert.equal(e.pattern, pattern);
      assert.equal(e.position, position, `position for ${JSON.stringify(pattern)}: ${e.message}`);
      assert.ok(e.message.includes(words), `${e.message} should say ${words}`);
      assert.ok(e.message.includes(JSON.stringify(pattern)), e.message);
      return true;
    });
  }
  assert.throws(() => compileGlobs(['ok', 'bad['], []), { code: 'VIGIL_BAD_GLOB' });
});
