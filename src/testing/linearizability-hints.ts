/**
 * What the search may use, besides the model, to cut branches that cannot lead anywhere new.
 * Each hint comes with the argument that cutting on it loses no linearization; the search
 * (linearizability-search.ts) says how it uses them, and the brute-force oracle test checks them.
 */
import { EQUALS, FAILED, SUCCEEDED, UNKNOWN, type Guarded } from './linearizability-guarded.js';

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
  /**
   * The facts an operation of unknown outcome produces only in its then-branch, which it takes
   * only where its value compares (its conditions) hold: a cas's expected value, a txn's value
   * compares. If a condition is false and nothing pending can make it true, the branch can never
   * be taken, and neither can what it would produce (see linearizability-facts.ts). Rows as above;
   * such facts are not in `produceFact`.
   */
  conditionalStart: Int32Array;
  conditionalFact: Int32Array;
  conditionStart: Int32Array;
  conditionFact: Int32Array;
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
  const { slotCount, valueLimit } = extent(guarded);
  const comparersOf = new Map<number, number[]>();
  const existenceComparers: number[][] = Array.from({ length: slotCount }, () => []);
  const writersOf: number[][] = Array.from({ length: slotCount }, () => []);
  const add = (list: number[], operation: number) => {
    if (list[list.length - 1] !== operation) list.push(operation);
  };
  const updatedSlots = guarded.map(({ then, otherwise }) => distinctSlots(then, otherwise));
  // Only operations of unknown outcome are asked what they compare.
  const comparedSlots = guarded.map(({ outcome, compares }) =>
    outcome === UNKNOWN ? distinctSlots(compares) : [],
  );
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

/** How many slots the operations name, and one more than the largest value they compare or set. */
function extent(guarded: readonly Guarded[]): { slotCount: number; valueLimit: number } {
  let slotCount = 1;
  let valueLimit = 1;
  for (const { compares, then, otherwise } of guarded) {
    for (const tuples of [compares, then, otherwise]) {
      for (const [slot, value] of tuples) {
        slotCount = Math.max(slotCount, slot + 1);
        valueLimit = Math.max(valueLimit, value + 1);
      }
    }
  }
  return { slotCount, valueLimit };
}

function distinctSlots(...lists: (readonly (readonly number[])[])[]): number[] {
  const slots: number[] = [];
  for (const tuples of lists) for (const [slot] of tuples) if (!slots.includes(slot)) slots.push(slot);
  return slots;
}

function facts(guarded: readonly Guarded[]) {
  const { valueLimit } = extent(guarded);
  const numbers = new Map<number, number>();
  const slots: number[] = [];
  const values: number[] = [];
  const fact = ([slot, value]: readonly number[]): number => {
    const key = slot * valueLimit + value;
    let number = numbers.get(key);
    if (number === undefined) {
      number = slots.length;
      numbers.set(key, number);
      slots.push(slot);
      values.push(value);
    }
    return number;
  };
  // Compressed rows built directly: one pass, no array per operation.
  const rows = () => ({ start: new Int32Array(guarded.length + 1), facts: [] as number[] });
  const [required, produced, conditional, conditions] = [rows(), rows(), rows(), rows()];
  guarded.forEach(({ outcome, compares, then, otherwise }, operation) => {
    const valueCompares = compares.filter((compare) => compare[2] === EQUALS);
    if (outcome === SUCCEEDED) for (const compare of valueCompares) required.facts.push(fact(compare));
    const guardedThen = outcome === UNKNOWN && valueCompares.length > 0;
    if (guardedThen) for (const compare of valueCompares) conditions.facts.push(fact(compare));
    if (outcome !== FAILED)
      for (const update of then) (guardedThen ? conditional : produced).facts.push(fact(update));
    if (outcome !== SUCCEEDED) for (const update of otherwise) produced.facts.push(fact(update));
    for (const row of [required, produced, conditional, conditions])
      row.start[operation + 1] = row.facts.length;
  });
  return {
    requireStart: required.start,
    requireFact: Int32Array.from(required.facts),
    produceStart: produced.start,
    produceFact: Int32Array.from(produced.facts),
    conditionalStart: conditional.start,
    conditionalFact: Int32Array.from(conditional.facts),
    conditionStart: conditions.start,
    conditionFact: Int32Array.from(conditions.facts),
    factSlot: Int32Array.from(slots),
    factValue: Int32Array.from(values),
  };
}
