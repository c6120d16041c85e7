/** What the runtime gives the core: its options, what storage held at start, and its inputs. */
import type { Random } from './clock.js';
import type { HardState } from './ready.js';
import type { Configuration, LogType, RaftRequest } from './types.js';

export interface ConfigurationCodec {
  encode(configuration: Configuration): Uint8Array;
  decode(data: Uint8Array): Configuration;
}

/**
 * Deliberate bugs, switched on only by tests, to prove the simulator catches them.
 * Never set outside tests.
 */
export interface CoreFaults {
  /** Commit by counting replicas of entries from earlier terms (Raft paper figure 8). */
  commitPreviousTermEntries?: boolean;
  /** Grant votes without persisting them first. */
  voteWithoutPersist?: boolean;
  /** Grant votes without the log up-to-date check (paper 5.4.1). */
  skipUpToDateCheck?: boolean;
  /** Answer read-index requests without confirming leadership with a heartbeat round. */
  readWithoutConfirm?: boolean;
  /** Follower: commit up to the leader's commit index capped by our last index, not the last entry this request proved (hashicorp's follower rule). */
  followerCommitToLastIndex?: boolean;
  /** Follower: accept AppendEntries without the prevLogIndex/prevLogTerm consistency check. */
  skipPrevLogCheck?: boolean;
  /** Follower: on a conflicting entry keep our own instead of truncating the suffix. */
  keepConflictingSuffix?: boolean;
  /** Grant a second vote in a term to another candidate. */
  voteTwice?: boolean;
  /** Win an election with one vote fewer than a majority. */
  electWithoutQuorum?: boolean;
  /** A new leader drops its uncommitted tail (breaks leader append-only). */
  truncateOnElection?: boolean;
  /** Follower: acknowledge appended entries before they are durable. */
  ackBeforePersist?: boolean;
  /** Leader: count its own copy of an entry toward the commit quorum before it is durable. */
  leaderCountsUnpersisted?: boolean;
  /**
   * Follower: after installing a snapshot that does not match our log, keep the entries past the
   * snapshot's index (in memory and in storage) instead of discarding the whole log.
   */
  snapshotKeepsStaleLog?: boolean;
  /** Lease measured from when an acknowledgement arrived, with no clock-drift margin. */
  leaseWithoutDriftMargin?: boolean;
  /** Serve lease reads during a leadership transfer (the target may already lead). */
  leaseDuringTransfer?: boolean;
  /** Start a membership change while another is uncommitted. */
  concurrentConfigChanges?: boolean;
  /** Runtime: a follower's read-index read does not wait until its FSM applied the read index. */
  followerReadWithoutApply?: boolean;
  /**
   * Not a bug: lead as another conforming implementation does, so followers are tested against
   * every legal leader. `hashicorp` sends its whole commit index in every AppendEntries and
   * heartbeat; `etcd` sends it whole in appends and min(commit, match) in heartbeats.
   */
  emulateLeader?: 'hashicorp' | 'etcd';
  /**
   * Never go below a peer's match index, even when it answers that it lost entries it had
   * acknowledged (hashicorp's and etcd's rule: such a replica then stalls for good).
   */
  keepMatchIndex?: boolean;
  /** Vote and campaign as usual while this server's log lacks committed entries its disk lost. */
  voteWithLostEntries?: boolean;
  /**
   * Take a peer's LeaderCommitIndex without its bounds check (the one field a decoder forgot):
   * a hostile or broken peer's NaN or 2^53 then reaches the commit rule.
   */
  uncheckedLeaderCommit?: boolean;
}

export interface CoreOptions {
  id: string;
  address: string;
  heartbeatTimeout: number;
  electionTimeout: number;
  commitTimeout: number;
  leaderLeaseTimeout: number;
  maxAppendEntries: number;
  maxInflightAppends: number;
  preVote: boolean;
  /** Lease reads: the largest rate at which another server's clock may run faster than ours (0.1 = 10%). */
  maxClockDrift: number;
  /** How long addVoter's new server may take to catch up as a non-voter before the change fails. */
  catchUpTimeout: number;
  random: Random;
  codec: ConfigurationCodec;
  faults?: CoreFaults;
}

/** What the runtime loaded from storage at start. */
export interface CoreStartState {
  now: number;
  hardState: HardState;
  snapshot: { index: number; term: number; configuration: Configuration; configurationIndex: number } | null;
}

/** An entry the application proposes; the core assigns index and term. */
export interface Proposal {
  type: LogType;
  data: Uint8Array;
  extensions: Uint8Array;
  appendedAt: number;
}

export interface IncomingRequest {
  rpcId: number;
  request: RaftRequest;
}

/**
 * Why a request we sent got no response: a timeout or connection error; the peer closed the
 * connection on the request type (hashicorp peers before 1.7 do that on RequestPreVote); or the
 * entries were compacted away before they could be read for sending.
 */
export type FailureReason = 'error' | 'unsupported' | 'logNotFound';
