/**
 * Histories that real chaos runs made hard: many writes of unknown outcome (timeouts while the
 * cluster had no leader) pending to the end, conditional ones among them. The checker must decide
 * them far below its step limit, and still find violations of the same shape.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  checkKvLinearizability,
  parseKvHistory,
  type KvOperation,
  type KvTxn,
} from '../../src/testing/linearizability.js';
import { r, w } from './kv-workload.js';

/**
 * `raftkit chaos --duration 300 --seed 2` with every fault: the 572 operations on k2-a and k2-b
 * (linked by ranges and txns), 242 of them of unknown outcome. Before the conditional-writer cut
 * the search gave up at 2,000,000 steps: a successful cas needs the value that only an unknown txn
 * writes, and that txn's compare value is overwritten by a known write soon after its call.
 */
const seed2 = parseKvHistory(readFileSync(new URL('./chaos/seed2-k2.json', import.meta.url), 'utf8'));

/** The unknown txn whose write the later cas saw (the only writer of k2-a=c3-716-b). */
const isTheTxn = (op: KvOperation): op is KvTxn =>
  op.kind === 'txn' && op.success.some((update) => update.op === 'put' && update.value === 'c3-716-b');

describe('hard components from chaos runs', () => {
  it('decides the seed-2 component, inconclusive at 2,000,000 steps before, in a few thousand', () => {
    expect(seed2).toHaveLength(572);
    expect(seed2.filter((op) => op.end === Infinity)).toHaveLength(242);
    // A budget of 20,000 steps, a hundredth of the default: it must decide well inside it.
    const report = checkKvLinearizability(seed2, { maxSteps: 20_000 });
    expect(report.components.map((component) => component.verdict)).toEqual(['ok']);
    expect(report.steps).toBeGreaterThan(0);
    expect(report.steps).toBeLessThan(20_000);
  });

  it('finds the violation when the txn is called only after its compare value was overwritten', () => {
    // The known write k2-b := c2-733 returned at 226633; called after it, the txn cannot find
    // k2-b = c0-665 any more, and nothing else writes the value the cas saw.
    const late = seed2.map((op) => (isTheTxn(op) ? { ...op, start: 226_700 } : op));
    expect(late.filter(isTheTxn)).toHaveLength(1);
    const report = checkKvLinearizability(late, { maxSteps: 20_000 });
    expect(report.components.map((component) => component.verdict)).toEqual(['violation']);
    // The first to observe the value nothing can have written any more: a read of k2-a.
    expect(report.components[0].stuck).toMatchObject([{ kind: 'read', key: 'k2-a', value: 'c3-716-b' }]);
  });
});

describe('conditional writers of unknown outcome', () => {
  const txn = (start: number): KvTxn => ({
    kind: 'txn',
    compare: [{ key: 'b', value: 'p' }],
    success: [
      { op: 'put', key: 'a', value: 'q' },
      { op: 'put', key: 'b', value: 'q-b' },
    ],
    failure: [{ op: 'delete', key: 'a' }],
    start,
    end: Infinity,
  });

  it('cannot write once their compare value is gone for good, though the overwrite ran concurrently', () => {
    // b = p, then the txn is called while b := z runs; a read after that sees a absent, so the
    // txn had not taken effect, and by then b = z for good: the later read of a = q is impossible.
    const history = [
      w('b', 'p', 0, 1),
      txn(2),
      w('b', 'z', 3, 10),
      r('a', undefined, 11, 12),
      r('a', 'q', 20, 21),
    ];
    expect(checkKvLinearizability(history).components[0].verdict).toBe('violation');
  });

  it('still can while something pending may write the compare value again', () => {
    const history = [
      w('b', 'p', 0, 1),
      txn(2),
      w('b', 'z', 3, 10),
      r('a', undefined, 11, 12),
      { ...w('b', 'p', 13, Infinity) },
      r('a', 'q', 20, 21),
    ];
    expect(checkKvLinearizability(history).components[0].verdict).toBe('ok');
  });

  it('can before the overwrite, so the same reads in another order are fine', () => {
    const history = [w('b', 'p', 0, 1), txn(2), w('b', 'z', 3, 10), r('a', 'q', 20, 21)];
    expect(checkKvLinearizability(history).components[0].verdict).toBe('ok');
  });
});
