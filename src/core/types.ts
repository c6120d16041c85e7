/**
 * The vocabulary of raftkit: servers, configurations, log entries and the RPC messages of
 * hashicorp/raft's protocol, in TypeScript shape. The wire layer (src/wire) maps these to the
 * exact Go structs; everything above the core speaks these types.
 *
 * Terms and indexes are plain numbers (safe integers); the codec refuses anything larger.
 */

export type ServerId = string;
export type ServerAddress = string;

/** hashicorp's ServerSuffrage values (they travel on the wire as integers). */
export enum ServerSuffrage {
  Voter = 0,
  Nonvoter = 1,
  /** Unused by hashicorp since AddVoter adds voters directly; accepted on input, never produced. */
  Staging = 2,
}

export interface Server {
  suffrage: ServerSuffrage;
  id: ServerId;
  address: ServerAddress;
}

export interface Configuration {
  servers: Server[];
}

/** A server as the sender of a message: ID (may be '' from hashicorp peers older than 1.3.7) and address. */
export interface Peer {
  id: ServerId;
  address: ServerAddress;
}

/** hashicorp's LogType values. */
export enum LogType {
  Command = 0,
  Noop = 1,
  AddPeerDeprecated = 2,
  RemovePeerDeprecated = 3,
  Barrier = 4,
  Configuration = 5,
}

export interface LogEntry {
  index: number;
  term: number;
  type: LogType;
  /** The payload. An empty array stands for Go's nil slice on the wire. */
  data: Uint8Array;
  /** Opaque to Raft (hashicorp's Log.Extensions). Empty stands for nil. */
  extensions: Uint8Array;
  /** When the leader appended the entry, in ms since the Unix epoch; 0 is Go's zero time. */
  appendedAt: number;
}

export enum RaftState {
  Follower = 0,
  Candidate = 1,
  Leader = 2,
  Shutdown = 3,
}

export const RAFT_STATE_NAMES = ['Follower', 'Candidate', 'Leader', 'Shutdown'] as const;

// ---------------------------------------------------------------------------------------------
// RPCs. Requests carry the sender; responses do not need to (the requester knows whom it asked).

export interface AppendEntriesRequest {
  kind: 'appendEntries';
  term: number;
  leader: Peer;
  prevLogIndex: number;
  prevLogTerm: number;
  entries: LogEntry[];
  leaderCommitIndex: number;
}

export interface AppendEntriesResponse {
  term: number;
  /** The follower's hint of where the leader should continue from (hashicorp's LastLog). */
  lastLog: number;
  success: boolean;
  noRetryBackoff: boolean;
}

export interface RequestVoteRequest {
  kind: 'requestVote';
  term: number;
  candidate: Peer;
  lastLogIndex: number;
  lastLogTerm: number;
  leadershipTransfer: boolean;
}

export interface RequestVoteResponse {
  term: number;
  granted: boolean;
}

export interface RequestPreVoteRequest {
  kind: 'requestPreVote';
  /** The term the candidate would campaign in (its current term + 1). */
  term: number;
  candidate: Peer;
  lastLogIndex: number;
  lastLogTerm: number;
}

export interface RequestPreVoteResponse {
  term: number;
  granted: boolean;
}

export interface InstallSnapshotRequest {
  kind: 'installSnapshot';
  snapshotVersion: number;
  term: number;
  leader: Peer;
  lastLogIndex: number;
  lastLogTerm: number;
  configuration: Configuration;
  configurationIndex: number;
  /** Exactly this many snapshot bytes follow the request. */
  size: number;
}

export interface InstallSnapshotResponse {
  term: number;
  success: boolean;
}

export interface TimeoutNowRequest {
  kind: 'timeoutNow';
  term: number;
  from: Peer;
}

// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface TimeoutNowResponse {}

/**
 * raftkit extension (not in hashicorp's protocol): a follower asks the leader for a read index
 * (Raft thesis 6.4). Only sent to raftkit leaders; a Go leader closes the connection on the
 * unknown type, which the follower reports as "leader does not support read index".
 */
export interface ReadIndexRequest {
  kind: 'readIndex';
  term: number;
  from: Peer;
}

export interface ReadIndexResponse {
  term: number;
  /** 0 with success=false when the receiver is not a leader that could confirm itself. */
  readIndex: number;
  success: boolean;
}

export type RaftRequest =
  | AppendEntriesRequest
  | RequestVoteRequest
  | RequestPreVoteRequest
  | InstallSnapshotRequest
  | TimeoutNowRequest
  | ReadIndexRequest;

export interface ResponseMap {
  appendEntries: AppendEntriesResponse;
  requestVote: RequestVoteResponse;
  requestPreVote: RequestPreVoteResponse;
  installSnapshot: InstallSnapshotResponse;
  timeoutNow: TimeoutNowResponse;
  readIndex: ReadIndexResponse;
}

export type ResponseFor<R extends RaftRequest> = ResponseMap[R['kind']];
export type RaftResponse = ResponseMap[keyof ResponseMap];

/** Metadata of a snapshot (hashicorp's SnapshotMeta). */
export interface SnapshotMeta {
  version: number;
  id: string;
  index: number;
  term: number;
  configuration: Configuration;
  configurationIndex: number;
  /** Size of the snapshot data in bytes. */
  size: number;
}
