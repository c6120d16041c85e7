/**
 * Recent log entries kept in memory (hashicorp's LogCache): replication and applying read fresh
 * entries from here instead of the store, and a leader can send entries before its own write is
 * durable (they are in the cache from the moment the core hands them out).
 */
import type { LogEntry } from '../core/types.js';
import type { LogStore } from '../storage/types.js';

/**
 * A ring of `capacity` slots: entry i lives in slot i % capacity, so adding one is a store (no
 * hash map insert and delete per entry), and a slot whose entry has another index is a miss.
 */
export class EntryCache {
  private readonly slots: (LogEntry | undefined)[];
  /** The highest index added since the last truncation; 0 when none. */
  private highest = 0;

  constructor(private readonly capacity: number) {
    this.slots = new Array<LogEntry | undefined>(capacity).fill(undefined);
  }

  add(entries: readonly LogEntry[]): void {
    const { slots, capacity } = this;
    for (const entry of entries) {
      slots[entry.index % capacity] = entry;
      if (entry.index > this.highest) this.highest = entry.index;
    }
  }

  /** Drops entries from index on (conflict truncation). */
  truncateFrom(index: number): void {
    if (index > this.highest) return;
    const { slots, capacity } = this;
    if (this.highest - index < capacity) {
      for (let at = index; at <= this.highest; at++)
        if (slots[at % capacity]?.index === at) slots[at % capacity] = undefined;
    } else {
      for (let slot = 0; slot < capacity; slot++)
        if ((slots[slot]?.index ?? 0) >= index) slots[slot] = undefined;
    }
    this.highest = index - 1;
  }

  private get(index: number): LogEntry | undefined {
    const entry = this.slots[index % this.capacity];
    return entry !== undefined && entry.index === index ? entry : undefined;
  }

  /** Entries lo..hi (inclusive) when all are cached, else null: no store read, no await. */
  peek(lo: number, hi: number): LogEntry[] | null {
    if (hi < lo || hi - lo >= this.capacity) return null;
    const out: LogEntry[] = [];
    for (let index = lo; index <= hi; index++) {
      const entry = this.get(index);
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
      const entry = this.get(index);
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
