/**
 * Linearizable reads without writing to the log (Raft thesis 6.4), and VerifyLeader: a read is
 * answered with the commit index once an entry of this term has committed and a quorum has
 * acknowledged a heartbeat round sent after the read arrived. Lease reads (opt-in) skip the round
 * while a recent one still vouches for this leader.
 */
import { ErrLeadershipLost } from './errors.js';
import type { Replication } from './replication.js';
import type { ServerState } from './server-state.js';

interface PendingRead {
  /** Positive: a local read; negative: -rpcId of a follower's ReadIndex request. */
  readId: number;
  index: number;
  /** The heartbeat round whose acknowledgement by a quorum confirms the read. */
  round: number;
}

export class ReadIndex {
  private reads: PendingRead[] = [];
  /** Reads that wait until an entry of this term commits (the Noop). */
  private awaitingTermCommit: number[] = [];
  /** Lease reads are served without a round until this time (see leaseRead). */
  private leaseUntil = -Infinity;

  constructor(
    private readonly server: ServerState,
    private readonly replication: Replication,
  ) {}

  /** Leadership ended: every read waiting fails. */
  stop(): void {
    const lost = new ErrLeadershipLost();
    for (const read of this.reads) this.fail(read.readId, lost);
    for (const readId of this.awaitingTermCommit) this.fail(readId, lost);
    this.reads = [];
    this.awaitingTermCommit = [];
  }

  read(readId: number): void {
    const server = this.server;
    if (server.log.term(server.commitIndex) !== server.term && !server.faults.readWithoutConfirm) {
      this.awaitingTermCommit.push(readId);
      return;
    }
    this.confirm(readId);
  }

  /**
   * Lease read (opt-in): answers at once while a quorum acknowledged a heartbeat round sent less
   * than electionTimeout * (1 - maxClockDrift) ago. It rests on a clock assumption: followers that
   * heard from this leader refuse votes for one election timeout (measured on their clocks), and
   * no clock runs faster than the drift bound relative to ours. Outside the lease, or once a
   * leadership transfer started (TimeoutNow lets followers vote early, so no lease of this
   * leadership holds after it, even when the transfer timed out), it falls back to a read index.
   */
  leaseRead(readId: number, transferred: boolean): void {
    const server = this.server;
    if (
      (!transferred || server.faults.leaseDuringTransfer) &&
      server.now < this.leaseUntil &&
      server.log.term(server.commitIndex) === server.term
    ) {
      this.complete(readId, server.commitIndex);
      return;
    }
    this.read(readId);
  }

  /** The commit index advanced: reads that waited for this term's first commit can start. */
  onCommitAdvanced(): void {
    const server = this.server;
    if (this.awaitingTermCommit.length > 0 && server.log.term(server.commitIndex) === server.term) {
      for (const readId of this.awaitingTermCommit) this.confirm(readId);
      this.awaitingTermCommit = [];
    }
  }

  /** A peer acknowledged a round: the lease may extend and reads may be confirmed. */
  onRoundAcknowledged(): void {
    this.extendLease();
    this.checkReads();
  }

  private confirm(readId: number): void {
    const server = this.server;
    if (server.faults.readWithoutConfirm) {
      this.complete(readId, server.commitIndex);
      return;
    }
    this.replication.requestRound();
    this.reads.push({ readId, index: server.commitIndex, round: this.replication.heartbeatRound + 1 });
    this.checkReads();
  }

  checkReads(): void {
    if (this.reads.length === 0) return;
    const server = this.server;
    // Our own acknowledgement is implied, even of a round not sent yet.
    const confirmed = server.configurations.quorum.committedIndex((id) =>
      id === server.id ? Infinity : (this.replication.peer(id)?.heartbeatAck ?? 0),
    );
    const remaining: PendingRead[] = [];
    for (const read of this.reads) {
      if (confirmed >= read.round) this.complete(read.readId, read.index);
      else remaining.push(read);
    }
    this.reads = remaining;
  }

  /** The newest round a quorum acknowledged extends the lease from the time it was sent. */
  private extendLease(): void {
    const server = this.server;
    const round = server.configurations.quorum.committedIndex((id) =>
      id === server.id ? this.replication.heartbeatRound : (this.replication.peer(id)?.heartbeatAck ?? 0),
    );
    const sentAt = this.replication.roundSentTime(round);
    if (sentAt === undefined) return;
    const until = server.faults.leaseWithoutDriftMargin
      ? server.now + server.options.electionTimeout
      : sentAt + server.options.electionTimeout * (1 - server.options.maxClockDrift);
    if (until > this.leaseUntil) this.leaseUntil = until;
  }

  private complete(readId: number, index: number): void {
    const server = this.server;
    if (readId < 0) server.respond(-readId, { term: server.term, readIndex: index, success: true }, 0);
    else server.emit({ type: 'readState', readId, index });
  }

  private fail(readId: number, error: Error): void {
    const server = this.server;
    if (readId < 0) server.respond(-readId, { term: server.term, readIndex: 0, success: false }, 0);
    else server.emit({ type: 'readFailed', readId, error });
  }
}
