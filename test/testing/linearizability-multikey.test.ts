/**
 * Ranges and transactions: operations over several keys, checked together with a map-valued
 * state, in components of the keys they link.
 */
import { describe, expect, it } from 'vitest';
import {
  checkKvLinearizability,
  type KvOperation,
  type KvRange,
  type KvTxn,
} from '../../src/testing/linearizability.js';
import { executedHistory, r, w } from './kv-workload.js';

const range = (prefix: string, items: Record<string, string>, start: number, end: number): KvRange => ({
  kind: 'range',
  prefix,
  items: Object.entries(items).map(([key, value]) => ({ key, value })),
  start,
  end,
});
const txn = (fields: Partial<KvTxn> & Pick<KvTxn, 'start' | 'end'>): KvTxn => ({
  kind: 'txn',
  compare: [],
  success: [],
  failure: [],
  ...fields,
});

const verdict = (ops: KvOperation[]) => checkKvLinearizability(ops).ok;

describe('components', () => {
  it('keeps keys apart unless an operation links them', () => {
    const apart = checkKvLinearizability([w('a', '1', 0, 1), w('b', '1', 0, 1), r('ab', undefined, 0, 1)]);
    expect(apart.components.map((component) => component.keys)).toEqual([['a'], ['ab'], ['b']]);
    const linked = checkKvLinearizability([
      w('a', '1', 0, 1),
      w('b', '1', 0, 1),
      txn({
        compare: [{ key: 'a', value: '1' }],
        success: [{ op: 'put', key: 'c', value: '2' }],
        start: 2,
        end: 3,
        succeeded: true,
      }),
    ]);
    expect(linked.components.map((component) => component.keys)).toEqual([['a', 'c'], ['b']]);
    expect(linked.components[0].key).toBe('a, c');
    expect(linked.ok).toBe(true);
  });

  it('links every key of the history under a range’s prefix, and no other', () => {
    const report = checkKvLinearizability([
      w('a', '1', 0, 1),
      w('ab', '2', 0, 1),
      w('b', '3', 0, 1),
      w('c', '4', 0, 1),
      range('a', { a: '1', ab: '2' }, 2, 3),
      // A range over nothing: no key of the history is under "z", and it says so.
      range('z', {}, 2, 3),
    ]);
    expect(report.components.map((component) => component.keys)).toEqual([['a', 'ab'], ['b'], ['c']]);
    expect(report.ok).toBe(true);
    // A key only a range reports is a key of the history, absent throughout: a violation.
    expect(verdict([w('a', '1', 0, 1), range('', { a: '1', ghost: '9' }, 2, 3)])).toBe(false);
  });
});

describe('range', () => {
  it('sees one instant: not a newer value of one key with an older value of another', () => {
    const history = [
      w('x', '1', 0, 1),
      w('y', '1', 0, 1),
      w('x', '2', 10, 11),
      w('y', '2', 12, 13),
      // Pending from 9 to 20: it may see x=1,y=1 or x=2,y=1 or x=2,y=2, never x=1,y=2.
      range('', { x: '1', y: '2' }, 9, 20),
    ];
    expect(verdict(history)).toBe(false);
    // Checked one key at a time, each value alone is possible: only the map-valued state sees it.
    expect(
      verdict([...history.slice(0, 4), range('x', { x: '1' }, 9, 20), range('y', { y: '2' }, 9, 20)]),
    ).toBe(true);
    expect(verdict([...history.slice(0, 4), range('', { x: '2', y: '1' }, 9, 20)])).toBe(true);
  });

  it('asserts absent every key under the prefix that it does not list', () => {
    expect(verdict([w('a', '1', 0, 1), range('', {}, 2, 3)])).toBe(false);
    expect(verdict([w('a', '1', 0, 1), w('a', undefined, 2, 3), range('', {}, 4, 5)])).toBe(true);
    expect(
      verdict([w('a', '1', 0, 1), w('a', undefined, 2, 6), range('', { a: '1' }, 3, 4), range('', {}, 7, 8)]),
    ).toBe(true);
  });
});

describe('txn', () => {
  it('applies its puts and deletes at one instant', () => {
    const both = txn({
      success: [
        { op: 'put', key: 'a', value: '1' },
        { op: 'put', key: 'b', value: '1' },
      ],
      start: 0,
      end: 10,
      succeeded: true,
    });
    // a=1 seen by 3, so the txn happened by then; b must be 1 after: absent at 4..5 is a torn txn.
    expect(verdict([both, r('a', '1', 2, 3), r('b', undefined, 4, 5)])).toBe(false);
    expect(verdict([both, r('b', undefined, 2, 3), r('a', '1', 4, 5)])).toBe(true);
  });

  it('takes the branch its compares select, and the outcome must agree', () => {
    const guarded = (succeeded: boolean): KvTxn =>
      txn({
        compare: [
          { key: 'a', value: '1' },
          { key: 'b', exists: false },
        ],
        success: [{ op: 'put', key: 'c', value: 'yes' }],
        failure: [
          { op: 'put', key: 'c', value: 'no' },
          { op: 'delete', key: 'a' },
        ],
        start: 2,
        end: 3,
        succeeded,
      });
    const setup = [w('a', '1', 0, 1)];
    expect(verdict([...setup, guarded(true), r('c', 'yes', 4, 5), r('a', '1', 4, 5)])).toBe(true);
    expect(verdict([...setup, guarded(false)])).toBe(false); // both compares held
    expect(
      verdict([...setup, w('b', '0', 0, 1), guarded(false), r('c', 'no', 4, 5), r('a', undefined, 4, 5)]),
    ).toBe(true);
    expect(verdict([...setup, w('b', '0', 0, 1), guarded(true)])).toBe(false); // b existed
    expect(verdict([...setup, w('b', '0', 0, 1), guarded(false), r('a', '1', 4, 5)])).toBe(false); // a was deleted
  });

  it('with an unknown outcome, happened (with the branch the state selects) or not', () => {
    const unknown = txn({
      compare: [{ key: 'a', exists: true }],
      success: [{ op: 'put', key: 'b', value: 'saw-a' }],
      failure: [{ op: 'put', key: 'b', value: 'no-a' }],
      start: 2,
      end: Infinity,
    });
    expect(verdict([w('a', '1', 0, 1), unknown, r('b', 'saw-a', 4, 5)])).toBe(true);
    expect(verdict([w('a', '1', 0, 1), unknown, r('b', undefined, 4, 5)])).toBe(true);
    expect(verdict([w('a', '1', 0, 1), unknown, r('b', 'no-a', 4, 5)])).toBe(false);
    expect(verdict([unknown, w('a', '1', 3, 4), r('b', 'no-a', 5, 6), r('a', '1', 7, 8)])).toBe(true);
  });

  it('may have to land, with an unknown outcome, before a write that overwrites part of it', () => {
    const lost = txn({
      success: [
        { op: 'put', key: 'a', value: '1' },
        { op: 'put', key: 'b', value: '1' },
      ],
      start: 0,
      end: Infinity,
      // No compare: it only writes, so only its order with the write of a matters.
    });
    expect(verdict([lost, w('a', '2', 1, 2), range('', { a: '2', b: '1' }, 5, 6)])).toBe(true);
    expect(verdict([lost, w('a', '2', 1, 2), range('', { a: '1', b: '1' }, 5, 6)])).toBe(true); // or after it
    expect(verdict([lost, w('a', '2', 1, 2), range('', { b: '1' }, 5, 6)])).toBe(false);
  });

  it('keeps an unseen write of unknown outcome that a failed txn compare may have seen', () => {
    // The txn found a existing: only the lost write can have made it so.
    const history = [
      w('a', '1', 0, Infinity),
      txn({
        compare: [{ key: 'a', exists: false }],
        success: [{ op: 'put', key: 'b', value: '2' }],
        start: 5,
        end: 6,
        succeeded: false,
      }),
    ];
    const report = checkKvLinearizability(history);
    expect(report.ok).toBe(true);
    expect(report.components[0].droppedUnknown).toBe(0);
    expect(verdict(history.slice(1))).toBe(false);
  });
});

describe('multi-key histories that really ran', () => {
  const options = {
    operations: 2000,
    clients: 8,
    keys: ['a', 'ab', 'abc', 'b', 'ba', 'c'],
    mix: { read: 6, write: 4, delete: 1, cas: 2, range: 1, txn: 1 },
    unknownRate: 0.02,
    latency: 10,
    prefixes: ['', 'a', 'ab', 'b'],
  };

  it('accepts them, searching one component with a map-valued state, far below the step limit', () => {
    for (const seed of [1, 2, 3]) {
      const history = executedHistory({ ...options, seed });
      const report = checkKvLinearizability(history);
      expect(report.ok).toBe(true);
      expect(report.components).toHaveLength(1);
      expect(report.components[0].keys).toEqual(options.keys);
      expect(report.steps).toBeLessThan(200_000);
    }
  });

  it('rejects them once a txn is torn: its effects seen apart', () => {
    const history = executedHistory({ ...options, seed: 4 });
    const end = Math.max(...history.filter((op) => op.end !== Infinity).map((op) => op.end));
    // After everything: one txn sets two keys; a reader then sees one without the other.
    const torn = [
      ...history,
      txn({
        success: [
          { op: 'put', key: 'a', value: 'T1' },
          { op: 'put', key: 'c', value: 'T2' },
        ],
        start: end + 1,
        end: end + 10,
        succeeded: true,
      }),
      r('a', 'T1', end + 2, end + 3),
      range('c', {}, end + 4, end + 5),
    ];
    expect(verdict(torn.slice(0, -1))).toBe(true);
    expect(verdict(torn)).toBe(false);
  });
});
