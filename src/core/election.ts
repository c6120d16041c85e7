/**
 * Elections, both sides: campaigning (pre-vote as in hashicorp 1.7, then the vote; a leadership
 * transfer skips pre-vote) and deciding what to answer a candidate. Votes are refused while a
 * leader is known, and for one election timeout after start (a restarted server cannot know
 * whether some leader holds a lease).
 */
import { isVoter, voters } from './configuration.js';
import type { FailureReason } from './inputs.js';
import { VoteResult } from './quorum.js';
import type { OutboundRequest } from './ready.js';
import { samePeer, type Roles, type ServerState } from './server-state.js';
import {
  RaftState,
  type RequestPreVoteRequest,
  type RequestPreVoteResponse,
  type RequestVoteRequest,
  type RequestVoteResponse,
  type Peer,
  type Server,
  type ServerId,
} from './types.js';

/**
 * How far a stranger's vote may move our term (see `mayCampaign`). A voter that lags a newer
 * configuration may also lag its term by the elections it missed (simulator seed 12787: two terms
 * behind the only candidate that could win), and pre-vote keeps that gap small; a forged vote
 * can move an idle server's term by at most this much, never to the bound (2^48-1), where the
 * cluster would have no term left to elect in.
 */
export const STRANGER_TERM_WINDOW = 100;

interface Candidacy {
  preVote: boolean;
  transfer: boolean;
  granted: Set<ServerId>;
  /** The term campaigned in (for a pre-vote, the term a real election would use). */
  term: number;
}

export class Election {
  private candidacy: Candidacy | null = null;
  private votesRefusedUntil = -Infinity;
  /** The highest term a candidate we refused showed us while we knew no leader; see `noteRefusedTerm`. */
  private refusedTerm = 0;
  /** Peers that closed the connection on RequestPreVote (hashicorp before 1.7): counted as granted. */
  private readonly preVoteUnsupported = new Set<ServerId>();

  constructor(
    private readonly server: ServerState,
    private readonly roles: Roles,
  ) {}

  start(): void {
    this.votesRefusedUntil = this.server.now + this.server.options.electionTimeout;
  }

  /** Peers known to answer RequestPreVote by closing the connection. */
  get preVoteUnsupportedPeers(): ReadonlySet<ServerId> {
    return this.preVoteUnsupported;
  }

  /** The candidacy ended (won, or a leader or newer term appeared). */
  end(): void {
    this.candidacy = null;
  }

  onTimeout(): void {
    const server = this.server;
    server.setLeader(null);
    if (!this.mayStand() || server.lostEntries) {
      // Non-voters and unbootstrapped servers never campaign ("no known peers"); nor does a server
      // whose log lost committed entries (it could win without them).
      if (server.role === RaftState.Candidate) server.setRole(RaftState.Follower);
      server.resetElectionTimer();
      return;
    }
    this.campaign(false);
  }

  /** Start an election: pre-vote first unless disabled or this is a leadership transfer. */
  campaign(transfer: boolean): void {
    const server = this.server;
    if (server.options.preVote && !transfer) {
      server.setRole(RaftState.Candidate);
      this.candidacy = {
        preVote: true,
        transfer: false,
        granted: new Set([server.id]),
        term: this.nextTerm(),
      };
      server.resetElectionTimer();
      const request: Omit<RequestPreVoteRequest, 'kind'> = {
        term: this.candidacy.term,
        candidate: server.self,
        lastLogIndex: server.log.lastIndex(),
        lastLogTerm: server.log.lastTerm(),
      };
      for (const peer of this.otherVoters()) {
        if (this.preVoteUnsupported.has(peer.id)) this.candidacy.granted.add(peer.id);
        else server.send(peer, { kind: 'requestPreVote', ...request }, { after: 0 });
      }
      this.checkElection();
      return;
    }
    this.startElection(transfer);
  }

  private startElection(transfer: boolean): void {
    const server = this.server;
    server.setRole(RaftState.Candidate);
    server.setTerm(this.nextTerm());
    server.setVote(server.self);
    this.candidacy = { preVote: false, transfer, granted: new Set([server.id]), term: server.term };
    server.resetElectionTimer();
    const request: Omit<RequestVoteRequest, 'kind'> = {
      term: server.term,
      candidate: server.self,
      lastLogIndex: server.log.lastIndex(),
      lastLogTerm: server.log.lastTerm(),
      leadershipTransfer: transfer,
    };
    for (const peer of this.otherVoters()) {
      server.send(peer, { kind: 'requestVote', ...request }, { after: server.durability.termVoteDurableAt });
    }
    this.checkElection();
  }

  /**
   * The term a campaign asks for: past ours, and past the term of any candidate we refused while
   * we knew no leader (`noteRefusedTerm`).
   */
  private nextTerm(): number {
    return Math.max(this.server.term, this.refusedTerm) + 1;
  }

  private checkElection(): void {
    const candidacy = this.candidacy!;
    const { faults } = this.server;
    // The planted bug counts one voter that did not grant (the first voter not in the set).
    let extra = faults.electWithoutQuorum && !candidacy.preVote;
    const result = this.server.configurations.quorum.voteResult((id) => {
      if (candidacy.granted.has(id)) return true;
      if (!extra) return undefined;
      extra = false;
      return true;
    });
    if (result !== VoteResult.Won) return;
    if (candidacy.preVote) this.startElection(false);
    else this.roles.becomeLeader();
  }

  private otherVoters(): Server[] {
    return voters(this.server.configurations.latest).filter((peer) => peer.id !== this.server.id);
  }

  // ---------------------------------------------------------------------------------------------
  // Answers to our requests

  onVoteResponse(out: OutboundRequest, granted: boolean): void {
    const candidacy = this.candidacy;
    const { request } = out;
    if (
      !candidacy ||
      candidacy.preVote !== (request.kind === 'requestPreVote') ||
      request.term !== candidacy.term
    ) {
      return;
    }
    if (granted) {
      candidacy.granted.add(out.to.id);
      this.checkElection();
    }
  }

  onPreVoteFailure(out: OutboundRequest, reason: FailureReason): void {
    if (reason !== 'unsupported') return;
    // Like hashicorp 1.7 treating "unexpected command" as granted: pre-vote only protects
    // against disruption; the real vote still needs a majority.
    this.preVoteUnsupported.add(out.to.id);
    const candidacy = this.candidacy;
    if (candidacy?.preVote && candidacy.term === out.request.term) {
      candidacy.granted.add(out.to.id);
      this.checkElection();
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Requests from candidates

  onRequestVote(rpcId: number, request: RequestVoteRequest): void {
    const server = this.server;
    server.emit({ type: 'voteRequest', request });
    const candidate = server.resolve(request.candidate);
    const deny = (): void =>
      server.respond(rpcId, { term: server.term, granted: false }, server.durability.termVoteDurableAt);
    if (!this.mayCampaign(candidate, request)) {
      this.noteRefusedTerm(request.term);
      return deny();
    }
    // A transfer may interrupt a known leader only if it comes from a voter (mayCampaign lets any
    // candidate through while this server knows no configuration).
    const transfer =
      request.leadershipTransfer &&
      candidate.id !== '' &&
      isVoter(server.configurations.latest, candidate.id);
    if (this.leaderKnown() && !samePeer(server.leader, candidate) && !transfer) return deny();
    if (request.term < server.term) return deny();
    if (request.term > server.term) this.roles.becomeFollower(request.term, null);
    if (server.vote && !samePeer(server.vote, candidate) && !server.faults.voteTwice) return deny();
    if (!server.faults.skipUpToDateCheck && !this.upToDate(request)) return deny();
    if (!server.vote) server.setVote(candidate);
    server.resetElectionTimer();
    const response: RequestVoteResponse = { term: server.term, granted: true };
    server.respond(
      rpcId,
      response,
      server.faults.voteWithoutPersist ? 0 : server.durability.termVoteDurableAt,
    );
  }

  onRequestPreVote(rpcId: number, request: RequestPreVoteRequest): void {
    const server = this.server;
    server.emit({ type: 'voteRequest', request });
    const candidate = server.resolve(request.candidate);
    // Our own term, as hashicorp answers: the term the candidate proposed was never campaigned in,
    // and a refusal carrying it would make a candidate that went back to following adopt it.
    const reply = (granted: boolean): void => {
      const response: RequestPreVoteResponse = { term: server.term, granted };
      server.respond(rpcId, response, server.durability.termVoteDurableAt);
    };
    if (!this.mayCampaign(candidate, request)) return reply(false);
    if (this.leaderKnown() && !samePeer(server.leader, candidate)) return reply(false);
    if (request.term < server.term) return reply(false);
    reply(server.faults.skipUpToDateCheck || this.upToDate(request));
  }

  /**
   * Paper 5.4.1: the candidate's log is at least as up to date as ours; and, while our log lacks
   * committed entries it lost, reaches the commit index we had (else our vote could elect a
   * leader without them).
   */
  private upToDate(request: RequestVoteRequest | RequestPreVoteRequest): boolean {
    const server = this.server;
    if (server.lostEntries && request.lastLogIndex < server.lostEntriesUntil) return false;
    return server.log.isUpToDate(request.lastLogIndex, request.lastLogTerm);
  }

  /**
   * A candidate we refuse as a stranger (or a non-voter to us) still shows the term it campaigns
   * in, and our next campaign asks for a term past it. Nothing else changes (issue 11): not our
   * term, role or leader, nothing is written, and the term counts only while we know no leader
   * and when it is at most our term + STRANGER_TERM_WINDOW. Without it the cluster could wait long
   * for a leader (simulator soak seeds 37364, 40518, 50358, 51298, 79622 and 70149): a server
   * that never pre-votes (hashicorp/raft before 1.7) and missed its own removal or demotion
   * campaigns each election timeout and takes, in each new term, the vote of a voter whose older
   * configuration still names it; the candidate that could win needs that vote but learned the
   * new term only by losing an election in it, so it always asked for the term the voter had
   * already given away. hashicorp/raft (pull request 526) and etcd-io/raft adopt the refused
   * candidate's term for the same reason; a term we only remember cannot be forced on us.
   */
  private noteRefusedTerm(term: number): void {
    if (term > this.server.term + STRANGER_TERM_WINDOW || this.leaderKnown()) return;
    this.refusedTerm = Math.max(this.refusedTerm, term);
  }

  /** TimeoutNow (leadership transfer): campaign at once, without pre-vote. */
  onTimeoutNow(rpcId: number): void {
    const server = this.server;
    server.respond(rpcId, {}, 0);
    const eligible = isVoter(server.configurations.latest, server.id) && !server.lostEntries;
    if (server.role !== RaftState.Leader && eligible) {
      server.setLeader(null);
      this.campaign(true);
    }
  }

  /**
   * Who may be voted for. A voter of the latest configuration, known by its ID or, when the request
   * carries none (hashicorp 1.1.2 peers), by its address. A stranger (unknown, or a non-voter to
   * us) only when its log is strictly ahead of ours and reaches beyond our latest configuration:
   * it holds entries we lack, among them perhaps the configuration that made it a voter. The
   * thesis (4.1) has servers vote for candidates outside their configuration, as etcd-io/raft
   * does (here only when the request names the candidate's ID); refusing all strangers (issue 11) cost liveness: a voter that missed a new member's
   * promotion refused the only candidate with the longest log, and with one voter lost the cluster
   * stayed leaderless forever (simulator seeds 593 and 904). Such a stranger may ask for at most
   * our term + STRANGER_TERM_WINDOW. Any other stranger changes nothing:
   * not the term, not the role, not the leader (hashicorp would adopt the term; see README
   * "Security and failure model"); a removed server that missed its removal has a log behind ours.
   * A server that knows no configuration yet (joining, not bootstrapped, or wiped and added again
   * under its old ID) votes for no one: a removed server that never learned of its removal still
   * counts that ID as a voter, and an empty log's vote would let it win with a stale log and serve
   * stale reads (chaos seed 51). New voters are added as non-voters first and hold the
   * configuration before their vote counts.
   */
  private mayCampaign(candidate: Peer, request: RequestVoteRequest | RequestPreVoteRequest): boolean {
    const configurations = this.server.configurations;
    if (candidate.id !== '' && isVoter(configurations.latest, candidate.id)) return true;
    // A stranger must name itself: a vote recorded for a bare address could not be matched later.
    if (candidate.id === '' || voters(configurations.latest).length === 0) return false;
    const log = this.server.log;
    const strictlyAhead =
      request.lastLogTerm > log.lastTerm() ||
      (request.lastLogTerm === log.lastTerm() && request.lastLogIndex > log.lastIndex());
    return (
      strictlyAhead &&
      request.lastLogIndex > configurations.latestIndex &&
      request.term <= this.server.term + STRANGER_TERM_WINDOW
    );
  }

  /**
   * This server may campaign: it is a voter of the latest configuration, or of the committed one
   * while a later configuration that removes it is not committed yet. hashicorp campaigns unless
   * the latest configuration is committed and gives it no vote, and the thesis (4.2.2) lets a
   * server outside C_new lead until C_new commits: a leader that appended its own removal and
   * then lost its quorum may hold the only log the others can elect (they refuse shorter logs,
   * and a voter whose configuration is older refuses candidates it does not know), so without
   * this the cluster could wait forever (simulator seed 293).
   */
  private mayStand(): boolean {
    const configurations = this.server.configurations;
    if (isVoter(configurations.latest, this.server.id)) return true;
    return (
      configurations.latestIndex !== configurations.committedIndex &&
      isVoter(configurations.committedConfiguration, this.server.id)
    );
  }

  /** A leader is known and was heard from within the election timeout (or we are it). */
  private leaderKnown(): boolean {
    const server = this.server;
    if (server.role === RaftState.Leader || server.now < this.votesRefusedUntil) return true;
    return server.leader !== null && server.now - server.lastLeaderContact < server.options.electionTimeout;
  }
}
