import { describe, expect, it } from 'vitest';
import { SafetyChecker } from '../../src/testing/checker.js';
import type { SimFsm } from '../../src/testing/sim-fsm.js';

/** Applies a write of `value` to key k at `index` on one node, as the simulated FSM reports it. */
function apply(checker: SafetyChecker, index: number, value: string): void {
  const fsm = { node: 'n1', hash: index * 7919, lastIndex: index } as SimFsm;
  checker.onApply(fsm, index, JSON.stringify({ key: 'k', value }));
}

describe('SafetyChecker read checks', () => {
  it('refuses a read older than a write acknowledged before it began', () => {
    const checker = new SafetyChecker(() => 'test');
    apply(checker, 5, 'v5');
    apply(checker, 7, 'v7');
    checker.onAcked(7, JSON.stringify({ key: 'k', value: 'v7' }));
    checker.onRead('n2', 'k', 'v5', checker.readFloor('k'));
    expect(checker.violations).toEqual([
      'test: stale read on n2: k=v5 (written at 5), but a write at 7 was acknowledged or read before the read began',
    ]);
  });

  it('refuses a read older than what an earlier read returned, with no write acknowledged', () => {
    const checker = new SafetyChecker(() => 'test');
    apply(checker, 5, 'v5');
    apply(checker, 7, 'v7');
    // Both writes are still unacknowledged; a read that sees v7 fixes the order for later reads.
    const concurrent = checker.readFloor('k');
    checker.onRead('n1', 'k', 'v7', checker.readFloor('k'));
    checker.onRead('n3', 'k', 'v5', concurrent); // began before the first read returned: fine
    expect(checker.violations).toEqual([]);
    checker.onRead('n2', 'k', 'v5', checker.readFloor('k'));
    checker.onRead('n2', 'k', undefined, checker.readFloor('k'));
    expect(checker.violations).toHaveLength(2);
    expect(checker.violations[0]).toMatch(/stale read on n2: k=v5 \(written at 5\), but a write at 7/);
    expect(checker.violations[1]).toMatch(/stale read on n2: k absent, but a write at 7/);
  });

  it('refuses a value that was never written', () => {
    const checker = new SafetyChecker(() => 'test');
    checker.onRead('n1', 'k', 'ghost', 0);
    expect(checker.violations).toEqual(['test: phantom read on n1: k=ghost was never applied']);
  });
});
