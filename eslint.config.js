// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { layersPlugin } from './eslint/layers.js';

/** Rules that keep src/core pure: no I/O, no timers, no clocks, no chance, no Promises. */
export const coreRestrictions = {
  'no-restricted-imports': [
    'error',
    {
      patterns: [{ group: ['node:*'], message: 'src/core is pure: no Node.js modules.' }],
      paths: ['fs', 'net', 'os', 'path', 'crypto', 'events', 'stream', 'timers', 'worker_threads'].map(
        (name) => ({
          name,
          message: 'src/core is pure: no Node.js modules.',
        }),
      ),
    },
  ],
  'no-restricted-globals': [
    'error',
    ...['setTimeout', 'setInterval', 'setImmediate', 'queueMicrotask', 'clearTimeout', 'clearInterval'].map(
      (name) => ({ name, message: 'src/core is pure: time enters through tick(now).' }),
    ),
    { name: 'Date', message: 'src/core is pure: time enters through tick(now).' },
    { name: 'performance', message: 'src/core is pure: time enters through tick(now).' },
    { name: 'Promise', message: 'src/core is pure: no Promises, return actions instead.' },
    { name: 'process', message: 'src/core is pure: no process access.' },
    { name: 'require', message: 'src/core is pure.' },
  ],
  'no-restricted-properties': [
    'error',
    {
      object: 'Math',
      property: 'random',
      message: 'src/core is pure: chance enters through the injected Random.',
    },
  ],
  'no-restricted-syntax': [
    'error',
    { selector: ':function[async=true]', message: 'src/core is pure: no async functions.' },
    { selector: 'AwaitExpression', message: 'src/core is pure: no await.' },
    { selector: 'ImportExpression', message: 'src/core is pure: no dynamic import.' },
  ],
};

/** Outside the Clock/Random implementations nobody reads the wall clock or rolls dice directly. */
const clockRestrictions = {
  'no-restricted-properties': [
    'error',
    { object: 'Math', property: 'random', message: 'Use the injected Random.' },
    { object: 'Date', property: 'now', message: 'Use the injected Clock.' },
  ],
  'no-restricted-globals': [
    'error',
    { name: 'setTimeout', message: 'Use the injected Clock.' },
    { name: 'setInterval', message: 'Use the injected Clock.' },
  ],
};

/**
 * Node's globals, for plain JavaScript files (examples, test fixtures): TypeScript checks names in
 * .ts files, but no-undef checks them in .js ones and knows none of Node's.
 */
const nodeGlobals = Object.fromEntries(
  [
    'AbortController',
    'AbortSignal',
    'Buffer',
    'TextDecoder',
    'TextEncoder',
    'URL',
    'clearImmediate',
    'clearInterval',
    'clearTimeout',
    'console',
    'fetch',
    'performance',
    'process',
    'queueMicrotask',
    'setImmediate',
    'setInterval',
    'setTimeout',
    'structuredClone',
  ].map((name) => [name, 'readonly']),
);

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'dist-bench/**',
      'node_modules/**',
      'data/**',
      'test-results/**',
      'test/interop/bin/**',
      'api-docs/**',
      '.tmp/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ['vitest.*.ts'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  // raftkit/client may not import src/platform, so src/client/clock.ts is its one real clock.
  { files: ['src/**/*.ts'], ignores: ['src/platform/**', 'src/client/clock.ts'], rules: clockRestrictions },
  // Layer boundaries: the table in eslint/layers.js (DESIGN.md's, with src/platform and src/client).
  { files: ['src/**/*.ts'], plugins: { raftkit: layersPlugin }, rules: { 'raftkit/layer-imports': 'error' } },
  { files: ['src/**/*.ts'], rules: { 'max-lines': ['error', { max: 600 }] } },
  { files: ['src/core/**/*.ts'], rules: coreRestrictions },
  { files: ['**/*.js', '**/*.mjs', '**/*.cjs'], ...tseslint.configs.disableTypeChecked },
  { files: ['**/*.js', '**/*.mjs', '**/*.cjs'], languageOptions: { globals: nodeGlobals } },
);
