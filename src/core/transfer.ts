/**
 * Leadership transfer (Raft thesis 3.10, hashicorp's LeadershipTransfer): bring the target's log up
 * to ours, then send it TimeoutNow so it campaigns at once. New proposals and membership changes
 * are refused meanwhile; the transfer fails after one election timeout.
 */
import { findServer, isVoter } from './configuration.js';
import { ErrLeadershipLost, ErrLeadershipTransferInProgress, RaftError } from './errors.js';
import type { Progress } from './progress.js';
import type { Replication } from './replication.js';
import type { ServerState } from './server-state.js';
import { ServerSuffrage, type Server } from './types.js';

interface Transfer {
  target: Server;
  deadline: number;
  timeoutNowSent: boolean;
}

export class LeadershipTransfer {
  private transfer: Transfer | null = null;
  /**
   * TimeoutNow went out in this leadership. Its target campaigns at once and voters grant it
   * their vote however recently they heard from us, so no lease of this leadership holds from
   * then on, even after the transfer timed out while we still lead (we may just not have heard
   * of the new leader yet).
   */
  private timeoutNowSent = false;

  constructor(
    private readonly server: ServerState,
    private readonly replication: Replication,
  ) {}

  get inProgress(): boolean {
    return this.transfer !== null;
  }

  /** Whether a lease read may be served: no transfer is running and none sent TimeoutNow. */
  get leaseAllowed(): boolean {
    return this.transfer === null && !this.timeoutNowSent;
  }

  /** Starts a transfer to `target`, or to the most up-to-date voter when null. */
  start(target: Server | null): void {
    const server = this.server;
    if (this.transfer) throw new ErrLeadershipTransferInProgress();
    const latest = server.configurations.latest;
    let chosen = target ? findServer(latest, target.id) : undefined;
    if (!target) {
      let best: Progress | undefined;
      for (const progress of this.replication.peers()) {
        if (!isVoter(latest, progress.server.id)) continue;
        if (!best || progress.matchIndex > best.matchIndex) best = progress;
      }
      chosen = best?.server;
    }
    if (!chosen || chosen.id === server.id || chosen.suffrage !== ServerSuffrage.Voter) {
      throw new RaftError(
        target
          ? `cannot transfer leadership to ${target.id}: not a voter`
          : 'no voter to transfer leadership to',
      );
    }
    this.transfer = {
      target: chosen,
      deadline: server.now + server.options.electionTimeout,
      timeoutNowSent: false,
    };
    this.replication.markDirty();
    this.maybeSendTimeoutNow();
  }

  /** Sends TimeoutNow once the target holds our whole log. */
  maybeSendTimeoutNow(): void {
    const transfer = this.transfer;
    if (!transfer || transfer.timeoutNowSent) return;
    const progress = this.replication.peer(transfer.target.id);
    if (!progress || progress.matchIndex < this.server.log.lastIndex()) return;
    transfer.timeoutNowSent = true;
    this.timeoutNowSent = true;
    this.server.send(
      transfer.target,
      { kind: 'timeoutNow', term: this.server.term, from: this.server.self },
      { after: 0 },
    );
  }

  tick(now: number): void {
    if (this.transfer && now >= this.transfer.deadline) {
      this.transfer = null;
      this.server.emit({ type: 'transferDone', error: new RaftError('leadership transfer timeout') });
    }
  }

  nextDeadline(): number {
    return this.transfer ? this.transfer.deadline : Infinity;
  }

  /** Leadership ended: stepping down after TimeoutNow went out is what a transfer is for. */
  stop(): void {
    if (!this.transfer) return;
    this.server.emit({
      type: 'transferDone',
      error: this.transfer.timeoutNowSent ? null : new ErrLeadershipLost(),
    });
    this.transfer = null;
  }
}
