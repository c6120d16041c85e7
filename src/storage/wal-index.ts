/**
 * What the WalStore knows about each log entry without reading it: where it lives (segment
 * number, byte offset, record length), its term and its type, for the contiguous range of indexes
 * lo..hi. Four float64 slots per entry in one typed array plus one byte of type (33 bytes per
 * entry, no per-entry objects), with the live range sliding forward as the head is compacted.
 * Terms and types answer `entryTerms` from memory: a restart rebuilds Raft's term index from here
 * instead of reading every entry back.
 */
const SLOTS = 4;
const INITIAL_CAPACITY = 1024;

export interface EntryLocation {
  segment: number;
  offset: number;
  length: number;
}

export class EntryTable {
  private slots = new Float64Array(INITIAL_CAPACITY * SLOTS);
  private types = new Uint8Array(INITIAL_CAPACITY);
  /** Position (in entries) of index `lo` in `slots`. */
  private start = 0;
  private count = 0;
  private lo = 0;

  /** First index held, 0 when empty. */
  first(): number {
    return this.count === 0 ? 0 : this.lo;
  }

  /** Last index held, 0 when empty. */
  last(): number {
    return this.count === 0 ? 0 : this.lo + this.count - 1;
  }

  /** Appends `index`, which must follow the last one (any index starts an empty table). */
  push(index: number, segment: number, offset: number, length: number, term: number, type: number): void {
    if (this.count === 0) {
      this.lo = index;
      this.start = 0;
    } else if (index !== this.lo + this.count) {
      throw new RangeError(`entry ${index} does not follow ${this.last()}`);
    }
    this.reserveOne();
    const position = this.start + this.count;
    const at = position * SLOTS;
    this.slots[at] = segment;
    this.slots[at + 1] = offset;
    this.slots[at + 2] = length;
    this.slots[at + 3] = term;
    this.types[position] = type;
    this.count++;
  }

  get(index: number): EntryLocation | undefined {
    if (!this.has(index)) return undefined;
    const at = (this.start + index - this.lo) * SLOTS;
    return { segment: this.slots[at], offset: this.slots[at + 1], length: this.slots[at + 2] };
  }

  /** The segment holding `index`, which must be held. */
  segmentOf(index: number): number {
    return this.slots[(this.start + index - this.lo) * SLOTS];
  }

  /** Terms and types of lo..hi, which must all be held. */
  termsOf(lo: number, hi: number): { terms: Float64Array; types: Uint8Array } {
    const count = Math.max(0, hi - lo + 1);
    const terms = new Float64Array(count);
    const from = this.start + lo - this.lo;
    for (let i = 0; i < count; i++) terms[i] = this.slots[(from + i) * SLOTS + 3];
    return { terms, types: this.types.slice(from, from + count) };
  }

  has(index: number): boolean {
    return this.count !== 0 && index >= this.lo && index < this.lo + this.count;
  }

  /** Forgets `index` and everything after it. */
  truncateFrom(index: number): void {
    if (this.count === 0) return;
    this.count = Math.max(0, Math.min(this.count, index - this.lo));
  }

  /** Forgets everything before `index`. */
  dropBefore(index: number): void {
    if (this.count === 0 || index <= this.lo) return;
    const dropped = Math.min(this.count, index - this.lo);
    this.start += dropped;
    this.count -= dropped;
    this.lo += dropped;
  }

  private reserveOne(): void {
    const capacity = this.types.length;
    if (this.start + this.count < capacity) return;
    const live = this.start + this.count;
    if (this.start >= capacity / 2) {
      // Half the array is compacted-away head: slide the live range down instead of growing.
      this.slots.copyWithin(0, this.start * SLOTS, live * SLOTS);
      this.types.copyWithin(0, this.start, live);
    } else {
      const slots = new Float64Array(capacity * 2 * SLOTS);
      slots.set(this.slots.subarray(this.start * SLOTS, live * SLOTS));
      this.slots = slots;
      const types = new Uint8Array(capacity * 2);
      types.set(this.types.subarray(this.start, live));
      this.types = types;
    }
    this.start = 0;
  }
}
