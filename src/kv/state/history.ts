/**
 * The watch history: every change of the last N revisions (and at most B bytes of them), oldest
 * first, so that a watch can start from a past revision and resume after a reconnect. It is part
 * of the replicated state (snapshots carry it) and trimmed deterministically, so every replica
 * that applied the same log holds the same history.
 */

/** One change to one key, as a watch sends it. */
export interface WatchEvent {
  readonly revision: number;
  readonly op: 'put' | 'delete';
  readonly key: string;
  /** The new value; null for a delete. */
  readonly value: Buffer | null;
}

export interface HistoryLimits {
  /** Keep the changes of at least this many revisions (unless the byte bound is hit first). */
  maxRevisions: number;
  /** Keep at most about this many bytes of keys and values (whole revisions are dropped). */
  maxBytes: number;
}

/** Per-event bookkeeping added to the key and value sizes. */
const EVENT_OVERHEAD_BYTES = 64;

export function eventBytes(event: WatchEvent): number {
  return event.key.length + (event.value?.length ?? 0) + EVENT_OVERHEAD_BYTES;
}

export class WatchHistory {
  private events: WatchEvent[] = [];
  /** Index of the oldest retained event in `events` (dropping from the front is amortized). */
  private head = 0;
  private bytes = 0;
  /**
   * Changes with revisions up to here may be missing: a watch must start at or after it.
   * 0 means the history is complete from the first command.
   */
  compactRevision = 0;

  constructor(readonly limits: HistoryLimits) {}

  get length(): number {
    return this.events.length - this.head;
  }

  get retainedBytes(): number {
    return this.bytes;
  }

  /** The i-th retained event, oldest first. */
  at(i: number): WatchEvent {
    return this.events[this.head + i];
  }

  /** Adds events (revisions never go back) without trimming: see trim. */
  push(event: WatchEvent): void {
    this.events.push(event);
    this.bytes += eventBytes(event);
  }

  /** Drops what the limits no longer cover, now that `storeRevision` is the latest revision. */
  trim(storeRevision: number): void {
    const floor = storeRevision - this.limits.maxRevisions;
    if (floor > this.compactRevision) this.compactRevision = floor;
    while (this.length > 0 && this.at(0).revision <= this.compactRevision) this.dropOldest();
    while (this.bytes > this.limits.maxBytes && this.length > 0) {
      const revision = this.at(0).revision;
      while (this.length > 0 && this.at(0).revision === revision) this.dropOldest();
      this.compactRevision = revision;
    }
    if (this.head > 1024 && this.head * 2 > this.events.length) {
      this.events = this.events.slice(this.head);
      this.head = 0;
    }
  }

  /** Index of the first retained event with a revision greater than `revision`. */
  indexAfter(revision: number): number {
    let lo = 0;
    let hi = this.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.at(mid).revision <= revision) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** A copy of the retained events (for snapshots; the events themselves are immutable). */
  toArray(): WatchEvent[] {
    return this.events.slice(this.head);
  }

  private dropOldest(): void {
    this.bytes -= eventBytes(this.events[this.head]);
    this.events[this.head] = undefined as unknown as WatchEvent; // let it be collected
    this.head++;
  }
}
