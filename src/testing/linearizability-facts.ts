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
 * The ledger counts needers and writers per fact as operations are linearized and undone, and
 * keeps the list of needed facts without writers, so the test per node costs O(that list).
 */
import type { SearchHistory, SearchModel } from './linearizability-model.js';

export class FactLedger {
  /** Facts still required by pending known operations, and by how many; writers left per fact. */
  private readonly needers: Int32Array;
  private readonly writers: Int32Array;
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
    }
    for (let fact = 0; fact < factCount; fact++) this.classify(fact);
    this.neederStart = new Int32Array(factCount + 1);
    neededBy.forEach((list, fact) => (this.neederStart[fact + 1] = this.neederStart[fact] + list.length));
    this.needer = Int32Array.from(neededBy.flat());
  }

  /** A needed fact without writers that is false in `state` (-1: none): then `state` is a dead end. */
  lost(model: SearchModel, state: number): number {
    const { factSlot, factValue } = this.history;
    for (let i = 0; i < this.unproducibleCount; i++) {
      const fact = this.unproducible[i];
      if (!model.holds(state, factSlot[fact], factValue[fact])) return fact;
    }
    return -1;
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
    const { requireStart, requireFact, produceStart, produceFact } = this.history;
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
