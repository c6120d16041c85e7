/**
 * What only a leader does, for as long as one leadership lasts (RaftCore creates it on election and
 * drops it on step-down). It owns the leader's timers and check-quorum, and wires its parts
 * together: replication.ts (flow control, heartbeats, the commit rule), read-index.ts, transfer.ts
 * and membership-changes.ts. The parts never call each other; what one learns that concerns
 * another comes through here, in a fixed order.
 */
import { isVoter, type ConfigurationChange } from './configuration.js';
import { ErrLeadershipTransferInProgress } from './errors.js';
import type { FailureReason, Proposal } from './inputs.js';
import { MembershipChanges } from './membership-changes.js';
import type { Progress } from './progress.js';
import { ReadIndex } from './read-index.js';
import type { OutboundRequest } from './ready.js';
import { Replication } from './replication.js';
import type { Roles, ServerState } from './server-state.js';
import { LeadershipTransfer } from './transfer.js';
import { LogType, type RaftResponse, type Server, type ServerId } from './types.js';

export class LeaderState {
  private readonly replication: Replication;
  private readonly reads: ReadIndex;
  private readonly transfer: LeadershipTransfer;
  private readonly membership: MembershipChanges;
  private leaseCheckDue = 0;
  private commitTickDue = 0;

  constructor(
    private readonly server: ServerState,
    private readonly roles: Roles,
  ) {
    this.replication = new Replication(server, {
      roundSent: () => this.reads.checkReads(),
      roundAcknowledged: () => this.reads.onRoundAcknowledged(),
      matched: () => {
        this.transfer.maybeSendTimeoutNow();
        this.membership.maybePromote();
      },
      commitAdvanced: () => this.onCommitAdvanced(),
    });
    this.reads = new ReadIndex(server, this.replication);
    this.transfer = new LeadershipTransfer(server, this.replication);
    this.membership = new MembershipChanges(server, this.replication);
  }

  start(): void {
    const server = this.server;
    this.replication.syncPeers();
    this.replication.appendProposals([
      { type: LogType.Noop, data: new Uint8Array(0), extensions: new Uint8Array(0), appendedAt: 0 },
    ]);
    this.replication.sendHeartbeats();
    this.leaseCheckDue = server.now + server.options.leaderLeaseTimeout;
    this.commitTickDue = server.now + server.options.commitTimeout;
  }

  /** Leadership ended: whatever waited on it fails. */
  stop(): void {
    this.reads.stop();
    this.transfer.stop();
    this.membership.stop();
  }

  // ---------------------------------------------------------------------------------------------
  // Time

  tick(): void {
    const server = this.server;
    const now = server.now;
    this.replication.tick(now);
    if (now >= this.leaseCheckDue) {
      this.leaseCheckDue = now + server.options.leaderLeaseTimeout;
      if (!this.checkQuorum()) return;
    }
    this.transfer.tick(now);
    if (now >= this.commitTickDue) {
      this.commitTickDue = now + server.options.commitTimeout;
      this.replication.announceCommit();
    }
    this.replication.tickRetries(now);
    this.membership.tick(now);
  }

  nextDeadline(): number {
    return Math.min(
      this.replication.nextDeadline(),
      this.leaseCheckDue,
      this.commitTickDue,
      this.transfer.nextDeadline(),
      this.membership.nextDeadline(),
    );
  }

  /**
   * Check-quorum: step down unless a quorum of voters answered within leaderLeaseTimeout, counted
   * on the awake clock (ServerState.awake: a stall of this process is not the peers' silence).
   */
  private checkQuorum(): boolean {
    const server = this.server;
    const since = server.awake - server.options.leaderLeaseTimeout;
    const contact = server.configurations.quorum.committedIndex((id) =>
      id === server.id ? Infinity : (this.replication.peer(id)?.awakeContact ?? -Infinity),
    );
    if (contact >= since) return true;
    this.roles.becomeFollower(server.term, null);
    return false;
  }

  // ---------------------------------------------------------------------------------------------
  // Commands

  propose(proposals: readonly Proposal[]): number[] {
    if (this.transfer.inProgress) throw new ErrLeadershipTransferInProgress();
    return this.replication.appendProposals(proposals);
  }

  readIndex(readId: number): void {
    this.reads.read(readId);
  }

  /**
   * A follower asks for a read index: it then waits until it has applied that far, so it gets
   * the commit index as soon as it can be proven to it, not at the next commit tick.
   */
  followerReadIndex(rpcId: number, from: ServerId): void {
    this.replication.wantCommit(from, this.server.commitIndex);
    this.reads.read(-rpcId);
  }

  leaseRead(readId: number): void {
    this.reads.leaseRead(readId, !this.transfer.leaseAllowed);
  }

  transferLeadership(target: Server | null): void {
    this.transfer.start(target);
  }

  changeConfiguration(change: ConfigurationChange): number {
    if (this.transfer.inProgress) throw new ErrLeadershipTransferInProgress();
    return this.membership.start(change);
  }

  cancelConfigurationChange(token: number): void {
    this.membership.cancel(token);
  }

  // ---------------------------------------------------------------------------------------------
  // Inputs

  /** The latest configuration changed: replicate to exactly its members. */
  syncPeers(): void {
    this.replication.syncPeers();
  }

  /** Something is due to go out at the next flush. */
  get hasPendingSends(): boolean {
    return this.replication.hasPendingSends;
  }

  /** Called before the core hands out a Ready. */
  flush(): void {
    this.replication.flush();
  }

  onResponse(out: OutboundRequest, response: RaftResponse): void {
    this.replication.onResponse(out, response);
  }

  onFailure(out: OutboundRequest, reason: FailureReason): void {
    this.replication.onFailure(out, reason);
  }

  /** Our own log became durable further: it counts towards the commit quorum. */
  onLocalPersisted(): void {
    this.replication.maybeCommit();
  }

  peers(): IterableIterator<Progress> {
    return this.replication.peers();
  }

  private onCommitAdvanced(): void {
    const server = this.server;
    this.reads.onCommitAdvanced();
    this.membership.onCommitAdvanced();
    this.membership.maybePromote();
    const committed = server.configurations.committedConfiguration;
    if (!isVoter(committed, server.id)) {
      // Removed or demoted: hand over by stepping down (hashicorp semantics). The 'removed' event
      // went out with the commit (ServerState.setCommit); shutdownOnRemove is the runtime's part.
      this.roles.becomeFollower(server.term, null);
    }
  }
}
