/**
 * The search's memo: every (set of linearized operations, state) pair already entered, keyed by a
 * hash and compared exactly (see linearizability-search.ts for what the set's compact copy is).
 */

function grown<T extends Int32Array | Uint32Array>(array: T, needed: number): T {
  if (needed <= array.length) return array;
  const bigger = new (array.constructor as new (length: number) => T)(Math.max(needed, array.length * 2));
  bigger.set(array);
  return bigger;
}

/** Small: most components are small, and the arrays double as needed. */
const INITIAL_ENTRIES = 64;

/**
 * The explored (set, state) pairs: a chained hash table whose buckets and entries live in typed
 * arrays, so that millions of entries cost no object each and no garbage collection.
 */
export class Memo {
  /** First entry of each bucket (-1: empty); the bucket of a hash is its low bits. */
  private buckets = new Int32Array(INITIAL_ENTRIES).fill(-1);
  private chain = new Int32Array(INITIAL_ENTRIES);
  private hash = new Int32Array(INITIAL_ENTRIES);
  private check = new Int32Array(INITIAL_ENTRIES);
  private state = new Int32Array(INITIAL_ENTRIES);
  private low = new Int32Array(INITIAL_ENTRIES);
  private wordsAt = new Int32Array(INITIAL_ENTRIES);
  private wordCount = new Int32Array(INITIAL_ENTRIES);
  private pool = new Uint32Array(4 * INITIAL_ENTRIES);
  private poolUsed = 0;
  size = 0;

  /**
   * Records the pair unless present; true if it was new. The set is `low`, the known bits in words
   * [from, to) of `known`, and all of `unknown`.
   */
  add(
    hash: number,
    check: number,
    state: number,
    low: number,
    known: Uint32Array,
    from: number,
    to: number,
    unknown: Uint32Array,
  ): boolean {
    const words = to - from + unknown.length;
    const bucket = hash & (this.buckets.length - 1);
    for (let entry = this.buckets[bucket]; entry >= 0; entry = this.chain[entry]) {
      if (
        this.hash[entry] === hash &&
        this.check[entry] === check &&
        this.state[entry] === state &&
        this.low[entry] === low &&
        this.wordCount[entry] === words &&
        this.sameWords(this.wordsAt[entry], known, from, to, unknown)
      ) {
        return false;
      }
    }
    const entry = this.size++;
    if (entry === this.chain.length) this.grow();
    this.hash[entry] = hash;
    this.check[entry] = check;
    this.state[entry] = state;
    this.low[entry] = low;
    this.wordCount[entry] = words;
    this.wordsAt[entry] = this.poolUsed;
    this.pool = grown(this.pool, this.poolUsed + words);
    let at = this.poolUsed;
    for (let word = from; word < to; word++) this.pool[at++] = known[word];
    for (let word = 0; word < unknown.length; word++) this.pool[at++] = unknown[word];
    this.poolUsed = at;
    const home = hash & (this.buckets.length - 1);
    this.chain[entry] = this.buckets[home];
    this.buckets[home] = entry;
    return true;
  }

  /** Doubles the entry arrays and the buckets (load factor at most 1), rehashing every entry. */
  private grow(): void {
    const capacity = this.chain.length * 2;
    this.chain = grown(this.chain, capacity);
    this.hash = grown(this.hash, capacity);
    this.check = grown(this.check, capacity);
    this.state = grown(this.state, capacity);
    this.low = grown(this.low, capacity);
    this.wordsAt = grown(this.wordsAt, capacity);
    this.wordCount = grown(this.wordCount, capacity);
    this.buckets = new Int32Array(capacity).fill(-1);
    for (let entry = 0; entry < this.size - 1; entry++) {
      const home = this.hash[entry] & (capacity - 1);
      this.chain[entry] = this.buckets[home];
      this.buckets[home] = entry;
    }
  }

  private sameWords(at: number, known: Uint32Array, from: number, to: number, unknown: Uint32Array): boolean {
    for (let word = from; word < to; word++) if (this.pool[at++] !== known[word]) return false;
    for (let word = 0; word < unknown.length; word++) if (this.pool[at++] !== unknown[word]) return false;
    return true;
  }
}
