/**
 * In-memory LogStore and StableStore (hashicorp's InmemStore), for tests and the simulator.
 * Writes are "durable" when their promise resolves; the simulator wraps this store to delay and
 * lose writes.
 */
import { ErrLogNotFound, ErrNotFound } from '../core/errors.js';
import type { LogEntry } from '../core/types.js';
import { emptyEntryTerms, fillEntryTerms } from './entry-terms.js';
import type { EntryTerms, LogStore, StableStore } from './types.js';

/**
 * hashicorp's InmemStore: a LogStore and StableStore in memory. Nothing survives the process; for
 * tests and examples. `newInmemStore()` is the Go kit's name for `new InmemStore()`.
 */
export class InmemStore implements LogStore, StableStore {
  /** The entries by index (the simulator's disk model damages them at rest). */
  protected readonly logs = new Map<number, LogEntry>();
  private first = 0;
  private last = 0;
  private readonly kv = new Map<string, Uint8Array>();
  private readonly uints = new Map<string, number>();

  firstIndex(): Promise<number> {
    return Promise.resolve(this.first);
  }

  lastIndex(): Promise<number> {
    return Promise.resolve(this.last);
  }

  getLog(index: number): Promise<LogEntry> {
    const entry = this.logs.get(index);
    return entry ? Promise.resolve(entry) : Promise.reject(new ErrLogNotFound());
  }

  getLogs(lo: number, hi: number): Promise<LogEntry[]> {
    const out: LogEntry[] = [];
    for (let i = lo; i <= hi; i++) {
      const entry = this.logs.get(i);
      if (!entry) return Promise.reject(new ErrLogNotFound());
      out.push(entry);
    }
    return Promise.resolve(out);
  }

  async entryTerms(lo: number, hi: number): Promise<EntryTerms> {
    const out = emptyEntryTerms(hi - lo + 1);
    fillEntryTerms(out, lo, await this.getLogs(lo, hi));
    return out;
  }

  /** Synchronous core of storeLogs, shared with the simulator's disk model. */
  storeLogsSync(entries: readonly LogEntry[]): void {
    for (const entry of entries) {
      this.logs.set(entry.index, entry);
      if (this.first === 0 || entry.index < this.first) this.first = entry.index;
      if (entry.index > this.last) this.last = entry.index;
    }
  }

  storeLog(entry: LogEntry): Promise<void> {
    return this.storeLogs([entry]);
  }

  storeLogs(entries: readonly LogEntry[]): Promise<void> {
    this.storeLogsSync(entries);
    return Promise.resolve();
  }

  /** Synchronous core of deleteRange, shared with the simulator's disk model. */
  deleteRangeSync(min: number, max: number): void {
    for (let i = min; i <= max; i++) this.logs.delete(i);
    if (this.logs.size === 0) {
      this.first = 0;
      this.last = 0;
      return;
    }
    if (min <= this.first) this.first = max + 1;
    if (max >= this.last) this.last = min - 1;
  }

  deleteRange(min: number, max: number): Promise<void> {
    this.deleteRangeSync(min, max);
    return Promise.resolve();
  }

  set(key: string, value: Uint8Array): Promise<void> {
    this.kv.set(key, value);
    return Promise.resolve();
  }

  get(key: string): Promise<Uint8Array> {
    const value = this.kv.get(key);
    return value ? Promise.resolve(value) : Promise.reject(new ErrNotFound());
  }

  setUint64(key: string, value: number): Promise<void> {
    this.uints.set(key, value);
    return Promise.resolve();
  }

  getUint64(key: string): Promise<number> {
    const value = this.uints.get(key);
    return value === undefined ? Promise.reject(new ErrNotFound()) : Promise.resolve(value);
  }
}
