/**
 * What the WalStore knows about each log entry without reading it: where it lives (segment
 * number, byte offset, record length), its term and its type, for the contiguous range of indexes
 * lo..hi. Stored in fixed-size blocks of typed arrays (four float64 slots and one type byte per
 * entry: 33 bytes, no per-entry objects): appending never copies what is there, and compacting the
 * head frees whole blocks. Terms and types answer `entryTerms` from memory: a restart rebuilds
 * Raft's term index from here instead of reading every entry back.
 */
const SLOTS = 4;
/** Entries per block (a power of two). */
const BLOCK_SHIFT = 14;
const BLOCK = 1 << BLOCK_SHIFT;
const BLOCK_MASK = BLOCK - 1;

export interface EntryLocation {
  segment: number;
  offset: number;
  length: number;
}

export class EntryTable {
  private slots: Float64Array[] = [];
  private types: Uint8Array[] = [];
  /** Position of index `lo` in the first block. */
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
      this.slots.length = 0;
      this.types.length = 0;
    } else if (index !== this.lo + this.count) {
      throw new RangeError(`entry ${index} does not follow ${this.last()}`);
    }
    const position = this.start + this.count;
    const block = position >>> BLOCK_SHIFT;
    if (block === this.slots.length) {
      this.slots.push(new Float64Array(BLOCK * SLOTS));
      this.types.push(new Uint8Array(BLOCK));
    }
    const slots = this.slots[block];
    const at = (position & BLOCK_MASK) * SLOTS;
    slots[at] = segment;
    slots[at + 1] = offset;
    slots[at + 2] = length;
    slots[at + 3] = term;
    this.types[block][position & BLOCK_MASK] = type;
    this.count++;
  }

  get(index: number): EntryLocation | undefined {
    if (!this.has(index)) return undefined;
    const position = this.start + index - this.lo;
    const slots = this.slots[position >>> BLOCK_SHIFT];
    const at = (position & BLOCK_MASK) * SLOTS;
    return { segment: slots[at], offset: slots[at + 1], length: slots[at + 2] };
  }

  /** The segment holding `index`, which must be held. */
  segmentOf(index: number): number {
    const position = this.start + index - this.lo;
    return this.slots[position >>> BLOCK_SHIFT][(position & BLOCK_MASK) * SLOTS];
  }

  /** Terms and types of lo..hi, which must all be held. */
  termsOf(lo: number, hi: number): { terms: Float64Array; types: Uint8Array } {
    const count = Math.max(0, hi - lo + 1);
    const terms = new Float64Array(count);
    const types = new Uint8Array(count);
    let position = this.start + lo - this.lo;
    for (let i = 0; i < count; position++, i++) {
      const block = position >>> BLOCK_SHIFT;
      terms[i] = this.slots[block][(position & BLOCK_MASK) * SLOTS + 3];
      types[i] = this.types[block][position & BLOCK_MASK];
    }
    return { terms, types };
  }

  has(index: number): boolean {
    return this.count !== 0 && index >= this.lo && index < this.lo + this.count;
  }

  /** Forgets `index` and everything after it. */
  truncateFrom(index: number): void {
    if (this.count === 0) return;
    this.count = Math.max(0, Math.min(this.count, index - this.lo));
    const blocks = this.count === 0 ? 0 : ((this.start + this.count - 1) >>> BLOCK_SHIFT) + 1;
    this.slots.length = blocks;
    this.types.length = blocks;
  }

  /** Forgets everything before `index`. */
  dropBefore(index: number): void {
    if (this.count === 0 || index <= this.lo) return;
    const dropped = Math.min(this.count, index - this.lo);
    this.count -= dropped;
    this.lo += dropped;
    const position = this.start + dropped;
    const freed = position >>> BLOCK_SHIFT;
    this.slots.splice(0, freed);
    this.types.splice(0, freed);
    this.start = position & BLOCK_MASK;
  }
}
