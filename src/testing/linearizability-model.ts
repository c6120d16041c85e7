/**
 * The sequential specification the search checks against: every operation compiled to a guarded
 * update (linearizability-guarded.ts), evaluated over integer states.
 *
 * Two models evaluate that shape. A component of one key (nearly all of a chaos history) keeps the
 * key's value number as the state: no allocation per step. A component of several keys keeps a
 * tuple of value numbers, interned so that the search and its memo still see one integer per
 * state; its transitions are cached, since the search tries the same operation in the same state
 * often.
 */
import {
  compressedRows,
  EQUALS,
  guardedUpdate,
  SUCCEEDED,
  UNKNOWN,
  valueNumbering,
  type CheckerMutation,
  type Guarded,
} from './linearizability-guarded.js';
import { searchHints, type SearchHints } from './linearizability-hints.js';
import type { KvOperation } from './linearizability-types.js';

/** What the search needs besides the model, indexed by operation number. */
export interface SearchHistory extends SearchHints {
  /** Call and return times (Infinity: outcome unknown). */
  start: Float64Array;
  end: Float64Array;
}

/** A sequential specification over integer states. */
export interface SearchModel {
  readonly initial: number;
  /** The state after `operation` in `state`, or -1 if the operation cannot have happened there. */
  step(state: number, operation: number): number;
  /** Whether key slot `slot` holds value `value` in `state`. */
  holds(state: number, slot: number, value: number): boolean;
  /** The value key slot `slot` holds in `state`. */
  valueAt(state: number, slot: number): number;
  /**
   * Whether `operation`, taking `state` to `after`, changes what `other` does in a way that
   * moving `operation` past `other` would not undo: `other` ends elsewhere, and either takes
   * another branch or updates a key that `operation` compares or updates. (If `other` ends in
   * the same state, `operation` was overwritten; if it takes the same branch and touches none of
   * the same keys, the two commute.)
   */
  affects(state: number, after: number, operation: number, other: number): boolean;
}

export interface CompiledComponent {
  /** Each operation as a guarded update, by operation number. */
  guarded: Guarded[];
  /** The value number every key starts with. */
  initialValue: number;
  history: SearchHistory;
  model: SearchModel;
  /** For each operation number, its index in the operations given to `compileComponent`. */
  original: number[];
}

/**
 * Numbers a component's operations for the search and compiles them. Operations of known outcome
 * come first, then those of unknown outcome, each group in call order: the search's memo stores
 * the known ones as a window above the lowest one not yet linearized (see the search).
 */
export function compileComponent(
  keys: readonly string[],
  operations: readonly KvOperation[],
  initial: string | undefined,
  mutation: CheckerMutation | undefined,
): CompiledComponent {
  const original = operations
    .map((_, index) => index)
    .sort(
      (a, b) =>
        Number(operations[a].end === Infinity) - Number(operations[b].end === Infinity) ||
        operations[a].start - operations[b].start ||
        a - b,
    );
  const slotOf = new Map(keys.map((key, slot) => [key, slot]));
  const valueNumber = valueNumbering(operations);
  const guarded = original.map((index) =>
    guardedUpdate(operations[index], keys, slotOf, valueNumber, mutation),
  );
  const updates = new GuardedUpdates(guarded);
  const model =
    keys.length === 1
      ? new RegisterModel(valueNumber(initial), updates)
      : new MapModel(keys.length, valueNumber(initial), updates);
  const start = new Float64Array(original.length);
  const end = new Float64Array(original.length);
  original.forEach((index, number) => {
    // Called at the very beginning, every operation is concurrent with every other.
    start[number] = mutation === 'ignore-real-time' ? -Infinity : operations[index].start;
    end[number] = operations[index].end;
  });
  const initialValue = valueNumber(initial);
  return { guarded, initialValue, history: { start, end, ...searchHints(guarded) }, model, original };
}

/** Guarded updates in compressed rows, for evaluation without objects. */
class GuardedUpdates {
  readonly outcome: Uint8Array;
  readonly compareStart: Int32Array;
  readonly compareSlot: Int32Array;
  readonly compareValue: Int32Array;
  readonly compareMode: Int32Array;
  /** The then-branch of op i is row 2i, its else-branch row 2i + 1. */
  readonly updateStart: Int32Array;
  readonly updateSlot: Int32Array;
  readonly updateValue: Int32Array;

  constructor(guarded: readonly Guarded[]) {
    this.outcome = new Uint8Array(guarded.length);
    guarded.forEach((each, i) => (this.outcome[i] = each.outcome));
    const compares = compressedRows(
      guarded.map((each) => each.compares),
      3,
    );
    this.compareStart = compares.start;
    [this.compareSlot, this.compareValue, this.compareMode] = compares.values;
    const updates = compressedRows(
      guarded.flatMap((each) => [each.then, each.otherwise]),
      2,
    );
    this.updateStart = updates.start;
    [this.updateSlot, this.updateValue] = updates.values;
  }

  /** Whether the updates of `operation`'s `branch` touch a key that `other` compares or updates. */
  touches(operation: number, branch: number, other: number): boolean {
    const { updateStart, updateSlot, compareStart, compareSlot } = this;
    for (let i = updateStart[2 * operation + branch]; i < updateStart[2 * operation + branch + 1]; i++) {
      const slot = updateSlot[i];
      for (let j = compareStart[other]; j < compareStart[other + 1]; j++)
        if (compareSlot[j] === slot) return true;
      for (let j = updateStart[2 * other]; j < updateStart[2 * other + 2]; j++)
        if (updateSlot[j] === slot) return true;
    }
    return false;
  }

  /** Whether `operation` changes what `other` does (see SearchModel.affects), given both states' values. */
  affects(operation: number, other: number, before: Int32Array, after: Int32Array): boolean {
    const branch = this.branch(other, before);
    if (branch !== this.branch(other, after) || branch < 0) return true;
    return this.touches(other, branch, operation);
  }

  /** Which branch `operation` takes when key slot s holds `values[s]`: 0 then, 1 else, -1 impossible. */
  branch(operation: number, values: Int32Array): number {
    let holds = true;
    for (let i = this.compareStart[operation]; holds && i < this.compareStart[operation + 1]; i++) {
      const value = values[this.compareSlot[i]];
      holds = this.compareMode[i] === EQUALS ? value === this.compareValue[i] : value !== 0;
    }
    const outcome = this.outcome[operation];
    if (outcome === UNKNOWN) return holds ? 0 : 1;
    return holds === (outcome === SUCCEEDED) ? (holds ? 0 : 1) : -1;
  }
}

/** One key: the state is the key's value number. */
class RegisterModel implements SearchModel {
  /** The state as a one-slot tuple, reused so that a step allocates nothing. */
  private readonly values = new Int32Array(1);

  constructor(
    readonly initial: number,
    private readonly updates: GuardedUpdates,
  ) {}

  step(state: number, operation: number): number {
    this.values[0] = state;
    const branch = this.updates.branch(operation, this.values);
    if (branch < 0) return -1;
    const { updateStart, updateValue } = this.updates;
    const end = updateStart[2 * operation + branch + 1];
    // Updates apply in order: the last one wins.
    return end > updateStart[2 * operation + branch] ? updateValue[end - 1] : state;
  }

  holds(state: number, _slot: number, value: number): boolean {
    return state === value;
  }

  valueAt(state: number): number {
    return state;
  }

  private readonly after = new Int32Array(1);

  affects(state: number, after: number, operation: number, other: number): boolean {
    if (this.step(state, other) === this.step(after, other)) return false;
    this.values[0] = state;
    this.after[0] = after;
    return this.updates.affects(operation, other, this.values, this.after);
  }
}

/** Several keys: the state is the number of an interned tuple of value numbers, one per slot. */
class MapModel implements SearchModel {
  readonly initial: number;
  private readonly tuples: Int32Array[] = [];
  private readonly tupleNumbers = new Map<string, number>();
  /** Per operation, the state it leads to from each state it was tried in (-1: impossible). */
  private readonly transitions: Map<number, number>[] = [];

  constructor(
    slots: number,
    initialValue: number,
    private readonly updates: GuardedUpdates,
  ) {
    this.initial = this.intern(new Int32Array(slots).fill(initialValue));
  }

  step(state: number, operation: number): number {
    const cache = (this.transitions[operation] ??= new Map());
    let next = cache.get(state);
    if (next === undefined) {
      next = this.compute(state, operation);
      cache.set(state, next);
    }
    return next;
  }

  holds(state: number, slot: number, value: number): boolean {
    return this.tuples[state][slot] === value;
  }

  valueAt(state: number, slot: number): number {
    return this.tuples[state][slot];
  }

  affects(state: number, after: number, operation: number, other: number): boolean {
    if (this.step(state, other) === this.step(after, other)) return false;
    return this.updates.affects(operation, other, this.tuples[state], this.tuples[after]);
  }

  private compute(state: number, operation: number): number {
    const tuple = this.tuples[state];
    const branch = this.updates.branch(operation, tuple);
    if (branch < 0) return -1;
    const { updateStart, updateSlot, updateValue } = this.updates;
    const from = updateStart[2 * operation + branch];
    const to = updateStart[2 * operation + branch + 1];
    if (from === to) return state;
    const next = tuple.slice();
    for (let i = from; i < to; i++) next[updateSlot[i]] = updateValue[i];
    return this.intern(next);
  }

  private intern(tuple: Int32Array): number {
    const name = tuple.join(',');
    const known = this.tupleNumbers.get(name);
    if (known !== undefined) return known;
    this.tuples.push(tuple);
    this.tupleNumbers.set(name, this.tuples.length - 1);
    return this.tuples.length - 1;
  }
}
