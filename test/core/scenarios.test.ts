/**
 * Scenario tests: stories of a few cores, driven step by step and compared with golden output.
 * test/core/scenarios/*.txt hold the stories; README.md ("Scenario tests") explains the format.
 * Regenerate the goldens after an intended change with `npm run test:scenarios -- --update`
 * (or UPDATE_GOLDENS=1 npx vitest run test/core/scenarios.test.ts) and read the diff.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runScenario } from './scenarios/commands.js';
import { unifiedDiff } from './scenarios/diff.js';

const directory = fileURLToPath(new URL('./scenarios/', import.meta.url));
const files = readdirSync(directory)
  .filter((name) => name.endsWith('.txt'))
  .sort();
const update = process.env.UPDATE_GOLDENS === '1';

function check(file: string): void {
  const path = directory + file;
  const golden = readFileSync(path, 'utf8');
  const actual = runScenario(golden);
  if (actual === golden) return;
  if (update) {
    writeFileSync(path, actual);
    return;
  }
  expect.fail(
    `${file} differs from its golden output ` +
      '(if the change is intended: npm run test:scenarios -- --update)\n' +
      unifiedDiff(golden, actual, `test/core/scenarios/${file}`),
  );
}

describe('scenarios', () => {
  it('are there', () => {
    expect(files.length).toBeGreaterThanOrEqual(15);
  });
  for (const file of files) it(file, () => check(file));
});
