/**
 * A quick refutation before the search: an observation that real time alone makes impossible.
 *
 * A known operation r that saw key slot s hold value v (a read, a range, a successful cas or
 * txn) needs some writer of v on s to be the last one before it. Every writer w of v is
 * overwritten for good if some operation x of known outcome that certainly sets s to another
 * value was called after w returned and returned before r was called: x sits between w and r in
 * every legal order. If that holds for every writer (and for the initial value, if it is v), no
 * order can give r its value. Since the test for a writer only gets harder as the writer
 * returns later, only the writer of v that returns last among those called before r returns
 * needs checking, which makes the whole pass O(n log n).
 *
 * Such stale observations (a stale read, a lost write) are the usual bugs, and the search alone
 * would find them only after exhausting every order of the operations before them. Finding them
 * here is sound (the oracle test holds it to the search's verdicts) and names the culprits.
 */
import { partitionPoint } from './linearizability-components.js';
import { EQUALS, SUCCEEDED, UNKNOWN, type Guarded } from './linearizability-guarded.js';

export interface StaleObservation {
  /** The operation number of the observer that cannot be placed. */
  observer: number;
  /** The writer of its value that returned last before it (undefined: the initial value). */
  writer: number | undefined;
  /** An operation between that writer and the observer that certainly overwrote the value. */
  overwriter: number;
}

/** The first stale observation found, or undefined. `initial` is every slot's initial value. */
export function findStaleObservation(
  guarded: readonly Guarded[],
  start: Float64Array,
  end: Float64Array,
  initial: number,
): StaleObservation | undefined {
  const overwrites = new Overwrites(guarded, start, end);
  const everyWriter = writersByFact(guarded, start, end, new Uint8Array(guarded.length));
  const stale = (slot: number, value: number, observer: number, start: number, end: number) =>
    staleValue(everyWriter, overwrites, initial, slot, value, observer, start, end);
  // An operation of unknown outcome takes its then-branch only where its value compares hold, at
  // some point after its call: if one of them is stale by then, the branch never happens. (Its
  // deadline is unbounded: whatever it writes is looked for by observers that return later.)
  const deadThen = Uint8Array.from(guarded, ({ outcome, compares }, operation) =>
    outcome === UNKNOWN &&
    compares.some(
      ([slot, value, mode]) =>
        mode === EQUALS && stale(slot, value, operation, start[operation], Infinity) !== undefined,
    )
      ? 1
      : 0,
  );
  const writers = deadThen.includes(1) ? writersByFact(guarded, start, end, deadThen) : everyWriter;
  for (let observer = 0; observer < guarded.length; observer++) {
    const { outcome, compares } = guarded[observer];
    if (outcome !== SUCCEEDED) continue;
    for (const [slot, value, mode] of compares) {
      if (mode !== EQUALS) continue; // existence compares are not values
      const found = staleValue(
        writers,
        overwrites,
        initial,
        slot,
        value,
        observer,
        start[observer],
        end[observer],
      );
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

/**
 * Whether `observer`, called at `start` and placed before `end`, cannot find `value` in `slot`:
 * nothing writes it, or the writer of it that returns last among those called by `end` was
 * certainly overwritten before `start`. Returns the evidence, or undefined.
 */
function staleValue(
  writers: Map<string, { lastBefore(time: number): number | undefined }>,
  overwrites: Overwrites,
  initial: number,
  slot: number,
  value: number,
  observer: number,
  start: number,
  end: number,
): StaleObservation | undefined {
  const last = writers.get(`${slot}:${value}`)?.lastBefore(end);
  if (last === observer) return undefined; // it writes its own value: leave it to the search
  const writerEnd = last === undefined ? (value === initial ? -Infinity : undefined) : overwrites.end[last];
  // Nothing ever writes the value it saw.
  if (writerEnd === undefined) return { observer, writer: undefined, overwriter: -1 };
  const overwriter = overwrites.earliestAfter(slot, writerEnd, value);
  if (overwriter >= 0 && overwrites.end[overwriter] < start) return { observer, writer: last, overwriter };
  return undefined;
}

/** The updates each operation may make: both branches if its outcome is unknown (unless its then-branch is dead). */
function possibleUpdates({ outcome, then, otherwise }: Guarded, deadThen: boolean): [number, number][] {
  if (outcome === UNKNOWN) return deadThen ? otherwise : [...then, ...otherwise];
  return outcome === SUCCEEDED ? then : otherwise;
}

/** Per fact (slot, value), its writers by call time, with the latest return among a prefix. */
function writersByFact(
  guarded: readonly Guarded[],
  start: Float64Array,
  end: Float64Array,
  deadThen: Uint8Array,
) {
  const byFact = new Map<string, number[]>();
  guarded.forEach((each, operation) => {
    for (const [slot, value] of possibleUpdates(each, deadThen[operation] === 1)) {
      const list = byFact.get(`${slot}:${value}`) ?? [];
      if (list[list.length - 1] !== operation) list.push(operation);
      byFact.set(`${slot}:${value}`, list);
    }
  });
  const result = new Map<string, { lastBefore(time: number): number | undefined }>();
  for (const [fact, list] of byFact) {
    list.sort((a, b) => start[a] - start[b]);
    // latest[i]: the writer returning last among list[0..i].
    const latest = list.slice();
    for (let i = 1; i < list.length; i++) {
      latest[i] = end[list[i]] >= end[latest[i - 1]] ? list[i] : latest[i - 1];
    }
    result.set(fact, {
      /** The writer returning last among those called at or before `time`. */
      lastBefore(time: number) {
        const count = partitionPoint(list.length, (i) => start[list[i]] <= time);
        return count === 0 ? undefined : latest[count - 1];
      },
    });
  }
  return result;
}

/**
 * Per slot, the operations of known outcome that certainly leave the slot holding some value
 * (their branch's last update of it), by call time, with two suffix minima of their returns: the
 * earliest return, and the earliest among those leaving a value other than that one's.
 */
class Overwrites {
  private readonly bySlot = new Map<number, SlotOverwrites>();

  constructor(
    guarded: readonly Guarded[],
    start: Float64Array,
    /** Every operation's return (Infinity: unknown outcome). */
    readonly end: Float64Array,
  ) {
    const lists = new Map<number, { operation: number; value: number }[]>();
    guarded.forEach(({ outcome, then, otherwise }, operation) => {
      if (outcome === UNKNOWN) return;
      // A Map keeps the last update of each slot: the value the branch leaves.
      for (const [slot, value] of new Map(outcome === SUCCEEDED ? then : otherwise)) {
        const list = lists.get(slot) ?? [];
        list.push({ operation, value });
        lists.set(slot, list);
      }
    });
    for (const [slot, list] of lists) {
      list.sort((a, b) => start[a.operation] - start[b.operation]);
      this.bySlot.set(slot, new SlotOverwrites(list, start, end));
    }
  }

  /** The overwrite of `slot` with a value other than `value`, called after `time`, that returns first; or -1. */
  earliestAfter(slot: number, time: number, value: number): number {
    return this.bySlot.get(slot)?.earliestAfter(time, value) ?? -1;
  }
}

class SlotOverwrites {
  private readonly starts: Float64Array;
  private readonly operations: Int32Array;
  private readonly values: Int32Array;
  /** Indexes (into the lists) of the earliest return in each suffix, and the runner-up. */
  private readonly first: Int32Array;
  private readonly second: Int32Array;

  constructor(list: readonly { operation: number; value: number }[], start: Float64Array, end: Float64Array) {
    const count = list.length;
    this.operations = Int32Array.from(list, (entry) => entry.operation);
    this.values = Int32Array.from(list, (entry) => entry.value);
    this.starts = Float64Array.from(list, (entry) => start[entry.operation]);
    this.first = new Int32Array(count + 1).fill(-1);
    this.second = new Int32Array(count + 1).fill(-1);
    const returns = (index: number) => end[this.operations[index]];
    for (let i = count - 1; i >= 0; i--) {
      const next = this.first[i + 1];
      const best = next < 0 || returns(i) < returns(next) ? i : next;
      this.first[i] = best;
      // The earliest leaving another value than `best` is among these three.
      let runnerUp = -1;
      for (const candidate of [i, next, this.second[i + 1]]) {
        if (candidate < 0 || candidate === best || this.values[candidate] === this.values[best]) continue;
        if (runnerUp < 0 || returns(candidate) < returns(runnerUp)) runnerUp = candidate;
      }
      this.second[i] = runnerUp;
    }
  }

  earliestAfter(time: number, value: number): number {
    const from = partitionPoint(this.starts.length, (i) => this.starts[i] <= time);
    const best = this.first[from];
    if (best < 0) return -1;
    const chosen = this.values[best] !== value ? best : this.second[from];
    return chosen < 0 ? -1 : this.operations[chosen];
  }
}
