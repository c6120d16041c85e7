/**
 * The transport the runtime sends RPCs through and receives them from (hashicorp's Transport,
 * with promises instead of channels). Several calls to the same target may be in flight at once;
 * AppendEntries calls to one target are delivered in the order they were made (pipelining).
 */
import type { Readable } from 'node:stream';
import type {
  AppendEntriesRequest,
  AppendEntriesResponse,
  InstallSnapshotRequest,
  InstallSnapshotResponse,
  Peer,
  RaftRequest,
  RaftResponse,
  ReadIndexRequest,
  ReadIndexResponse,
  RequestPreVoteRequest,
  RequestPreVoteResponse,
  RequestVoteRequest,
  RequestVoteResponse,
  ResponseMap,
  ServerAddress,
  TimeoutNowRequest,
  TimeoutNowResponse,
} from '../core/types.js';

/** An RPC received from a peer. Call respond exactly once. */
export interface IncomingRpc<R extends RaftRequest = RaftRequest> {
  /** The decoded request. */
  request: R;
  /** InstallSnapshot only: exactly request.size bytes of snapshot data. Must be consumed. */
  data?: Readable;
  /** Sends the response, or `error` (its message travels to the caller, as hashicorp's does). */
  respond(response: RaftResponse | null, error?: Error): void;
}

/** Receives every RPC a transport accepts (hashicorp's Consumer channel, as a callback). */
export type RpcHandler = (rpc: IncomingRpc) => void;

/**
 * hashicorp's Transport: how a server reaches its peers. Implementations: NetworkTransport (TCP or
 * mutual TLS, hashicorp's wire protocol) and InmemTransport (one process, for tests). Each call
 * resolves with the peer's response or rejects (unreachable, timeout, shut down).
 */
export interface Transport {
  /**
   * The largest frame this transport accepts, which its peers are assumed to share: a leader keeps
   * each AppendEntries below it. Absent when there is no limit (in-memory transports).
   */
  readonly maxFrameBytes?: number;
  /** The address peers dial to reach this server. */
  localAddr(): ServerAddress;
  /** The runtime registers its handler for incoming RPCs (hashicorp's Consumer()). */
  setHandler(handler: RpcHandler): void;
  /** Replicates entries or sends a heartbeat (hashicorp's AppendEntries RPC). */
  appendEntries(target: Peer, request: AppendEntriesRequest): Promise<AppendEntriesResponse>;
  /** Asks for a vote in an election. */
  requestVote(target: Peer, request: RequestVoteRequest): Promise<RequestVoteResponse>;
  /** Asks whether the peer would vote, without disturbing its term (pre-vote). */
  requestPreVote(target: Peer, request: RequestPreVoteRequest): Promise<RequestPreVoteResponse>;
  /** Streams a snapshot to a follower too far behind for the log; `data` is request.size bytes. */
  installSnapshot(
    target: Peer,
    request: InstallSnapshotRequest,
    data: Readable,
  ): Promise<InstallSnapshotResponse>;
  /** Tells the peer to start an election now (leadership transfer). */
  timeoutNow(target: Peer, request: TimeoutNowRequest): Promise<TimeoutNowResponse>;
  /** raftkit extension; transports that cannot carry it reject with ErrReadIndexNotSupported. */
  readIndex(target: Peer, request: ReadIndexRequest): Promise<ReadIndexResponse>;
  /** The bytes that name a peer in protocol-version-2 messages (its address). */
  encodePeer(id: string, address: ServerAddress): Uint8Array;
  /** The inverse of encodePeer. */
  decodePeer(bytes: Uint8Array): ServerAddress;
  /** Stops accepting and sending; calls in flight reject with ErrTransportShutdown. */
  close(): Promise<void>;
}

/**
 * The RPC methods of `Transport` written once, over one generic `call`: a transport extends it,
 * implements `call` and the rest of `Transport`, and overrides an RPC that travels differently
 * (NetworkTransport pipelines AppendEntries and streams InstallSnapshot).
 */
export abstract class RpcTransport {
  /** Sends one request to `target` and resolves with its response; `data` is InstallSnapshot's. */
  protected abstract call<K extends keyof ResponseMap>(
    target: Peer,
    request: RaftRequest & { kind: K },
    data?: Readable,
  ): Promise<ResponseMap[K]>;

  /** {@inheritDoc Transport.appendEntries} */
  appendEntries(target: Peer, request: AppendEntriesRequest): Promise<AppendEntriesResponse> {
    return this.call(target, request);
  }

  /** {@inheritDoc Transport.requestVote} */
  requestVote(target: Peer, request: RequestVoteRequest): Promise<RequestVoteResponse> {
    return this.call(target, request);
  }

  /** {@inheritDoc Transport.requestPreVote} */
  requestPreVote(target: Peer, request: RequestPreVoteRequest): Promise<RequestPreVoteResponse> {
    return this.call(target, request);
  }

  /** {@inheritDoc Transport.installSnapshot} */
  installSnapshot(
    target: Peer,
    request: InstallSnapshotRequest,
    data: Readable,
  ): Promise<InstallSnapshotResponse> {
    return this.call(target, request, data);
  }

  /** {@inheritDoc Transport.timeoutNow} */
  timeoutNow(target: Peer, request: TimeoutNowRequest): Promise<TimeoutNowResponse> {
    return this.call(target, request);
  }

  /** {@inheritDoc Transport.readIndex} */
  readIndex(target: Peer, request: ReadIndexRequest): Promise<ReadIndexResponse> {
    return this.call(target, request);
  }
}
