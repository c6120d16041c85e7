/**
 * The narrow view of a Raft node that the KV service needs. raft-cluster.ts implements it with the
 * real `Raft`; tests implement it with a single-node double. Names follow hashicorp/raft.
 */
import type { ServerStateName, StatusMember } from './contract.js';

/** A membership or leadership call named a server that is not in the configuration. */
export class UnknownServerError extends Error {
  override name = 'UnknownServerError';
  constructor(readonly serverId: string) {
    super(`server ${serverId} is not in the configuration`);
  }
}

/** What a removed server answers to the KV routes (410) and to /readyz (503). */
export const REMOVED_MESSAGE =
  'this server was removed from the cluster: send requests to a member (see /status of another ' +
  'server), or add this one back with POST /cluster/join';

export interface ClusterStatus {
  state: ServerStateName;
  term: number;
  /** The leader this server knows of, or null while there is none. */
  leader: { id: string; address: string } | null;
  lastIndex: number;
  commitIndex: number;
  appliedIndex: number;
  lastSnapshotIndex: number;
  configuration: StatusMember[];
  /** A committed configuration removed this server (Raft.removed): the KV routes answer 410. */
  removed: boolean;
}

export interface ApplyOptions {
  /** Milliseconds to wait for commit and apply; past it the outcome is unknown (ErrApplyTimeout). */
  timeout?: number;
  signal?: AbortSignal;
}

export interface KvCluster {
  /** This server's ID. */
  readonly id: string;
  /** Replicates `data` as a Command entry; resolves with its index and the FSM's response. */
  apply(data: Uint8Array, opts?: ApplyOptions): Promise<{ index: number; response: unknown }>;
  /** Resolves once the local FSM may be read linearizably (read-index on the leader). */
  linearizableRead(opts?: { timeout?: number }): Promise<void>;
  /**
   * The whole status, for the status routes and metrics. A request's checks ask the questions
   * below instead: they answer without building it (one write asks three of them).
   */
  status(): ClusterStatus;
  /** `status().state`, without building the status. */
  serverState(): ServerStateName;
  /** `status().leader?.id`: the leader this server knows of, or undefined while there is none. */
  leaderId(): string | undefined;
  /** `status().removed`, without building the status. */
  isRemoved(): boolean;
  /**
   * On the leader, the highest log index known to be replicated to server `id` (its match
   * index); null on a follower or for a server the leader does not replicate to.
   */
  matchIndex(id: string): number | null;
  addVoter(id: string, address: string): Promise<void>;
  addNonvoter(id: string, address: string): Promise<void>;
  removeServer(id: string): Promise<void>;
  /** To `id`, or to the most up-to-date voter when absent. */
  leadershipTransfer(id?: string): Promise<void>;
  /**
   * Demo only: drop all Raft traffic to and from these server IDs (replacing any earlier list);
   * null heals. Absent on production nodes.
   */
  isolate?(peers: string[] | null): void | Promise<void>;
}
