/**
 * RaftCore: the Raft state machine, pure and deterministic.
 *
 * Inputs: tick(now), step(rpc), onResponse/onFailure for requests it sent, propose(...),
 * persisted(seq), snapshot events. Outputs: a Ready (one durable write, requests, responses,
 * snapshot installs, events). The runtime persists the write, sends each message once persistence
 * has reached its `after` seq, and applies entries up to the durable commit index.
 *
 * Semantics follow hashicorp/raft (pre-vote as in 1.7, check-quorum via LeaderLeaseTimeout, votes
 * refused while a leader is known, LastLog back-off hints, Noop on election, single-server
 * membership changes effective when appended) with the Raft paper's safety rules made explicit.
 */
import { randomBetween, type Random } from './clock.js';
import { findServerByAddress, isVoter, voters } from './configuration.js';
import { ErrLeadershipTransferInProgress, ErrNotLeader } from './errors.js';
import { LeaderState } from './leader.js';
import { TermLog } from './log.js';
import { ConfigurationTracker } from './membership.js';
import { VoteResult } from './quorum.js';
import type {
  CoreEvent,
  HardState,
  OutboundRequest,
  OutboundResponse,
  Ready,
  SnapshotInstall,
  Write,
} from './ready.js';
import {
  LogType,
  RaftState,
  type AppendEntriesRequest,
  type Configuration,
  type InstallSnapshotRequest,
  type LogEntry,
  type Peer,
  type RaftRequest,
  type RaftResponse,
  type RequestPreVoteRequest,
  type RequestPreVoteResponse,
  type RequestVoteRequest,
  type RequestVoteResponse,
  type Server,
} from './types.js';

export interface ConfigurationCodec {
  encode(configuration: Configuration): Uint8Array;
  decode(data: Uint8Array): Configuration;
}

/**
 * Deliberate bugs, switched on only by tests, to prove the simulator catches them.
 * Never set outside tests.
 */
export interface CoreFaults {
  /** Commit by counting replicas of entries from earlier terms (Raft paper figure 8). */
  commitPreviousTermEntries?: boolean;
  /** Grant votes without persisting them first. */
  voteWithoutPersist?: boolean;
  /** Grant votes without the log up-to-date check (paper 5.4.1). */
  skipUpToDateCheck?: boolean;
  /** Answer read-index requests without confirming leadership with a heartbeat round. */
  readWithoutConfirm?: boolean;
}

export interface CoreOptions {
  id: string;
  address: string;
  heartbeatTimeout: number;
  electionTimeout: number;
  commitTimeout: number;
  leaderLeaseTimeout: number;
  maxAppendEntries: number;
  maxInflightAppends: number;
  preVote: boolean;
  /** Lease reads: the largest rate at which another server's clock may run faster than ours (0.1 = 10%). */
  maxClockDrift: number;
  random: Random;
  codec: ConfigurationCodec;
  faults?: CoreFaults;
}

/** What the runtime loaded from storage at start. */
export interface CoreStartState {
  now: number;
  hardState: HardState;
  snapshot: { index: number; term: number; configuration: Configuration; configurationIndex: number } | null;
}

/** An entry the application proposes; the core assigns index and term. */
export interface Proposal {
  type: LogType;
  data: Uint8Array;
  extensions: Uint8Array;
  appendedAt: number;
}

export interface IncomingRequest {
  rpcId: number;
  request: RaftRequest;
}

export class RaftCore {
  readonly id: string;
  readonly address: string;
  readonly log = new TermLog();
  readonly configurations = new ConfigurationTracker();
  readonly faults: CoreFaults;

  state = RaftState.Follower;
  term = 0;
  vote: Peer | null = null;
  commitIndex = 0;
  leader: Peer | null = null;
  /** Last time a leader of the current term reached us (followers). */
  lastLeaderContact = -Infinity;
  now = 0;
  /** Incremented each time this node becomes leader; stale requests carry an older epoch. */
  epoch = 0;
  leaderState: LeaderState | null = null;

  private electionDeadline = Infinity;
  /**
   * A server that just started cannot know whether some leader holds a lease, so it refuses votes
   * (except for leadership transfers) for one election timeout.
   */
  private votesRefusedUntil = -Infinity;
  private candidacy: { preVote: boolean; transfer: boolean; granted: Set<string>; term: number } | null =
    null;
  /** Peers that closed the connection on RequestPreVote (hashicorp before 1.7): counted as granted. */
  readonly preVoteUnsupported = new Set<string>();

  // Persistence bookkeeping: writes get consecutive seqs; messages wait for the seq they depend on.
  private nextSeq = 1;
  private durableSeq = 0;
  private termVoteSeq = 0;
  private entriesSeq = 0;
  private hardStateDirty = false;
  /** With the voteWithoutPersist fault, the vote lives only in memory. */
  private voteVolatile = false;
  private pendingTruncate: number | null = null;
  private pendingEntries: LogEntry[] = [];
  private readonly seqLastIndex = new Map<number, number>();
  /** Highest index known durable in the local log. */
  durableLastIndex = 0;

  private outRequests: OutboundRequest[] = [];
  private outResponses: OutboundResponse[] = [];
  private outInstalls: SnapshotInstall[] = [];
  private outEvents: CoreEvent[] = [];
  private nextOutboundId = 1;
  /** Snapshot installs in progress, by rpcId. */
  private readonly installing = new Map<number, InstallSnapshotRequest>();

  constructor(readonly options: CoreOptions) {
    this.id = options.id;
    this.address = options.address;
    this.faults = options.faults ?? {};
  }

  get self(): Peer {
    return { id: this.id, address: this.address };
  }

  // ---------------------------------------------------------------------------------------------
  // Start-up

  /** Loads what storage holds; call loadEntries for the log, then start(). */
  restore(state: CoreStartState): void {
    this.now = state.now;
    this.term = state.hardState.term;
    this.vote = state.hardState.vote;
    if (state.snapshot) {
      this.log.setSnapshot(state.snapshot.index, state.snapshot.term);
      this.configurations.reset(state.snapshot.configurationIndex, state.snapshot.configuration, Infinity);
    }
    this.commitIndex = Math.max(state.hardState.commit, this.log.snapshotIndex);
  }

  /** Feeds the log from storage, oldest first (entries may begin below the snapshot index). */
  loadEntries(entries: readonly LogEntry[]): void {
    for (const entry of entries) {
      this.log.load(entry.index, entry.term);
      if (entry.type === LogType.Configuration && entry.index > this.configurations.latestIndex) {
        this.configurations.append(entry.index, this.options.codec.decode(entry.data));
      }
    }
  }

  start(): void {
    this.votesRefusedUntil = this.now + this.options.electionTimeout;
    this.configurations.commit(this.commitIndex);
    this.durableLastIndex = this.log.lastIndex();
    this.resetElectionTimer();
    this.emit({ type: 'configuration', configurations: this.configurations.snapshot() });
  }

  // ---------------------------------------------------------------------------------------------
  // Time

  tick(now: number): void {
    this.now = now;
    if (this.state === RaftState.Leader) {
      this.leaderState!.tick();
    } else if (now >= this.electionDeadline) {
      this.onElectionTimeout();
    }
  }

  /** When tick() next has something to do. */
  nextDeadline(): number {
    return this.state === RaftState.Leader ? this.leaderState!.nextDeadline() : this.electionDeadline;
  }

  resetElectionTimer(): void {
    const base =
      this.state === RaftState.Candidate ? this.options.electionTimeout : this.options.heartbeatTimeout;
    this.electionDeadline = this.now + randomBetween(this.options.random, base, 2 * base);
  }

  private onElectionTimeout(): void {
    if (this.leader) {
      this.leader = null;
      this.emit({ type: 'leader', leader: null });
    }
    const latest = this.configurations.latest;
    if (!isVoter(latest, this.id)) {
      // Non-voters and unbootstrapped servers never campaign ("no known peers").
      if (this.state === RaftState.Candidate) this.setState(RaftState.Follower);
      this.resetElectionTimer();
      return;
    }
    this.campaign(false);
  }

  // ---------------------------------------------------------------------------------------------
  // Elections

  /** Start an election: pre-vote first unless disabled or this is a leadership transfer. */
  campaign(transfer: boolean): void {
    if (this.options.preVote && !transfer) {
      this.setState(RaftState.Candidate);
      this.candidacy = { preVote: true, transfer: false, granted: new Set([this.id]), term: this.term + 1 };
      this.resetElectionTimer();
      const request: Omit<RequestPreVoteRequest, 'kind'> = {
        term: this.term + 1,
        candidate: this.self,
        lastLogIndex: this.log.lastIndex(),
        lastLogTerm: this.log.lastTerm(),
      };
      for (const server of this.otherVoters()) {
        if (this.preVoteUnsupported.has(server.id)) this.candidacy.granted.add(server.id);
        else this.send(server, { kind: 'requestPreVote', ...request }, { after: 0 });
      }
      this.checkElection();
      return;
    }
    this.startElection(transfer);
  }

  private startElection(transfer: boolean): void {
    this.setState(RaftState.Candidate);
    this.setTerm(this.term + 1);
    this.setVote(this.self);
    this.candidacy = { preVote: false, transfer, granted: new Set([this.id]), term: this.term };
    this.resetElectionTimer();
    const request: Omit<RequestVoteRequest, 'kind'> = {
      term: this.term,
      candidate: this.self,
      lastLogIndex: this.log.lastIndex(),
      lastLogTerm: this.log.lastTerm(),
      leadershipTransfer: transfer,
    };
    for (const server of this.otherVoters()) {
      this.send(server, { kind: 'requestVote', ...request }, { after: this.termVoteSeq });
    }
    this.checkElection();
  }

  private checkElection(): void {
    const candidacy = this.candidacy!;
    const result = this.configurations.quorum.voteResult((id) => candidacy.granted.has(id) || undefined);
    if (result !== VoteResult.Won) return;
    if (candidacy.preVote) this.startElection(false);
    else this.becomeLeader();
  }

  private otherVoters(): Server[] {
    return voters(this.configurations.latest).filter((server) => server.id !== this.id);
  }

  private becomeLeader(): void {
    this.candidacy = null;
    this.setState(RaftState.Leader);
    this.epoch++;
    this.setLeader(this.self);
    this.leaderState = new LeaderState(this);
    this.leaderState.start();
  }

  /** Step down to follower, adopting `term` if it is newer. */
  becomeFollower(term: number, leader: Peer | null): void {
    if (term > this.term) this.setTerm(term);
    const wasLeader = this.state === RaftState.Leader;
    if (wasLeader) {
      this.leaderState!.stop();
      this.leaderState = null;
      this.emit({ type: 'leadershipLost', term: this.term });
    }
    this.candidacy = null;
    if (this.state !== RaftState.Follower) this.setState(RaftState.Follower);
    this.setLeader(leader);
    if (wasLeader || leader) this.resetElectionTimer();
  }

  // ---------------------------------------------------------------------------------------------
  // Incoming RPCs

  step(incoming: IncomingRequest): void {
    const { rpcId, request } = incoming;
    switch (request.kind) {
      case 'appendEntries':
        return this.onAppendEntries(rpcId, request);
      case 'requestVote':
        return this.onRequestVote(rpcId, request);
      case 'requestPreVote':
        return this.onRequestPreVote(rpcId, request);
      case 'installSnapshot':
        return this.onInstallSnapshot(rpcId, request);
      case 'timeoutNow':
        this.respond(rpcId, {}, 0);
        if (this.state !== RaftState.Leader && isVoter(this.configurations.latest, this.id)) {
          this.setLeader(null);
          this.campaign(true);
        }
        return;
      case 'readIndex':
        if (this.state !== RaftState.Leader) {
          this.respond(rpcId, { term: this.term, readIndex: 0, success: false }, 0);
          return;
        }
        this.leaderState!.readIndex(-rpcId);
        return;
    }
  }

  /** Fills in the ID of a sender that only gave its address (hashicorp peers before 1.3.7). */
  private resolve(peer: Peer): Peer {
    if (peer.id) return peer;
    const server = findServerByAddress(this.configurations.latest, peer.address);
    return server ? { id: server.id, address: peer.address } : peer;
  }

  private onAppendEntries(rpcId: number, request: AppendEntriesRequest): void {
    const fail = (noRetryBackoff: boolean, lastLog: number): void =>
      this.respond(rpcId, { term: this.term, lastLog, success: false, noRetryBackoff }, this.termVoteSeq);
    if (request.term < this.term) return fail(false, this.log.lastIndex());
    if (this.state === RaftState.Leader && request.term === this.term) {
      // Two leaders in one term would be a safety violation; refuse and keep going.
      return fail(false, this.log.lastIndex());
    }
    const leader = this.resolve(request.leader);
    if (request.term > this.term || this.state !== RaftState.Follower || !samePeer(this.leader, leader)) {
      this.becomeFollower(request.term, leader);
    }
    this.lastLeaderContact = this.now;
    this.resetElectionTimer();

    const { prevLogIndex, prevLogTerm, entries } = request;
    if (prevLogIndex > 0 && prevLogIndex > this.log.snapshotIndex) {
      const ourTerm = this.log.term(prevLogIndex);
      if (ourTerm === undefined) return fail(true, this.log.lastIndex());
      if (ourTerm !== prevLogTerm) return fail(true, this.log.conflictHint(prevLogIndex - 1, prevLogTerm));
    }
    this.appendFromLeader(entries);
    const lastNew = prevLogIndex + entries.length;
    if (request.leaderCommitIndex > this.commitIndex) {
      this.setCommit(Math.min(request.leaderCommitIndex, lastNew));
    }
    this.respond(
      rpcId,
      { term: this.term, lastLog: this.log.lastIndex(), success: true, noRetryBackoff: false },
      Math.max(this.termVoteSeq, this.entriesSeq),
    );
  }

  /** Appends what we lack, truncating a conflicting suffix (never below the commit index). */
  private appendFromLeader(entries: readonly LogEntry[]): void {
    let start = 0;
    for (; start < entries.length; start++) {
      const entry = entries[start];
      if (entry.index <= this.log.snapshotIndex) continue;
      const ourTerm = this.log.term(entry.index);
      if (ourTerm === undefined) break;
      if (ourTerm !== entry.term) {
        if (entry.index <= this.commitIndex) {
          throw new Error(
            `safety: leader conflicts with committed entry ${entry.index} (commit ${this.commitIndex})`,
          );
        }
        this.truncate(entry.index);
        break;
      }
    }
    if (start < entries.length) this.appendEntries(entries.slice(start));
  }

  private onRequestVote(rpcId: number, request: RequestVoteRequest): void {
    this.emit({ type: 'voteRequest', request });
    const candidate = this.resolve(request.candidate);
    const deny = (): void => this.respond(rpcId, { term: this.term, granted: false }, this.termVoteSeq);
    const latest = this.configurations.latest;
    if (candidate.id && latest.servers.length > 0 && !isVoter(latest, candidate.id)) return deny();
    if (this.leaderKnown() && !samePeer(this.leader, candidate) && !request.leadershipTransfer) return deny();
    if (request.term < this.term) return deny();
    if (request.term > this.term) this.becomeFollower(request.term, null);
    if (this.vote && !samePeer(this.vote, candidate)) return deny();
    if (!this.faults.skipUpToDateCheck && !this.log.isUpToDate(request.lastLogIndex, request.lastLogTerm)) {
      return deny();
    }
    if (!this.vote) this.setVote(candidate);
    this.resetElectionTimer();
    const response: RequestVoteResponse = { term: this.term, granted: true };
    this.respond(rpcId, response, this.faults.voteWithoutPersist ? 0 : this.termVoteSeq);
  }

  private onRequestPreVote(rpcId: number, request: RequestPreVoteRequest): void {
    this.emit({ type: 'voteRequest', request });
    const candidate = this.resolve(request.candidate);
    const latest = this.configurations.latest;
    const reply = (granted: boolean): void => {
      const response: RequestPreVoteResponse = { term: Math.max(this.term, request.term), granted };
      this.respond(rpcId, response, this.termVoteSeq);
    };
    if (candidate.id && latest.servers.length > 0 && !isVoter(latest, candidate.id)) return reply(false);
    if (this.leaderKnown() && !samePeer(this.leader, candidate)) return reply(false);
    if (request.term < this.term) return reply(false);
    reply(this.faults.skipUpToDateCheck || this.log.isUpToDate(request.lastLogIndex, request.lastLogTerm));
  }

  /** A leader is known and was heard from within the election timeout (or we are it). */
  private leaderKnown(): boolean {
    if (this.state === RaftState.Leader || this.now < this.votesRefusedUntil) return true;
    return this.leader !== null && this.now - this.lastLeaderContact < this.options.electionTimeout;
  }

  private onInstallSnapshot(rpcId: number, request: InstallSnapshotRequest): void {
    if (request.term < this.term || request.snapshotVersion < 0 || request.snapshotVersion > 1) {
      this.respond(rpcId, { term: this.term, success: false }, this.termVoteSeq);
      return;
    }
    const leader = this.resolve(request.leader);
    if (request.term > this.term || this.state !== RaftState.Follower || !samePeer(this.leader, leader)) {
      this.becomeFollower(request.term, leader);
    }
    this.lastLeaderContact = this.now;
    this.resetElectionTimer();
    if (request.lastLogIndex <= this.commitIndex) {
      // Everything the snapshot covers is already committed here (and committed prefixes agree):
      // installing it would roll the state machine back. The runtime drains the bytes.
      this.respond(rpcId, { term: this.term, success: true }, this.termVoteSeq);
      return;
    }
    this.installing.set(rpcId, request);
    this.outInstalls.push({ rpcId, request });
  }

  /** The runtime stored the snapshot and restored the FSM from it. */
  snapshotInstalled(rpcId: number): void {
    const request = this.installing.get(rpcId);
    if (!request) return;
    this.installing.delete(rpcId);
    const { lastLogIndex: index, lastLogTerm: term } = request;
    if (index > this.log.snapshotIndex) {
      const kept = this.log.installSnapshot(index, term);
      if (!kept) {
        // The old log is not a prefix of the leader's: storage drops all of it.
        this.pendingTruncate = 1;
        this.pendingEntries = [];
        this.entriesSeq = this.nextSeq;
        this.durableLastIndex = index;
      }
      this.configurations.reset(request.configurationIndex, request.configuration, kept ? index : Infinity);
      this.emit({ type: 'configuration', configurations: this.configurations.snapshot() });
    }
    if (index > this.commitIndex) this.setCommit(index);
    if (request.term === this.term) {
      this.respond(rpcId, { term: this.term, success: true }, Math.max(this.termVoteSeq, this.nextSeq));
      this.hardStateDirty = true;
    } else {
      this.respond(rpcId, { term: this.term, success: false }, this.termVoteSeq);
    }
  }

  /**
   * Leader only (hashicorp's Restore): a user snapshot now stands at `index`, past the end of the
   * log, leaving a hole so that every follower is sent the snapshot.
   */
  userSnapshotRestored(index: number, term: number): void {
    this.requireLeader();
    if (index <= this.log.lastIndex())
      throw new Error(`restore index ${index} must be past the log (${this.log.lastIndex()})`);
    this.log.installSnapshot(index, term);
    this.pendingTruncate = 1;
    this.pendingEntries = [];
    this.entriesSeq = this.nextSeq;
    this.durableLastIndex = index;
    this.setCommit(index);
  }

  snapshotInstallFailed(rpcId: number): void {
    if (!this.installing.delete(rpcId)) return;
    this.respond(rpcId, { term: this.term, success: false }, this.termVoteSeq);
  }

  // ---------------------------------------------------------------------------------------------
  // Responses to requests we sent

  onResponse(out: OutboundRequest, response: RaftResponse): void {
    const { request } = out;
    if (
      'term' in response &&
      response.term > this.term &&
      !(request.kind === 'requestPreVote' && this.isPreVoteTerm(response.term))
    ) {
      this.becomeFollower(response.term, null);
      return;
    }
    switch (request.kind) {
      case 'requestPreVote':
      case 'requestVote': {
        const candidacy = this.candidacy;
        const vote = response as RequestVoteResponse;
        if (
          !candidacy ||
          candidacy.preVote !== (request.kind === 'requestPreVote') ||
          request.term !== candidacy.term
        ) {
          return;
        }
        if (vote.granted) {
          candidacy.granted.add(out.to.id);
          this.checkElection();
        }
        return;
      }
      default:
        if (this.state === RaftState.Leader && out.epoch === this.epoch) {
          this.leaderState!.onResponse(out, response);
        }
    }
  }

  /** A pre-vote response's term may be the term the candidate proposed; that is not "newer". */
  private isPreVoteTerm(term: number): boolean {
    return this.candidacy?.preVote === true && term <= this.candidacy.term;
  }

  /**
   * A request we sent failed (timeout, connection error). `unsupported` means the peer closed the
   * connection on receiving the request type (hashicorp peers before 1.7 do that on RequestPreVote).
   */
  onFailure(out: OutboundRequest, reason: 'error' | 'unsupported' | 'logNotFound'): void {
    if (out.request.kind === 'requestPreVote') {
      if (reason === 'unsupported') {
        // Like hashicorp 1.7 treating "unexpected command" as granted: pre-vote only protects
        // against disruption; the real vote still needs a majority.
        this.preVoteUnsupported.add(out.to.id);
        const candidacy = this.candidacy;
        if (candidacy?.preVote && candidacy.term === out.request.term) {
          candidacy.granted.add(out.to.id);
          this.checkElection();
        }
      }
      return;
    }
    if (this.state === RaftState.Leader && out.epoch === this.epoch) this.leaderState!.onFailure(out, reason);
  }

  // ---------------------------------------------------------------------------------------------
  // Proposals

  /** Appends entries as leader; returns the index of each. Throws ErrNotLeader and friends. */
  propose(proposals: readonly Proposal[]): number[] {
    const leader = this.requireLeader();
    if (leader.transfer) throw new ErrLeadershipTransferInProgress();
    return leader.appendProposals(proposals);
  }

  requireLeader(): LeaderState {
    if (this.state !== RaftState.Leader) throw new ErrNotLeader();
    return this.leaderState!;
  }

  /** Raft thesis 6.4: a readState or readFailed event for readId follows. */
  readIndex(readId: number, lease = false): void {
    const leader = this.requireLeader();
    if (lease) leader.leaseRead(readId);
    else leader.readIndex(readId);
  }

  // ---------------------------------------------------------------------------------------------
  // Snapshots and compaction (runtime-driven)

  /** A local snapshot covering up to index was taken; entries below compactBefore may go. */
  snapshotTaken(index: number, term: number, compactBefore: number): void {
    if (index > this.log.snapshotIndex) this.log.setSnapshot(index, term);
    this.log.compactBefore(Math.min(compactBefore, this.log.snapshotIndex + 1));
  }

  // ---------------------------------------------------------------------------------------------
  // Persistence

  /** The write with this seq (and every earlier one) is durable. */
  persisted(seq: number): void {
    if (seq <= this.durableSeq) return;
    this.durableSeq = seq;
    const lastIndex = this.seqLastIndex.get(seq);
    for (const key of this.seqLastIndex.keys()) if (key <= seq) this.seqLastIndex.delete(key);
    if (lastIndex !== undefined) this.durableLastIndex = Math.min(lastIndex, this.log.lastIndex());
    if (this.state === RaftState.Leader) this.leaderState!.onLocalPersisted();
  }

  hasReady(): boolean {
    return (
      this.hardStateDirty ||
      this.pendingTruncate !== null ||
      this.pendingEntries.length > 0 ||
      this.outRequests.length > 0 ||
      this.outResponses.length > 0 ||
      this.outInstalls.length > 0 ||
      this.outEvents.length > 0
    );
  }

  ready(): Ready {
    if (this.state === RaftState.Leader) this.leaderState!.flush();
    let write: Write | null = null;
    if (this.hardStateDirty || this.pendingTruncate !== null || this.pendingEntries.length > 0) {
      const seq = this.nextSeq++;
      write = {
        seq,
        hardState: this.hardStateDirty ? this.hardState() : null,
        truncateFrom: this.pendingTruncate,
        entries: this.pendingEntries,
      };
      this.seqLastIndex.set(seq, this.log.lastIndex());
      this.hardStateDirty = false;
      this.pendingTruncate = null;
      this.pendingEntries = [];
    }
    const ready: Ready = {
      write,
      requests: this.outRequests,
      responses: this.outResponses,
      installs: this.outInstalls,
      events: this.outEvents,
      commitIndex: this.commitIndex,
    };
    this.outRequests = [];
    this.outResponses = [];
    this.outInstalls = [];
    this.outEvents = [];
    return ready;
  }

  hardState(): HardState {
    return { term: this.term, vote: this.voteVolatile ? null : this.vote, commit: this.commitIndex };
  }

  // ---------------------------------------------------------------------------------------------
  // Shared mutations (used by LeaderState too)

  appendEntries(entries: readonly LogEntry[]): void {
    for (const entry of entries) {
      this.log.append(entry.index, entry.term);
      this.pendingEntries.push(entry);
      if (entry.type === LogType.Configuration) {
        this.configurations.append(entry.index, this.options.codec.decode(entry.data));
        this.onLatestConfigurationChanged();
      }
    }
    this.entriesSeq = this.nextSeq;
  }

  private truncate(from: number): void {
    this.log.truncateFrom(from);
    this.pendingEntries = this.pendingEntries.filter((entry) => entry.index < from);
    this.pendingTruncate = Math.min(this.pendingTruncate ?? Infinity, from);
    this.durableLastIndex = Math.min(this.durableLastIndex, from - 1);
    this.entriesSeq = this.nextSeq;
    if (this.configurations.truncateFrom(from)) this.onLatestConfigurationChanged();
  }

  setCommit(index: number): void {
    if (index <= this.commitIndex) return;
    this.commitIndex = index;
    this.hardStateDirty = true;
    if (this.configurations.commit(index)) {
      this.emit({ type: 'configuration', configurations: this.configurations.snapshot() });
    }
  }

  private onLatestConfigurationChanged(): void {
    this.emit({ type: 'configuration', configurations: this.configurations.snapshot() });
    if (this.state === RaftState.Leader) this.leaderState!.syncPeers();
  }

  private setTerm(term: number): void {
    this.term = term;
    this.vote = null;
    this.voteVolatile = false;
    this.hardStateDirty = true;
    this.termVoteSeq = this.nextSeq;
  }

  private setVote(peer: Peer): void {
    this.vote = peer;
    if (this.faults.voteWithoutPersist && peer.id !== this.id) {
      this.voteVolatile = true;
      return;
    }
    this.hardStateDirty = true;
    this.termVoteSeq = this.nextSeq;
  }

  setState(state: RaftState): void {
    this.state = state;
    this.emit({ type: 'state', state, term: this.term });
  }

  private setLeader(leader: Peer | null): void {
    if (samePeer(this.leader, leader)) return;
    this.leader = leader;
    this.emit({ type: 'leader', leader });
  }

  send(
    to: Server,
    request: RaftRequest,
    opts: { after: number; entriesFrom?: number; entriesTo?: number; heartbeatRound?: number },
  ): OutboundRequest {
    const out: OutboundRequest = {
      id: this.nextOutboundId++,
      to,
      request,
      entriesFrom: opts.entriesFrom ?? 1,
      entriesTo: opts.entriesTo ?? 0,
      after: opts.after,
      epoch: this.epoch,
      heartbeatRound: opts.heartbeatRound ?? 0,
    };
    this.outRequests.push(out);
    return out;
  }

  respond(rpcId: number, response: RaftResponse, after: number): void {
    this.outResponses.push({ rpcId, response, after });
  }

  emit(event: CoreEvent): void {
    this.outEvents.push(event);
  }

  get termDurableSeq(): number {
    return this.termVoteSeq;
  }
}

export function samePeer(a: Peer | null, b: Peer | null): boolean {
  if (a === null || b === null) return a === b;
  if (a.id && b.id) return a.id === b.id;
  return a.address === b.address;
}
