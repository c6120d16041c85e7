/**
 * Dead ends found when they are entered, not when the search reaches the return they doom.
 *
 * Facts are (key slot, value) pairs (linearizability-hints.ts): pending operations of known
 * outcome need some (a read needs its value), pending operations produce some (a write of the
 * value). A fact that is needed and that no pending operation can produce any more must hold now
 * and stay true until its needers are placed; a node where it is false leads nowhere. With unique
 * values: once the only write of a value is overwritten, a read still waiting for that value can
 * never be placed, and the overwrite is the wrong choice.
 *
 * Some writers are conditional: an operation of unknown outcome produces what its then-branch
 * writes only where its value compares hold (a cas of unknown outcome writes only over its
 * expected value). Such a writer is dead once one of its conditions is false and nothing pending
 * can make it true again (a fact no pending operation writes never becomes true). A needed fact
 * whose only writers are conditional is lost when it is false and every one of them is dead: an
 * unknown txn whose compare value has been overwritten for good cannot write the value a later
 * read saw. (A dead writer's own conditions are looked at one level deep: a condition that has
 * any pending writer, conditional or not, counts as reachable, which never cuts a live branch.)
 *
 * The ledger counts needers and writers per fact as operations are linearized and undone, and
 * keeps the list of needed facts without unconditional writers, so the test per node costs
 * O(that list) plus, for each fact of it that is false, its conditional writers.
 */
import type { SearchHistory, SearchModel } from './linearizability-model.js';

export class FactLedger {
  /** Facts still required by pending known operations, and by how many; writers left per fact. */
  private readonly needers: Int32Array;
  private readonly writers: Int32Array;
  /** Conditional writers left per fact, and for each fact, every conditional writer (rows). */
  private readonly conditionalWriters: Int32Array;
  private readonly conditionalStart: Int32Array;
  private readonly conditionalWriter: Int32Array;
  /** 1 for an operation linearized (taken out of the counts). */
  private readonly placed: Uint8Array;
  /** Facts needed that no pending operation can produce any more, and where each sits in it. */
  private readonly unproducible: Int32Array;
  private readonly unproducibleAt: Int32Array;
  private unproducibleCount = 0;
  /** For each fact, the known operations that require it (compressed rows). */
  private readonly neederStart: Int32Array;
  private readonly needer: Int32Array;

  constructor(private readonly history: SearchHistory) {
    const factCount = history.factSlot.length;
    const count = history.start.length;
    this.needers = new Int32Array(factCount);
    this.writers = new Int32Array(factCount);
    this.conditionalWriters = new Int32Array(factCount);
    this.placed = new Uint8Array(count);
    const writtenBy: number[][] = Array.from({ length: factCount }, () => []);
    this.unproducible = new Int32Array(factCount);
    this.unproducibleAt = new Int32Array(factCount).fill(-1);
    const neededBy: number[][] = Array.from({ length: factCount }, () => []);
    for (let operation = 0; operation < count; operation++) {
      for (let i = history.requireStart[operation]; i < history.requireStart[operation + 1]; i++) {
        this.needers[history.requireFact[i]]++;
        neededBy[history.requireFact[i]].push(operation);
      }
      for (let i = history.produceStart[operation]; i < history.produceStart[operation + 1]; i++) {
        this.writers[history.produceFact[i]]++;
      }
      for (let i = history.conditionalStart[operation]; i < history.conditionalStart[operation + 1]; i++) {
        this.conditionalWriters[history.conditionalFact[i]]++;
        writtenBy[history.conditionalFact[i]].push(operation);
      }
    }
    for (let fact = 0; fact < factCount; fact++) this.classify(fact);
    [this.neederStart, this.needer] = rows(neededBy);
    [this.conditionalStart, this.conditionalWriter] = rows(writtenBy);
  }

  /**
   * A needed fact that is false in `state` and that nothing pending can make true (-1: none):
   * then `state` is a dead end.
   */
  lost(model: SearchModel, state: number): number {
    const { factSlot, factValue } = this.history;
    for (let i = 0; i < this.unproducibleCount; i++) {
      const fact = this.unproducible[i];
      if (model.holds(state, factSlot[fact], factValue[fact])) continue;
      if (this.conditionalWriters[fact] === 0 || !this.someLiveConditionalWriter(fact, model, state)) {
        return fact;
      }
    }
    return -1;
  }

  /** Whether some pending conditional writer of `fact` may still find its conditions true. */
  private someLiveConditionalWriter(fact: number, model: SearchModel, state: number): boolean {
    const { conditionStart, conditionFact, factSlot, factValue } = this.history;
    for (let i = this.conditionalStart[fact]; i < this.conditionalStart[fact + 1]; i++) {
      const writer = this.conditionalWriter[i];
      if (this.placed[writer] === 1) continue;
      let live = true;
      for (let j = conditionStart[writer]; live && j < conditionStart[writer + 1]; j++) {
        const condition = conditionFact[j];
        live =
          model.holds(state, factSlot[condition], factValue[condition]) ||
          this.writers[condition] > 0 ||
          this.conditionalWriters[condition] > 0;
      }
      if (live) return true;
    }
    return false;
  }

  /** A known operation other than `except`, not yet placed, that requires `fact`. */
  pendingNeeder(fact: number, except: number, isPlaced: (operation: number) => boolean): number | undefined {
    for (let i = this.neederStart[fact]; i < this.neederStart[fact + 1]; i++) {
      const operation = this.needer[i];
      if (operation !== except && !isPlaced(operation)) return operation;
    }
    return undefined;
  }

  /** Takes `operation` out of the counts of needers and writers (delta -1), or back in (+1). */
  account(operation: number, delta: number): void {
    const { requireStart, requireFact, produceStart, produceFact, conditionalStart, conditionalFact } =
      this.history;
    this.placed[operation] = delta < 0 ? 1 : 0;
    for (let i = conditionalStart[operation]; i < conditionalStart[operation + 1]; i++) {
      this.conditionalWriters[conditionalFact[i]] += delta;
    }
    for (let i = requireStart[operation]; i < requireStart[operation + 1]; i++) {
      this.needers[requireFact[i]] += delta;
      this.classify(requireFact[i]);
    }
    for (let i = produceStart[operation]; i < produceStart[operation + 1]; i++) {
      this.writers[produceFact[i]] += delta;
      this.classify(produceFact[i]);
    }
  }

  /** Keeps `fact` in the unproducible list exactly when it is needed and has no writer left. */
  private classify(fact: number): void {
    const wanted = this.needers[fact] > 0 && this.writers[fact] === 0;
    const at = this.unproducibleAt[fact];
    if (wanted && at < 0) {
      this.unproducibleAt[fact] = this.unproducibleCount;
      this.unproducible[this.unproducibleCount++] = fact;
    } else if (!wanted && at >= 0) {
      const last = this.unproducible[--this.unproducibleCount];
      this.unproducible[at] = last;
      this.unproducibleAt[last] = at;
      this.unproducibleAt[fact] = -1;
    }
  }
}

/** Lists of numbers as compressed rows: row i is values[start[i]..start[i + 1]). */
function rows(lists: readonly number[][]): [start: Int32Array, values: Int32Array] {
  const start = new Int32Array(lists.length + 1);
  lists.forEach((list, i) => (start[i + 1] = start[i] + list.length));
  return [start, Int32Array.from(lists.flat())];
}
