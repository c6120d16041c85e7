/**
 * Group commit: writes the core hands out while a write is in flight are merged into the next
 * one, so one fsync covers many appends. Each batch issues its store calls in one synchronous turn
 * (the WAL store makes that one group and one O_DSYNC write, the LMDB store one transaction) and
 * reports durability in seq order.
 */
import type { HardState, Write } from '../core/ready.js';
import { mark, tracing } from '../platform/trace.js';
import type { LogStore, StableStore } from '../storage/types.js';
import { writeHardState } from './hard-state.js';

export class StorageWriter {
  private queue: Write[] = [];
  private running = false;
  private failed: Error | null = null;

  constructor(
    private readonly logs: LogStore,
    private readonly stable: StableStore,
    /** Index of the last entry in the store (tracked so truncation knows what to delete). */
    private storeLastIndex: number,
    private readonly onDurable: (seq: number, hardState: HardState | null) => void,
    private readonly onError: (error: Error) => void,
  ) {}

  enqueue(write: Write): void {
    if (this.failed) return;
    this.queue.push(write);
    if (!this.running) void this.run();
  }

  /** Resolves when everything enqueued so far is durable (or failed). */
  async drain(): Promise<void> {
    while (this.running) await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  private waiters: (() => void)[] = [];

  private async run(): Promise<void> {
    this.running = true;
    try {
      while (this.queue.length > 0) {
        const batch = this.queue;
        this.queue = [];
        let hardState: HardState | null = null;
        const ops: Promise<void>[] = [];
        for (const write of batch) {
          if (write.truncateFrom !== null && this.storeLastIndex >= write.truncateFrom) {
            ops.push(this.logs.deleteRange(write.truncateFrom, this.storeLastIndex));
            this.storeLastIndex = write.truncateFrom - 1;
          }
          if (write.entries.length > 0) {
            // A stored log that ends before these entries is one a snapshot replaced (start-up
            // set it aside: startup.ts logStart). It goes first: a store refuses a gap.
            if (this.storeLastIndex > 0 && write.entries[0].index > this.storeLastIndex + 1) {
              ops.push(this.logs.deleteRange(1, this.storeLastIndex));
            }
            ops.push(this.logs.storeLogs(write.entries));
            this.storeLastIndex = write.entries[write.entries.length - 1].index;
          }
          if (write.hardState) hardState = write.hardState;
        }
        if (hardState) ops.push(...writeHardState(this.stable, hardState));
        const traced = tracing ? this.storeLastIndex : 0;
        if (traced) mark('write.issued', traced);
        await Promise.all(ops);
        if (traced) mark('write.durable', traced);
        this.onDurable(batch[batch.length - 1].seq, hardState);
      }
    } catch (error) {
      this.failed = error as Error;
      this.onError(error as Error);
    } finally {
      this.running = false;
      for (const waiter of this.waiters.splice(0)) waiter();
    }
  }
}
