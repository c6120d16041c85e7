/**
 * Raft: hashicorp/raft's public API on the pure RaftCore. Every call that changes something runs
 * through the drive loop (driver.ts: the core, then its Ready carried out); every wait is a keyed
 * future in pending.ts; the rest of the runtime lives beside them (rpc.ts, events.ts, snapshots.ts,
 * startup.ts, storage-writer.ts, fsm-runner.ts, stats.ts). API and semantics follow hashicorp/raft;
 * waits are promises with timeouts and AbortSignals.
 */
import { EventEmitter } from 'node:events';
import type { Readable } from 'node:stream';
import type { Clock } from '../core/clock.js';
import type { ConfigurationChange } from '../core/configuration.js';
import {
  ErrAborted,
  ErrAbortedByRestore,
  ErrApplyTimeout,
  ErrEnqueueTimeout,
  ErrNotLeader,
  ErrRaftShutdown,
} from '../core/errors.js';
import { RaftCore, type CoreView } from '../core/raft.js';
import {
  LogType,
  RAFT_STATE_NAMES,
  RaftState,
  ServerSuffrage,
  type Configuration,
  type Peer,
  type ServerAddress,
  type ServerId,
  type SnapshotMeta,
} from '../core/types.js';
import { systemClock, systemRandom } from '../platform/clock.js';
import type { Transport } from '../transport/types.js';
import { coreOptionsOf, validateConfig, type Config, type ReloadableConfig } from './config.js';
import { Driver } from './driver.js';
import { leadershipChanges } from './events.js';
import { silentLogger, type Logger } from './logger.js';
import { ObserverRegistry, type Observation, type ObserverOptions } from './observer.js';
import type { ApplyOptions, ApplyResult, LeaderInfo, RaftOptions, ReadOptions } from './options.js';
import { TRANSFER, type Waits } from './pending.js';
import { loadStoredState, type StoredState } from './startup.js';
import { raftStats } from './stats.js';

export type { ApplyOptions, ApplyResult, LeaderInfo, RaftOptions, ReadOptions } from './options.js';

export class Raft extends EventEmitter {
  readonly config: Config;
  readonly transport: Transport;
  private readonly core: RaftCore;
  private readonly clock: Clock;
  private readonly observers = new ObserverRegistry();
  private readonly driver: Driver;
  private nextReadId = 1;

  /** hashicorp's NewRaft: validates, loads state, restores the newest snapshot that opens, starts. */
  static async create(options: RaftOptions): Promise<Raft> {
    const config = { ...options.config };
    validateConfig(config);
    const clock = options.clock ?? systemClock;
    const random = options.random ?? systemRandom;
    const logger = config.logger ?? silentLogger;
    const core = new RaftCore(coreOptionsOf(config, options.transport.localAddr(), random, options.faults));
    const now = clock.now();
    const restoreInto = config.noSnapshotRestoreOnStart ? null : options.fsm;
    const stored = await loadStoredState(options, { restoreInto, logger });
    core.restore({ now, hardState: stored.hardState, snapshot: stored.snapshot });
    for await (const entries of stored.entries(stored.logStart)) core.loadEntries(entries);
    const raft = new Raft({ ...options, config, clock, random }, core, logger, stored);
    const { driver } = raft;
    options.transport.setHandler((rpc) => driver.rpcs.receive(rpc));
    // Network transports put our ID in response headers (hashicorp 1.3.7+ peers read it).
    (options.transport as { setLocalId?: (id: string) => void }).setLocalId?.(config.localId);
    core.start();
    // Committed entries are applied before NewRaft returns, so the FSM never looks older than it
    // did before a restart (the commit index is persisted before anything is applied).
    driver.fsmRunner.advance(core.commitIndex);
    await raft.waitApplied(core.commitIndex);
    driver.snapshots.start();
    driver.flush();
    return raft;
  }

  /** A planted bug (CoreFaults), for the simulator's campaign only. */
  private readonly followerReadWithoutApply: boolean;

  private constructor(
    options: RaftOptions & Required<Pick<RaftOptions, 'clock' | 'random'>>,
    core: RaftCore,
    logger: Logger,
    stored: StoredState,
  ) {
    super();
    this.config = options.config;
    this.transport = options.transport;
    this.core = core;
    this.clock = options.clock;
    this.followerReadWithoutApply = options.faults?.followerReadWithoutApply === true;
    const shutdown = () => void this.shutdown();
    const observers = this.observers;
    this.driver = new Driver({ options, core, logger, stored, emitter: this, observers, shutdown });
  }

  private get waits(): Waits {
    return this.driver.waits;
  }

  // ---------------------------------------------------------------------------------------------
  // Writes and reads

  /** hashicorp's Apply: appends a Command entry (leader only); resolves once it is applied. */
  apply(data: Uint8Array, options: ApplyOptions = {}): Promise<ApplyResult> {
    return this.applyLog({ data }, options);
  }

  /** hashicorp's ApplyLog: only data and extensions are taken from the given log. */
  applyLog(
    log: { data: Uint8Array; extensions?: Uint8Array },
    options: ApplyOptions = {},
  ): Promise<ApplyResult> {
    return this.propose(LogType.Command, log.data, log.extensions ?? new Uint8Array(0), options);
  }

  /** Resolves once every entry before it is applied. Leader only. */
  async barrier(options: ApplyOptions = {}): Promise<number> {
    return (await this.propose(LogType.Barrier, new Uint8Array(0), new Uint8Array(0), options)).index;
  }

  private propose(
    type: LogType,
    data: Uint8Array,
    extensions: Uint8Array,
    options: ApplyOptions,
  ): Promise<ApplyResult> {
    if (options.signal?.aborted) return Promise.reject(new ErrAborted());
    return this.command(
      (core) => core.propose([{ type, data, extensions, appendedAt: this.clock.wallTime() }])[0],
      (index) => this.waits.applies.wait(index, options, { tag: this.core.term }),
    );
  }

  /** Starts a command in the core, then waits under the key it returns; a refused command rejects. */
  private command<T>(start: (core: RaftCore) => number, wait: (key: number) => Promise<T>): Promise<T> {
    let key: number;
    try {
      key = this.driver.run(start);
    } catch (error) {
      return Promise.reject(error as Error);
    }
    return wait(key);
  }

  /** Resolves once reading local FSM state is linearizable (readIndex without the index). */
  async linearizableRead(options: ReadOptions = {}): Promise<void> {
    await this.readIndex(options);
  }

  /** hashicorp's VerifyLeader: confirms with a quorum that this node is still the leader. */
  async verifyLeader(options: ApplyOptions = {}): Promise<void> {
    await this.leaderReadIndex(options);
  }

  /**
   * Linearizable read point (Raft thesis 6.4): resolves with an index once the local FSM has applied
   * at least that far, so reading local state afterwards is linearizable. No log entry is written.
   * On a follower it asks the leader for the read index (a raftkit RPC; a Go leader cannot answer).
   */
  async readIndex(options: ReadOptions = {}): Promise<number> {
    const index =
      this.core.state === RaftState.Leader
        ? await this.leaderReadIndex(options)
        : await this.driver.rpcs.readIndexFromLeader(this.core.leader, this.core.term, this.core.self);
    if (this.followerReadWithoutApply && this.core.state !== RaftState.Leader) return index;
    await this.waitApplied(index, options);
    return index;
  }

  private leaderReadIndex(options: ReadOptions): Promise<number> {
    const readId = this.nextReadId++;
    const read = this.waits.reads.wait(readId, options);
    try {
      this.driver.run((core) => core.readIndex(readId, options.lease === true));
    } catch (error) {
      this.waits.reads.reject(readId, error as Error);
    }
    return read;
  }

  /** Resolves once the FSM has applied index (or rejects on timeout/abort/shutdown). */
  waitApplied(index: number, options: ApplyOptions = {}): Promise<void> {
    if (this.driver.fsmRunner.applied >= index) return Promise.resolve();
    return this.waits.applied.wait(index, options);
  }

  // ---------------------------------------------------------------------------------------------
  // State

  get state(): RaftState {
    return this.driver.stopped ? RaftState.Shutdown : this.core.state;
  }

  /** hashicorp's LeaderWithID: this node's view, possibly stale; null when unknown. */
  leader(): LeaderInfo | null {
    return this.driver.stopped ? null : this.driver.events.leader;
  }

  /** Async iterator of leadership (true/false) starting with the current value; never drops the latest. */
  leadershipChanges(signal?: AbortSignal): AsyncGenerator<boolean> {
    return leadershipChanges(
      this,
      () => this.state === RaftState.Leader,
      () => this.driver.stopped,
      signal,
    );
  }

  /** Wall-clock ms of the last contact with a leader ("0" semantics on the leader: now). */
  lastContact(): number | null {
    if (this.core.state === RaftState.Leader) return this.clock.wallTime();
    const at = this.driver.rpcs.lastLeaderContact;
    if (!Number.isFinite(at)) return null;
    return this.clock.wallTime() - (this.clock.now() - at);
  }

  lastIndex(): number {
    return this.core.lastIndex();
  }

  commitIndex(): number {
    return this.core.commitIndex;
  }

  /** Index of the last entry covered by the newest snapshot (0 when none). */
  lastSnapshotIndex(): number {
    return this.core.snapshotIndex();
  }

  /** The highest commit index known to be durable (what a restart recovers). */
  durableCommitIndex(): number {
    return this.driver.durableCommit;
  }

  appliedIndex(): number {
    return this.driver.fsmRunner.applied;
  }

  currentTerm(): number {
    return this.core.term;
  }

  /** The latest configuration (possibly uncommitted) and its index. */
  getConfiguration(): { configuration: Configuration; index: number } {
    const { latest, latestIndex } = this.core.configurations();
    return { configuration: latest, index: latestIndex };
  }

  /** hashicorp's Stats() keys. */
  stats(): Record<string, string> {
    const contact = this.lastContact();
    return raftStats({
      core: this.core,
      state: this.state,
      applied: this.driver.fsmRunner.applied,
      durableCommit: this.driver.durableCommit,
      protocolVersion: this.config.protocolVersion,
      sinceLastContact: contact === null ? null : this.clock.wallTime() - contact,
    });
  }

  /** Replication state per peer as the leader sees it (empty on followers). */
  replication(): { id: ServerId; matchIndex: number; nextIndex: number; lastContact: number }[] {
    return this.core.replication().map(({ id, matchIndex, nextIndex, lastContact }) => ({
      id,
      matchIndex,
      nextIndex,
      lastContact,
    }));
  }

  /**
   * The core's queries, read-only: the test kit checks Raft's invariants through them.
   * @internal
   */
  inspect(): CoreView {
    return this.core;
  }

  // ---------------------------------------------------------------------------------------------
  // Membership and leadership transfer

  addVoter(id: ServerId, address: ServerAddress, prevIndex = 0, timeout = 0): Promise<number> {
    return this.changeMembership({ command: 'addVoter', id, address, prevIndex }, timeout);
  }

  addNonvoter(id: ServerId, address: ServerAddress, prevIndex = 0, timeout = 0): Promise<number> {
    return this.changeMembership({ command: 'addNonvoter', id, address, prevIndex }, timeout);
  }

  removeServer(id: ServerId, prevIndex = 0, timeout = 0): Promise<number> {
    return this.changeMembership({ command: 'removeServer', id, address: '', prevIndex }, timeout);
  }

  demoteVoter(id: ServerId, prevIndex = 0, timeout = 0): Promise<number> {
    return this.changeMembership({ command: 'demoteVoter', id, address: '', prevIndex }, timeout);
  }

  private changeMembership(change: ConfigurationChange, timeout: number): Promise<number> {
    const onExpire = (token: number) => (error: Error) => {
      // Forgetting a change produces nothing to carry out, so it needs no turn of the loop.
      this.core.cancelConfigurationChange(token);
      return error instanceof ErrApplyTimeout ? new ErrEnqueueTimeout() : error;
    };
    return this.command(
      (core) => core.changeConfiguration(change),
      (token) => this.waits.membership.wait(token, { timeout }, { onExpire: onExpire(token) }),
    );
  }

  /** Transfers leadership to the most up-to-date voter. */
  leadershipTransfer(): Promise<void> {
    return this.transferTo(null);
  }

  leadershipTransferToServer(id: ServerId, address: ServerAddress): Promise<void> {
    return this.transferTo({ id, address });
  }

  private transferTo(target: Peer | null): Promise<void> {
    const server = target && { id: target.id, address: target.address, suffrage: ServerSuffrage.Voter };
    return this.command(
      (core) => (core.transferLeadership(server), TRANSFER),
      () => this.waits.transfer.wait(TRANSFER),
    );
  }

  // ---------------------------------------------------------------------------------------------
  // Snapshots, observers, config, shutdown

  /** Takes a snapshot now (hashicorp's Snapshot()); resolves with its metadata. */
  snapshot(): Promise<SnapshotMeta> {
    return this.driver.snapshots.take(true);
  }

  /**
   * hashicorp's Restore: replaces the state with an external snapshot (a backup), keeping the
   * current membership. Leader only. Pending applies fail with ErrAbortedByRestore. Resolves once
   * a Noop after the restore is committed, i.e. a quorum holds the restored state.
   */
  async restore(meta: SnapshotMeta, reader: Readable, options: ApplyOptions = {}): Promise<void> {
    if (this.driver.stopped) throw new ErrRaftShutdown();
    if (this.core.state !== RaftState.Leader) throw new ErrNotLeader();
    this.waits.applies.rejectAll(() => new ErrAbortedByRestore());
    await this.driver.snapshots.restoreUser(meta, reader);
    await this.barrier(options);
  }

  registerObserver(options: ObserverOptions, callback: (observation: Observation) => void) {
    return this.observers.register(options, callback);
  }

  /** Applies the reloadable fields (validated like the whole config). */
  reloadConfig(reload: ReloadableConfig): void {
    const next = { ...this.config, ...reload };
    validateConfig(next);
    Object.assign(this.config, reload);
    this.core.reloadTimeouts({
      heartbeatTimeout: reload.heartbeatTimeout,
      electionTimeout: reload.electionTimeout,
    });
  }

  get shutdownCalled(): boolean {
    return this.driver.stopped;
  }

  /** Stops the node (not graceful, like hashicorp): pending operations fail with ErrRaftShutdown. */
  async shutdown(): Promise<void> {
    if (this.driver.stopped) return;
    this.driver.stop();
    this.emit('stateChange', RaftState.Shutdown);
    this.emit('leadership', false);
    await this.driver.idle();
    await this.transport.close();
  }

  override toString(): string {
    return `Node at ${this.transport.localAddr()} [${RAFT_STATE_NAMES[this.state]}]`;
  }
}
