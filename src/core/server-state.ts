/**
 * The state every role of one server shares (term, vote, commit index, known leader, the log's
 * terms, the configurations, the election timer) and the mutations on it. Each mutation also
 * records what it owes the outside world: the durable write it needs (durability.ts) and the events
 * it raises (outbox.ts). Role logic lives elsewhere: election.ts, follower.ts, leader.ts.
 */
import { randomBetween } from './clock.js';
import { findServer, findServerByAddress } from './configuration.js';
import { Durability } from './durability.js';
import type { CoreFaults, CoreOptions } from './inputs.js';
import { TermLog } from './log.js';
import { ConfigurationTracker } from './configuration-tracker.js';
import { Outbox, type SendOptions } from './outbox.js';
import type { CoreEvent, HardState, OutboundRequest } from './ready.js';
import {
  LogType,
  RaftState,
  type LogEntry,
  type Peer,
  type RaftRequest,
  type RaftResponse,
  type Server,
} from './types.js';

/**
 * Role changes. RaftCore implements them: it is the only place that creates and drops a leader, so
 * the roles ask it instead of importing each other.
 */
export interface Roles {
  /** Step down to follower, adopting `term` if it is newer. */
  becomeFollower(term: number, leader: Peer | null): void;
  becomeLeader(): void;
}

export class ServerState {
  readonly log = new TermLog();
  readonly configurations = new ConfigurationTracker();
  readonly outbox = new Outbox();
  readonly durability = new Durability();
  readonly faults: CoreFaults;

  role = RaftState.Follower;
  term = 0;
  vote: Peer | null = null;
  commitIndex = 0;
  leader: Peer | null = null;
  /** Last time a leader of the current term reached us (followers). */
  lastLeaderContact = -Infinity;
  now = 0;
  /**
   * How long this server has been running, as check-quorum counts it: `now`, except that a gap
   * between two ticks adds at most stallAllowance(). A leader whose own process stalled (a long GC,
   * a starved CPU, a blocking snapshot capture) wakes up with its peers' answers still unread in
   * its sockets; on wall-clock time its first tick would find the quorum silent and step down
   * (issue 14: the 307/503/504 answers under CPU contention). A stall costs it a tick, as in etcd,
   * whose check-quorum counts ticks, so a Go ticker that fell behind drops them.
   */
  awake = 0;
  /** Incremented each time this node becomes leader; stale requests carry an older epoch. */
  epoch = 0;
  /** When a follower or candidate campaigns next (leaders keep their own timers). */
  electionDeadline = Infinity;
  /**
   * Non-zero while this server's log ends below the commit index it had persisted (its disk lost
   * entries: see RaftCore.start): the index its log must reach again before it campaigns, and the
   * least last index of a candidate it votes for (so it cannot help elect a leader lacking them).
   */
  /** When a committed configuration without this server was seen; see `settleRemoval`. */
  private removalSeenAt: number | null = null;
  lostEntriesUntil = 0;
  /** With the voteWithoutPersist fault, the vote lives only in memory. */
  private voteVolatile = false;

  constructor(
    readonly options: CoreOptions,
    /** The latest configuration changed (appended or truncated away): a leader resyncs its peers. */
    private readonly latestConfigurationChanged: () => void,
  ) {
    this.faults = options.faults ?? {};
  }

  get id(): string {
    return this.options.id;
  }

  get self(): Peer {
    return { id: this.options.id, address: this.options.address };
  }

  /** Moves the clock to `now` (never back) and the awake clock by the gap, bounded. */
  advanceTo(now: number): void {
    const gap = now - this.now;
    if (gap > 0) this.awake += Math.min(gap, this.stallAllowance());
    this.now = now;
  }

  /**
   * The longest gap between two ticks that counts in full towards the awake clock: a quarter of
   * the lease, or a leader's longest timer interval when that is longer (a leader ticks at least
   * every commitTimeout and every heartbeatTimeout/5, so an undisturbed leader never loses time).
   */
  stallAllowance(): number {
    const { leaderLeaseTimeout, commitTimeout, heartbeatTimeout } = this.options;
    return Math.max(
      leaderLeaseTimeout / 4,
      Math.min(commitTimeout, heartbeatTimeout / 5, leaderLeaseTimeout),
    );
  }

  resetElectionTimer(): void {
    const base =
      this.role === RaftState.Candidate ? this.options.electionTimeout : this.options.heartbeatTimeout;
    this.electionDeadline = this.now + randomBetween(this.options.random, base, 2 * base);
  }

  /** Fills in the ID of a sender that only gave its address (hashicorp peers before 1.3.7). */
  resolve(peer: Peer): Peer {
    if (peer.id) return peer;
    const server = findServerByAddress(this.configurations.latest, peer.address);
    return server ? { id: server.id, address: peer.address } : peer;
  }

  /**
   * While the log lacks committed entries it lost, the commit index persisted stays the one it had,
   * so that a restart before the repair still knows (the runtime applies only what the log holds).
   */
  hardState(): HardState {
    const commit = this.lostEntries ? this.lostEntriesUntil : this.commitIndex;
    return { term: this.term, vote: this.voteVolatile ? null : this.vote, commit };
  }

  // ---------------------------------------------------------------------------------------------
  // Mutations

  setTerm(term: number): void {
    this.term = term;
    this.vote = null;
    this.voteVolatile = false;
    this.durability.termOrVoteChanged();
  }

  setVote(peer: Peer): void {
    this.vote = peer;
    if (this.faults.voteWithoutPersist && peer.id !== this.options.id) {
      this.voteVolatile = true;
      return;
    }
    this.durability.termOrVoteChanged();
  }

  /** True while the log still lacks entries this server once knew were committed. */
  get lostEntries(): boolean {
    if (this.faults.voteWithLostEntries) return false;
    if (this.lostEntriesUntil > 0 && this.log.lastIndex() >= this.lostEntriesUntil) this.lostEntriesUntil = 0;
    return this.lostEntriesUntil > 0;
  }

  setCommit(index: number): void {
    if (index <= this.commitIndex) return;
    this.commitIndex = index;
    this.durability.commitChanged();
    const wasMember = findServer(this.configurations.committedConfiguration, this.id) !== undefined;
    if (this.configurations.commit(index)) {
      this.emit({ type: 'configuration', configurations: this.configurations.snapshot() });
      // hashicorp's removal: a member learns it is out when a configuration without it commits.
      const isMember = findServer(this.configurations.committedConfiguration, this.id) !== undefined;
      if (wasMember && !isMember) {
        this.removalSeenAt = this.now;
        if (this.role === RaftState.Leader) this.settleRemoval(true);
      }
      if (isMember) this.removalSeenAt = null;
    }
  }

  /**
   * Announces a committed removal ('removed': the runtime shuts down with `shutdownOnRemove`) unless
   * this server is added back. A leader's log is the cluster's, so it decides at once (`now`). A
   * follower's log may lag a re-add the leader already committed: a leader announces to a follower
   * only the commit index its log is proven to hold, so a server restarting behind a removal and a
   * re-add of its ID (a retried addVoter after a failed catch-up) saw the removal commit first and
   * stopped there at every restart (simulator soak seeds 5200 and 14536). It waits an election
   * timeout: a leader that re-added it sends it the re-add by then; one that removed it stops
   * sending once it has acknowledged its removal.
   */
  settleRemoval(now = false): void {
    if (this.removalSeenAt === null) return;
    if (findServer(this.configurations.latest, this.id)) {
      this.removalSeenAt = null;
      return;
    }
    if (!now && this.now - this.removalSeenAt < this.options.electionTimeout) return;
    this.removalSeenAt = null;
    this.emit({ type: 'removed' });
  }

  setRole(role: RaftState): void {
    this.role = role;
    this.emit({ type: 'state', state: role, term: this.term });
  }

  setLeader(leader: Peer | null): void {
    // The same leader, now with its ID (it was known by address only): worth telling.
    const learnsId = leader !== null && leader.id !== '' && this.leader !== null && this.leader.id === '';
    if (samePeer(this.leader, leader) && !learnsId) return;
    this.leader = leader;
    this.emit({ type: 'leader', leader });
  }

  appendEntries(entries: readonly LogEntry[]): void {
    for (const entry of entries) {
      this.log.append(entry.index, entry.term);
      if (entry.type === LogType.Configuration) {
        this.configurations.append(entry.index, this.options.codec.decode(entry.data));
        this.onLatestConfigurationChanged();
      }
    }
    this.durability.appended(entries);
  }

  /** Removes a conflicting suffix from `from` on. */
  truncate(from: number): void {
    this.log.truncateFrom(from);
    this.durability.truncated(from);
    if (this.configurations.truncateFrom(from)) this.onLatestConfigurationChanged();
  }

  private onLatestConfigurationChanged(): void {
    this.emit({ type: 'configuration', configurations: this.configurations.snapshot() });
    this.resolveLeaderId();
    this.latestConfigurationChanged();
  }

  /**
   * A leader known by address only gets its ID as soon as a configuration names its address:
   * hashicorp/raft before 1.3.7 sends no leader ID, and a joining server's first AppendEntries
   * arrives before the configuration that would resolve it.
   */
  resolveLeaderId(): void {
    if (this.leader !== null && this.leader.id === '') this.setLeader(this.resolve(this.leader));
  }

  // ---------------------------------------------------------------------------------------------
  // Output

  send(to: Server, request: RaftRequest, options: SendOptions): OutboundRequest {
    return this.outbox.send(to, request, this.epoch, options);
  }

  respond(rpcId: number, response: RaftResponse, after: number): void {
    this.outbox.respond(rpcId, response, after);
  }

  emit(event: CoreEvent): void {
    this.outbox.emit(event);
  }
}

/** The same server: by ID when both have one, else by address. */
export function samePeer(a: Peer | null, b: Peer | null): boolean {
  if (a === null || b === null) return a === b;
  if (a.id && b.id) return a.id === b.id;
  return a.address === b.address;
}
