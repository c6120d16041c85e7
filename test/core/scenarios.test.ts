/**
 * Scenario tests: stories of a few cores, driven step by step and compared with golden output.
 * test/core/scenarios/*.txt hold the stories; README.md ("Scenario tests") explains the format.
 * After an intended change of behaviour, regenerate the goldens with
 * `npm run test:scenarios -- --update` (or UPDATE_GOLDENS=1 npx vitest run test/core/scenarios.test.ts)
 * and read the diff before committing it.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { CoreFaults } from '../../src/core/raft.js';
import { runScenario } from './scenarios/commands.js';
import { unifiedDiff } from './scenarios/diff.js';

const directory = fileURLToPath(new URL('./scenarios/', import.meta.url));
const files = readdirSync(directory)
  .filter((name) => name.endsWith('.txt'))
  .sort();
const update = process.env.UPDATE_GOLDENS === '1';
const golden = (file: string): string => readFileSync(directory + file, 'utf8');

describe('scenarios', () => {
  it('cover the stories the issue asks for', () => {
    expect(files.length).toBeGreaterThanOrEqual(15);
  });

  for (const file of files) {
    it(file, () => {
      const expected = golden(file);
      const actual = runScenario(expected);
      if (actual === expected) return;
      if (update) return writeFileSync(directory + file, actual);
      expect.fail(
        `${file} differs from its golden output; if the change is intended, ` +
          'run `npm run test:scenarios -- --update` and review the diff\n' +
          unifiedDiff(expected, actual, `test/core/scenarios/${file}`),
      );
    });
  }
});

describe('the goldens catch deliberate bugs of the core', () => {
  const cases: [keyof CoreFaults, string, string][] = [
    // Figure 8: the entry committed by counting replicas is overwritten later.
    [
      'commitPreviousTermEntries',
      'commit-figure8.txt',
      '+1: error: safety: leader conflicts with committed entry 3',
    ],
    ['commitPreviousTermEntries', 'commit-earlier-term.txt', '+1: Leader term=3 commit=3 last=5'],
    // 2's log ends at (4,4), 5's at (3,3): the vote must be refused.
    ['skipUpToDateCheck', 'commit-figure8.txt', '+2->5 RequestVoteResp term=5 granted'],
    ['voteWithoutPersist', 'election-basic.txt', '+2: persist term=2 vote=-'],
    // A new leader answering before its Noop commits serves index 1: a stale read.
    ['readWithoutConfirm', 'read-index-leader.txt', '+1: read 1 ready at index 1'],
    // A replica that lost its log tail is never repaired (hashicorp's and etcd's rule).
    ['keepMatchIndex', 'log-repair-lost-tail.txt', '+3: Follower term=2 commit=2 last=2'],
    // A replica that lost committed entries helps elect a leader that lacks them.
    ['voteWithLostEntries', 'election-lost-entries.txt', '+3->2 RequestVoteResp term=3 granted'],
  ];
  for (const [fault, file, line] of cases) {
    it(`${fault} changes ${file}`, () => {
      const expected = golden(file);
      const diff = unifiedDiff(expected, runScenario(expected, { faults: { [fault]: true } }), file);
      expect(diff.split('\n')).toContainEqual(expect.stringContaining(line));
    });
  }
});

describe('the scenario driver', () => {
  it.each([
    [
      'unknown command',
      'add-nodes 3 voters=(1,2,3)\n----\n\nfrobnicate 1\n----\n',
      /line 4 \(frobnicate 1\): unknown command/,
    ],
    ['misspelt option', 'add-nodes 3 votrs=(1,2,3)\n----\n', /line 1 .*no option votrs=/],
    ['missing separator', 'status\n', /line 2: expected '----'/],
    ['a node that does not exist', 'add-nodes 1 voters=(1)\n----\n\nstatus 7\n----\n', /line 4 .*no node 7/],
  ])('refuses a scenario with a mistake: %s', (_name, text, message) => {
    expect(() => runScenario(text)).toThrow(message);
  });

  it('prints a unified diff that locates a change', () => {
    expect(unifiedDiff('a\nb\nc\n', 'a\nB\nc\n', 'f.txt')).toBe(
      ['--- f.txt (golden)', '+++ f.txt (actual)', '@@ -1,3 +1,3 @@', ' a', '-b', '+B', ' c'].join('\n'),
    );
  });
});
