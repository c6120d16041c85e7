/** The shapes of the runtime's public API: what Raft.create takes, what waits take and return. */
import type { Clock, Random } from '../core/clock.js';
import type { CoreFaults } from '../core/inputs.js';
import type { Configuration, ServerAddress, ServerId } from '../core/types.js';
import type { LogStore, SnapshotStore, StableStore } from '../storage/types.js';
import type { Transport } from '../transport/types.js';
import type { Config } from './config.js';
import type { FSM } from './fsm.js';
import type { MetricsSink } from './metrics.js';

/** What `Raft.create` takes (hashicorp's NewRaft arguments). */
export interface RaftOptions {
  /** The configuration; validated (ErrInvalidConfig) and copied. */
  config: Config;
  /** The user's state machine. */
  fsm: FSM;
  /** Where log entries are stored (the WAL, LMDB, or in memory). */
  logStore: LogStore;
  /** Where the term, vote and commit index are stored (usually the log store itself). */
  stableStore: StableStore;
  /** Where snapshots are stored. */
  snapshotStore: SnapshotStore;
  /** How this server talks to the others (NetworkTransport over TCP/TLS, or InmemTransport). */
  transport: Transport;
  /** Time (default: the system clock). Pass a virtual clock to run deterministically. */
  clock?: Clock;
  /** Chance for election timeouts (default: Math.random). Pass a seeded one to replay. */
  random?: Random;
  /** Where the runtime reports hashicorp/raft's metrics (none when absent); see `prometheusMetrics`. */
  metrics?: MetricsSink;
  /** Test-only deliberate bugs (see CoreFaults). */
  faults?: CoreFaults;
}

/**
 * How long a wait may take: every wait of the API (apply, barrier, readIndex, verifyLeader,
 * waitApplied, membership changes) takes these. Checked before anything starts (a TypeError or
 * RangeError when malformed).
 */
export interface ApplyOptions {
  /** Milliseconds to wait for the operation to complete: an integer from 0 (no limit, the default) to 2^31-1. */
  timeout?: number;
  /** Ends the wait with ErrAborted; one already aborted refuses the call before anything starts. */
  signal?: AbortSignal;
}

/**
 * The timeout of a membership change: a number of ms (hashicorp's form) or `{ timeout, signal }`;
 * 0 or absent means no limit.
 */
export type ChangeTimeout = number | ApplyOptions;

/** The options of a read (readIndex, linearizableRead). */
export interface ReadOptions extends ApplyOptions {
  /**
   * Serve from the leader's lease when it holds one (no heartbeat round). Linearizable only under
   * the clock assumption stated at Config.maxClockDrift; followers still ask the leader.
   */
  lease?: boolean;
}

/** What a successful apply resolves with. */
export interface ApplyResult {
  /** The entry's log index. */
  index: number;
  /** What the FSM's apply returned for this entry. */
  response: unknown;
}

/** The leader as one server knows it (hashicorp's LeaderWithID). */
export interface LeaderInfo {
  /** Its ID ('' only while a leader that sends no ID is not yet in the known configuration). */
  id: ServerId;
  /** Its transport address. */
  address: ServerAddress;
}

/** How the leader's replication to one peer stands (`raft.replication()`). */
export interface ReplicationState {
  /** The peer's ID. */
  id: ServerId;
  /** The highest index known to be on the peer. */
  matchIndex: number;
  /** The next index to send it. */
  nextIndex: number;
  /** When it last answered (the runtime's monotonic clock, ms). */
  lastContact: number;
}

/** A configuration and the index of the log entry that holds it. */
export interface IndexedConfiguration {
  /** The membership. */
  configuration: Configuration;
  /** The index of its configuration entry (0 for none). */
  index: number;
}
