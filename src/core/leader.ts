/**
 * What only a leader does: replication with pipelining and back-off, heartbeat rounds, the commit
 * rule, check-quorum, read index, leadership transfer and membership changes.
 * Lives as long as one leadership; RaftCore creates it on election and drops it on step-down.
 */
import { randomBetween } from './clock.js';
import { findServer, isVoter, nextConfiguration, type ConfigurationChange } from './configuration.js';
import {
  ErrConfigChangeInProgress,
  ErrLeadershipLost,
  ErrLeadershipTransferInProgress,
  RaftError,
} from './errors.js';
import { Progress, ReplicationMode } from './progress.js';
import type { RaftCore, Proposal } from './raft.js';
import type { OutboundRequest } from './ready.js';
import {
  LogType,
  ServerSuffrage,
  type AppendEntriesRequest,
  type Configuration,
  type AppendEntriesResponse,
  type InstallSnapshotRequest,
  type InstallSnapshotResponse,
  type LogEntry,
  type RaftResponse,
  type Server,
} from './types.js';

/** Heartbeats in flight per peer at most: a dead peer must not pile them up. */
const MAX_HEARTBEATS_INFLIGHT = 4;
/** First retry delay after a failed RPC; doubles per failure up to heartbeatTimeout / 2. */
const FAILURE_WAIT = 10;

interface PendingRead {
  /** Positive: a local read; negative: -rpcId of a follower's ReadIndex request. */
  readId: number;
  index: number;
  round: number;
}

interface MembershipChange {
  token: number;
  /** Index of the configuration entry whose commit completes the change (0 while catching up). */
  index: number;
  /** addVoter of a server that must catch up as a non-voter first. */
  promote: Server | null;
}

export class LeaderState {
  readonly progress = new Map<string, Progress>();
  transfer: { target: Server; deadline: number; timeoutNowSent: boolean } | null = null;
  private heartbeatRound = 0;
  private heartbeatDue = 0;
  private leaseCheckDue = 0;
  private commitTickDue = 0;
  private reads: PendingRead[] = [];
  /** Reads that wait until an entry of this term commits (the Noop). */
  private readsAwaitingTermCommit: number[] = [];
  private roundRequested = false;
  private replicationDirty = false;
  private membership: MembershipChange | null = null;
  private nextToken = 1;
  /** When each recent heartbeat round was sent (for the lease). */
  private readonly roundSentAt = new Map<number, number>();
  /** Lease reads are served without a round until this time (see leaseRead). */
  private leaseUntil = -Infinity;

  constructor(private readonly core: RaftCore) {}

  start(): void {
    const core = this.core;
    this.syncPeers();
    this.appendProposals([
      { type: LogType.Noop, data: new Uint8Array(0), extensions: new Uint8Array(0), appendedAt: 0 },
    ]);
    this.sendHeartbeats();
    this.leaseCheckDue = core.now + core.options.leaderLeaseTimeout;
    this.commitTickDue = core.now + core.options.commitTimeout;
  }

  stop(): void {
    const lost = new ErrLeadershipLost();
    for (const read of this.reads) this.failRead(read.readId, lost);
    for (const readId of this.readsAwaitingTermCommit) this.failRead(readId, lost);
    this.reads = [];
    this.readsAwaitingTermCommit = [];
    if (this.transfer) {
      // Stepping down after TimeoutNow went out is what a transfer is for.
      this.core.emit({
        type: 'transferDone',
        error: this.transfer.timeoutNowSent ? null : new ErrLeadershipLost(),
      });
      this.transfer = null;
    }
    if (this.membership) {
      this.core.emit({ type: 'membershipFailed', token: this.membership.token, error: lost });
      this.membership = null;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Time

  tick(): void {
    const now = this.core.now;
    if (now >= this.heartbeatDue) this.sendHeartbeats();
    if (now >= this.leaseCheckDue) {
      this.leaseCheckDue = now + this.core.options.leaderLeaseTimeout;
      if (!this.checkQuorum()) return;
    }
    if (this.transfer && now >= this.transfer.deadline) {
      this.transfer = null;
      this.core.emit({ type: 'transferDone', error: new RaftError('leadership transfer timeout') });
    }
    if (now >= this.commitTickDue) {
      this.commitTickDue = now + this.core.options.commitTimeout;
      this.replicationDirty = true;
    }
    for (const progress of this.progress.values()) {
      if (progress.retryAt !== 0 && progress.retryAt <= now) {
        progress.retryAt = 0;
        this.replicationDirty = true;
      }
    }
  }

  nextDeadline(): number {
    let deadline = Math.min(this.heartbeatDue, this.leaseCheckDue, this.commitTickDue);
    if (this.transfer) deadline = Math.min(deadline, this.transfer.deadline);
    for (const progress of this.progress.values()) {
      if (progress.retryAt !== 0) deadline = Math.min(deadline, progress.retryAt);
    }
    return deadline;
  }

  /** Check-quorum: step down unless a quorum of voters answered within leaderLeaseTimeout. */
  private checkQuorum(): boolean {
    const core = this.core;
    const since = core.now - core.options.leaderLeaseTimeout;
    const contact = core.configurations.quorum.committedIndex((id) =>
      id === core.id ? Infinity : (this.progress.get(id)?.lastContact ?? -Infinity),
    );
    if (contact >= since) return true;
    core.becomeFollower(core.term, null);
    return false;
  }

  // ---------------------------------------------------------------------------------------------
  // Peers

  /** Makes the progress map match the latest configuration. */
  syncPeers(): void {
    const core = this.core;
    const latest = core.configurations.latest;
    for (const server of latest.servers) {
      if (server.id === core.id) continue;
      const existing = this.progress.get(server.id);
      if (existing) {
        existing.server = server;
        continue;
      }
      const progress = new Progress(server, core.log.lastIndex(), core.now);
      this.progress.set(server.id, progress);
      core.emit({ type: 'peer', server, removed: false });
      this.replicationDirty = true;
    }
    for (const [id, progress] of this.progress) {
      if (!findServer(latest, id)) {
        this.progress.delete(id);
        core.emit({ type: 'peer', server: progress.server, removed: true });
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Proposals and replication

  appendProposals(proposals: readonly Proposal[]): number[] {
    const core = this.core;
    let index = core.log.lastIndex();
    const entries: LogEntry[] = proposals.map((proposal) => ({
      index: ++index,
      term: core.term,
      type: proposal.type,
      data: proposal.data,
      extensions: proposal.extensions,
      appendedAt: proposal.appendedAt,
    }));
    core.appendEntries(entries);
    this.replicationDirty = true;
    return entries.map((entry) => entry.index);
  }

  /** Called before the core hands out a Ready: sends what accumulated since the last one. */
  flush(): void {
    if (this.roundRequested) {
      this.roundRequested = false;
      this.sendHeartbeats();
    }
    if (!this.replicationDirty) return;
    this.replicationDirty = false;
    for (const progress of this.progress.values()) this.replicate(progress);
  }

  private replicate(progress: Progress): void {
    const core = this.core;
    const { options, log } = core;
    if (progress.mode === ReplicationMode.Snapshot || progress.retryAt > core.now) return;
    const limit = progress.mode === ReplicationMode.Probe ? 1 : options.maxInflightAppends;
    while (progress.inflight < limit) {
      const prevLogIndex = progress.nextIndex - 1;
      const prevLogTerm = log.term(prevLogIndex);
      const lastIndex = log.lastIndex();
      if (prevLogTerm === undefined || (progress.nextIndex <= lastIndex && !log.has(progress.nextIndex))) {
        this.sendSnapshot(progress);
        return;
      }
      const entriesTo = Math.min(lastIndex, progress.nextIndex + options.maxAppendEntries - 1);
      const hasEntries = entriesTo >= progress.nextIndex;
      const commitUpdate = Math.min(core.commitIndex, prevLogIndex) > progress.commitSent;
      if (!hasEntries && !commitUpdate && progress.mode === ReplicationMode.Replicate) return;
      if (!hasEntries && !commitUpdate && progress.inflight > 0) return;
      if (!hasEntries && !commitUpdate && progress.matchIndex >= lastIndex) return;
      // Never announce a commit index beyond what this request proves the follower holds:
      // hashicorp followers commit min(LeaderCommitIndex, their last index), which could cover a
      // stale suffix they have not yet truncated.
      const leaderCommitIndex = Math.min(core.commitIndex, hasEntries ? entriesTo : prevLogIndex);
      const request: AppendEntriesRequest = {
        kind: 'appendEntries',
        term: core.term,
        leader: core.self,
        prevLogIndex,
        prevLogTerm,
        entries: [],
        leaderCommitIndex,
      };
      core.send(progress.server, request, {
        after: core.termDurableSeq,
        entriesFrom: progress.nextIndex,
        entriesTo,
      });
      progress.inflight++;
      progress.commitSent = Math.max(progress.commitSent, leaderCommitIndex);
      if (progress.mode !== ReplicationMode.Replicate) return;
      progress.nextIndex = entriesTo + 1;
      if (!hasEntries) return;
    }
  }

  private sendSnapshot(progress: Progress): void {
    const core = this.core;
    progress.mode = ReplicationMode.Snapshot;
    progress.inflight = 0;
    const request: InstallSnapshotRequest = {
      kind: 'installSnapshot',
      snapshotVersion: 1,
      term: core.term,
      leader: core.self,
      lastLogIndex: core.log.snapshotIndex,
      lastLogTerm: core.log.snapshotTerm,
      configuration: { servers: [] },
      configurationIndex: 0,
      size: 0,
    };
    core.send(progress.server, request, { after: core.termDurableSeq });
  }

  private sendHeartbeats(): void {
    const core = this.core;
    this.heartbeatRound++;
    this.roundSentAt.set(this.heartbeatRound, core.now);
    this.roundSentAt.delete(this.heartbeatRound - 64);
    // hashicorp: every random [HeartbeatTimeout/10, HeartbeatTimeout/5).
    const low = Math.max(1, Math.floor(core.options.heartbeatTimeout / 10));
    this.heartbeatDue =
      core.now +
      randomBetween(
        core.options.random,
        low,
        Math.max(low + 1, Math.floor(core.options.heartbeatTimeout / 5)),
      );
    for (const progress of this.progress.values()) {
      if (progress.heartbeatsInflight >= MAX_HEARTBEATS_INFLIGHT) continue;
      progress.heartbeatsInflight++;
      // A heartbeat anchored at the match index also carries the commit index up to it, so a
      // follower that restarted and forgot its commit index relearns it even when idle.
      const matchTerm = core.log.term(progress.matchIndex);
      const anchored = matchTerm !== undefined && progress.matchIndex > 0;
      const request: AppendEntriesRequest = {
        kind: 'appendEntries',
        term: core.term,
        leader: core.self,
        prevLogIndex: anchored ? progress.matchIndex : 0,
        prevLogTerm: anchored ? matchTerm : 0,
        entries: [],
        leaderCommitIndex: anchored ? Math.min(core.commitIndex, progress.matchIndex) : 0,
      };
      core.send(progress.server, request, {
        after: core.termDurableSeq,
        heartbeatRound: this.heartbeatRound,
      });
    }
    this.checkReads();
  }

  onResponse(out: OutboundRequest, response: RaftResponse): void {
    const progress = this.progress.get(out.to.id);
    if (!progress) return;
    const core = this.core;
    switch (out.request.kind) {
      case 'appendEntries':
        progress.lastContact = core.now;
        if (out.heartbeatRound > 0)
          return this.onHeartbeatResponse(progress, out, response as AppendEntriesResponse);
        return this.onAppendResponse(progress, out.request, response as AppendEntriesResponse);
      case 'installSnapshot': {
        progress.lastContact = core.now;
        if (progress.mode !== ReplicationMode.Snapshot) return;
        progress.mode = ReplicationMode.Probe;
        if ((response as InstallSnapshotResponse).success) {
          progress.matchIndex = Math.max(progress.matchIndex, out.request.lastLogIndex);
          progress.nextIndex = progress.matchIndex + 1;
          this.maybeCommit();
        } else {
          this.backOff(progress);
        }
        this.replicationDirty = true;
        return;
      }
      case 'timeoutNow':
        return;
      default:
        return;
    }
  }

  private onHeartbeatResponse(
    progress: Progress,
    out: OutboundRequest,
    response: AppendEntriesResponse,
  ): void {
    progress.heartbeatsInflight = Math.max(0, progress.heartbeatsInflight - 1);
    // A follower answering in our term accepted us as its leader, even if the anchor missed.
    if (response.term !== out.request.term) return;
    if (progress.heartbeatFailing) {
      progress.heartbeatFailing = false;
      this.core.emit({ type: 'heartbeatResumed', id: progress.server.id });
    }
    progress.heartbeatAck = Math.max(progress.heartbeatAck, out.heartbeatRound);
    this.extendLease();
    if (progress.retryAt !== 0) {
      // The peer is reachable again: stop waiting out the failure back-off.
      progress.retryAt = 0;
      progress.failures = 0;
      this.replicationDirty = true;
    }
    this.checkReads();
  }

  private onAppendResponse(
    progress: Progress,
    request: AppendEntriesRequest,
    response: AppendEntriesResponse,
  ): void {
    progress.inflight = Math.max(0, progress.inflight - 1);
    progress.failures = 0;
    if (response.success) {
      const matched = request.prevLogIndex + request.entries.length;
      if (matched > progress.matchIndex) progress.matchIndex = matched;
      if (progress.nextIndex <= progress.matchIndex) progress.nextIndex = progress.matchIndex + 1;
      if (progress.mode === ReplicationMode.Probe) progress.mode = ReplicationMode.Replicate;
      this.maybeCommit();
      this.maybeSendTimeoutNow();
      this.maybePromote();
    } else if (request.prevLogIndex >= progress.matchIndex) {
      // The consistency check failed: go back (using the follower's hint) and probe.
      const hinted = Math.min(request.prevLogIndex, response.lastLog + 1);
      progress.nextIndex = Math.max(progress.matchIndex + 1, Math.min(hinted, progress.nextIndex - 1), 1);
      progress.mode = ReplicationMode.Probe;
    }
    this.replicationDirty = true;
  }

  onFailure(out: OutboundRequest, reason: 'error' | 'unsupported' | 'logNotFound'): void {
    const progress = this.progress.get(out.to.id);
    if (!progress) return;
    const core = this.core;
    if (out.heartbeatRound > 0) {
      progress.heartbeatsInflight = Math.max(0, progress.heartbeatsInflight - 1);
      if (!progress.heartbeatFailing) {
        progress.heartbeatFailing = true;
        core.emit({ type: 'heartbeatFailed', id: progress.server.id, lastContact: progress.lastContact });
      }
      return;
    }
    if (out.request.kind === 'appendEntries') {
      progress.inflight = Math.max(0, progress.inflight - 1);
      if (reason === 'logNotFound') {
        // Compacted away between deciding and reading: the peer needs the snapshot.
        this.sendSnapshot(progress);
        return;
      }
      progress.becomeProbe();
      progress.nextIndex = progress.matchIndex + 1;
    } else if (out.request.kind === 'installSnapshot') {
      if (progress.mode === ReplicationMode.Snapshot) progress.mode = ReplicationMode.Probe;
    } else {
      return;
    }
    this.backOff(progress);
    this.replicationDirty = true;
  }

  private backOff(progress: Progress): void {
    progress.failures++;
    const cap = Math.max(FAILURE_WAIT, Math.floor(this.core.options.heartbeatTimeout / 2));
    progress.retryAt = this.core.now + Math.min(cap, FAILURE_WAIT * 2 ** Math.min(progress.failures - 1, 16));
  }

  // ---------------------------------------------------------------------------------------------
  // Commit

  onLocalPersisted(): void {
    this.maybeCommit();
  }

  /** Raft paper 5.3/5.4.2: commit the highest index stored on a quorum, if it is from this term. */
  maybeCommit(): void {
    const core = this.core;
    const candidate = core.configurations.quorum.committedIndex((id) =>
      id === core.id ? core.durableLastIndex : (this.progress.get(id)?.matchIndex ?? 0),
    );
    if (candidate <= core.commitIndex) return;
    if (core.log.term(candidate) !== core.term && !core.faults.commitPreviousTermEntries) return;
    core.setCommit(candidate);
    this.replicationDirty = true;
    this.onCommitAdvanced();
  }

  private onCommitAdvanced(): void {
    const core = this.core;
    if (this.readsAwaitingTermCommit.length > 0 && core.log.term(core.commitIndex) === core.term) {
      for (const readId of this.readsAwaitingTermCommit) this.startRead(readId);
      this.readsAwaitingTermCommit = [];
    }
    if (this.membership && this.membership.index > 0 && core.commitIndex >= this.membership.index) {
      core.emit({ type: 'membershipDone', token: this.membership.token, index: this.membership.index });
      this.membership = null;
    }
    this.maybePromote();
    const committed = core.configurations.committedConfiguration;
    if (!isVoter(committed, core.id)) {
      // Removed or demoted: hand over by stepping down (hashicorp semantics); a leader that
      // removed itself also shuts down if shutdownOnRemove is set (the runtime's part).
      const removed = !findServer(committed, core.id);
      core.becomeFollower(core.term, null);
      if (removed) core.emit({ type: 'removed' });
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Linearizable reads (Raft thesis 6.4) and VerifyLeader

  readIndex(readId: number): void {
    const core = this.core;
    if (core.log.term(core.commitIndex) !== core.term && !core.faults.readWithoutConfirm) {
      this.readsAwaitingTermCommit.push(readId);
      return;
    }
    this.startRead(readId);
  }

  private startRead(readId: number): void {
    const core = this.core;
    if (core.faults.readWithoutConfirm) {
      this.completeRead(readId, core.commitIndex);
      return;
    }
    // A new round starts at the next flush, so every read of this turn shares one round.
    if (!this.roundRequested) this.roundRequested = true;
    this.reads.push({ readId, index: core.commitIndex, round: this.heartbeatRound + 1 });
    this.checkReads();
  }

  private checkReads(): void {
    if (this.reads.length === 0) return;
    const core = this.core;
    // Our own acknowledgement is implied, even of a round not sent yet.
    const confirmed = core.configurations.quorum.committedIndex((id) =>
      id === core.id ? Infinity : (this.progress.get(id)?.heartbeatAck ?? 0),
    );
    const remaining: PendingRead[] = [];
    for (const read of this.reads) {
      if (confirmed >= read.round) this.completeRead(read.readId, read.index);
      else remaining.push(read);
    }
    this.reads = remaining;
  }

  /**
   * Lease read (opt-in): answers at once while a quorum acknowledged a heartbeat round sent less
   * than electionTimeout * (1 - maxClockDrift) ago. It rests on a clock assumption: followers that
   * heard from this leader refuse votes for one election timeout (measured on their clocks), and
   * no clock runs faster than the drift bound relative to ours. Outside the lease, or during a
   * leadership transfer (which lets followers vote early), it falls back to readIndex.
   */
  leaseRead(readId: number): void {
    const core = this.core;
    if (!this.transfer && core.now < this.leaseUntil && core.log.term(core.commitIndex) === core.term) {
      this.completeRead(readId, core.commitIndex);
      return;
    }
    this.readIndex(readId);
  }

  /** The newest round a quorum acknowledged extends the lease from the time it was sent. */
  private extendLease(): void {
    const core = this.core;
    const round = core.configurations.quorum.committedIndex((id) =>
      id === core.id ? this.heartbeatRound : (this.progress.get(id)?.heartbeatAck ?? 0),
    );
    const sentAt = this.roundSentAt.get(round);
    if (sentAt === undefined) return;
    const until = sentAt + core.options.electionTimeout * (1 - core.options.maxClockDrift);
    if (until > this.leaseUntil) this.leaseUntil = until;
  }

  private completeRead(readId: number, index: number): void {
    const core = this.core;
    if (readId < 0) core.respond(-readId, { term: core.term, readIndex: index, success: true }, 0);
    else core.emit({ type: 'readState', readId, index });
  }

  private failRead(readId: number, error: Error): void {
    const core = this.core;
    if (readId < 0) core.respond(-readId, { term: core.term, readIndex: 0, success: false }, 0);
    else core.emit({ type: 'readFailed', readId, error });
  }

  // ---------------------------------------------------------------------------------------------
  // Leadership transfer (Raft thesis 3.10)

  transferLeadership(target: Server | null): void {
    const core = this.core;
    if (this.transfer) throw new ErrLeadershipTransferInProgress();
    const latest = core.configurations.latest;
    let chosen = target ? findServer(latest, target.id) : undefined;
    if (!target) {
      let best: Progress | undefined;
      for (const progress of this.progress.values()) {
        if (!isVoter(latest, progress.server.id)) continue;
        if (!best || progress.matchIndex > best.matchIndex) best = progress;
      }
      chosen = best?.server;
    }
    if (!chosen || chosen.id === core.id || chosen.suffrage !== ServerSuffrage.Voter) {
      throw new RaftError(
        target
          ? `cannot transfer leadership to ${target.id}: not a voter`
          : 'no voter to transfer leadership to',
      );
    }
    this.transfer = {
      target: chosen,
      deadline: core.now + core.options.electionTimeout,
      timeoutNowSent: false,
    };
    this.replicationDirty = true;
    this.maybeSendTimeoutNow();
  }

  private maybeSendTimeoutNow(): void {
    const transfer = this.transfer;
    if (!transfer || transfer.timeoutNowSent) return;
    const progress = this.progress.get(transfer.target.id);
    if (!progress || progress.matchIndex < this.core.log.lastIndex()) return;
    transfer.timeoutNowSent = true;
    this.core.send(
      transfer.target,
      { kind: 'timeoutNow', term: this.core.term, from: this.core.self },
      { after: 0 },
    );
  }

  // ---------------------------------------------------------------------------------------------
  // Membership (single-server changes, effective when appended)

  changeConfiguration(change: ConfigurationChange): number {
    const core = this.core;
    if (this.transfer) throw new ErrLeadershipTransferInProgress();
    if (this.membership || core.configurations.changePending) throw new ErrConfigChangeInProgress();
    const latest = core.configurations.latest;
    const token = this.nextToken++;
    const existing = findServer(latest, change.id);
    if (change.command === 'addVoter' && existing?.suffrage !== ServerSuffrage.Voter) {
      // Catch the server up as a non-voter first, so adding an empty server costs no availability.
      const configuration = nextConfiguration(latest, core.configurations.latestIndex, {
        ...change,
        command: 'addNonvoter',
      });
      if (!existing || existing.address !== change.address) this.appendConfiguration(configuration);
      this.membership = {
        token,
        index: 0,
        promote: { id: change.id, address: change.address, suffrage: ServerSuffrage.Voter },
      };
      this.maybePromote();
      return token;
    }
    const configuration = nextConfiguration(latest, core.configurations.latestIndex, change);
    this.membership = { token, index: this.appendConfiguration(configuration), promote: null };
    return token;
  }

  /** Abandons a pending change (its caller gave up); a non-voter added for catch-up stays. */
  cancelConfigurationChange(token: number): void {
    if (this.membership?.token === token && this.membership.index === 0) this.membership = null;
  }

  private appendConfiguration(configuration: Configuration): number {
    const data = this.core.options.codec.encode(configuration);
    const [index] = this.appendProposals([
      { type: LogType.Configuration, data, extensions: new Uint8Array(0), appendedAt: 0 },
    ]);
    return index;
  }

  /** Promotes a catching-up server once it holds what was committed and is near the end. */
  maybePromote(): void {
    const membership = this.membership;
    if (!membership?.promote || membership.index > 0) return;
    const core = this.core;
    if (core.configurations.changePending) return;
    const progress = this.progress.get(membership.promote.id);
    if (!progress) return;
    const caughtUp =
      progress.matchIndex >= core.commitIndex &&
      core.log.lastIndex() - progress.matchIndex <= core.options.maxAppendEntries;
    if (!caughtUp) return;
    const configuration = nextConfiguration(core.configurations.latest, core.configurations.latestIndex, {
      command: 'addVoter',
      id: membership.promote.id,
      address: membership.promote.address,
      prevIndex: 0,
    });
    membership.index = this.appendConfiguration(configuration);
  }
}
