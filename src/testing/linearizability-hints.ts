/**
 * What the search may use, besides the model, to cut branches that cannot lead anywhere new.
 * Each hint comes with the argument that cutting on it loses no linearization; the search
 * (linearizability-search.ts) says how it uses them, and the brute-force oracle test checks them.
 */
import {
  compressedRows,
  EQUALS,
  FAILED,
  SUCCEEDED,
  UNKNOWN,
  type Guarded,
} from './linearizability-guarded.js';

export interface SearchHints {
  /**
   * For an operation of unknown outcome, the previous one (by number) with exactly the same
   * guarded update, or -1. Twins are interchangeable: in any legal order, giving the earlier
   * position to the one called first keeps it legal. So the search takes twins in call order.
   */
  earlierTwin: Int32Array;
  /**
   * 1 for an operation of known outcome whose branch updates nothing (a read, a range, a failed
   * cas, ...): it can only observe, and where it is allowed it may always go first.
   */
  observer: Uint8Array;
  /**
   * Facts are (key slot, value) pairs. A known operation requires the facts its outcome says it
   * saw (a read's value, a successful cas's expected value, the value compares of a successful
   * txn); an operation produces the facts its updates may make true. When a fact that a pending
   * operation requires is false and nothing pending can produce it, the branch is dead. Operation
   * i requires requireFact[requireStart[i]..requireStart[i + 1]); produced facts likewise.
   */
  requireStart: Int32Array;
  requireFact: Int32Array;
  produceStart: Int32Array;
  produceFact: Int32Array;
  factSlot: Int32Array;
  factValue: Int32Array;
  /**
   * Who may be affected when an operation of unknown outcome changes a slot (see the search's
   * `influencesACandidate`): the operations comparing a slot with a value (keyed by
   * `slot * valueLimit + value`), those comparing its existence, and those that may update it;
   * and per operation, the slots it may update and the slots it compares.
   */
  comparersOf: Map<number, number[]>;
  valueLimit: number;
  existenceComparers: number[][];
  writersOf: number[][];
  updatedSlots: number[][];
  comparedSlots: number[][];
}

export function searchHints(guarded: readonly Guarded[]): SearchHints {
  const earlierTwin = new Int32Array(guarded.length).fill(-1);
  const observer = new Uint8Array(guarded.length);
  const lastTwin = new Map<string, number>();
  guarded.forEach(({ outcome, compares, then, otherwise }, number) => {
    if (outcome === UNKNOWN) {
      const update = JSON.stringify([compares, then, otherwise]);
      earlierTwin[number] = lastTwin.get(update) ?? -1;
      lastTwin.set(update, number);
    } else {
      observer[number] = Number((outcome === SUCCEEDED ? then : otherwise).length === 0);
    }
  });
  return { earlierTwin, observer, ...facts(guarded), ...neighbours(guarded) };
}

/** The indexes of who compares and updates what, in operation number order. */
function neighbours(guarded: readonly Guarded[]) {
  const slotCount =
    1 +
    Math.max(
      0,
      ...guarded.flatMap(({ compares, then, otherwise }) =>
        [...compares, ...then, ...otherwise].map(([slot]) => slot),
      ),
    );
  const valueLimit =
    1 + Math.max(0, ...guarded.flatMap(({ compares }) => compares.map(([, value]) => value)));
  const comparersOf = new Map<number, number[]>();
  const existenceComparers: number[][] = Array.from({ length: slotCount }, () => []);
  const writersOf: number[][] = Array.from({ length: slotCount }, () => []);
  const add = (list: number[], operation: number) => {
    if (list[list.length - 1] !== operation) list.push(operation);
  };
  const updatedSlots = guarded.map(({ then, otherwise }) => [
    ...new Set([...then, ...otherwise].map(([slot]) => slot)),
  ]);
  const comparedSlots = guarded.map(({ compares }) => [...new Set(compares.map(([slot]) => slot))]);
  guarded.forEach(({ compares }, operation) => {
    for (const [slot, value, mode] of compares) {
      if (mode === EQUALS) {
        const key = slot * valueLimit + value;
        const list = comparersOf.get(key) ?? [];
        add(list, operation);
        comparersOf.set(key, list);
      } else {
        add(existenceComparers[slot], operation);
      }
    }
    for (const slot of updatedSlots[operation]) add(writersOf[slot], operation);
  });
  return { comparersOf, valueLimit, existenceComparers, writersOf, updatedSlots, comparedSlots };
}

function facts(guarded: readonly Guarded[]) {
  const numbers = new Map<string, number>();
  const slots: number[] = [];
  const values: number[] = [];
  const fact = ([slot, value]: readonly number[]): [number] => {
    const name = `${slot}:${value}`;
    let number = numbers.get(name);
    if (number === undefined) {
      number = slots.length;
      numbers.set(name, number);
      slots.push(slot);
      values.push(value);
    }
    return [number];
  };
  const required = guarded.map(({ outcome, compares }) =>
    outcome === SUCCEEDED ? compares.filter(([, , mode]) => mode === EQUALS).map(fact) : [],
  );
  const produced = guarded.map(({ outcome, then, otherwise }) =>
    (outcome === SUCCEEDED ? then : outcome === FAILED ? otherwise : [...then, ...otherwise]).map(fact),
  );
  const requires = compressedRows(required, 1);
  const produces = compressedRows(produced, 1);
  return {
    requireStart: requires.start,
    requireFact: requires.values[0],
    produceStart: produces.start,
    produceFact: produces.values[0],
    factSlot: Int32Array.from(slots),
    factValue: Int32Array.from(values),
  };
}
