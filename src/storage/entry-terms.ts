/**
 * `readEntryTerms`: the one way the runtime learns the terms (and types) of a run of log entries
 * at start-up. Stores that know them without reading the entries (WalStore keeps them in memory)
 * implement LogStore.entryTerms; for any other store this reads the entries in batches.
 */
import type { LogEntry } from '../core/types.js';
import type { EntryTerms, LogStore } from './types.js';

/** Entries read per getLogs call when a store has no entryTerms. */
const READ_BATCH = 1024;

/** Terms and types of lo..hi inclusive; rejects with ErrLogNotFound if any entry is absent. */
export async function readEntryTerms(store: LogStore, lo: number, hi: number): Promise<EntryTerms> {
  if (store.entryTerms) return store.entryTerms(lo, hi);
  const out = emptyEntryTerms(hi - lo + 1);
  for (let from = lo; from <= hi; from += READ_BATCH) {
    fillEntryTerms(out, lo, await store.getLogs(from, Math.min(hi, from + READ_BATCH - 1)));
  }
  return out;
}

/** Zeroed arrays for `count` entries (none when count < 1). */
export function emptyEntryTerms(count: number): EntryTerms {
  const length = Math.max(0, count);
  return { terms: new Float64Array(length), types: new Uint8Array(length) };
}

/** Writes the term and type of each of `entries` at its position relative to `lo`. */
export function fillEntryTerms(out: EntryTerms, lo: number, entries: readonly LogEntry[]): void {
  for (const entry of entries) {
    out.terms[entry.index - lo] = entry.term;
    out.types[entry.index - lo] = entry.type;
  }
}
