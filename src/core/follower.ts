/**
 * The receiver's rules for the leader's log (Raft paper figure 2 and 13): AppendEntries with its
 * consistency check, conflict truncation (never below the commit index) and the LastLog back-off
 * hint; InstallSnapshot, handed to the runtime to store and restore, then finished here.
 */
import type { Roles, ServerState } from './server-state.js';
import { samePeer } from './server-state.js';
import { RaftState, type AppendEntriesRequest, type InstallSnapshotRequest, type LogEntry } from './types.js';

export class Follower {
  /** Snapshot installs in progress, by rpcId. */
  private readonly installing = new Map<number, InstallSnapshotRequest>();

  constructor(
    private readonly server: ServerState,
    private readonly roles: Roles,
  ) {}

  onAppendEntries(rpcId: number, request: AppendEntriesRequest): void {
    const server = this.server;
    const { log } = server;
    const fail = (noRetryBackoff: boolean, lastLog: number): void =>
      server.respond(
        rpcId,
        { term: server.term, lastLog, success: false, noRetryBackoff },
        server.durability.termVoteDurableAt,
      );
    if (request.term < server.term) return fail(false, log.lastIndex());
    if (server.role === RaftState.Leader && request.term === server.term) {
      // Two leaders in one term would be a safety violation; refuse and keep going.
      return fail(false, log.lastIndex());
    }
    this.acceptLeader(request.term, request.leader);

    const { prevLogIndex, prevLogTerm, entries } = request;
    if (prevLogIndex > 0 && prevLogIndex > log.snapshotIndex && !server.faults.skipPrevLogCheck) {
      const ourTerm = log.term(prevLogIndex);
      if (ourTerm === undefined) return fail(true, log.lastIndex());
      if (ourTerm !== prevLogTerm) return fail(true, log.conflictHint(prevLogIndex - 1, prevLogTerm));
    }
    this.appendFromLeader(entries);
    const lastNew = prevLogIndex + entries.length;
    if (request.leaderCommitIndex > server.commitIndex) {
      const proven = server.faults.followerCommitToLastIndex ? log.lastIndex() : lastNew;
      server.setCommit(Math.min(request.leaderCommitIndex, proven));
    }
    server.settleRemoval();
    server.respond(
      rpcId,
      { term: server.term, lastLog: log.lastIndex(), success: true, noRetryBackoff: false },
      server.faults.ackBeforePersist
        ? 0
        : Math.max(server.durability.termVoteDurableAt, server.durability.entriesDurableAt),
    );
  }

  /** A leader of at least our term reached us: follow it and hold off elections. */
  private acceptLeader(term: number, sender: AppendEntriesRequest['leader']): void {
    const server = this.server;
    const leader = server.resolve(sender);
    if (term > server.term || server.role !== RaftState.Follower || !samePeer(server.leader, leader)) {
      this.roles.becomeFollower(term, leader);
    } else {
      server.setLeader(leader);
    }
    server.lastLeaderContact = server.now;
    server.resetElectionTimer();
  }

  /** Appends what we lack, truncating a conflicting suffix (never below the commit index). */
  private appendFromLeader(entries: readonly LogEntry[]): void {
    const server = this.server;
    let start = 0;
    for (; start < entries.length; start++) {
      const entry = entries[start];
      if (entry.index <= server.log.snapshotIndex) continue;
      const ourTerm = server.log.term(entry.index);
      if (ourTerm === undefined) break;
      if (ourTerm !== entry.term) {
        if (server.faults.keepConflictingSuffix) continue;
        if (entry.index <= server.commitIndex) {
          throw new Error(
            `safety: leader conflicts with committed entry ${entry.index} (commit ${server.commitIndex})`,
          );
        }
        server.truncate(entry.index);
        break;
      }
    }
    if (start < entries.length) server.appendEntries(entries.slice(start));
  }

  onInstallSnapshot(rpcId: number, request: InstallSnapshotRequest): void {
    const server = this.server;
    if (request.term < server.term || request.snapshotVersion < 0 || request.snapshotVersion > 1) {
      server.respond(rpcId, { term: server.term, success: false }, server.durability.termVoteDurableAt);
      return;
    }
    this.acceptLeader(request.term, request.leader);
    if (request.lastLogIndex <= server.commitIndex) {
      // Everything the snapshot covers is already committed here (and committed prefixes agree):
      // installing it would roll the state machine back. The runtime drains the bytes.
      server.respond(rpcId, { term: server.term, success: true }, server.durability.termVoteDurableAt);
      return;
    }
    this.installing.set(rpcId, request);
    server.outbox.install(rpcId, request);
  }

  /** The runtime stored the snapshot and restored the FSM from it. */
  snapshotInstalled(rpcId: number): void {
    const server = this.server;
    const request = this.installing.get(rpcId);
    if (!request) return;
    this.installing.delete(rpcId);
    const { lastLogIndex: index, lastLogTerm: term } = request;
    if (index > server.log.snapshotIndex) {
      const kept = this.keepStaleLog(index, term) || server.log.installSnapshot(index, term);
      // When the old log is not a prefix of the leader's, storage drops all of it.
      if (!kept) server.durability.logReplaced(index);
      server.configurations.reset(request.configurationIndex, request.configuration, kept ? index : Infinity);
      server.emit({ type: 'configuration', configurations: server.configurations.snapshot() });
      server.resolveLeaderId();
    }
    if (index > server.commitIndex) server.setCommit(index);
    if (request.term === server.term) {
      server.respond(
        rpcId,
        { term: server.term, success: true },
        Math.max(server.durability.termVoteDurableAt, server.durability.nextWriteSeq),
      );
      server.durability.hardStateChanged();
    } else {
      server.respond(rpcId, { term: server.term, success: false }, server.durability.termVoteDurableAt);
    }
  }

  /**
   * The planted bug snapshotKeepsStaleLog: records the snapshot but keeps the entries past its index
   * whether or not the log holds its last entry (the paper's receiver rule 7 discards the whole log
   * then). Returns whether it did.
   */
  private keepStaleLog(index: number, term: number): boolean {
    const log = this.server.log;
    if (!this.server.faults.snapshotKeepsStaleLog || log.lastIndex() <= index) return false;
    log.setSnapshot(index, term);
    log.compactBefore(index + 1);
    return true;
  }

  snapshotInstallFailed(rpcId: number): void {
    if (!this.installing.delete(rpcId)) return;
    const server = this.server;
    server.respond(rpcId, { term: server.term, success: false }, server.durability.termVoteDurableAt);
  }
}
