/**
 * Recent log entries kept in memory (hashicorp's LogCache): replication and applying read fresh
 * entries from here instead of the store, and a leader can send entries before its own write is
 * durable (they are in the cache from the moment the core hands them out).
 */
import type { LogEntry } from '../core/types.js';
import type { LogStore } from '../storage/types.js';

export class EntryCache {
  private readonly entries = new Map<number, LogEntry>();
  private lowest = Infinity;

  constructor(private readonly capacity: number) {}

  add(entries: readonly LogEntry[]): void {
    for (const entry of entries) {
      this.entries.set(entry.index, entry);
      if (entry.index < this.lowest) this.lowest = entry.index;
    }
    while (this.entries.size > this.capacity) {
      this.entries.delete(this.lowest);
      this.lowest++;
    }
  }

  /** Drops entries from index on (conflict truncation). */
  truncateFrom(index: number): void {
    for (const key of this.entries.keys()) if (key >= index) this.entries.delete(key);
    if (this.entries.size === 0) this.lowest = Infinity;
  }

  /** Entries lo..hi (inclusive) when all are cached, else null: no store read, no await. */
  peek(lo: number, hi: number): LogEntry[] | null {
    if (hi < lo || lo < this.lowest) return null;
    const out: LogEntry[] = [];
    for (let index = lo; index <= hi; index++) {
      const entry = this.entries.get(index);
      if (!entry) return null;
      out.push(entry);
    }
    return out;
  }

  /** Entries lo..hi (inclusive), from the cache where possible and the store for the rest. */
  async read(store: LogStore, lo: number, hi: number): Promise<LogEntry[]> {
    if (hi < lo) return [];
    const out: LogEntry[] = [];
    let missingFrom = -1;
    for (let index = hi; index >= lo; index--) {
      const entry = this.entries.get(index);
      if (!entry) {
        missingFrom = index;
        break;
      }
      out.push(entry);
    }
    out.reverse();
    if (missingFrom < 0) return out;
    const fromStore = await store.getLogs(lo, missingFrom);
    return fromStore.concat(out);
  }
}
