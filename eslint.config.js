// Layering is enforced here so it never depends on memory: common imports nothing of ours and nothing
// platform-specific; the agent's pure core imports only common; agent, main and renderer never import each other.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const NODE_BUILTINS = ['node:*', 'fs', 'fs/*', 'path', 'os', 'net', 'dgram', 'child_process', 'crypto', 'http', 'https', 'events', 'stream', 'util', 'timers'];

/** A layer may not import these (relative patterns are resolved by the rule against the importing file's text). */
function forbid(message, patterns) {
  return { 'no-restricted-imports': ['error', { patterns: [{ group: patterns, message }] }] };
}

export default tseslint.config(
  { ignores: ['test/lint-fixtures/**', 'dist/**', 'node_modules/**', '**/*.d.ts', 'test-artifacts/**', '.demo/**'] },
  js.configs.recommended,
  ...tseslint.configs.strict,
  {
    languageOptions: { ecmaVersion: 2022, sourceType: 'module' },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  {
    files: ['common/**/*.ts', 'test/lint-fixtures/common/**/*.ts'],
    rules: forbid('common/ is pure: it imports nothing of agent/, main/, renderer/ and no Node, DOM or Electron module', [
      '**/agent/**', '**/main/**', '**/renderer/**', 'electron', ...NODE_BUILTINS,
    ]),
  },
  {
    files: ['agent/core/**/*.ts', 'test/lint-fixtures/agent/core/**/*.ts'],
    rules: forbid('agent/core is the pure brain: it imports only common/ (no I/O, no other agent module)', [
      '../engine/**', '../heartbeat/**', '../resources/**', '../store/**', '../platform/**', '../control/**', '../cli/**',
      '../replication/**', '../api/**', '../config-sync/**', '../alerts/**', '../inventory/**', '../observability/**',
      '../security/**', '../guard/**', '../arbitration/**', '../util/**', '../daemon*', '../version*', '**/main/**', '**/renderer/**', 'electron', ...NODE_BUILTINS,
    ]),
  },
  {
    files: ['agent/**/*.ts', 'test/lint-fixtures/agent/**/*.ts'],
    ignores: ['agent/core/**', 'test/lint-fixtures/agent/core/**'],
    rules: forbid('agent/ never imports main/ or renderer/', ['**/main/**', '**/renderer/**', 'electron']),
  },
  {
    files: ['main/**/*.ts', 'main/**/*.cts', 'test/lint-fixtures/main/**/*.ts'],
    rules: forbid('main/ never imports agent/ or renderer/ (it ships the built agent as a file)', ['**/agent/**', '**/renderer/**']),
  },
  {
    // The center's core and its web bridge run in plain Node (tests, center:web): Electron stays in main/electron.
    files: ['main/core/**/*.ts', 'main/web/**/*.ts', 'test/lint-fixtures/main/core/**/*.ts'],
    rules: forbid('main/core and main/web run without Electron: only main/electron imports it (and never agent/ or renderer/)', [
      '**/agent/**', '**/renderer/**', 'electron', '**/electron/**',
    ]),
  },
  {
    files: ['renderer/**/*.{ts,tsx}', 'test/lint-fixtures/renderer/**/*.ts'],
    rules: forbid('renderer/ never imports agent/ or main/, nor Node modules', ['**/agent/**', '**/main/**', ...NODE_BUILTINS]),
  },
  {
    files: ['scripts/**/*.mjs', 'eslint.config.js'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
  },
);
