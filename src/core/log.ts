/**
 * The core's view of the log: the term of every entry it holds, never the payloads (those live in
 * the LogStore and the runtime's entry cache). A few numbers per entry, so the core can check
 * consistency, pick what to replicate and decide commits without I/O.
 */
export class TermLog {
  /** Index and term of the last entry covered by the latest snapshot (0/0 when none). */
  snapshotIndex = 0;
  snapshotTerm = 0;
  /** Index of terms[0]. Entries before it are compacted away (they may still be in a snapshot). */
  private first = 1;
  private terms: number[] = [];

  /** First index whose entry is still held (may be below snapshotIndex: trailing logs). */
  firstIndex(): number {
    return this.first;
  }

  lastIndex(): number {
    const last = this.first + this.terms.length - 1;
    return last > this.snapshotIndex ? last : this.snapshotIndex;
  }

  lastTerm(): number {
    return this.term(this.lastIndex()) ?? 0;
  }

  /** Term of the entry at index; undefined when compacted away or beyond the end. */
  term(index: number): number | undefined {
    if (index === 0) return 0;
    if (index >= this.first && index < this.first + this.terms.length) return this.terms[index - this.first];
    if (index === this.snapshotIndex) return this.snapshotTerm;
    return undefined;
  }

  /** True if the entry's payload can be read from the store (not compacted away). */
  has(index: number): boolean {
    return index >= this.first && index < this.first + this.terms.length;
  }

  append(index: number, term: number): void {
    if (index !== this.lastIndex() + 1) {
      throw new Error(`log append out of order: ${index} after ${this.lastIndex()}`);
    }
    // Held entries that end before the snapshot (a restored snapshot left a hole) are dropped.
    if (this.terms.length === 0 || this.first + this.terms.length !== index) {
      this.terms = [];
      this.first = index;
    }
    this.terms.push(term);
  }

  /** Start-up: the terms of the stored entries from `first` on, in order (may begin below the snapshot). */
  load(first: number, terms: ArrayLike<number>): void {
    if (terms.length === 0) return;
    if (this.terms.length === 0) {
      // One copy: pushing 1M terms one at a time was 8% of a 1M-entry start-up's profile.
      this.first = first;
      this.terms = Array.from(terms);
      return;
    }
    if (first !== this.first + this.terms.length) {
      throw new Error(`log has a gap: entry ${first} follows ${this.first + this.terms.length - 1}`);
    }
    for (let i = 0; i < terms.length; i++) this.terms.push(terms[i]);
  }

  /** Removes entries from `index` on (conflict truncation). */
  truncateFrom(index: number): void {
    if (index <= this.snapshotIndex)
      throw new Error(`cannot truncate at ${index}: snapshot covers ${this.snapshotIndex}`);
    if (index < this.first) {
      this.terms = [];
      this.first = this.snapshotIndex + 1;
      return;
    }
    this.terms.length = Math.max(0, index - this.first);
  }

  /** Drops entries below `newFirst` (log compaction after a snapshot). */
  compactBefore(newFirst: number): void {
    if (newFirst <= this.first) return;
    const drop = Math.min(newFirst - this.first, this.terms.length);
    this.terms.splice(0, drop);
    this.first = newFirst;
  }

  /** Records a snapshot covering everything up to index; keeps the held entries. */
  setSnapshot(index: number, term: number): void {
    this.snapshotIndex = index;
    this.snapshotTerm = term;
    if (this.terms.length === 0) this.first = index + 1;
  }

  /**
   * Installs a snapshot received from a leader (Raft paper, InstallSnapshot receiver rules 6-7):
   * if we hold the snapshot's last entry with the same term, keep the entries after it;
   * otherwise discard the whole log. Returns whether the suffix was kept.
   */
  installSnapshot(index: number, term: number): boolean {
    const keep = this.term(index) === term && this.has(index);
    if (!keep) {
      this.terms = [];
      this.first = index + 1;
    }
    this.snapshotIndex = index;
    this.snapshotTerm = term;
    return keep;
  }

  /** Raft paper 5.4.1: is a log ending at (lastIndex, lastTerm) at least as up to date as ours? */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const ourTerm = this.lastTerm();
    return lastTerm > ourTerm || (lastTerm === ourTerm && lastIndex >= this.lastIndex());
  }

  /**
   * Back-off hint for a failed consistency check at (prevIndex, prevTerm): the largest index at or
   * below prevIndex whose term is <= prevTerm. No entry above it can match the leader's log, so the
   * leader may skip straight there (sent as hashicorp's LastLog, which Go leaders honour the same way).
   */
  conflictHint(prevIndex: number, prevTerm: number): number {
    let index = Math.min(prevIndex, this.lastIndex());
    while (index > this.snapshotIndex) {
      const term = this.term(index);
      if (term === undefined || term <= prevTerm) break;
      index--;
    }
    return index;
  }
}
