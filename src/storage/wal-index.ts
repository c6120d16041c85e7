/**
 * Where each log entry of a WalStore lives: segment number, byte offset and record length, for the
 * contiguous range of indexes lo..hi. Three float64 slots per entry in one typed array (24 bytes
 * per entry, no per-entry objects), with the live range sliding forward as the head is compacted.
 */
const SLOTS = 3;
const INITIAL_CAPACITY = 1024;

export interface EntryLocation {
  segment: number;
  offset: number;
  length: number;
}

export class EntryTable {
  private slots = new Float64Array(INITIAL_CAPACITY * SLOTS);
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
  push(index: number, segment: number, offset: number, length: number): void {
    if (this.count === 0) {
      this.lo = index;
      this.start = 0;
    } else if (index !== this.lo + this.count) {
      throw new RangeError(`entry ${index} does not follow ${this.last()}`);
    }
    this.reserveOne();
    const at = (this.start + this.count) * SLOTS;
    this.slots[at] = segment;
    this.slots[at + 1] = offset;
    this.slots[at + 2] = length;
    this.count++;
  }

  get(index: number): EntryLocation | undefined {
    if (this.count === 0 || index < this.lo || index >= this.lo + this.count) return undefined;
    const at = (this.start + index - this.lo) * SLOTS;
    return { segment: this.slots[at], offset: this.slots[at + 1], length: this.slots[at + 2] };
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
    const capacity = this.slots.length / SLOTS;
    if (this.start + this.count < capacity) return;
    if (this.start >= capacity / 2) {
      // Half the array is compacted-away head: slide the live range down instead of growing.
      this.slots.copyWithin(0, this.start * SLOTS, (this.start + this.count) * SLOTS);
    } else {
      const grown = new Float64Array(capacity * 2 * SLOTS);
      grown.set(this.slots.subarray(this.start * SLOTS, (this.start + this.count) * SLOTS));
      this.slots = grown;
    }
    this.start = 0;
  }
}
