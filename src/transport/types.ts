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
  ServerAddress,
  TimeoutNowRequest,
  TimeoutNowResponse,
} from '../core/types.js';

/** An RPC received from a peer. Call respond exactly once. */
export interface IncomingRpc<R extends RaftRequest = RaftRequest> {
  request: R;
  /** InstallSnapshot only: exactly request.size bytes of snapshot data. Must be consumed. */
  data?: Readable;
  respond(response: RaftResponse | null, error?: Error): void;
}

export type RpcHandler = (rpc: IncomingRpc) => void;

export interface Transport {
  localAddr(): ServerAddress;
  /** The runtime registers its handler for incoming RPCs (hashicorp's Consumer()). */
  setHandler(handler: RpcHandler): void;
  appendEntries(target: Peer, request: AppendEntriesRequest): Promise<AppendEntriesResponse>;
  requestVote(target: Peer, request: RequestVoteRequest): Promise<RequestVoteResponse>;
  requestPreVote(target: Peer, request: RequestPreVoteRequest): Promise<RequestPreVoteResponse>;
  installSnapshot(
    target: Peer,
    request: InstallSnapshotRequest,
    data: Readable,
  ): Promise<InstallSnapshotResponse>;
  timeoutNow(target: Peer, request: TimeoutNowRequest): Promise<TimeoutNowResponse>;
  /** raftkit extension; transports that cannot carry it reject with ErrReadIndexNotSupported. */
  readIndex(target: Peer, request: ReadIndexRequest): Promise<ReadIndexResponse>;
  encodePeer(id: string, address: ServerAddress): Uint8Array;
  decodePeer(bytes: Uint8Array): ServerAddress;
  close(): Promise<void>;
}
