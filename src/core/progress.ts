/** What a leader knows about replicating to one peer (etcd calls it a Progress). */
import type { Server } from './types.js';

export enum ReplicationMode {
  /** Unsure where the peer's log matches ours: one AppendEntries at a time. */
  Probe,
  /** Logs match up to matchIndex: several AppendEntries in flight (pipelining). */
  Replicate,
  /** An InstallSnapshot is in flight. */
  Snapshot,
}

export class Progress {
  nextIndex: number;
  matchIndex = 0;
  mode = ReplicationMode.Probe;
  /** AppendEntries (with or without entries, heartbeats excluded) awaiting an answer. */
  inflight = 0;
  /** Heartbeats awaiting an answer (bounded so a dead peer cannot pile them up). */
  heartbeatsInflight = 0;
  /** Highest heartbeat round the peer acknowledged (read index and VerifyLeader count these). */
  heartbeatAck = 0;
  /** Highest commit index sent to the peer. */
  commitSent = 0;
  /**
   * A commit index the peer is waiting for (it asked for a read index): sent at the next flush,
   * without waiting for the commit tick (Replication.announceCommit).
   */
  commitWanted = 0;
  /** Last time the peer answered anything in our term (check-quorum and observers). */
  lastContact: number;
  /** The same moment on the server's awake clock (ServerState.awake), which check-quorum reads. */
  awakeContact: number;
  /** No replication before this time (after a transport failure). */
  retryAt = 0;
  failures = 0;
  heartbeatFailing = false;
  /**
   * The index of the configuration entry that removed this peer, 0 while it is a member. A removed
   * peer is still sent entries until it acknowledges a commit index covering its removal (as etcd
   * does), so that it learns it was removed and stops asking for votes; it never counts in a quorum.
   */
  departingAt = 0;
  /** When the peer was removed (a peer that never answers is dropped after a while). */
  departingSince = 0;

  constructor(
    public server: Server,
    lastIndex: number,
    now: number,
    awake: number,
  ) {
    this.nextIndex = lastIndex + 1;
    this.lastContact = now;
    this.awakeContact = awake;
  }

  /** The peer answered (now, on both clocks). */
  contacted(now: number, awake: number): void {
    this.lastContact = now;
    this.awakeContact = awake;
  }

  becomeProbe(): void {
    this.mode = ReplicationMode.Probe;
    this.nextIndex = Math.max(this.nextIndex, this.matchIndex + 1);
  }
}
