/**
 * Storage interfaces with hashicorp/raft's semantics.
 *
 * Durability contract: a promise returned by a write resolves only once the data is durable
 * (fsynced). The runtime issues the writes of one persistence step (deleteRange, storeLogs and
 * stable-store sets) in the same synchronous turn and awaits them together; stores that batch
 * per turn (WalStore, LmdbStore) therefore make them durable together ("group commit").
 */
import type { Readable } from 'node:stream';
import type { Configuration, LogEntry, SnapshotMeta } from '../core/types.js';

/**
 * hashicorp's LogStore: the replicated log, indexed from 1 with no gaps between firstIndex and
 * lastIndex. Every write resolves once durable. Implementations: WalStore (the default), LmdbStore,
 * InmemStore; `runStoreConformance` in `raftkit/testing` checks your own.
 */
export interface LogStore {
  /** First index written, 0 for an empty store. */
  firstIndex(): Promise<number>;
  /** Last index written, 0 for an empty store. */
  lastIndex(): Promise<number>;
  /** Rejects with ErrLogNotFound ("log not found") when the index is absent. */
  getLog(index: number): Promise<LogEntry>;
  /** Entries lo..hi inclusive; rejects with ErrLogNotFound if any is absent. */
  getLogs(lo: number, hi: number): Promise<LogEntry[]>;
  /** Stores one entry (replacing any at its index); resolves once durable. */
  storeLog(entry: LogEntry): Promise<void>;
  /** Stores entries in one atomic write; resolves once all are durable. */
  storeLogs(entries: readonly LogEntry[]): Promise<void>;
  /** Deletes min..max inclusive. */
  deleteRange(min: number, max: number): Promise<void>;
  /**
   * Optional: the terms and types of entries lo..hi inclusive, without their payloads, so that a
   * restart rebuilds Raft's term index without reading the log back (WalStore answers from
   * memory). Rejects with ErrLogNotFound if any is absent; lo > hi gives empty arrays. Call it
   * through `readEntryTerms`, which reads the entries of stores that lack it.
   */
  entryTerms?(lo: number, hi: number): Promise<EntryTerms>;
  /** Releases files and handles; the runtime calls it on shutdown. Later calls reject. */
  close?(): Promise<void>;
}

/** Terms and types of a run of log entries lo..hi. */
export interface EntryTerms {
  /** terms[i] is the term of entry lo + i. */
  readonly terms: Float64Array;
  /** types[i] is the LogType of entry lo + i (a restart reads the Configuration ones in full). */
  readonly types: Uint8Array;
}

/**
 * hashicorp's StableStore: small durable key-value state (current term, vote; see StableKeys).
 * Every write resolves once durable. One object may implement both LogStore and StableStore.
 */
export interface StableStore {
  /** Stores `value` under `key`; resolves once durable. */
  set(key: string, value: Uint8Array): Promise<void>;
  /** Rejects with ErrNotFound (text "not found") for a missing key. */
  get(key: string): Promise<Uint8Array>;
  /** Stores a non-negative safe integer (8 bytes big-endian on disk); resolves once durable. */
  setUint64(key: string, value: number): Promise<void>;
  /** Rejects with ErrNotFound (text "not found") for a missing key. */
  getUint64(key: string): Promise<number>;
  /** Releases files and handles; the runtime calls it on shutdown. Later calls reject. */
  close?(): Promise<void>;
}

/** The part of pino's interface the stores log through. */
export interface StoreLogger {
  /** Routine events: a snapshot created or reaped, a spare segment created after failures. */
  info(obj: object, msg?: string): void;
  /** Trouble the store worked around: descriptors ran out, crash leftovers removed, a failed reap. */
  warn(obj: object, msg?: string): void;
}

/** Keys the runtime keeps in the StableStore (the first three are hashicorp's). */
export const StableKeys = {
  /** The latest term this server has seen. */
  currentTerm: 'CurrentTerm',
  /** The term of the last vote granted. */
  lastVoteTerm: 'LastVoteTerm',
  /** The candidate voted for. hashicorp stores its address; raftkit stores `id\naddress`. */
  lastVoteCand: 'LastVoteCand',
  /** raftkit: the commit index, persisted before entries are applied (monotonic across restarts). */
  commitIndex: 'CommitIndex',
} as const;

/** Where the FSM writes a snapshot. Each write resolves when the bytes are accepted (backpressure). */
export interface SnapshotSink {
  /** The snapshot's ID in its store (hashicorp: `<term>-<index>-<ms>`). */
  readonly id: string;
  /** Appends bytes; resolves when the store accepted them. */
  write(chunk: Uint8Array): Promise<void>;
  /** Finishes the snapshot and makes it durable and visible. */
  close(): Promise<void>;
  /** Abandons the snapshot; nothing becomes visible. */
  cancel(): Promise<void>;
}

/**
 * hashicorp's SnapshotStore: where snapshots are written (create, then the sink) and read back
 * (list, open). Implementations: FileSnapshotStore, InmemSnapshotStore, DiscardSnapshotStore.
 */
export interface SnapshotStore {
  /** Starts a snapshot of the state up to `index` (of `term`), with the configuration in force there. */
  create(
    version: number,
    index: number,
    term: number,
    configuration: Configuration,
    configurationIndex: number,
  ): Promise<SnapshotSink>;
  /** Newest first. Unreadable entries are left out. */
  list(): Promise<SnapshotMeta[]>;
  /** Rejects with ErrSnapshotCorrupt when the data fails its checksum or size check. */
  open(id: string): Promise<OpenedSnapshot>;
  /** Optional: checks size and checksum up front (the runtime calls it before restoring). */
  verify?(id: string): Promise<void>;
}

/** A snapshot opened for reading: its metadata and a stream of its bytes. */
export interface OpenedSnapshot {
  /** What the snapshot covers (index, term, configuration, size). */
  meta: SnapshotMeta;
  /** The snapshot's bytes; destroy it to stop early. */
  reader: Readable;
}
