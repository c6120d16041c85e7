/** What the core asks its runtime to do. The runtime persists, then sends, then applies. */
import type { Configurations } from './configuration.js';
import type {
  InstallSnapshotRequest,
  LogEntry,
  Peer,
  RaftRequest,
  RaftResponse,
  RaftState,
  RequestPreVoteRequest,
  RequestVoteRequest,
  Server,
  ServerId,
} from './types.js';

export interface HardState {
  term: number;
  /** The candidate voted for in `term`, or null. */
  vote: Peer | null;
  /** Commit index: persisted before entries up to it are applied (monotonic across restarts). */
  commit: number;
}

/** One durable write. Writes are applied in seq order; report each with core.persisted(seq). */
export interface Write {
  seq: number;
  hardState: HardState | null;
  /** Delete entries from this index on before appending (conflict truncation). */
  truncateFrom: number | null;
  entries: LogEntry[];
}

export interface OutboundRequest {
  readonly id: number;
  readonly to: Server;
  /**
   * The runtime completes it before sending: AppendEntries gets its entries (entriesFrom..entriesTo),
   * InstallSnapshot gets the metadata of the snapshot actually sent.
   */
  readonly request: RaftRequest;
  readonly entriesFrom: number;
  readonly entriesTo: number;
  /** Send only once persistence has reached this write seq. */
  readonly after: number;
  /** Leader epoch the request belongs to; drop it unawaited if the core's epoch moved on. */
  readonly epoch: number;
  /** Non-zero for heartbeats: the round it confirms. */
  readonly heartbeatRound: number;
  /**
   * AppendEntries: the peer's match index when this was sent (what it had acknowledged holding).
   * An answer with a lower last index means the peer lost entries (reordered answers cannot).
   */
  readonly acknowledged: number;
}

export interface OutboundResponse {
  readonly rpcId: number;
  readonly response: RaftResponse;
  readonly after: number;
}

/** A follower's accepted InstallSnapshot: store and restore it, then call core.snapshotInstalled. */
export interface SnapshotInstall {
  readonly rpcId: number;
  readonly request: InstallSnapshotRequest;
}

export type CoreEvent =
  | { type: 'state'; state: RaftState; term: number }
  | { type: 'leader'; leader: Peer | null }
  | { type: 'configuration'; configurations: Configurations }
  | { type: 'peer'; server: Server; removed: boolean }
  | { type: 'heartbeatFailed'; id: ServerId; lastContact: number }
  | { type: 'heartbeatResumed'; id: ServerId }
  | { type: 'voteRequest'; request: RequestVoteRequest | RequestPreVoteRequest }
  | { type: 'readState'; readId: number; index: number }
  | { type: 'readFailed'; readId: number; error: Error }
  | { type: 'transferDone'; error: Error | null }
  | { type: 'membershipDone'; token: number; index: number }
  | { type: 'membershipFailed'; token: number; error: Error }
  /** This node was leader and stopped being one: pending proposals have an unknown outcome. */
  | { type: 'leadershipLost'; term: number }
  /** This leader's own removal committed (it has stepped down). */
  | { type: 'removed' }
  /**
   * A follower answered with a last index below what it had acknowledged: it lost log entries (a
   * disk fault, a cut or restored log). The leader backs off and repairs it.
   */
  | { type: 'replicaLostEntries'; id: ServerId; acknowledged: number; lastIndex: number }
  /**
   * At start, this server's log ended below the commit index it had persisted: its disk lost
   * entries. It applies only what it holds and waits for a leader to repair it.
   */
  | { type: 'logBehindCommit'; commitIndex: number; lastIndex: number };

export interface Ready {
  write: Write | null;
  requests: OutboundRequest[];
  responses: OutboundResponse[];
  installs: SnapshotInstall[];
  events: CoreEvent[];
  /** The commit index as of this ready (apply up to the durable commit only). */
  commitIndex: number;
}
