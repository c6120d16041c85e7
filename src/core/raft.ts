/**
 * RaftCore: the Raft state machine, pure and deterministic, and the only way into it.
 *
 * Inputs: tick(now), step(rpc), onResponse/onFailure for requests it sent, propose(...),
 * persisted(seq), and the commands below. Output: a Ready (one durable write, requests, responses,
 * snapshot installs, events). The runtime persists the write, sends each message once persistence
 * has reached its `after` seq, and applies entries up to applyIndex() (the commit index in memory). Everything else
 * is a query: the runtime and the test kit read the core through them, never through its parts.
 *
 * This file holds the roles (follower, candidate, leader) and routes each input to the part that
 * handles it: election.ts (campaigns and votes), follower.ts (the leader's log arriving),
 * leader.ts (everything a leader does). Semantics follow hashicorp/raft (pre-vote as in 1.7,
 * check-quorum via LeaderLeaseTimeout, votes refused while a leader is known, LastLog back-off
 * hints, Noop on election, single-server membership changes effective when appended) with the Raft
 * paper's safety rules made explicit.
 */
import { requestOutOfRange } from './bounds.js';
import { isVoter, type ConfigurationChange, type Configurations } from './configuration.js';
import { Election } from './election.js';
import { ErrCantBootstrap, ErrNotLeader, ErrNotVoter } from './errors.js';
import { Follower } from './follower.js';
import type { CoreOptions, CoreStartState, FailureReason, IncomingRequest, Proposal } from './inputs.js';
import { LeaderState } from './leader.js';
import type { ReplicationMode } from './progress.js';
import type { OutboundRequest, Ready, Write } from './ready.js';
import { ServerState, type Roles } from './server-state.js';
import {
  LogType,
  RaftState,
  type Configuration,
  type LogEntry,
  type Peer,
  type RaftResponse,
  type RequestVoteResponse,
  type Server,
  type ServerId,
} from './types.js';

export type {
  ConfigurationCodec,
  CoreFaults,
  CoreOptions,
  CoreStartState,
  FailureReason,
  IncomingRequest,
  Proposal,
} from './inputs.js';
export { samePeer } from './server-state.js';

/** How a leader sees one peer's replication. */
export interface PeerReplication {
  id: ServerId;
  matchIndex: number;
  nextIndex: number;
  /** When the peer last answered anything in our term (core time). */
  lastContact: number;
  mode: ReplicationMode;
  /** AppendEntries awaiting an answer (heartbeats excluded). */
  inflight: number;
}

/** The core's queries: what the runtime shows its users and the test kit checks, read-only. */
export type CoreView = Pick<
  RaftCore,
  | 'id'
  | 'self'
  | 'state'
  | 'term'
  | 'vote'
  | 'commitIndex'
  | 'applyIndex'
  | 'durableIndex'
  | 'leader'
  | 'epoch'
  | 'lastIndex'
  | 'lastTerm'
  | 'firstIndex'
  | 'termAt'
  | 'snapshotIndex'
  | 'snapshotTerm'
  | 'configurations'
  | 'replication'
>;

export class RaftCore {
  private readonly server: ServerState;
  private readonly election: Election;
  private readonly follower: Follower;
  private leaderState: LeaderState | null = null;
  private readonly roles: Roles = {
    becomeFollower: (term, leader) => this.becomeFollower(term, leader),
    becomeLeader: () => this.becomeLeader(),
  };

  constructor(options: CoreOptions) {
    this.server = new ServerState({ ...options }, () => this.leading()?.syncPeers());
    this.election = new Election(this.server, this.roles);
    this.follower = new Follower(this.server, this.roles);
  }

  // ---------------------------------------------------------------------------------------------
  // Start-up

  /** Loads what storage holds; call loadLog for the log, then start(). */
  restore(state: CoreStartState): void {
    const server = this.server;
    server.now = state.now;
    server.term = state.hardState.term;
    server.vote = state.hardState.vote;
    if (state.snapshot) {
      server.log.setSnapshot(state.snapshot.index, state.snapshot.term);
      server.configurations.reset(state.snapshot.configurationIndex, state.snapshot.configuration, Infinity);
    }
    server.commitIndex = Math.max(state.hardState.commit, server.log.snapshotIndex);
  }

  /**
   * Feeds the log from storage: the term of each entry from `first` on (which may be below the
   * snapshot index) and, oldest first, the configuration entries among them. The core never needs
   * the other payloads, so start-up reads terms from the store's index, not the entries.
   */
  loadLog(first: number, terms: ArrayLike<number>, configurationEntries: readonly LogEntry[]): void {
    const { log, configurations, options } = this.server;
    log.load(first, terms);
    for (const entry of configurationEntries) {
      if (entry.type === LogType.Configuration && entry.index > configurations.latestIndex) {
        configurations.append(entry.index, options.codec.decode(entry.data));
      }
    }
  }

  start(): void {
    const server = this.server;
    const lastIndex = server.log.lastIndex();
    if (server.commitIndex > lastIndex) {
      // The disk lost entries this server knew were committed (a cut or restored log): apply only
      // what it holds, say so, and stay out of elections that could lose them until a leader has
      // repaired the log (etcd panics here; a replica is worth keeping).
      server.emit({ type: 'logBehindCommit', commitIndex: server.commitIndex, lastIndex });
      server.lostEntriesUntil = server.commitIndex;
      server.commitIndex = lastIndex;
    }
    this.election.start();
    server.configurations.commit(server.commitIndex);
    server.durability.loaded(server.log.lastIndex());
    server.resetElectionTimer();
    server.emit({ type: 'configuration', configurations: server.configurations.snapshot() });
  }

  // ---------------------------------------------------------------------------------------------
  // Time

  tick(now: number): void {
    const server = this.server;
    server.advanceTo(now);
    server.settleRemoval();
    const leader = this.leading();
    if (leader) leader.tick();
    else if (now >= server.electionDeadline) this.election.onTimeout();
  }

  /** When tick() next has something to do. */
  nextDeadline(): number {
    return this.leading()?.nextDeadline() ?? this.server.electionDeadline;
  }

  // ---------------------------------------------------------------------------------------------
  // Roles

  private becomeLeader(): void {
    const server = this.server;
    this.election.end();
    server.setRole(RaftState.Leader);
    server.epoch++;
    server.setLeader(server.self);
    if (server.faults.truncateOnElection && server.log.lastIndex() > server.commitIndex) {
      server.truncate(Math.max(server.commitIndex, server.log.snapshotIndex) + 1);
    }
    this.leaderState = new LeaderState(server, this.roles);
    this.leaderState.start();
  }

  private becomeFollower(term: number, leader: Peer | null): void {
    const server = this.server;
    if (term > server.term) server.setTerm(term);
    const wasLeader = server.role === RaftState.Leader;
    if (wasLeader) {
      this.leaderState!.stop();
      this.leaderState = null;
      server.emit({ type: 'leadershipLost', term: server.term });
    }
    this.election.end();
    if (server.role !== RaftState.Follower) server.setRole(RaftState.Follower);
    server.setLeader(leader);
    if (wasLeader || leader) server.resetElectionTimer();
  }

  // ---------------------------------------------------------------------------------------------
  // Messages

  /** Throws ErrOutOfRange, changing nothing, for a term or index beyond bounds.ts's (see requestOutOfRange). */
  step(incoming: IncomingRequest): void {
    const { rpcId, request } = incoming;
    const outOfRange = requestOutOfRange(request, this.server.faults);
    if (outOfRange) throw outOfRange;
    switch (request.kind) {
      case 'appendEntries':
        return this.follower.onAppendEntries(rpcId, request);
      case 'requestVote':
        return this.election.onRequestVote(rpcId, request);
      case 'requestPreVote':
        return this.election.onRequestPreVote(rpcId, request);
      case 'installSnapshot':
        return this.follower.onInstallSnapshot(rpcId, request);
      case 'timeoutNow':
        return this.election.onTimeoutNow(rpcId);
      case 'readIndex': {
        const leader = this.leading();
        if (leader) leader.followerReadIndex(rpcId, request.from.id);
        else this.server.respond(rpcId, { term: this.server.term, readIndex: 0, success: false }, 0);
        return;
      }
    }
  }

  /** The answer to a request this core sent. */
  onResponse(out: OutboundRequest, response: RaftResponse): void {
    const { request } = out;
    if (
      'term' in response &&
      response.term > this.server.term &&
      // A pre-vote answer with no more than the term we proposed proves no newer term (earlier
      // raftkit answered with the proposed term; a candidate that went back to following
      // would have adopted a term nobody campaigned in).
      !(request.kind === 'requestPreVote' && response.term <= request.term)
    ) {
      this.becomeFollower(response.term, null);
      return;
    }
    if (request.kind === 'requestPreVote' || request.kind === 'requestVote') {
      this.election.onVoteResponse(out, (response as RequestVoteResponse).granted);
    } else if (out.epoch === this.server.epoch) {
      this.leading()?.onResponse(out, response);
    }
  }

  /** A request this core sent got no answer (see FailureReason). */
  onFailure(out: OutboundRequest, reason: FailureReason): void {
    if (out.request.kind === 'requestPreVote') {
      this.election.onPreVoteFailure(out, reason);
      return;
    }
    if (out.epoch === this.server.epoch) this.leading()?.onFailure(out, reason);
  }

  // ---------------------------------------------------------------------------------------------
  // Commands (leader commands throw ErrNotLeader elsewhere)

  /** Appends entries as leader; returns the index of each. Throws ErrNotLeader and friends. */
  propose(proposals: readonly Proposal[]): number[] {
    return this.requireLeader().propose(proposals);
  }

  /**
   * hashicorp's live BootstrapCluster: a follower with no state at all (term 0, empty log, no
   * snapshot) takes `configuration` as entry 1 of term 1, exactly what the offline bootstrap
   * writes, and campaigns at its next timeout like any voter. Returns the seq of the write that
   * makes it durable. Throws ErrNotVoter when this server is not a voter in it (hashicorp 1.3.7+)
   * and ErrCantBootstrap when any state exists.
   */
  bootstrap(configuration: Configuration): number {
    const server = this.server;
    if (!isVoter(configuration, server.id)) throw new ErrNotVoter();
    const { log } = server;
    const fresh = server.term === 0 && log.lastIndex() === 0 && log.snapshotIndex === 0;
    if (!fresh || server.role !== RaftState.Follower) throw new ErrCantBootstrap();
    server.setTerm(1);
    server.appendEntries([
      {
        index: 1,
        term: 1,
        type: LogType.Configuration,
        data: server.options.codec.encode(configuration),
        extensions: new Uint8Array(0),
        appendedAt: 0,
      },
    ]);
    return server.durability.nextWriteSeq;
  }

  /** Raft thesis 6.4: a readState or readFailed event for readId follows. */
  readIndex(readId: number, lease = false): void {
    const leader = this.requireLeader();
    if (lease) leader.leaseRead(readId);
    else leader.readIndex(readId);
  }

  /** Starts a membership change; returns the token of its membershipDone/membershipFailed event. */
  changeConfiguration(change: ConfigurationChange): number {
    return this.requireLeader().changeConfiguration(change);
  }

  /** Abandons a change whose caller gave up (before its entry was appended). */
  cancelConfigurationChange(token: number): void {
    this.leaderState?.cancelConfigurationChange(token);
  }

  /** Hands leadership to `target` (or the most up-to-date voter); a transferDone event follows. */
  transferLeadership(target: Server | null): void {
    this.requireLeader().transferLeadership(target);
  }

  /** A local snapshot covering up to index was taken; entries below compactBefore may go. */
  snapshotTaken(index: number, term: number, compactBefore: number): void {
    const { log } = this.server;
    if (index > log.snapshotIndex) log.setSnapshot(index, term);
    log.compactBefore(Math.min(compactBefore, log.snapshotIndex + 1));
  }

  /** The runtime stored the snapshot of an install and restored the FSM from it. */
  snapshotInstalled(rpcId: number): void {
    this.follower.snapshotInstalled(rpcId);
  }

  snapshotInstallFailed(rpcId: number): void {
    this.follower.snapshotInstallFailed(rpcId);
  }

  /**
   * Leader only (hashicorp's Restore): a user snapshot now stands at `index`, past the end of the
   * log, leaving a hole so that every follower is sent the snapshot.
   */
  userSnapshotRestored(index: number, term: number): void {
    this.requireLeader();
    const server = this.server;
    if (index <= server.log.lastIndex())
      throw new Error(`restore index ${index} must be past the log (${server.log.lastIndex()})`);
    server.log.installSnapshot(index, term);
    server.durability.logReplaced(index);
    server.setCommit(index);
  }

  /** The reloadable timeouts (hashicorp's ReloadConfig); they apply from the next timer set. */
  reloadTimeouts(timeouts: { heartbeatTimeout: number; electionTimeout: number }): void {
    Object.assign(this.server.options, timeouts);
  }

  private requireLeader(): LeaderState {
    const leader = this.leading();
    if (!leader) throw new ErrNotLeader();
    return leader;
  }

  /** The leadership in force (the role decides, as it always has). */
  private leading(): LeaderState | null {
    return this.server.role === RaftState.Leader ? this.leaderState : null;
  }

  // ---------------------------------------------------------------------------------------------
  // Persistence and output

  /** The write with this seq (and every earlier one) is durable. */
  persisted(seq: number): void {
    const server = this.server;
    if (server.durability.persisted(seq, server.log.lastIndex())) this.leading()?.onLocalPersisted();
  }

  /** The last write before a graceful stop (see Durability.takeFinalWrite); null when none is owed. */
  finalWrite(): Write | null {
    const server = this.server;
    return server.durability.takeFinalWrite(() => server.hardState(), server.log.lastIndex());
  }

  /** Whether ready() has anything to hand out (a write, messages, events, or sends a leader owes). */
  hasReady(): boolean {
    return (
      this.server.durability.hasWrite() ||
      !this.server.outbox.isEmpty ||
      this.leading()?.hasPendingSends === true
    );
  }

  ready(): Ready {
    const server = this.server;
    this.leading()?.flush();
    const write = server.durability.takeWrite(() => server.hardState(), server.log.lastIndex());
    return { write, ...server.outbox.take() };
  }

  // ---------------------------------------------------------------------------------------------
  // Queries

  get id(): string {
    return this.server.id;
  }

  get self(): Peer {
    return this.server.self;
  }

  get options(): Readonly<CoreOptions> {
    return this.server.options;
  }

  get state(): RaftState {
    return this.server.role;
  }

  get term(): number {
    return this.server.term;
  }

  /** The candidate voted for in the current term. */
  get vote(): Peer | null {
    return this.server.vote;
  }

  get commitIndex(): number {
    return this.server.commitIndex;
  }

  /**
   * Entries up to here may be applied: committed, and held by the local log in memory. Neither the
   * commit index nor the local copy need be durable: an entry is committed once a quorum holds it
   * durably, and a leader counts its own copy only once it is durable (replication.ts), so a quorum
   * of followers' durable copies can commit it while the leader's own write is still in flight
   * (etcd and Ongaro's thesis, 10.2.1, write the leader's disk in parallel the same way). A
   * committed entry is never truncated, so the in-memory copy is the committed one; a restart that
   * loses the local tail re-learns it from the quorum that holds it. The log's end caps this only
   * while a lost tail is repaired (the stored commit index is then beyond the log). Apply order is
   * the log's.
   */
  applyIndex(): number {
    const { commitIndex, log } = this.server;
    return Math.min(commitIndex, log.lastIndex());
  }

  /**
   * What a restart recovers of the log: the end of the durable local log (or the snapshot, when
   * that is further). The durable commit index (Raft.durableCommitIndex) never claims beyond it.
   */
  durableIndex(): number {
    const server = this.server;
    return Math.max(server.durability.durableLastIndex, server.log.snapshotIndex);
  }

  get leader(): Peer | null {
    return this.server.leader;
  }

  /** Counts leaderships: a request from an older one is stale. */
  get epoch(): number {
    return this.server.epoch;
  }

  /** The core's clock: what the last tick said. Tests may move it without firing any deadline. */
  get now(): number {
    return this.server.now;
  }

  set now(now: number) {
    this.server.now = now;
  }

  get preVoteUnsupported(): ReadonlySet<ServerId> {
    return this.election.preVoteUnsupportedPeers;
  }

  lastIndex(): number {
    return this.server.log.lastIndex();
  }

  lastTerm(): number {
    return this.server.log.lastTerm();
  }

  /** First index whose entry is still held (may be below the snapshot index: trailing logs). */
  firstIndex(): number {
    return this.server.log.firstIndex();
  }

  /** Term of the entry at index; undefined when compacted away or beyond the end. */
  termAt(index: number): number | undefined {
    return this.server.log.term(index);
  }

  /** Index of the last entry covered by the newest snapshot (0 when none). */
  snapshotIndex(): number {
    return this.server.log.snapshotIndex;
  }

  snapshotTerm(): number {
    return this.server.log.snapshotTerm;
  }

  /** The committed and the latest configuration, copied. */
  configurations(): Configurations {
    return this.server.configurations.snapshot();
  }

  /** Replication per peer as this leader sees it (empty unless leader). */
  replication(): PeerReplication[] {
    if (!this.leaderState) return [];
    return [...this.leaderState.peers()].map((progress) => ({
      id: progress.server.id,
      matchIndex: progress.matchIndex,
      nextIndex: progress.nextIndex,
      lastContact: progress.lastContact,
      mode: progress.mode,
      inflight: progress.inflight,
    }));
  }
}
