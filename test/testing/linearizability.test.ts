import { describe, expect, it } from 'vitest';
import { checkKvLinearizability, type KvOperation } from '../../src/testing/linearizability.js';
import { SeededRandom } from '../../src/testing/prng.js';

const w = (value: string | undefined, start: number, end: number, key = 'k'): KvOperation => ({
  key,
  kind: 'write',
  value,
  start,
  end,
});
const r = (value: string | undefined, start: number, end: number, key = 'k'): KvOperation => ({
  key,
  kind: 'read',
  value,
  start,
  end,
});

const verdict = (ops: KvOperation[]) => checkKvLinearizability(ops).keys.map((key) => key.verdict);

describe('checkKvLinearizability', () => {
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

  it('refuses a stale read, reads going backwards, and a value never written', () => {
    expect(verdict([w('a', 0, 1), w('b', 2, 3), r('a', 4, 5)])).toEqual(['violation']);
    // Both writes finished before the reads: b then a cannot both be the last write.
    expect(verdict([w('a', 0, 10), w('b', 0, 10), r('b', 11, 12), r('a', 13, 14)])).toEqual(['violation']);
    expect(verdict([w('a', 0, 1), r('ghost', 2, 3)])).toEqual(['violation']);
  });

  it('lets a write of unknown outcome take effect late, or never, but not undo itself', () => {
    expect(verdict([w('x', 0, Infinity), r(undefined, 1, 2), r('x', 50, 51)])).toEqual(['ok']);
    expect(verdict([w('x', 0, Infinity), r(undefined, 1, 2), r(undefined, 50, 51)])).toEqual(['ok']);
    expect(verdict([w('x', 0, Infinity), r('x', 1, 2), r(undefined, 3, 4)])).toEqual(['violation']);
  });

  it('leaves out writes of unknown outcome that no read saw, and still places the ones a read saw', () => {
    const ops = [w('a', 0, 1)];
    for (let i = 0; i < 200; i++) ops.push(w(`u${i}`, 2 + i, Infinity));
    ops.push(r('a', 300, 301), w('b', 302, 303), r('b', 304, 305));
    const report = checkKvLinearizability(ops);
    expect(report.ok).toBe(true);
    expect(report.keys[0].operations).toBe(4);
    expect(report.keys[0].steps).toBeLessThan(50);
    // u7 may land after b...
    ops.push(r('u7', 306, 307));
    expect(verdict(ops)).toEqual(['ok']);
    // ...but then b cannot come back.
    ops.push(r('b', 308, 309));
    expect(verdict(ops)).toEqual(['violation']);
  });

  it('checks keys independently and names the culprit', () => {
    const report = checkKvLinearizability([
      w('a', 0, 1, 'k1'),
      r('a', 2, 3, 'k1'),
      w('b', 0, 1, 'k2'),
      w('c', 2, 3, 'k2'),
      r('b', 4, 5, 'k2'),
    ]);
    expect(report.ok).toBe(false);
    expect(report.keys.map((key) => [key.key, key.verdict])).toEqual([
      ['k1', 'ok'],
      ['k2', 'violation'],
    ]);
    const bad = report.keys[1];
    expect(bad.longestPrefix!.map((op) => `${op.kind}:${op.value}`)).toEqual(['write:b', 'write:c']);
    expect(bad.stuck!.map((op) => `${op.kind}:${op.value}`)).toEqual(['read:b']);
  });

  it('gives up as inconclusive when the search exceeds its budget', () => {
    const ops = Array.from({ length: 12 }, (_, i) => w(`v${i}`, 0, 100));
    ops.push(r('nope', 101, 102));
    const report = checkKvLinearizability(ops, { maxSteps: 50 });
    expect(report.keys[0].verdict).toBe('inconclusive');
    expect(report.ok).toBe(false);
  });

  it('refuses an operation that ends before it starts', () => {
    expect(() => checkKvLinearizability([w('a', 5, 1)])).toThrow(RangeError);
  });

  /**
   * A register run for real: each operation takes effect at a random instant inside its own
   * random interval, many overlapping. The true history must pass; making one read return the
   * value before the one it saw must fail.
   */
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
    expect(good.keys[0].steps).toBeLessThan(1_000_000);
    // Find a read that began after the last write before it finished, where the write before
    // that finished before the last one began; make the read return that older value: no order
    // can explain it.
    const writes = ops.filter((op) => op.kind === 'write');
    const victim = readIndexes.find((index) => {
      const read = ops[index];
      const lastAt = writes.findIndex((op) => op.value === read.value);
      const [older, last] = [writes[lastAt - 1], writes[lastAt]];
      return older !== undefined && older.end < last.start && last.end < read.start;
    })!;
    const lastAt = writes.findIndex((op) => op.value === ops[victim].value);
    const altered = ops.map((op, i) => (i === victim ? { ...op, value: writes[lastAt - 1].value } : op));
    expect(checkKvLinearizability(altered).ok).toBe(false);
  });
});
