/**
 * Keeping every AppendEntries below the frame limit its receiver enforces (the transport's
 * `maxFrameBytes`, 32 MiB by default): the core picks a batch by count, and the runtime cuts a batch
 * whose entries are too large together into runs that each fit, sent one after another. A single
 * entry that could never fit is refused by `apply()` before anything is written.
 */
import { ErrTooLarge } from '../core/errors.js';
import type { LogEntry } from '../core/types.js';
import { APPEND_ENTRIES_FRAME_OVERHEAD } from '../wire/bounds.js';
import { logWireBound } from '../wire/log.js';

/** The bytes of entries one AppendEntries frame of `maxFrameBytes` can carry. */
export function entriesBudget(maxFrameBytes: number): number {
  return maxFrameBytes - APPEND_ENTRIES_FRAME_OVERHEAD;
}

/** Consecutive runs of `entries`, each within `budget` wire bytes (or a single entry). */
export function splitByBytes(entries: readonly LogEntry[], budget: number): LogEntry[][] {
  const runs: LogEntry[][] = [];
  let run: LogEntry[] = [];
  let bytes = 0;
  for (const entry of entries) {
    const size = logWireBound(entry);
    if (run.length > 0 && bytes + size > budget) {
      runs.push(run);
      run = [];
      bytes = 0;
    }
    run.push(entry);
    bytes += size;
  }
  if (run.length > 0) runs.push(run);
  return runs;
}

/** Refuses an entry that could never be replicated: alone it would exceed the frame limit. */
export function requireEntryFits(
  entry: Pick<LogEntry, 'data' | 'extensions'>,
  maxFrameBytes: number | undefined,
): void {
  if (maxFrameBytes === undefined) return;
  const budget = entriesBudget(maxFrameBytes);
  const size = logWireBound(entry);
  if (size > budget)
    throw new ErrTooLarge(
      `log entry of ${entry.data.length + entry.extensions.length} bytes cannot be replicated: with its ` +
        `framing it needs ${size} bytes of the ${budget} an AppendEntries of maxFrameBytes ` +
        `${maxFrameBytes} can carry`,
    );
}
