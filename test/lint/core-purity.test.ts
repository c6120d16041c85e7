/**
 * src/core must stay pure: the lint rules in eslint.config.js refuse Node modules, timers, clocks,
 * Math.random and Promises there. This test shows the rules bite (and that the real core is clean).
 */
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const eslint = new ESLint();

async function ruleIdsFor(code: string): Promise<string[]> {
  // Linted as if it were a core file (the text replaces that file's content for this run).
  const [result] = await eslint.lintText(code, { filePath: 'src/core/log.ts' });
  return result.messages.map((message) => message.ruleId ?? message.message);
}

describe('core purity rules', () => {
  it.each([
    ["import { readFileSync } from 'node:fs';\nexport const x = readFileSync;", 'no-restricted-imports'],
    ['export const t = setTimeout(() => {}, 1);', 'no-restricted-globals'],
    ['export const now = Date.now();', 'no-restricted-globals'],
    ['export const r = Math.random();', 'no-restricted-properties'],
    ['export const p = Promise.resolve(1);', 'no-restricted-globals'],
    ['export async function f(): Promise<number> { return 1; }', 'no-restricted-syntax'],
    ["import { Raft } from '../raft/raft.js';\nexport type R = Raft;", 'raftkit/layer-imports'],
  ])(
    'refuses %s',
    async (code, rule) => {
      expect(await ruleIdsFor(code)).toContain(rule);
    },
    60_000,
  );

  it('passes on the real core', async () => {
    const results = await eslint.lintFiles(['src/core/**/*.ts']);
    const problems = results.flatMap((r) => r.messages.map((m) => `${r.filePath}: ${m.ruleId} ${m.message}`));
    expect(problems).toEqual([]);
  }, 120_000);
});
