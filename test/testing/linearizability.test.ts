import { describe, expect, it } from 'vitest';
import {
  checkKvLinearizability,
  checkKvLinearizabilityMutated,
  InvalidHistoryError,
  parseKvHistory,
  type KvCas,
  type KvOperation,
  type KvRead,
  type KvWrite,
} from '../../src/testing/linearizability.js';
import { compileComponent } from '../../src/testing/linearizability-model.js';
import { searchLinearization } from '../../src/testing/linearizability-search.js';
import { SeededRandom } from '../../src/testing/prng.js';
import { executedHistory } from './kv-workload.js';

const w = (value: string | undefined, start: number, end: number, key = 'k'): KvWrite => ({
  key,
  kind: 'write',
  value,
  start,
  end,
});
const r = (value: string | undefined, start: number, end: number, key = 'k'): KvRead => ({
  key,
  kind: 'read',
  value,
  start,
  end,
});
/** A cas; `succeeded` undefined means the outcome is unknown (end Infinity). */
const cas = (
  expected: string | undefined,
  value: string,
  start: number,
  succeeded?: boolean,
  end = start + 1,
): KvCas =>
  succeeded === undefined
    ? { key: 'k', kind: 'cas', expected, value, start, end: Infinity }
    : { key: 'k', kind: 'cas', expected, value, start, end, succeeded };

const verdict = (ops: KvOperation[]) =>
  checkKvLinearizability(ops).components.map((component) => component.verdict);
const describeOp = (op: KvOperation) => `${op.kind}:${'value' in op ? op.value : ''}`;

describe('checkKvLinearizability: registers', () => {
  it('accepts sequential and overlapping histories that have a legal order', () => {
    expect(
      verdict([
        w('a', 0, 1),
        r('a', 2, 3),
        w('b', 4, 5),
        r('b', 6, 7),
        w(undefined, 8, 9),
        r(undefined, 10, 11),
      ]),
    ).toEqual(['ok']);
    // A read concurrent with a write may see either value.
    expect(verdict([w('a', 0, 1), w('b', 2, 10), r('a', 3, 4), r('b', 5, 6), r('b', 11, 12)])).toEqual([
      'ok',
    ]);
    // A read before any write sees the key absent.
    expect(verdict([r(undefined, 0, 1), w('a', 2, 3)])).toEqual(['ok']);
  });

  it('refuses a stale read, reads going backwards, a value never written, and a read after a delete', () => {
    expect(verdict([w('a', 0, 1), w('b', 2, 3), r('a', 4, 5)])).toEqual(['violation']);
    // Both writes finished before the reads: b then a cannot both be the last write.
    expect(verdict([w('a', 0, 10), w('b', 0, 10), r('b', 11, 12), r('a', 13, 14)])).toEqual(['violation']);
    expect(verdict([w('a', 0, 1), r('ghost', 2, 3)])).toEqual(['violation']);
    expect(verdict([w('a', 0, 1), w(undefined, 2, 3), r('a', 4, 5)])).toEqual(['violation']);
  });

  it('lets a write of unknown outcome take effect late, or never, but not undo itself', () => {
    expect(verdict([w('x', 0, Infinity), r(undefined, 1, 2), r('x', 50, 51)])).toEqual(['ok']);
    expect(verdict([w('x', 0, Infinity), r(undefined, 1, 2), r(undefined, 50, 51)])).toEqual(['ok']);
    expect(verdict([w('x', 0, Infinity), r('x', 1, 2), r(undefined, 3, 4)])).toEqual(['violation']);
  });

  it('leaves out writes of unknown outcome that no read saw, and still places the ones a read saw', () => {
    const ops: KvOperation[] = [w('a', 0, 1)];
    for (let i = 0; i < 200; i++) ops.push(w(`u${i}`, 2 + i, Infinity));
    ops.push(r('a', 300, 301), w('b', 302, 303), r('b', 304, 305));
    const report = checkKvLinearizability(ops);
    expect(report.ok).toBe(true);
    expect(report.components[0].operations).toBe(4);
    expect(report.components[0].droppedUnknown).toBe(200);
    expect(report.components[0].steps).toBeLessThan(50);
    // u7 may land after b...
    ops.push(r('u7', 306, 307));
    expect(verdict(ops)).toEqual(['ok']);
    // ...but then b cannot come back.
    ops.push(r('b', 308, 309));
    expect(verdict(ops)).toEqual(['violation']);
  });

  it('keeps unseen writes of unknown outcome on a key with a failed cas: they may explain the failure', () => {
    // The cas found something other than a: only the lost write of b can have been there.
    const ops = [w('a', 0, 1), w('b', 2, Infinity), cas('a', 'c', 3, false, 4)];
    const report = checkKvLinearizability(ops);
    expect(report.ok).toBe(true);
    expect(report.components[0].droppedUnknown).toBe(0);
    expect(verdict([w('a', 0, 1), cas('a', 'c', 3, false, 4)])).toEqual(['violation']);
  });

  it('checks keys independently, names the culprit, and reports the effort per component', () => {
    const report = checkKvLinearizability([
      w('a', 0, 1, 'k1'),
      r('a', 2, 3, 'k1'),
      w('b', 0, 1, 'k2'),
      w('c', 2, 3, 'k2'),
      r('b', 4, 5, 'k2'),
      // Values going backwards: only a search can tell.
      w('x', 0, 10, 'k3'),
      w('y', 0, 10, 'k3'),
      r('y', 11, 12, 'k3'),
      r('x', 13, 14, 'k3'),
    ]);
    expect(report.ok).toBe(false);
    expect(report.components.map((component) => [component.key, component.verdict])).toEqual([
      ['k1', 'ok'],
      ['k2', 'violation'],
      ['k3', 'violation'],
    ]);
    // Callers written before components read `keys`: the same results.
    expect(report.keys).toBe(report.components);
    const [, stale, backwards] = report.components;
    expect(stale.keys).toEqual(['k2']);
    // A stale read is found before any search: c overwrote b before the read began.
    expect(stale.steps).toBe(0);
    expect(stale.longestPrefix!.map(describeOp)).toEqual(['write:b', 'write:c']);
    expect(stale.stuck!.map(describeOp)).toEqual(['read:b']);
    expect(backwards.steps).toBeGreaterThan(0);
    expect(backwards.longestPrefix!.map(describeOp)).toEqual(['write:x', 'write:y']);
    expect(backwards.stuck!.map(describeOp)).toEqual(['read:x']);
    expect(report.steps).toBe(report.components.reduce((sum, component) => sum + component.steps, 0));
    expect(report.cacheHits).toBe(report.components.reduce((sum, component) => sum + component.cacheHits, 0));
  });

  it('gives up as inconclusive when the search exceeds its budget', () => {
    const ops: KvOperation[] = Array.from({ length: 12 }, (_, i) => w(`v${i}`, 0, 100));
    ops.push(r('v3', 101, 102));
    expect(checkKvLinearizability(ops).ok).toBe(true);
    const report = checkKvLinearizability(ops, { maxSteps: 5 });
    expect(report.components[0].verdict).toBe('inconclusive');
    expect(report.components[0].steps).toBe(5);
    expect(report.ok).toBe(false);
  });

  it('starts every key at `initial` when given', () => {
    expect(checkKvLinearizability([r('zero', 0, 1)], { initial: 'zero' }).ok).toBe(true);
    expect(checkKvLinearizability([r(undefined, 0, 1)], { initial: 'zero' }).ok).toBe(false);
  });
});

describe('checkKvLinearizability: compare-and-set', () => {
  it('a successful cas needs its precondition, and takes effect', () => {
    expect(verdict([w('a', 0, 1), cas('a', 'b', 2, true), r('b', 4, 5)])).toEqual(['ok']);
    expect(verdict([w('a', 0, 1), cas('x', 'b', 2, true)])).toEqual(['violation']);
    // "Must be absent" holds before any write and after a delete, not in between.
    expect(verdict([cas(undefined, 'a', 0, true), r('a', 2, 3)])).toEqual(['ok']);
    expect(verdict([w('a', 0, 1), w(undefined, 2, 3), cas(undefined, 'b', 4, true), r('b', 6, 7)])).toEqual([
      'ok',
    ]);
    expect(verdict([w('a', 0, 1), cas(undefined, 'b', 2, true)])).toEqual(['violation']);
  });

  it('a failed cas must have found the precondition false, and changes nothing', () => {
    expect(verdict([w('a', 0, 1), cas('x', 'b', 2, false), r('a', 4, 5)])).toEqual(['ok']);
    expect(verdict([w('a', 0, 1), cas('a', 'b', 2, false)])).toEqual(['violation']);
    expect(verdict([w('a', 0, 1), cas('x', 'b', 2, false), r('b', 4, 5)])).toEqual(['violation']);
    // Concurrent with a write, a failure is explained by the write landing first.
    expect(verdict([w('a', 0, 1), w('c', 2, 6), cas('a', 'b', 3, false, 5), r('c', 7, 8)])).toEqual(['ok']);
  });

  it('a cas of unknown outcome may take effect only where its precondition held, or never', () => {
    expect(verdict([w('a', 0, 1), cas('a', 'b', 2), r('b', 4, 5)])).toEqual(['ok']);
    expect(verdict([w('a', 0, 1), cas('a', 'b', 2), r('a', 4, 5)])).toEqual(['ok']);
    // After c replaced a, the cas cannot have found a: b cannot appear.
    const late = [w('a', 0, 1), w('c', 2, 3), cas('a', 'b', 4), r('b', 6, 7)];
    expect(verdict(late)).toEqual(['violation']);
    // The checker with that rule removed accepts it: the test above is what catches such a bug.
    expect(checkKvLinearizabilityMutated(late, 'unknown-cas-ignores-precondition').ok).toBe(true);
    // It may land while a held: between the two writes, if it was called in time.
    expect(verdict([w('a', 0, 1), cas('a', 'b', 2), w('c', 3, 4), r('b', 5, 7)])).toEqual(['violation']);
    expect(verdict([w('a', 0, 1), cas('a', 'b', 2), r('b', 3, 4), w('c', 5, 6), r('c', 7, 8)])).toEqual([
      'ok',
    ]);
  });

  it('places chains of unknown outcomes: a lost write, then a lost cas that found it', () => {
    expect(verdict([w('1', 0, Infinity), cas('1', '2', 1), r('2', 10, 11)])).toEqual(['ok']);
    expect(verdict([w('1', 0, Infinity), cas('1', '2', 1), r('2', 10, 11), r('1', 12, 13)])).toEqual([
      'violation',
    ]);
  });

  it('does not confuse two unknown cas that set the same value under different preconditions', () => {
    // Only the second can have found a; taking them as interchangeable would miss it.
    const ops = [w('1', 0, 1), cas('2', '3', 2), cas('1', '3', 3), r('3', 10, 11)];
    expect(verdict(ops)).toEqual(['ok']);
    // Two identical unknown cas are interchangeable, but both may have to land, one after the other.
    const twice = [
      w('1', 0, 1),
      cas('1', '3', 2),
      cas('1', '3', 3),
      r('3', 10, 11),
      w('1', 12, 13),
      r('3', 20, 21),
    ];
    expect(verdict(twice)).toEqual(['ok']);
    expect(verdict(twice.filter((_, i) => i !== 2))).toEqual(['violation']);
  });

  it('catches a successful cas whose precondition cannot hold, which the mutated checker misses', () => {
    const ops = [w('a', 0, 1), w('c', 2, 3), cas('a', 'b', 4, true), r('b', 6, 7)];
    expect(verdict(ops)).toEqual(['violation']);
    expect(checkKvLinearizabilityMutated(ops, 'cas-ignores-precondition').ok).toBe(true);
  });
});

describe('checkKvLinearizability: search effort', () => {
  /** 100 operations from 25 clients at once, each pending for up to 80 time units. */
  const heavyOverlap = (seed: number) =>
    executedHistory({
      seed,
      operations: 100,
      clients: 25,
      keys: ['k'],
      mix: { read: 4, write: 3, delete: 1, cas: 4 },
      unknownRate: 0.1,
      latency: 40,
    });

  it('decides 100-operation single-key histories with heavy overlap far below the step limit', () => {
    const steps: number[] = [];
    for (let seed = 1; seed <= 20; seed++) {
      const history = heavyOverlap(seed);
      // About 30 operations pending at once: every one overlaps most others.
      expect(maxConcurrency(history)).toBeGreaterThanOrEqual(25);
      const report = checkKvLinearizability(history);
      expect(report.ok).toBe(true);
      expect(report.components[0].operations).toBeGreaterThan(90);
      steps.push(report.steps);
    }
    // The limit is 2,000,000 steps; the median is a few hundred.
    expect(Math.max(...steps)).toBeLessThan(100_000);
    expect(steps.sort((a, b) => a - b)[10]).toBeLessThan(2_000);
  });

  it('rejects the same histories with one stale read: the refutation names it, the search alone agrees', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const altered = withStaleRead(heavyOverlap(seed));
      const report = checkKvLinearizability(altered);
      expect(report.components[0].verdict).toBe('violation');
      expect(report.steps).toBe(0); // found before any search
      const [stale] = report.components[0].stuck!;
      expect(stale.kind).toBe('read');
      // Writer, then a write that returned before the read began.
      const [writer, overwriter] = report.components[0].longestPrefix!;
      expect(writer.end).toBeLessThan(overwriter.start);
      expect(overwriter.end).toBeLessThan(stale.start);
      const search = searchOnly(altered);
      expect(search.verdict).toBe('violation');
    }
  });

  it('checks a 3,000-operation history with heavy overlap, and catches one altered read', () => {
    const random = new SeededRandom(7);
    const ops: KvOperation[] = [];
    let value: string | undefined;
    const readIndexes: number[] = [];
    for (let i = 0; i < 3000; i++) {
      const at = i * 10;
      const start = at - random.int(0, 60);
      const end = random.chance(0.05) ? Infinity : at + random.int(0, 60);
      if (random.chance(0.5) || end === Infinity) {
        value = `v${i}`;
        ops.push(w(value, start, end));
      } else {
        readIndexes.push(ops.length);
        ops.push(r(value, start, end));
      }
    }
    const good = checkKvLinearizability(ops);
    expect(good.ok).toBe(true);
    expect(good.components[0].steps).toBeLessThan(100_000);
    const altered = withStaleRead(ops);
    expect(checkKvLinearizability(altered).ok).toBe(false);
  });
});

function maxConcurrency(history: readonly KvOperation[]): number {
  return Math.max(
    ...history.map(
      (op) => history.filter((other) => other.start <= op.start && op.start <= other.end).length,
    ),
  );
}

/** The search on a one-key history, without the refutation that runs before it. */
function searchOnly(history: readonly KvOperation[]) {
  const compiled = compileComponent(['k'], history, undefined, undefined);
  return searchLinearization(compiled.history, compiled.model, 2_000_000);
}

/**
 * Makes one read return the value written by a write that was overwritten by a later write
 * before the read began (both writes finished before it): no order can explain it.
 */
function withStaleRead(ops: readonly KvOperation[]): KvOperation[] {
  const writes = ops.filter((op): op is KvWrite => op.kind === 'write' && op.value !== undefined);
  const victim = ops.findIndex(
    (op) =>
      op.kind === 'read' &&
      writes.some(
        (older) =>
          older.end !== Infinity &&
          writes.some((newer) => older.end < newer.start && newer.end < op.start) &&
          older.value !== op.value,
      ),
  );
  expect(victim).toBeGreaterThanOrEqual(0);
  const read = ops[victim];
  const older = writes.find(
    (candidate) =>
      candidate.end !== Infinity &&
      writes.some((newer) => candidate.end < newer.start && newer.end < read.start),
  )!;
  return ops.map((op, i) => (i === victim ? { ...(op as KvRead), value: older.value } : op));
}

describe('history input', () => {
  const invalid: [string, unknown, RegExp][] = [
    [
      'an operation that ends before it starts',
      w('a', 5, 1),
      /history\[1\]: ends \(1\) before it starts \(5\)/,
    ],
    ['a start that is not a number', { ...w('a', 0, 1), start: 'soon' }, /start must be a finite number/],
    ['a NaN end', { ...w('a', 0, 1), end: NaN }, /end must be a number/],
    ['a read without an answer', r('a', 0, Infinity), /a read without an answer does not belong/],
    ['an unknown kind', { ...w('a', 0, 1), kind: 'append' }, /unknown kind "append"/],
    ['a key that is not a string', { ...w('a', 0, 1), key: 7 }, /key must be a string/],
    ['a value that is null', { ...w('a', 0, 1), value: null }, /value must be a string or undefined/],
    [
      'an answered cas without its outcome',
      { ...cas('a', 'b', 0, true), succeeded: undefined },
      /succeeded must be/,
    ],
    ['an unknown cas with an outcome', { ...cas('a', 'b', 0), succeeded: true }, /cannot say succeeded/],
    [
      'a cas that sets absent',
      { ...cas('a', 'b', 0, true), value: undefined },
      /cas: value must be a string/,
    ],
    [
      'a range item outside its prefix',
      { kind: 'range', prefix: 'a', items: [{ key: 'b', value: '1' }], start: 0, end: 1 },
      /item "b" is not under the prefix/,
    ],
    [
      'a range item twice',
      {
        kind: 'range',
        prefix: '',
        items: [
          { key: 'a', value: '1' },
          { key: 'a', value: '2' },
        ],
        start: 0,
        end: 1,
      },
      /item "a" appears twice/,
    ],
    [
      'a compare by value and existence at once',
      {
        kind: 'txn',
        compare: [{ key: 'a', value: '1', exists: true }],
        success: [],
        failure: [],
        start: 0,
        end: 1,
        succeeded: true,
      },
      /a compare is/,
    ],
    [
      'a txn op of another kind',
      {
        kind: 'txn',
        compare: [],
        success: [{ op: 'incr', key: 'a' }],
        failure: [],
        start: 0,
        end: 1,
        succeeded: true,
      },
      /success: unknown op "incr"/,
    ],
    ['a client that is not a number', { ...w('a', 0, 1), client: 'c1' }, /client must be a number/],
    ['null', null, /an operation is an object/],
  ];
  for (const [what, operation, message] of invalid) {
    it(`refuses ${what} with an InvalidHistoryError`, () => {
      const check = () => checkKvLinearizability([r(undefined, 0, 1), operation as KvOperation]);
      expect(check).toThrow(InvalidHistoryError);
      expect(check).toThrow(message);
      try {
        check();
      } catch (error) {
        expect((error as InvalidHistoryError).index).toBe(1);
      }
    });
  }

  it('refuses a step budget that is not a positive integer', () => {
    expect(() => checkKvLinearizability([], { maxSteps: 0 })).toThrow(RangeError);
    expect(() => checkKvLinearizability([], { maxSteps: 1.5 })).toThrow(/maxSteps/);
  });

  it('reads back what JSON.stringify wrote, bare or under "history" as raftkit chaos keeps it', () => {
    const history: KvOperation[] = [
      w('a', 0, 1),
      w('b', 2, Infinity),
      r(undefined, 3, 4),
      cas(undefined, 'c', 5, false, 6),
      cas('a', 'd', 7),
      { kind: 'range', prefix: 'k', items: [{ key: 'k', value: 'a' }], start: 8, end: 9, client: 3 },
      {
        kind: 'txn',
        compare: [
          { key: 'k', exists: true },
          { key: 'k', value: 'a' },
        ],
        success: [{ op: 'delete', key: 'k' }],
        failure: [{ op: 'put', key: 'k', value: 'e' }],
        start: 10,
        end: 11,
        succeeded: true,
      },
    ];
    const text = JSON.stringify(history);
    expect(text).toContain('"end":null');
    expect(parseKvHistory(text)).toEqual(history);
    expect(parseKvHistory(JSON.stringify({ seed: 1, events: [], history }))).toEqual(history);
    // JSON null is how files say "absent" too.
    expect(parseKvHistory('[{"kind":"read","key":"k","value":null,"start":0,"end":1}]')).toEqual([
      r(undefined, 0, 1),
    ]);
  });

  it('refuses files that are not histories, naming the problem', () => {
    expect(() => parseKvHistory('{"history": [')).toThrow(/not JSON/);
    expect(() => parseKvHistory('{"ops": []}')).toThrow(/expected an array of operations/);
    expect(() => parseKvHistory('[1]')).toThrow(/history\[0\]: an operation is an object/);
    expect(() => parseKvHistory('[{"kind":"write","key":"k","value":"a","start":0,"end":"later"}]')).toThrow(
      InvalidHistoryError,
    );
    expect(() => parseKvHistory('[{"kind":"read","key":"k","start":0,"end":null}]')).toThrow(
      /without an answer/,
    );
  });
});
