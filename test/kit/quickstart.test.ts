/**
 * The README's library quickstart runs as written: its code block is saved as an .mjs file next to
 * a node_modules/raftkit link to this package (so `import ... from 'raftkit'` resolves through
 * package.json's exports to dist/, which `npm test` builds first) and run with node.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

function quickstartBlock(readme: string): string {
  const section = readme.indexOf('## Library quickstart');
  expect(section).toBeGreaterThanOrEqual(0);
  const match = /```js\n([\s\S]*?)\n```/.exec(readme.slice(section));
  if (match === null) throw new Error('no ```js block under "## Library quickstart" in README.md');
  return match[1];
}

describe('README quickstart', () => {
  it('runs as written and prints the applied entry', async () => {
    const code = quickstartBlock(readFileSync('README.md', 'utf8'));
    expect(code.split('\n').length).toBeLessThanOrEqual(40);
    const dir = mkdtempSync(join(tmpdir(), 'raftkit-quickstart-'));
    mkdirSync(join(dir, 'node_modules'));
    symlinkSync(resolve('.'), join(dir, 'node_modules', 'raftkit'), 'dir');
    writeFileSync(join(dir, 'quickstart.mjs'), code);
    const { stdout } = await promisify(execFile)(process.execPath, ['quickstart.mjs'], {
      cwd: dir,
      timeout: 30_000,
    });
    expect(stdout).toMatch(/^leader 127\.0\.0\.1:710[123] applied entry \d+: counter = 5\n$/);
  });
});
