/** The ordered key index (src/kv/state/sorted-keys.ts): UTF-8 byte order, and a model check against a sorted array. */
import { describe, expect, it } from 'vitest';
import { compareKeys, SortedKeys } from '../../../src/kv/state/sorted-keys.js';
import { SeededRandom } from '../../../src/testing/prng.js';

const utf8Order = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));
const sign = (n: number) => Math.sign(n);

/** Characters from every UTF-8 length, and both sides of the surrogate range JavaScript sorts wrongly. */
const ALPHABET = [
  'a',
  'b',
  'z',
  '/',
  '0',
  '\u00e9',
  '\u07ff',
  '\u0800',
  '\ud7ff',
  '\ue000',
  '\uffff',
  '\u{10000}',
  '\u{1f600}',
  '\u{10ffff}',
];

function randomKey(random: SeededRandom): string {
  const length = 1 + Math.floor(random.next() * 4);
  let key = '';
  for (let i = 0; i < length; i++) key += ALPHABET[Math.floor(random.next() * ALPHABET.length)];
  return key;
}

describe('compareKeys', () => {
  it('orders by UTF-8 bytes, where JavaScript comparison does not', () => {
    // U+E000 is EE 80 80 in UTF-8, U+10000 is F0 90 80 80: bytes put U+10000 last, UTF-16 first.
    expect('\u{10000}' < '\ue000').toBe(true);
    expect(compareKeys('\u{10000}', '\ue000')).toBeGreaterThan(0);
    expect(compareKeys('a', 'ab')).toBeLessThan(0);
    expect(compareKeys('ab', 'ab')).toBe(0);
  });

  it('agrees with Buffer.compare of the UTF-8 bytes on 5,000 random pairs', () => {
    const random = new SeededRandom(7);
    for (let i = 0; i < 5000; i++) {
      const a = randomKey(random);
      const b = randomKey(random);
      expect(sign(compareKeys(a, b)), `${JSON.stringify(a)} vs ${JSON.stringify(b)}`).toBe(
        sign(utf8Order(a, b)),
      );
    }
  });
});

describe('SortedKeys', () => {
  it('matches a sorted array through 30,000 random inserts and deletes (chunks split and merge)', () => {
    const random = new SeededRandom(11);
    const index = new SortedKeys();
    const model = new Set<string>();
    for (let i = 0; i < 30_000; i++) {
      // Long keys make a big key space, so that chunks fill up and split; deletes thin them out again.
      const key = `k${Math.floor(random.next() * 5000)}${randomKey(random)}`;
      const insert = random.next() < 0.6;
      const answer = insert ? index.insert(key) === !model.has(key) : index.delete(key) === model.has(key);
      if (insert) model.add(key);
      else model.delete(key);
      if (!answer || index.size !== model.size)
        throw new Error(`index and model differ at step ${i} (${key})`);
    }
    const sorted = [...model].sort(utf8Order);
    expect([...index.from('')]).toEqual(sorted);
    expect(index.size).toBe(sorted.length);
    expect(sorted.length).toBeGreaterThan(2000);
  });

  it('appends keys that sort last (across chunk splits), refuses others, and stays searchable', () => {
    const random = new SeededRandom(12);
    const sorted = Array.from({ length: 5000 }, (_, i) => `${randomKey(random)}${i}`).sort(utf8Order);
    const index = new SortedKeys();
    for (const key of sorted) expect(index.appendIfLast(key)).toBe(true);
    expect(index.appendIfLast(sorted[sorted.length - 1])).toBe(false);
    expect(index.appendIfLast(sorted[0])).toBe(false);
    expect([...index.from('')]).toEqual(sorted);
    // Inserts and deletes still find their place in the appended chunks.
    expect(index.delete(sorted[1234])).toBe(true);
    expect(index.insert(sorted[1234])).toBe(true);
    expect(index.insert(sorted[4000])).toBe(false);
    expect([...index.from(sorted[2500])].slice(0, 3)).toEqual(sorted.slice(2500, 2503));
    expect(index.size).toBe(sorted.length);
  });

  it('a capture keeps the keys of its moment through later inserts, appends, deletes, splits and merges', () => {
    // Copy-on-write: a capture shares the chunks, and the index changes a copy of a shared chunk.
    // The key space grows past 10 chunks, then deletes thin it out so that chunks merge.
    const random = new SeededRandom(13);
    const index = new SortedKeys();
    const model = new Set<string>();
    const captures: { keys: readonly (readonly string[])[]; expected: string[] }[] = [];
    let appended = 0;
    for (let i = 0; i < 60_000; i++) {
      const key = `k${Math.floor(random.next() * 20_000)}`;
      const roll = random.next();
      if (roll < 0.02) {
        const last = `z${String(appended++).padStart(6, '0')}`;
        expect(index.appendIfLast(last)).toBe(true);
        model.add(last);
      } else if (roll < (i < 30_000 ? 0.6 : 0.15)) {
        index.insert(key);
        model.add(key);
      } else {
        index.delete(key);
        model.delete(key);
      }
      if (i % 5000 === 0) captures.push({ keys: index.capture(), expected: [...model].sort(utf8Order) });
    }
    expect(Math.max(...captures.map(({ expected }) => expected.length))).toBeGreaterThan(10 * 512);
    for (const [i, { keys, expected }] of captures.entries())
      expect(keys.flat(), `capture ${i}`).toEqual(expected);
    expect([...index.from('')]).toEqual([...model].sort(utf8Order));
    expect(index.size).toBe(model.size);
  });

  it('walks from any start, inclusive or exclusive', () => {
    const index = new SortedKeys();
    const keys = Array.from({ length: 3000 }, (_, i) => `key/${String(i).padStart(5, '0')}`);
    for (const key of [...keys].reverse()) index.insert(key);
    const from = (start: string, exclusive = false, count = 3) => {
      const out: string[] = [];
      for (const key of index.from(start, exclusive)) {
        out.push(key);
        if (out.length === count) break;
      }
      return out;
    };
    expect(from('key/01500')).toEqual(['key/01500', 'key/01501', 'key/01502']);
    expect(from('key/01500', true)).toEqual(['key/01501', 'key/01502', 'key/01503']);
    expect(from('key/015')).toEqual(['key/01500', 'key/01501', 'key/01502']);
    expect(from('a')).toEqual(['key/00000', 'key/00001', 'key/00002']);
    expect(from('key/02999', true)).toEqual([]);
    expect(from('l')).toEqual([]);
    // Thinning to a tenth merges chunks that fell under a quarter full.
    for (const key of keys.filter((_, i) => i % 10 !== 0)) index.delete(key);
    expect([...index.from('')]).toEqual(keys.filter((_, i) => i % 10 === 0));
    expect(from('key/00001')).toEqual(['key/00010', 'key/00020', 'key/00030']);
  });
});
