import type { Readable } from 'node:stream';
import type { Configuration, LogEntry } from '../core/types.js';
import type { SnapshotSink } from '../storage/types.js';

/**
 * The user's state machine (hashicorp's FSM). The runtime calls these strictly one at a time:
 * `apply` for every committed Command entry exactly once and in log order, `snapshot` at a point
 * between two applies, `restore` to replace the whole state.
 */
export interface FSM {
  /** The return value (or what the promise resolves to) becomes the response of `raft.apply`. */
  apply(log: LogEntry): unknown;
  /**
   * Capture the state at this point. Must be quick: `persist` on the returned object runs
   * concurrently with later applies, so capture an immutable view here.
   */
  snapshot(): FSMSnapshot | Promise<FSMSnapshot>;
  /** Replace the whole state with the snapshot read from `reader`. */
  restore(reader: Readable): Promise<void>;
}

/**
 * hashicorp's BatchingFSM: an FSM that applies runs of consecutive committed Command entries in one
 * call (the runtime hands it up to 256 at a time). The same rules as `apply` hold for each entry.
 */
export interface BatchingFSM extends FSM {
  /**
   * Applies `logs` in order and returns one response per entry, in the same order. A throw (or a
   * rejection, or a result of the wrong length) becomes the response of every entry of the batch.
   */
  applyBatch(logs: readonly LogEntry[]): unknown[] | Promise<unknown[]>;
}

/**
 * hashicorp's ConfigurationStore: an FSM that is told about every committed configuration entry,
 * in log order between the commands around it (a throw is ignored, as the entry has no caller).
 */
export interface ConfigurationStore extends FSM {
  /** The configuration entry at `index` is committed; `configuration` is the membership it holds. */
  storeConfiguration(index: number, configuration: Configuration): void | Promise<void>;
}

/** A point-in-time view of the FSM's state, returned by FSM.snapshot (hashicorp's FSMSnapshot). */
export interface FSMSnapshot {
  /** Write the snapshot to the sink and close it (or cancel it on error). */
  persist(sink: SnapshotSink): Promise<void>;
  /** Called once the snapshot is written (or abandoned): free what the view holds. */
  release(): void;
}
