/**
 * The simulator's safety checks, run after every step (the expensive full log comparison runs
 * every few steps and at the end). Each check names the Raft property it guards.
 */
import { RaftState, type LogEntry, type Peer } from '../core/types.js';
import type { CoreView } from '../core/raft.js';
import type { Raft } from '../raft/raft.js';
import type { FsmObserver, SimFsm } from './sim-fsm.js';

/** A simulated server as the checker sees it; `raft` and `fsm` are null while it is down. */
export interface CheckedNode {
  /** The server ID. */
  id: string;
  /** Its runtime, when running. */
  raft: Raft | null;
  /** Its state machine, when running. */
  fsm: SimFsm | null;
}

interface NodeHistory {
  maxCommit: number;
  maxDurableCommit: number;
  maxApplied: number;
  /** Highest index whose committed term this node's log was compared against. */
  checkedCommit: number;
  generation: number;
  /** The term this node last led in, and its log's end then (leader append-only). */
  leaderTerm: number;
  leaderLast: number;
  leaderLastTerm: number | undefined;
  /** The latest configuration's index while leading leaderTerm (one change at a time). */
  leaderConfigIndex: number;
  /**
   * The configuration indexes last read and the (term, last index, commit index) they were read
   * at: within a term a leader's configurations change only with its log's end (it never
   * truncates: leader append-only) or its commit index, so reading them again (a copy of the
   * configurations each time) is needed only when one of those moved.
   */
  configAt: { term: number; last: number; commit: number; latestIndex: number; committedIndex: number };
  /** The vote it holds in memory and its term, since it last started (one vote per term). */
  voteTerm: number;
  voteFor: string;
}

/**
 * Raft's safety properties, checked as a run goes: election safety, leader completeness, log
 * matching, state-machine safety (hash chains compared index by index), commit and applied indexes
 * never going back (across restarts too), no acknowledged write lost, reads no older than what was
 * acknowledged or read before them. The simulation feeds it through these hooks.
 */
export class SafetyChecker implements FsmObserver {
  /** Every property broken so far, each naming the property. */
  readonly violations: string[] = [];
  /** term -> leader id (election safety). */
  private readonly leaders = new Map<number, string>();
  /** "voter@term" -> the candidate it granted (one vote per term, across restarts). */
  private readonly votes = new Map<string, string>();
  /** index -> term of committed entries, as first seen by any node. */
  private readonly committedTerms = new Map<number, number>();
  /**
   * index -> the term of the server that first saw it committed (a leader sees its commits before
   * anyone): the term it was committed in. Leader completeness binds the leaders of later terms only.
   */
  private readonly committedInTerm = new Map<number, number>();
  private maxCommitted = 0;
  /** index -> chain hash after applying the command at that index (state machine safety). */
  private readonly appliedHash = new Map<number, number>();
  private readonly appliedPayload = new Map<number, string>();
  /** index -> payload of writes acknowledged to clients. */
  private readonly acked = new Map<number, string>();
  private readonly history = new Map<string, NodeHistory>();
  /** register value -> index of the write that put it there (values are unique per write). */
  private readonly valueIndex = new Map<string, number>();
  /** key -> highest index of a write to it acknowledged so far. */
  private readonly ackedPerKey = new Map<string, number>();
  /** Per key, the log index of the newest value a completed read returned. */
  private readonly readPerKey = new Map<string, number>();
  /** index -> the records damaged at rest at that index on some node's disk (never to be served). */
  private readonly damaged = new Map<number, LogEntry[]>();
  /** Client writes acknowledged so far. */
  ackedCount = 0;
  /** Reads checked so far. */
  readsChecked = 0;

  constructor(private readonly describe: () => string) {}

  private violation(message: string): void {
    this.violations.push(`${this.describe()}: ${message}`);
  }

  // ---- FSM hooks --------------------------------------------------------------------------------

  onApply(fsm: SimFsm, index: number, payload: string): void {
    const known = this.appliedHash.get(index);
    if (known === undefined) {
      this.appliedHash.set(index, fsm.hash);
      this.appliedPayload.set(index, payload);
      this.valueIndex.set((JSON.parse(payload) as { value: string }).value, index);
    } else if (known !== fsm.hash) {
      this.violation(
        `state machine safety: ${fsm.node} applied ${payload} at ${index}, others ${this.appliedPayload.get(index)}`,
      );
    }
    const ack = this.acked.get(index);
    if (ack !== undefined && ack !== payload) {
      this.violation(`acknowledged write lost: ${ack} acked at ${index}, ${fsm.node} applied ${payload}`);
    }
  }

  onRestore(fsm: SimFsm): void {
    if (fsm.lastIndex === 0) return;
    const known = this.appliedHash.get(fsm.lastIndex);
    if (known === undefined) this.appliedHash.set(fsm.lastIndex, fsm.hash);
    else if (known !== fsm.hash) {
      this.violation(
        `snapshot restore: ${fsm.node} restored state at ${fsm.lastIndex} that differs from the replayed log`,
      );
    }
  }

  // ---- damaged records -------------------------------------------------------------------------

  /** `entry` is a record damaged at rest on a node's disk: no node may apply it or receive it. */
  onDamaged(entry: LogEntry): void {
    const known = this.damaged.get(entry.index);
    if (known) known.push(entry);
    else this.damaged.set(entry.index, [entry]);
  }

  /** Integrity: none of `entries` is a damaged record (`what`: who applied or stored them). */
  checkIntact(what: string, entries: readonly LogEntry[]): void {
    if (this.damaged.size === 0) return;
    for (const entry of entries) {
      const damaged = this.damaged.get(entry.index);
      if (damaged?.some((bad) => sameRecord(bad, entry)))
        this.violation(`integrity: ${what} the damaged record ${entry.index} (its checksum does not match)`);
    }
  }

  // ---- client hooks -----------------------------------------------------------------------------

  /** A client write was acknowledged at `index`: it must be applied everywhere, forever. */
  onAcked(index: number, payload: string): void {
    this.ackedCount++;
    const applied = this.appliedPayload.get(index);
    if (applied !== undefined && applied !== payload) {
      this.violation(
        `acknowledged write lost: ${payload} acked at ${index} but ${applied} was applied there`,
      );
    }
    this.acked.set(index, payload);
    const { key } = JSON.parse(payload) as { key: string };
    this.ackedPerKey.set(key, Math.max(this.ackedPerKey.get(key) ?? 0, index));
  }

  /**
   * The floor a linearizable read of key that starts now must respect: the newest write to key
   * that was acknowledged, or returned by a read, before now.
   */
  readFloor(key: string): number {
    return Math.max(this.ackedPerKey.get(key) ?? 0, this.readPerKey.get(key) ?? 0);
  }

  /**
   * A linearizable read returns a value no older than every write acknowledged before it began
   * and every value an earlier read returned, and only values that were written. Values are
   * unique and writes take effect in log order (which respects real time), so for a register
   * these conditions are exactly linearizability: no search over orderings is needed.
   */
  onRead(node: string, key: string, value: string | undefined, floor: number): void {
    this.readsChecked++;
    const why = `a write at ${floor} was acknowledged or read before the read began`;
    if (value === undefined) {
      if (floor > 0) this.violation(`stale read on ${node}: ${key} absent, but ${why}`);
      return;
    }
    const index = this.valueIndex.get(value);
    if (index === undefined) this.violation(`phantom read on ${node}: ${key}=${value} was never applied`);
    else if (index < floor)
      this.violation(`stale read on ${node}: ${key}=${value} (written at ${index}), but ${why}`);
    else this.readPerKey.set(key, Math.max(this.readPerKey.get(key) ?? 0, index));
  }

  // ---- node lifecycle ---------------------------------------------------------------------------

  /**
   * `id`'s disk lost its synced log after `last` (a simulated lying disk): it can no longer hold a
   * commit index past `last`, and is not to blame for it. From its next start on, the durable
   * commit index the runtime reports is again a promise a restart must keep. Leader completeness
   * and the acknowledged writes show whether the cluster lost anything by it (the fault takes only
   * entries a majority holds without it), and the liveness phase's convergence that it was repaired.
   */
  onTailLost(id: string, last: number): void {
    const history = this.history.get(id);
    if (history) history.maxDurableCommit = Math.min(history.maxDurableCommit, last);
  }

  /**
   * A server (re)started: its commit and applied indexes must not be behind the commit index it
   * had made durable. The applied index may be behind what it applied before the restart: entries
   * are applied at the commit index in memory, which is persisted lazily and re-learned.
   */
  onStarted(node: CheckedNode): void {
    const raft = node.raft!;
    const before = this.history.get(node.id);
    if (before) {
      if (raft.commitIndex() < before.maxDurableCommit) {
        this.violation(
          `durability: commit index went back across restart on ${node.id}: ${before.maxDurableCommit} -> ${raft.commitIndex()}`,
        );
      }
      if (raft.appliedIndex() < before.maxDurableCommit) {
        this.violation(
          `durability: applied index went back across restart on ${node.id} below its durable commit: ${before.maxDurableCommit} -> ${raft.appliedIndex()}`,
        );
      }
      before.generation++;
      before.voteTerm = 0;
      before.maxApplied = raft.appliedIndex();
      before.leaderTerm = 0;
      before.configAt.term = -1;
      before.maxCommit = raft.commitIndex();
      before.checkedCommit = Math.min(before.checkedCommit, raft.inspect().snapshotIndex());
    } else {
      this.history.set(node.id, {
        maxCommit: 0,
        maxDurableCommit: 0,
        maxApplied: 0,
        checkedCommit: 0,
        generation: 0,
        leaderTerm: 0,
        leaderLast: 0,
        leaderLastTerm: undefined,
        leaderConfigIndex: 0,
        configAt: { term: -1, last: -1, commit: -1, latestIndex: 0, committedIndex: 0 },
        voteTerm: 0,
        voteFor: '',
      });
    }
  }

  /**
   * `voter` granted `candidate` its vote in `term`, and `durable` is the hard state on its disk as
   * the grant leaves. A grant must be durable before it is sent: the disk holds this vote or a later
   * term, else a crash at this instant lets the voter vote again in `term`. Two leaders in one term
   * then need a second candidate in that same term to reach the restarted voter before a leader's
   * heartbeat does, which random crashes seldom line up; this check sees every grant's window.
   * Separately, no voter grants two candidates in one term, across restarts.
   */
  onVoteGranted(
    voter: string,
    term: number,
    candidate: Peer,
    durable: { term: number; vote: Peer | null },
  ): void {
    const key = `${voter}@${term}`;
    const earlier = this.votes.get(key);
    if (earlier !== undefined && earlier !== candidate.id) {
      this.violation(`election safety: ${voter} voted for ${earlier} and ${candidate.id} in term ${term}`);
    }
    this.votes.set(key, candidate.id);
    const kept = durable.term > term || (durable.term === term && durable.vote?.id === candidate.id);
    if (!kept) {
      this.violation(
        `election safety: ${voter} granted ${candidate.id} its vote in term ${term} before persisting it (disk: term ${durable.term}, vote ${durable.vote?.id ?? 'none'}); a crash now lets it vote twice`,
      );
    }
  }

  /**
   * Election safety as the server itself holds it: once it has voted in a term, its vote stays
   * (a grant that never reached the network is checked too; a restart may forget an unpersisted one).
   */
  private checkVote(id: string, history: NodeHistory, core: CoreView): void {
    const vote = core.vote;
    if (!vote) return;
    const candidate = vote.id || vote.address;
    if (history.voteTerm === core.term && history.voteFor !== candidate)
      this.violation(
        `election safety: ${id} holds votes for ${history.voteFor} and ${candidate} in term ${core.term}`,
      );
    history.voteTerm = core.term;
    history.voteFor = candidate;
  }

  /** `id` became leader of `term`: no other leader in that term, and it holds every committed entry. */
  onLeader(id: string, term: number, node: CheckedNode): void {
    const existing = this.leaders.get(term);
    if (existing !== undefined && existing !== id) {
      this.violation(`election safety: ${existing} and ${id} both leaders in term ${term}`);
    }
    this.leaders.set(term, id);
    // Leader completeness: every committed entry is in the new leader's log.
    const core = node.raft!.inspect();
    for (let index = core.snapshotIndex() + 1; index <= this.maxCommitted; index++) {
      const entryTerm = this.committedTerms.get(index);
      // A leader of an older term elected late (a vote still on its way) need not hold what a newer
      // term's leader committed meanwhile: that commit's majority has moved past its term, so it
      // can commit nothing.
      if ((this.committedInTerm.get(index) ?? 0) >= term) continue;
      if (entryTerm !== undefined && core.termAt(index) !== entryTerm) {
        this.violation(
          `leader completeness: leader ${id} lacks committed entry ${index} (term ${entryTerm}, has ${core.termAt(index)})`,
        );
        return;
      }
    }
  }

  // ---- after every step -------------------------------------------------------------------------

  /** The per-step checks over every running server (commit agreement, monotonic indexes, one leader per term). */
  check(nodes: readonly CheckedNode[]): void {
    for (const node of nodes) {
      const raft = node.raft;
      if (!raft || raft.shutdownCalled) continue;
      const history = this.history.get(node.id)!;
      const core = raft.inspect();
      const commit = core.commitIndex;
      if (commit < history.maxCommit)
        this.violation(
          `commit rule: commit index went back on ${node.id}: ${history.maxCommit} -> ${commit}`,
        );
      history.maxCommit = Math.max(history.maxCommit, commit);
      this.checkVote(node.id, history, core);
      history.maxDurableCommit = Math.max(history.maxDurableCommit, raft.durableCommitIndex());
      const applied = raft.appliedIndex();
      if (applied < history.maxApplied)
        this.violation(
          `apply order: applied index went back on ${node.id}: ${history.maxApplied} -> ${applied}`,
        );
      history.maxApplied = Math.max(history.maxApplied, applied);
      if (applied > core.applyIndex()) {
        this.violation(
          `apply order: ${node.id} applied ${applied} beyond its commit index or its log ${core.applyIndex()}`,
        );
      }
      // Committed entries agree across servers and never change.
      for (let index = Math.max(history.checkedCommit + 1, core.firstIndex()); index <= commit; index++) {
        const term = core.termAt(index);
        if (term === undefined) continue;
        const known = this.committedTerms.get(index);
        if (known === undefined) {
          this.committedTerms.set(index, term);
          this.committedInTerm.set(index, core.term);
        } else if (known !== term) {
          this.violation(
            `committed entries agree: entry ${index} has term ${term} on ${node.id} but ${known} elsewhere`,
          );
        }
      }
      history.checkedCommit = Math.max(history.checkedCommit, commit);
      if (commit > this.maxCommitted) this.maxCommitted = commit;
      if (commit > core.lastIndex())
        this.violation(
          `commit rule: ${node.id} committed ${commit} beyond its last entry ${core.lastIndex()}`,
        );
      if (core.state === RaftState.Leader) this.checkLeader(node.id, core, history);
    }
  }

  /**
   * Figure 3's leader append-only (a leader never overwrites or deletes its own entries) and
   * membership safety (a leader starts one configuration change at a time: a new configuration
   * entry only once the previous one committed), plus election safety for leaders seen mid-term.
   */
  private checkLeader(id: string, core: CoreView, history: NodeHistory): void {
    if (core.commitIndex > 0) {
      const existing = this.leaders.get(core.term);
      if (existing !== undefined && existing !== id)
        this.violation(`election safety: ${existing} and ${id} both leaders in term ${core.term}`);
    }
    const last = core.lastIndex();
    const { latestIndex, committedIndex } = configurationIndexes(core, history);
    if (history.leaderTerm === core.term) {
      if (last < history.leaderLast || core.termAt(history.leaderLast) !== history.leaderLastTerm) {
        if (history.leaderLast > core.snapshotIndex())
          this.violation(
            `leader append-only: ${id} (term ${core.term}) lost or changed entry ${history.leaderLast}`,
          );
      }
      if (latestIndex > history.leaderConfigIndex && history.leaderConfigIndex > committedIndex)
        this.violation(
          `membership safety: ${id} appended configuration ${latestIndex} while ${history.leaderConfigIndex} was uncommitted`,
        );
    }
    history.leaderTerm = core.term;
    history.leaderLast = last;
    history.leaderLastTerm = core.termAt(last);
    history.leaderConfigIndex = latestIndex;
  }

  /** Log matching (paper 5.3): same index and term means identical prefixes. */
  checkLogMatching(nodes: readonly CheckedNode[]): void {
    const live = nodes.filter((node) => node.raft && !node.raft.shutdownCalled);
    for (let i = 0; i < live.length; i++) {
      for (let j = i + 1; j < live.length; j++) {
        const a = live[i].raft!.inspect();
        const b = live[j].raft!.inspect();
        const lo = Math.max(a.firstIndex(), b.firstIndex());
        let matchedAbove = false;
        for (let index = Math.min(a.lastIndex(), b.lastIndex()); index >= lo; index--) {
          const ta = a.termAt(index);
          const tb = b.termAt(index);
          if (ta === undefined || tb === undefined) continue;
          if (ta === tb) matchedAbove = true;
          else if (matchedAbove) {
            this.violation(
              `log matching: ${live[i].id} and ${live[j].id} agree above ${index} but differ at it`,
            );
            return;
          }
        }
      }
    }
  }

  /** After the liveness phase: every acknowledged write was applied where the checker saw it. */
  checkAcknowledged(): void {
    for (const [index, payload] of this.acked) {
      const applied = this.appliedPayload.get(index);
      if (applied !== payload)
        this.violation(`acknowledged write lost: ${payload} at ${index} never applied (found ${applied})`);
    }
  }
}

/** The leader's latest and committed configuration indexes, read again only when they can have changed. */
function configurationIndexes(core: CoreView, history: NodeHistory): NodeHistory['configAt'] {
  const cached = history.configAt;
  const { term, commitIndex: commit } = core;
  const last = core.lastIndex();
  if (cached.term !== term || cached.last !== last || cached.commit !== commit) {
    const { latestIndex, committedIndex } = core.configurations();
    history.configAt = { term, last, commit, latestIndex, committedIndex };
  }
  return history.configAt;
}

function sameRecord(a: LogEntry, b: LogEntry): boolean {
  return a.term === b.term && a.type === b.type && Buffer.compare(a.data, b.data) === 0;
}
