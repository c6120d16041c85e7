/**
 * The vocabulary of raftkit: servers, configurations, log entries and the RPC messages of
 * hashicorp/raft's protocol, in TypeScript shape. The wire layer (src/wire) maps these to the
 * exact Go structs; everything above the core speaks these types.
 *
 * Terms and indexes are plain numbers (safe integers); the codec refuses anything larger.
 */

/** A server's unique, stable ID (hashicorp's ServerID). */
export type ServerId = string;
/** A server's transport address (hashicorp's ServerAddress): host:port for the network transports. */
export type ServerAddress = string;

/** hashicorp's ServerSuffrage values (they travel on the wire as integers). */
export enum ServerSuffrage {
  /** Votes in elections and counts towards the commit quorum. */
  Voter = 0,
  /** Receives the log but neither votes nor counts towards any quorum (a read replica, or a server catching up). */
  Nonvoter = 1,
  /** Unused by hashicorp since AddVoter adds voters directly; accepted on input, never produced. */
  Staging = 2,
}

/** One member of a configuration (hashicorp's Server). */
export interface Server {
  /** Whether it votes. */
  suffrage: ServerSuffrage;
  /** Its unique, stable ID (Config.localId on that server). */
  id: ServerId;
  /** Where its transport listens (host:port for the network transports). */
  address: ServerAddress;
}

/** The cluster's membership (hashicorp's Configuration): one entry per server, IDs and addresses unique. */
export interface Configuration {
  /** The members, in the order they were added. */
  servers: Server[];
}

/** A server as the sender of a message: ID (may be '' from hashicorp peers older than 1.3.7) and address. */
export interface Peer {
  /** The server's ID ('' when the sender did not say). */
  id: ServerId;
  /** The server's transport address. */
  address: ServerAddress;
}

/** hashicorp's LogType values. */
export enum LogType {
  /** The application's command: applied to the FSM. */
  Command = 0,
  /** Appended by each new leader to commit the entries of earlier terms; never reaches the FSM. */
  Noop = 1,
  /** Protocol 0-1 membership entry: never produced; skipped on input. */
  AddPeerDeprecated = 2,
  /** Protocol 0-1 membership entry: never produced; skipped on input. */
  RemovePeerDeprecated = 3,
  /** `raft.barrier()`: resolves once everything before it is applied; never reaches the FSM. */
  Barrier = 4,
  /** A membership change; its data is the encoded Configuration (ConfigurationStore FSMs see it). */
  Configuration = 5,
}

/** One log entry (hashicorp's Log). */
export interface LogEntry {
  /** Its position in the log (1-based, gapless). */
  index: number;
  /** The term of the leader that appended it. */
  term: number;
  /** What it carries. */
  type: LogType;
  /** The payload. An empty array stands for Go's nil slice on the wire. */
  data: Uint8Array;
  /** Opaque to Raft (hashicorp's Log.Extensions). Empty stands for nil. */
  extensions: Uint8Array;
  /** When the leader appended the entry, in ms since the Unix epoch; 0 is Go's zero time. */
  appendedAt: number;
}

/** A server's role (hashicorp's RaftState). */
export enum RaftState {
  /** Follows a leader (or waits for one). */
  Follower = 0,
  /** Campaigning for leadership. */
  Candidate = 1,
  /** Takes writes and replicates them. */
  Leader = 2,
  /** Stopped: `shutdown()` ran, or the node stopped itself after a failure. */
  Shutdown = 3,
}

/** hashicorp's names of the RaftState values, indexed by value (`RAFT_STATE_NAMES[RaftState.Leader]`). */
export const RAFT_STATE_NAMES = ['Follower', 'Candidate', 'Leader', 'Shutdown'] as const;

// ---------------------------------------------------------------------------------------------
// RPCs. Requests carry the sender; responses do not need to (the requester knows whom it asked).

/** Replicates entries (or, empty, is a heartbeat). */
export interface AppendEntriesRequest {
  /** The RPC's type tag. */
  kind: 'appendEntries';
  /** The leader's term. */
  term: number;
  /** The leader (its ID is '' from hashicorp peers before 1.3.7: resolved by address). */
  leader: Peer;
  /** The index of the entry just before `entries`. */
  prevLogIndex: number;
  /** That entry's term (the consistency check). */
  prevLogTerm: number;
  /** New entries, consecutive from prevLogIndex + 1. */
  entries: LogEntry[];
  /** The leader's commit index. */
  leaderCommitIndex: number;
}

/** The follower's answer to AppendEntries. */
export interface AppendEntriesResponse {
  /** The follower's term (a higher one makes the leader step down). */
  term: number;
  /** The follower's hint of where the leader should continue from (hashicorp's LastLog). */
  lastLog: number;
  /** The entries matched and were appended. */
  success: boolean;
  /** A log mismatch (not a failure): the leader retries at once, without back-off. */
  noRetryBackoff: boolean;
}

/** A candidate asks for a vote. */
export interface RequestVoteRequest {
  /** The RPC's type tag. */
  kind: 'requestVote';
  /** The candidate's term. */
  term: number;
  /** The candidate. */
  candidate: Peer;
  /** The index of the candidate's last entry (the up-to-date check). */
  lastLogIndex: number;
  /** The term of the candidate's last entry. */
  lastLogTerm: number;
  /** Sent after TimeoutNow: voters grant it even while they know a leader. */
  leadershipTransfer: boolean;
}

/** The answer to RequestVote. */
export interface RequestVoteResponse {
  /** The voter's term. */
  term: number;
  /** The vote was granted. */
  granted: boolean;
}

/** Would you vote for me? (Raft thesis 9.6; hashicorp 1.7+.) Changes no state on the receiver. */
export interface RequestPreVoteRequest {
  /** The RPC's type tag. */
  kind: 'requestPreVote';
  /** The term the candidate would campaign in (its current term + 1). */
  term: number;
  /** The would-be candidate. */
  candidate: Peer;
  /** The index of its last entry. */
  lastLogIndex: number;
  /** The term of its last entry. */
  lastLogTerm: number;
}

/** The answer to RequestPreVote. */
export interface RequestPreVoteResponse {
  /** The receiver's term. */
  term: number;
  /** It would vote. */
  granted: boolean;
}

/** The leader sends a snapshot to a follower that is too far behind its log. */
export interface InstallSnapshotRequest {
  /** The RPC's type tag. */
  kind: 'installSnapshot';
  /** The snapshot format version (0 or 1). */
  snapshotVersion: number;
  /** The leader's term. */
  term: number;
  /** The leader. */
  leader: Peer;
  /** The last index the snapshot covers. */
  lastLogIndex: number;
  /** The term of that entry. */
  lastLogTerm: number;
  /** The membership as of the snapshot. */
  configuration: Configuration;
  /** The index of that membership's configuration entry. */
  configurationIndex: number;
  /** Exactly this many snapshot bytes follow the request. */
  size: number;
}

/** The answer to InstallSnapshot. */
export interface InstallSnapshotResponse {
  /** The follower's term. */
  term: number;
  /** The snapshot was stored and restored. */
  success: boolean;
}

/** Leadership transfer: the leader tells the chosen follower to campaign now. */
export interface TimeoutNowRequest {
  /** The RPC's type tag. */
  kind: 'timeoutNow';
  /** The leader's term. */
  term: number;
  /** The leader. */
  from: Peer;
}

/** The answer to TimeoutNow (empty: the campaign is the answer). */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface TimeoutNowResponse {}

/**
 * raftkit extension (not in hashicorp's protocol): a follower asks the leader for a read index
 * (Raft thesis 6.4). Only sent to raftkit leaders; a Go leader closes the connection on the
 * unknown type, which the follower reports as "leader does not support read index".
 */
export interface ReadIndexRequest {
  /** The RPC's type tag. */
  kind: 'readIndex';
  /** The follower's term. */
  term: number;
  /** The follower. */
  from: Peer;
}

/** The leader's answer to ReadIndex. */
export interface ReadIndexResponse {
  /** The receiver's term. */
  term: number;
  /** 0 with success=false when the receiver is not a leader that could confirm itself. */
  readIndex: number;
  /** The leader confirmed itself with a quorum. */
  success: boolean;
}

/** Every RPC request of the protocol, told apart by `kind`. */
export type RaftRequest =
  | AppendEntriesRequest
  | RequestVoteRequest
  | RequestPreVoteRequest
  | InstallSnapshotRequest
  | TimeoutNowRequest
  | ReadIndexRequest;

/** The response type of each request kind. */
export interface ResponseMap {
  /** Answers AppendEntriesRequest. */
  appendEntries: AppendEntriesResponse;
  /** Answers RequestVoteRequest. */
  requestVote: RequestVoteResponse;
  /** Answers RequestPreVoteRequest. */
  requestPreVote: RequestPreVoteResponse;
  /** Answers InstallSnapshotRequest. */
  installSnapshot: InstallSnapshotResponse;
  /** Answers TimeoutNowRequest. */
  timeoutNow: TimeoutNowResponse;
  /** Answers ReadIndexRequest. */
  readIndex: ReadIndexResponse;
}

/** The response type of request type R. */
export type ResponseFor<R extends RaftRequest> = ResponseMap[R['kind']];
/** Any RPC response. */
export type RaftResponse = ResponseMap[keyof ResponseMap];

/** Metadata of a snapshot (hashicorp's SnapshotMeta). */
export interface SnapshotMeta {
  /** The snapshot format version (1). */
  version: number;
  /** The store's ID of the snapshot (hashicorp's `term-index-millis`). */
  id: string;
  /** The last log index the snapshot covers. */
  index: number;
  /** The term of that entry. */
  term: number;
  /** The membership as of the snapshot. */
  configuration: Configuration;
  /** The index of that membership's configuration entry. */
  configurationIndex: number;
  /** Size of the snapshot data in bytes. */
  size: number;
}
