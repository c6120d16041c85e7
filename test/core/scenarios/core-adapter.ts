/**
 * Every use of RaftCore by the scenario driver goes through this file, so that a change of the
 * core's API is a change here and nowhere else in test/core/scenarios.
 */
import type { Random } from '../../../src/core/clock.js';
import type { ConfigurationChange } from '../../../src/core/configuration.js';
import type { CoreFaults, RaftCore } from '../../../src/core/raft.js';
import type { CoreStartState } from '../../../src/core/inputs.js';
import type { OutboundRequest, Ready } from '../../../src/core/ready.js';
import { ReplicationMode } from '../../../src/core/progress.js';
import {
  RAFT_STATE_NAMES,
  RaftState,
  type Configuration,
  type LogEntry,
  type LogType,
  type Peer,
  type RaftRequest,
  type RaftResponse,
} from '../../../src/core/types.js';
import { configurationOf, initialLog, loadLogEntries, makeCore, newCore } from '../harness.js';

/** Every timer lands in the middle of its random range: a scenario's timings are predictable. */
const MIDPOINT: Random = { next: () => 0.5 };

export interface NodeOptions {
  /** The bootstrap configuration (entry 1), or null for a server with no state yet. */
  voters: string[] | null;
  nonvoters: string[];
  preVote: boolean;
  maxAppendEntries?: number;
  faults?: CoreFaults;
}

export interface CoreStatus {
  state: (typeof RAFT_STATE_NAMES)[number];
  term: number;
  vote: string | null;
  commit: number;
  lastIndex: number;
  snapshotIndex: number;
  leader: string | null;
  configuration: Configuration;
}

export interface PeerProgress {
  id: string;
  match: number;
  next: number;
  mode: string;
  inflight: number;
}

export type FailureReason = 'error' | 'unsupported' | 'logNotFound';

const MODE_NAMES: Record<ReplicationMode, string> = {
  [ReplicationMode.Probe]: 'probe',
  [ReplicationMode.Replicate]: 'replicate',
  [ReplicationMode.Snapshot]: 'snapshot',
};

export class CoreAdapter {
  private constructor(
    private readonly core: RaftCore,
    /** The log the core was started with (what its store holds). */
    readonly initialLog: readonly LogEntry[],
  ) {}

  static create(id: string, options: NodeOptions): CoreAdapter {
    const configuration = options.voters ? configurationOf(options.voters, options.nonvoters) : null;
    const core = makeCore(id, configuration, {
      preVote: options.preVote,
      faults: options.faults,
      random: MIDPOINT,
      maxAppendEntries: options.maxAppendEntries,
    });
    return new CoreAdapter(core, configuration ? initialLog(configuration) : []);
  }

  /** A restarted node: a new core loaded from what its disk holds. */
  static restart(id: string, options: NodeOptions, stored: CoreStartState, log: LogEntry[]): CoreAdapter {
    const core = newCore(id, {
      preVote: options.preVote,
      faults: options.faults,
      random: MIDPOINT,
      maxAppendEntries: options.maxAppendEntries,
    });
    core.restore(stored);
    loadLogEntries(core, log);
    core.start();
    return new CoreAdapter(core, log);
  }

  // Time -----------------------------------------------------------------------------------------

  get now(): number {
    return this.core.now;
  }

  tick(now: number): void {
    this.core.tick(now);
  }

  /** When the core's next timer is due (a follower's or candidate's only timer is the election). */
  nextDeadline(): number {
    return this.core.nextDeadline();
  }

  /** How long a server that just started refuses votes. */
  get electionTimeout(): number {
    return this.core.options.electionTimeout;
  }

  /** The longest a leader waits between heartbeat rounds. */
  get heartbeatInterval(): number {
    return this.core.options.heartbeatTimeout / 5;
  }

  // Messages and persistence ---------------------------------------------------------------------

  step(rpcId: number, request: RaftRequest): void {
    this.core.step({ rpcId, request });
  }

  onResponse(out: OutboundRequest, response: RaftResponse): void {
    this.core.onResponse(out, response);
  }

  onFailure(out: OutboundRequest, reason: FailureReason): void {
    this.core.onFailure(out, reason);
  }

  persisted(seq: number): void {
    this.core.persisted(seq);
  }

  applyIndex(): number {
    return this.core.applyIndex();
  }

  hasReady(): boolean {
    return this.core.hasReady();
  }

  ready(): Ready {
    return this.core.ready();
  }

  /** The runtime drops an AppendEntries whose leadership ended before its entries were read. */
  isStale(out: OutboundRequest): boolean {
    return this.core.epoch !== out.epoch || this.core.state !== RaftState.Leader;
  }

  // Requests from the application ----------------------------------------------------------------

  propose(type: LogType, data: Uint8Array): number {
    const [index] = this.core.propose([{ type, data, extensions: new Uint8Array(0), appendedAt: 0 }]);
    return index;
  }

  readIndex(readId: number): void {
    this.core.readIndex(readId);
  }

  transferLeadership(to: string | null): void {
    this.core.transferLeadership(to === null ? null : { id: to, address: `addr-${to}`, suffrage: 0 });
  }

  changeConfiguration(change: ConfigurationChange): number {
    return this.core.changeConfiguration(change);
  }

  snapshotTaken(index: number, term: number, compactBefore: number): void {
    this.core.snapshotTaken(index, term, compactBefore);
  }

  snapshotInstalled(rpcId: number): void {
    this.core.snapshotInstalled(rpcId);
  }

  // Queries --------------------------------------------------------------------------------------

  get self(): Peer {
    return this.core.self;
  }

  get isLeader(): boolean {
    return this.core.state === RaftState.Leader;
  }

  get term(): number {
    return this.core.term;
  }

  get leader(): Peer | null {
    return this.core.leader;
  }

  status(): CoreStatus {
    const core = this.core;
    return {
      state: RAFT_STATE_NAMES[core.state],
      term: core.term,
      vote: core.vote?.id ?? null,
      commit: core.commitIndex,
      lastIndex: core.lastIndex(),
      snapshotIndex: core.snapshotIndex(),
      leader: core.leader?.id ?? null,
      configuration: core.configurations().latest,
    };
  }

  /** The leader's view of each peer's replication, in ID order (empty on other servers). */
  progress(): PeerProgress[] {
    return this.core
      .replication()
      .map((peer) => ({
        id: peer.id,
        match: peer.matchIndex,
        next: peer.nextIndex,
        mode: MODE_NAMES[peer.mode],
        inflight: peer.inflight,
      }))
      .sort((a, b) => a.id.localeCompare(b.id));
  }
}
