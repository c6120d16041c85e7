/**
 * A leader's replication and flow control: one Progress per peer (probe, pipelined replicate, or
 * snapshot), AppendEntries batches of at most maxAppendEntries with at most maxInflightAppends in
 * flight, back-off after failures, heartbeat rounds (which also confirm leadership for reads), and
 * the commit rule over the peers' match indexes.
 */
import { randomBetween } from './clock.js';
import { findServer } from './configuration.js';
import type { FailureReason, Proposal } from './inputs.js';
import { Progress, ReplicationMode } from './progress.js';
import type { OutboundRequest } from './ready.js';
import type { ServerState } from './server-state.js';
import type {
  AppendEntriesRequest,
  AppendEntriesResponse,
  InstallSnapshotRequest,
  InstallSnapshotResponse,
  LogEntry,
  RaftResponse,
  ServerId,
} from './types.js';

/** Heartbeats in flight per peer at most: a dead peer must not pile them up. */
const MAX_HEARTBEATS_INFLIGHT = 4;
/** First retry delay after a failed RPC; doubles per failure up to heartbeatTimeout / 2. */
const FAILURE_WAIT = 10;
/** A removed peer that has not learned of its removal is dropped after this many election timeouts. */
const DEPARTING_TIMEOUT_ELECTIONS = 10;
/** Heartbeat rounds whose send time is remembered (the lease looks back at most this far). */
const ROUNDS_REMEMBERED = 64;

/** What replication tells the rest of the leader. */
export interface ReplicationHooks {
  /** A heartbeat round went out. */
  roundSent(): void;
  /** A peer acknowledged a heartbeat round in our term. */
  roundAcknowledged(): void;
  /** A peer's log matched further (after the commit rule ran). */
  matched(): void;
  commitAdvanced(): void;
}

export class Replication {
  private readonly progress = new Map<ServerId, Progress>();
  private round = 0;
  private heartbeatDue = 0;
  /** When each recent heartbeat round was sent (for the lease). */
  private readonly roundSentAt = new Map<number, number>();
  private roundRequested = false;
  /** Something changed that may let more AppendEntries go out at the next flush. */
  private dirty = false;
  /** The next flush also sends AppendEntries that carry nothing but a newer commit index. */
  private commitDue = false;

  constructor(
    private readonly server: ServerState,
    private readonly hooks: ReplicationHooks,
  ) {}

  /** The latest heartbeat round sent (rounds count from 1). */
  get heartbeatRound(): number {
    return this.round;
  }

  peer(id: ServerId): Progress | undefined {
    return this.progress.get(id);
  }

  peers(): IterableIterator<Progress> {
    return this.progress.values();
  }

  markDirty(): void {
    this.dirty = true;
  }

  /**
   * The commit tick (every commitTimeout): the next flush tells every peer that has not heard it
   * the commit index, in an AppendEntries of its own if no entries are going that way. Between
   * ticks a commit index rides on the next append or heartbeat (hashicorp's behaviour), so a
   * commit never puts messages between the leader's apply and its answer to the client, and a
   * follower is not woken for it: a follower applies at most one commitTimeout (or heartbeat
   * interval, whichever comes first) behind the leader.
   */
  announceCommit(): void {
    this.commitDue = true;
    this.dirty = true;
  }

  /**
   * A peer waits for the commit index (its read index is `index`): sent at the next flush that
   * can prove it, not at the commit tick, so a follower read waits no longer than before.
   */
  wantCommit(id: ServerId, index: number): void {
    const progress = this.progress.get(id);
    if (!progress || index <= progress.commitWanted) return;
    progress.commitWanted = index;
    this.dirty = true;
  }

  /** A new heartbeat round goes out at the next flush (every read of one turn shares it). */
  requestRound(): void {
    this.roundRequested = true;
  }

  /**
   * Whether the next flush may send something: a requested round, or a change that may let
   * AppendEntries go out. The core reports this as a Ready, so a read, a commit to announce, a
   * probe's next step or a catch-up batch leaves in the same turn instead of at the next tick
   * (which took a read 54-157 ms on an idle leader).
   */
  get hasPendingSends(): boolean {
    return this.roundRequested || this.dirty;
  }

  /** When `round` was sent, if it is recent. */
  roundSentTime(round: number): number | undefined {
    return this.roundSentAt.get(round);
  }

  // ---------------------------------------------------------------------------------------------
  // Peers and time

  /** Makes the progress map match the latest configuration. */
  syncPeers(): void {
    const server = this.server;
    const latest = server.configurations.latest;
    for (const member of latest.servers) {
      if (member.id === server.id) continue;
      const existing = this.progress.get(member.id);
      if (existing) {
        existing.server = member;
        existing.departingAt = 0;
        continue;
      }
      const progress = new Progress(member, server.log.lastIndex(), server.now, server.awake);
      this.progress.set(member.id, progress);
      server.emit({ type: 'peer', server: member, removed: false });
      this.dirty = true;
    }
    for (const [id, progress] of this.progress) {
      if (!findServer(latest, id) && progress.departingAt === 0) {
        progress.departingAt = server.configurations.latestIndex;
        progress.departingSince = server.now;
        this.dirty = true;
      }
    }
  }

  /**
   * Stops replicating to a removed peer once it acknowledged a commit index covering its removal,
   * or when it has not within DEPARTING_TIMEOUT_ELECTIONS election timeouts (it may be down).
   */
  private maybeDepart(progress: Progress, acknowledgedCommit: number): void {
    if (progress.departingAt === 0) return;
    const server = this.server;
    const expired =
      server.now - progress.departingSince >= server.options.electionTimeout * DEPARTING_TIMEOUT_ELECTIONS;
    if (acknowledgedCommit < progress.departingAt && !expired) return;
    this.progress.delete(progress.server.id);
    server.emit({ type: 'peer', server: progress.server, removed: true });
  }

  tick(now: number): void {
    for (const progress of this.progress.values()) this.maybeDepart(progress, 0);
    if (now >= this.heartbeatDue) this.sendHeartbeats();
  }

  /** After the leader's other timers: retries whose back-off ran out. */
  tickRetries(now: number): void {
    for (const progress of this.progress.values()) {
      if (progress.retryAt !== 0 && progress.retryAt <= now) {
        progress.retryAt = 0;
        this.dirty = true;
      }
    }
  }

  nextDeadline(): number {
    let deadline = this.heartbeatDue;
    for (const progress of this.progress.values()) {
      if (progress.retryAt !== 0) deadline = Math.min(deadline, progress.retryAt);
    }
    return deadline;
  }

  // ---------------------------------------------------------------------------------------------
  // Sending

  /** Appends entries to the leader's log; returns the index of each. */
  appendProposals(proposals: readonly Proposal[]): number[] {
    const server = this.server;
    let index = server.log.lastIndex();
    const entries: LogEntry[] = proposals.map((proposal) => ({
      index: ++index,
      term: server.term,
      type: proposal.type,
      data: proposal.data,
      extensions: proposal.extensions,
      appendedAt: proposal.appendedAt,
    }));
    server.appendEntries(entries);
    this.dirty = true;
    return entries.map((entry) => entry.index);
  }

  /** Called before the core hands out a Ready: sends what accumulated since the last one. */
  flush(): void {
    if (this.roundRequested) {
      this.roundRequested = false;
      this.sendHeartbeats();
    }
    if (!this.dirty) return;
    this.dirty = false;
    for (const progress of this.progress.values()) this.replicate(progress);
    this.commitDue = false;
  }

  private replicate(progress: Progress): void {
    const server = this.server;
    const { options, log } = server;
    if (progress.mode === ReplicationMode.Snapshot || progress.retryAt > server.now) return;
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
      const commitUpdate =
        Math.min(server.commitIndex, prevLogIndex) > progress.commitSent &&
        (this.commitDue || progress.commitWanted > progress.commitSent);
      if (!hasEntries && !commitUpdate && progress.mode === ReplicationMode.Replicate) return;
      if (!hasEntries && !commitUpdate && progress.inflight > 0) return;
      if (!hasEntries && !commitUpdate && progress.matchIndex >= lastIndex) return;
      // Never announce a commit index beyond what this request proves the follower holds:
      // hashicorp followers commit min(LeaderCommitIndex, their last index), which could cover a
      // stale suffix they have not yet truncated.
      const proven = Math.min(server.commitIndex, hasEntries ? entriesTo : prevLogIndex);
      const leaderCommitIndex = server.faults.emulateLeader ? server.commitIndex : proven;
      const request: AppendEntriesRequest = {
        kind: 'appendEntries',
        term: server.term,
        leader: server.self,
        prevLogIndex,
        prevLogTerm,
        entries: [],
        leaderCommitIndex,
      };
      server.send(progress.server, request, {
        after: server.durability.termVoteDurableAt,
        entriesFrom: progress.nextIndex,
        entriesTo,
        acknowledged: progress.matchIndex,
      });
      progress.inflight++;
      progress.commitSent = Math.max(progress.commitSent, proven);
      if (progress.mode !== ReplicationMode.Replicate) return;
      progress.nextIndex = entriesTo + 1;
      if (!hasEntries) return;
    }
  }

  private sendSnapshot(progress: Progress): void {
    const server = this.server;
    progress.mode = ReplicationMode.Snapshot;
    progress.inflight = 0;
    // The runtime fills in the metadata of the snapshot it actually sends.
    const request: InstallSnapshotRequest = {
      kind: 'installSnapshot',
      snapshotVersion: 1,
      term: server.term,
      leader: server.self,
      lastLogIndex: server.log.snapshotIndex,
      lastLogTerm: server.log.snapshotTerm,
      configuration: { servers: [] },
      configurationIndex: 0,
      size: 0,
    };
    server.send(progress.server, request, { after: server.durability.termVoteDurableAt });
  }

  sendHeartbeats(): void {
    const server = this.server;
    const { options } = server;
    this.round++;
    this.roundSentAt.set(this.round, server.now);
    this.roundSentAt.delete(this.round - ROUNDS_REMEMBERED);
    // hashicorp: every random [HeartbeatTimeout/10, HeartbeatTimeout/5).
    const low = Math.max(1, Math.floor(options.heartbeatTimeout / 10));
    this.heartbeatDue =
      server.now +
      randomBetween(options.random, low, Math.max(low + 1, Math.floor(options.heartbeatTimeout / 5)));
    for (const progress of this.progress.values()) {
      if (progress.heartbeatsInflight >= MAX_HEARTBEATS_INFLIGHT) continue;
      progress.heartbeatsInflight++;
      // A heartbeat anchored at the match index also carries the commit index up to it, so a
      // follower that restarted and forgot its commit index relearns it even when idle.
      const matchTerm = server.log.term(progress.matchIndex);
      const anchored = matchTerm !== undefined && progress.matchIndex > 0;
      const proven = anchored ? Math.min(server.commitIndex, progress.matchIndex) : 0;
      const request: AppendEntriesRequest = {
        kind: 'appendEntries',
        term: server.term,
        leader: server.self,
        prevLogIndex: anchored ? progress.matchIndex : 0,
        prevLogTerm: anchored ? matchTerm : 0,
        entries: [],
        leaderCommitIndex: server.faults.emulateLeader === 'hashicorp' ? server.commitIndex : proven,
      };
      server.send(progress.server, request, {
        after: server.durability.termVoteDurableAt,
        heartbeatRound: this.round,
        acknowledged: progress.matchIndex,
      });
      // The commit tick need not repeat what this heartbeat announces.
      progress.commitSent = Math.max(progress.commitSent, proven);
    }
    this.hooks.roundSent();
  }

  // ---------------------------------------------------------------------------------------------
  // Answers

  onResponse(out: OutboundRequest, response: RaftResponse): void {
    const progress = this.progress.get(out.to.id);
    if (!progress) return;
    const server = this.server;
    switch (out.request.kind) {
      case 'appendEntries': {
        const append = response as AppendEntriesResponse;
        progress.contacted(server.now, server.awake);
        if (this.lostEntries(progress, out, append)) this.repair(progress, append.lastLog);
        if (out.heartbeatRound > 0) this.onHeartbeatResponse(progress, out, append);
        else this.onAppendResponse(progress, out.request, append);
        if (append.success) this.maybeDepart(progress, out.request.leaderCommitIndex);
        return;
      }
      case 'installSnapshot':
        progress.contacted(server.now, server.awake);
        return this.onInstallSnapshotResponse(progress, out.request, response as InstallSnapshotResponse);
      default:
        return;
    }
  }

  /**
   * The peer refused, in our term, with a last index below what it had acknowledged holding when
   * we sent: its disk lost entries (a cut or restored log). hashicorp and etcd never send below
   * the match index, so such a replica would stall for good.
   */
  private lostEntries(progress: Progress, out: OutboundRequest, response: AppendEntriesResponse): boolean {
    return (
      !this.server.faults.keepMatchIndex &&
      !response.success &&
      response.term === out.request.term &&
      response.lastLog < out.acknowledged &&
      response.lastLog < progress.matchIndex
    );
  }

  /** Starts over from what the peer still holds: probe from its last index, resend the commit. */
  private repair(progress: Progress, lastLog: number): void {
    this.server.emit({
      type: 'replicaLostEntries',
      id: progress.server.id,
      acknowledged: progress.matchIndex,
      lastIndex: lastLog,
    });
    progress.matchIndex = lastLog;
    progress.nextIndex = lastLog + 1;
    progress.commitSent = Math.min(progress.commitSent, lastLog);
    progress.mode = ReplicationMode.Probe;
    progress.retryAt = 0;
    this.dirty = true;
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
      this.server.emit({ type: 'heartbeatResumed', id: progress.server.id });
    }
    progress.heartbeatAck = Math.max(progress.heartbeatAck, out.heartbeatRound);
    if (progress.retryAt !== 0) {
      // The peer is reachable again: stop waiting out the failure back-off.
      progress.retryAt = 0;
      progress.failures = 0;
      this.dirty = true;
    }
    this.hooks.roundAcknowledged();
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
      this.hooks.matched();
    } else if (request.prevLogIndex >= progress.matchIndex) {
      // The consistency check failed: go back (using the follower's hint) and probe.
      const hinted = Math.min(request.prevLogIndex, response.lastLog + 1);
      progress.nextIndex = Math.max(progress.matchIndex + 1, Math.min(hinted, progress.nextIndex - 1), 1);
      progress.mode = ReplicationMode.Probe;
    }
    this.dirty = true;
  }

  private onInstallSnapshotResponse(
    progress: Progress,
    request: InstallSnapshotRequest,
    response: InstallSnapshotResponse,
  ): void {
    if (progress.mode !== ReplicationMode.Snapshot) return;
    progress.mode = ReplicationMode.Probe;
    if (response.success) {
      progress.matchIndex = Math.max(progress.matchIndex, request.lastLogIndex);
      progress.nextIndex = progress.matchIndex + 1;
      this.maybeCommit();
    } else {
      this.backOff(progress);
    }
    this.dirty = true;
  }

  onFailure(out: OutboundRequest, reason: FailureReason): void {
    const progress = this.progress.get(out.to.id);
    if (!progress) return;
    if (out.heartbeatRound > 0) {
      progress.heartbeatsInflight = Math.max(0, progress.heartbeatsInflight - 1);
      if (!progress.heartbeatFailing) {
        progress.heartbeatFailing = true;
        this.server.emit({
          type: 'heartbeatFailed',
          id: progress.server.id,
          lastContact: progress.lastContact,
        });
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
    this.dirty = true;
  }

  private backOff(progress: Progress): void {
    const server = this.server;
    progress.failures++;
    const cap = Math.max(FAILURE_WAIT, Math.floor(server.options.heartbeatTimeout / 2));
    progress.retryAt = server.now + Math.min(cap, FAILURE_WAIT * 2 ** Math.min(progress.failures - 1, 16));
  }

  // ---------------------------------------------------------------------------------------------
  // Commit

  /** Raft paper 5.3/5.4.2: commit the highest index stored on a quorum, if it is from this term. */
  maybeCommit(): void {
    const server = this.server;
    // The leader's own copy counts once durable: entries are applied at the commit index (core
    // applyIndex) without waiting for the leader's write, so a commit must not rest on it.
    const own = server.faults.leaderCountsUnpersisted
      ? server.log.lastIndex()
      : server.durability.durableLastIndex;
    const candidate = server.configurations.quorum.committedIndex((id) =>
      id === server.id ? own : (this.progress.get(id)?.matchIndex ?? 0),
    );
    if (candidate <= server.commitIndex) return;
    if (server.log.term(candidate) !== server.term && !server.faults.commitPreviousTermEntries) return;
    server.setCommit(candidate);
    this.hooks.commitAdvanced();
  }
}
