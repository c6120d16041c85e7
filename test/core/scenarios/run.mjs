// `npm run test:scenarios [-- --update]`: runs the scenario tests; with --update, rewrites each
// golden whose output changed (vitest passes no arguments to tests, so an environment variable
// carries the flag).
import { spawnSync } from 'node:child_process';
import process from 'node:process';

const args = process.argv.slice(2);
const update = args.includes('--update');
const result = spawnSync(
  'vitest',
  ['run', 'test/core/scenarios.test.ts', ...args.filter((arg) => arg !== '--update')],
  { stdio: 'inherit', env: update ? { ...process.env, UPDATE_GOLDENS: '1' } : process.env },
);
process.exit(result.status ?? 1);
