/**
 * The checker against a brute-force oracle: on small random histories of every kind (reads,
 * writes, deletes, cas, ranges, txns; known and unknown outcomes; one key or several), the
 * checker's verdict must equal the one found by trying every order that respects real time,
 * evaluated with a sequential key-value store written here independently of the checker's model.
 * This is what makes the search's shortcuts (components, unobserved unknown writes left out,
 * unknown operations tried last and never as no-ops, twins taken in order) safe to trust.
 */
import { describe, expect, it } from 'vitest';
import {
  checkKvLinearizability,
  checkKvLinearizabilityMutated,
  type KvOperation,
} from '../../src/testing/linearizability.js';
import { SeededRandom } from '../../src/testing/prng.js';
import { executedHistory, holds } from './kv-workload.js';

type Store = ReadonlyMap<string, string>;

/** The store after `operation`, or null if the operation cannot have happened in `store`. */
function apply(store: Store, operation: KvOperation): Store | null {
  const updated = (changes: [string, string | undefined][]) => {
    const next = new Map(store);
    for (const [key, value] of changes) {
      if (value === undefined) next.delete(key);
      else next.set(key, value);
    }
    return next;
  };
  switch (operation.kind) {
    case 'read':
      return store.get(operation.key) === operation.value ? store : null;
    case 'write':
      return updated([[operation.key, operation.value]]);
    case 'cas': {
      const met = store.get(operation.key) === operation.expected;
      if (operation.succeeded !== undefined && operation.succeeded !== met) return null;
      return met ? updated([[operation.key, operation.value]]) : store;
    }
    case 'range': {
      const seen = new Map(operation.items.map((item) => [item.key, item.value]));
      const under = [...store].filter(([key]) => key.startsWith(operation.prefix));
      const same = under.length === seen.size && under.every(([key, value]) => seen.get(key) === value);
      return same ? store : null;
    }
    case 'txn': {
      const met = operation.compare.every((compare) => holds(store, compare));
      if (operation.succeeded !== undefined && operation.succeeded !== met) return null;
      const ops = met ? operation.success : operation.failure;
      return updated(ops.map((op) => [op.key, op.op === 'put' ? op.value : undefined]));
    }
  }
}

/**
 * Tries every order: an operation may go next when every operation that returned before its
 * call is placed. Operations of unknown outcome may also never happen (stay unplaced).
 */
function bruteForce(history: readonly KvOperation[]): boolean {
  const placed = new Array<boolean>(history.length).fill(false);
  const knownLeft = () => history.some((operation, i) => !placed[i] && operation.end !== Infinity);
  const search = (store: Store): boolean => {
    if (!knownLeft()) return true;
    return history.some((operation, i) => {
      if (placed[i]) return false;
      if (history.some((other, j) => !placed[j] && other.end < operation.start)) return false;
      const next = apply(store, operation);
      if (next === null) return false;
      placed[i] = true;
      const found = search(next);
      placed[i] = false;
      return found;
    });
  };
  return search(new Map());
}

const KEYS = ['a', 'ab', 'b'];
const VALUES = ['1', '2', '3'];

/** A history with made-up answers: any verdict is possible. */
function randomHistory(random: SeededRandom, length: number): KvOperation[] {
  const value = () => random.pick(VALUES);
  const maybe = () => (random.chance(0.3) ? undefined : value());
  return Array.from({ length }, (): KvOperation => {
    const start = random.int(0, 16);
    const unknown = random.chance(0.15);
    const end = start + random.int(0, 8);
    const key = random.pick(KEYS);
    const outcome = () => (unknown ? {} : { succeeded: random.chance(0.5) });
    switch (random.int(0, 6)) {
      case 0:
      case 1:
        return { kind: 'read', key, value: maybe(), start, end };
      case 2:
        return { kind: 'write', key, value: maybe(), start, end: unknown ? Infinity : end };
      case 3:
        return {
          kind: 'cas',
          key,
          expected: maybe(),
          value: value(),
          start,
          end: unknown ? Infinity : end,
          ...outcome(),
        };
      case 4: {
        const prefix = random.pick(['', 'a', 'b']);
        const items = KEYS.filter((name) => name.startsWith(prefix) && random.chance(0.5)).map((name) => ({
          key: name,
          value: value(),
        }));
        return { kind: 'range', prefix, items, start, end };
      }
      default:
        return {
          kind: 'txn',
          compare: [random.chance(0.5) ? { key, value: value() } : { key, exists: random.chance(0.5) }],
          success: [{ op: 'put', key: random.pick(KEYS), value: value() }],
          failure: random.chance(0.5) ? [] : [{ op: 'delete', key: random.pick(KEYS) }],
          start,
          end: unknown ? Infinity : end,
          ...outcome(),
        };
    }
  });
}

describe('checkKvLinearizability against a brute-force oracle', () => {
  it('agrees on 2,500 random histories of 2-7 operations, with both verdicts represented', () => {
    const random = new SeededRandom(2024);
    const verdicts = { ok: 0, violation: 0 };
    for (let round = 0; round < 2500; round++) {
      const history = randomHistory(random, random.int(2, 8));
      const expected = bruteForce(history);
      const report = checkKvLinearizability(history);
      expect(report.components.every((component) => component.verdict !== 'inconclusive')).toBe(true);
      expect(report.ok, JSON.stringify(history)).toBe(expected);
      verdicts[expected ? 'ok' : 'violation']++;
    }
    expect(verdicts.ok).toBeGreaterThan(150);
    expect(verdicts.violation).toBeGreaterThan(1000);
  });

  it('agrees on executed histories of every kind and on the same histories with one answer changed', () => {
    let violations = 0;
    for (let seed = 1; seed <= 300; seed++) {
      const history = executedHistory({
        seed,
        operations: 7,
        clients: 3,
        keys: KEYS,
        mix: { read: 2, write: 2, delete: 1, cas: 3, range: 2, txn: 2 },
        unknownRate: 0.2,
        latency: 4,
        prefixes: ['', 'a', 'b'],
      });
      expect(bruteForce(history)).toBe(true);
      expect(checkKvLinearizability(history).ok).toBe(true);
      const altered = alterOneAnswer(history, new SeededRandom(seed));
      const expected = bruteForce(altered);
      expect(checkKvLinearizability(altered).ok, JSON.stringify(altered)).toBe(expected);
      if (!expected) violations++;
    }
    expect(violations).toBeGreaterThan(50);
  });

  it('disagrees once the cas precondition is ignored: the oracle tests can catch a broken model', () => {
    const random = new SeededRandom(99);
    let caught = 0;
    for (let round = 0; round < 1500 && caught === 0; round++) {
      const history = randomHistory(random, random.int(2, 8));
      const mutated = checkKvLinearizabilityMutated(history, 'cas-ignores-precondition');
      if (mutated.ok !== bruteForce(history)) caught++;
    }
    expect(caught).toBeGreaterThan(0);
  });
});

/** Changes what one read, range, cas or txn reported. */
function alterOneAnswer(history: readonly KvOperation[], random: SeededRandom): KvOperation[] {
  const answered = history
    .map((operation, index) => ({ operation, index }))
    .filter(({ operation }) => operation.end !== Infinity && operation.kind !== 'write');
  if (answered.length === 0) return [...history];
  const { index } = random.pick(answered);
  const copy = [...history];
  const operation = history[index];
  switch (operation.kind) {
    case 'read':
      copy[index] = { ...operation, value: operation.value === undefined ? 'v0' : undefined };
      break;
    case 'range':
      copy[index] = { ...operation, items: operation.items.slice(1) };
      break;
    case 'cas':
    case 'txn':
      copy[index] = { ...operation, succeeded: !operation.succeeded };
      break;
    case 'write':
      break;
  }
  return copy;
}
