/**
 * The search's memo: the nodes already entered, each a (set of linearized operations, state).
 *
 * The set has two parts. The known part (operations of known outcome) is kept compactly: every
 * operation below `low` is in, so a node stores `low` and the words of bits from there to the
 * highest one in (see linearizability-search.ts). The unknown part (operations of unknown
 * outcome that were placed) is kept whole.
 *
 * A node is skipped when it was entered before (a cache hit), and also when it is dominated by a
 * node that has been explored completely and failed, with the same known part and state and a
 * subset of its unknown part. Operations of unknown outcome need not happen at all, so whatever
 * order completes the larger node would complete the smaller one, which has none. (Nodes still
 * being explored are only matched exactly.)
 *
 * Nodes are hashed on the known part and the state only, so that the nodes a node may be
 * dominated by share its bucket; buckets and entries live in typed arrays: millions of entries
 * cost no object each and no garbage collection.
 */

function grown<T extends Int32Array | Uint32Array | Uint8Array>(array: T, needed: number): T {
  if (needed <= array.length) return array;
  const bigger = new (array.constructor as new (length: number) => T)(Math.max(needed, array.length * 2));
  bigger.set(array);
  return bigger;
}

/** Small: most components are small, and the arrays double as needed. */
const INITIAL_ENTRIES = 64;

export class Memo {
  /** First entry of each bucket (-1: empty); the bucket of a hash is its low bits. */
  private buckets = new Int32Array(INITIAL_ENTRIES).fill(-1);
  private chain = new Int32Array(INITIAL_ENTRIES);
  private hash = new Int32Array(INITIAL_ENTRIES);
  private check = new Int32Array(INITIAL_ENTRIES);
  private state = new Int32Array(INITIAL_ENTRIES);
  private low = new Int32Array(INITIAL_ENTRIES);
  /** Where the entry's known words, then its unknown words, start in the pool, and how many known. */
  private wordsAt = new Int32Array(INITIAL_ENTRIES);
  private knownWords = new Int32Array(INITIAL_ENTRIES);
  private completed = new Uint8Array(INITIAL_ENTRIES);
  private pool = new Uint32Array(4 * INITIAL_ENTRIES);
  private poolUsed = 0;
  size = 0;

  constructor(private readonly unknownWords: number) {}

  /**
   * Enters the node unless it was entered before or is dominated; returns its entry, or -1. The
   * node is `state`, `low`, the known bits in words [from, to) of `known`, and `unknown`;
   * `hash` and `check` are two independent hashes of all but `unknown`.
   */
  enter(
    hash: number,
    check: number,
    state: number,
    low: number,
    known: Uint32Array,
    from: number,
    to: number,
    unknown: Uint32Array,
  ): number {
    const bucket = hash & (this.buckets.length - 1);
    for (let entry = this.buckets[bucket]; entry >= 0; entry = this.chain[entry]) {
      if (
        this.hash[entry] === hash &&
        this.check[entry] === check &&
        this.state[entry] === state &&
        this.low[entry] === low &&
        this.knownWords[entry] === to - from &&
        this.sameKnown(this.wordsAt[entry], known, from, to) &&
        this.unknownWithin(this.wordsAt[entry] + to - from, unknown, this.completed[entry] === 1)
      ) {
        return -1;
      }
    }
    const entry = this.size++;
    if (entry === this.chain.length) this.grow();
    this.hash[entry] = hash;
    this.check[entry] = check;
    this.state[entry] = state;
    this.low[entry] = low;
    this.knownWords[entry] = to - from;
    this.completed[entry] = 0;
    this.wordsAt[entry] = this.poolUsed;
    this.pool = grown(this.pool, this.poolUsed + to - from + this.unknownWords);
    let at = this.poolUsed;
    for (let word = from; word < to; word++) this.pool[at++] = known[word];
    for (let word = 0; word < this.unknownWords; word++) this.pool[at++] = unknown[word];
    this.poolUsed = at;
    const home = hash & (this.buckets.length - 1);
    this.chain[entry] = this.buckets[home];
    this.buckets[home] = entry;
    return entry;
  }

  /** Marks a node explored completely (and failed): from now on it dominates its supersets. */
  complete(entry: number): void {
    this.completed[entry] = 1;
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
    this.knownWords = grown(this.knownWords, capacity);
    this.completed = grown(this.completed, capacity);
    this.buckets = new Int32Array(capacity).fill(-1);
    for (let entry = 0; entry < this.size - 1; entry++) {
      const home = this.hash[entry] & (capacity - 1);
      this.chain[entry] = this.buckets[home];
      this.buckets[home] = entry;
    }
  }

  private sameKnown(at: number, known: Uint32Array, from: number, to: number): boolean {
    for (let word = from; word < to; word++) if (this.pool[at++] !== known[word]) return false;
    return true;
  }

  /** Whether the stored unknown part equals `unknown`, or (if `orSubset`) is a subset of it. */
  private unknownWithin(at: number, unknown: Uint32Array, orSubset: boolean): boolean {
    for (let word = 0; word < this.unknownWords; word++) {
      const stored = this.pool[at + word];
      if (stored === unknown[word]) continue;
      if (!orSubset || (stored & ~unknown[word]) !== 0) return false;
    }
    return true;
  }
}
