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

export interface LogStore {
  /** First index written, 0 for an empty store. */
  firstIndex(): Promise<number>;
  /** Last index written, 0 for an empty store. */
  lastIndex(): Promise<number>;
  /** Rejects with ErrLogNotFound ("log not found") when the index is absent. */
  getLog(index: number): Promise<LogEntry>;
  /** Entries lo..hi inclusive; rejects with ErrLogNotFound if any is absent. */
  getLogs(lo: number, hi: number): Promise<LogEntry[]>;
  storeLog(entry: LogEntry): Promise<void>;
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
  close?(): Promise<void>;
}

/** Terms and types of a run of log entries lo..hi. */
export interface EntryTerms {
  /** terms[i] is the term of entry lo + i. */
  readonly terms: Float64Array;
  /** types[i] is the LogType of entry lo + i (a restart reads the Configuration ones in full). */
  readonly types: Uint8Array;
}

export interface StableStore {
  set(key: string, value: Uint8Array): Promise<void>;
  /** Rejects with ErrNotFound (text "not found") for a missing key. */
  get(key: string): Promise<Uint8Array>;
  setUint64(key: string, value: number): Promise<void>;
  /** Rejects with ErrNotFound (text "not found") for a missing key. */
  getUint64(key: string): Promise<number>;
  close?(): Promise<void>;
}

/** The part of pino's interface the stores log through. */
export interface StoreLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

/** Keys the runtime keeps in the StableStore (the first three are hashicorp's). */
export const StableKeys = {
  currentTerm: 'CurrentTerm',
  lastVoteTerm: 'LastVoteTerm',
  /** The candidate voted for. hashicorp stores its address; raftkit stores `id\naddress`. */
  lastVoteCand: 'LastVoteCand',
  /** raftkit: the commit index, persisted before entries are applied (monotonic across restarts). */
  commitIndex: 'CommitIndex',
} as const;

/** Where the FSM writes a snapshot. Each write resolves when the bytes are accepted (backpressure). */
export interface SnapshotSink {
  readonly id: string;
  write(chunk: Uint8Array): Promise<void>;
  /** Finishes the snapshot and makes it durable and visible. */
  close(): Promise<void>;
  /** Abandons the snapshot; nothing becomes visible. */
  cancel(): Promise<void>;
}

export interface SnapshotStore {
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
  open(id: string): Promise<{ meta: SnapshotMeta; reader: Readable }>;
  /** Optional: checks size and checksum up front (the runtime calls it before restoring). */
  verify?(id: string): Promise<void>;
}
