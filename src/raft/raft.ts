/**
 * Raft: hashicorp/raft's public API on the pure RaftCore, and nothing else. Each call is handed
 * to the part that carries it out: writes.ts (apply, barrier), reads.ts (read index, verify
 * leader, waitApplied), membership-api.ts (changes, live bootstrap, transfer), snapshots.ts; they
 * run it through the drive loop (driver.ts: the core, then its Ready carried out) and wait as a
 * keyed future in pending.ts. startup.ts builds the core from the stores.
 */
import { EventEmitter } from 'node:events';
import type { Readable } from 'node:stream';
import type { Clock } from '../core/clock.js';
import { ErrAbortedByRestore, ErrNotLeader, ErrRaftShutdown } from '../core/errors.js';
import type { CoreView, RaftCore } from '../core/raft.js';
import {
  RAFT_STATE_NAMES,
  RaftState,
  type Configuration,
  type ServerAddress,
  type ServerId,
  type SnapshotMeta,
} from '../core/types.js';
import { systemClock, systemRandom } from '../platform/clock.js';
import type { Transport } from '../transport/types.js';
import { reloadableOf, reloadInto, validateConfig, type Config, type ReloadableConfig } from './config.js';
import { Driver } from './driver.js';
import { leadershipChanges } from './events.js';
import { silentLogger, type Logger } from './logger.js';
import { MembershipApi } from './membership-api.js';
import { ObserverRegistry, type Observation, type Observer, type ObserverOptions } from './observer.js';
import type {
  ApplyOptions,
  ApplyResult,
  ChangeTimeout,
  IndexedConfiguration,
  LeaderInfo,
  RaftOptions,
  ReadOptions,
  ReplicationState,
} from './options.js';
import { Reads } from './reads.js';
import { startCore, type StoredState } from './startup.js';
import { raftStats, replicationOf } from './stats.js';
import { Writes } from './writes.js';

/**
 * One Raft server (hashicorp's Raft). Create it with `Raft.create`; it emits `stateChange`
 * (RaftState), `leadership` (boolean), `leader` (LeaderInfo | null), `applied`,
 * `snapshotInstalled` and `removed` (a committed configuration no longer names this server) events.
 */
export class Raft extends EventEmitter {
  /** The configuration in force (reloadable fields change with `reloadConfig`; do not mutate). */
  readonly config: Config;
  /** The transport the server talks through. */
  readonly transport: Transport;
  private readonly core: RaftCore;
  private readonly clock: Clock;
  private readonly observers = new ObserverRegistry();
  private readonly driver: Driver;
  private readonly writes: Writes;
  private readonly reads: Reads;
  private readonly membership: MembershipApi;

  /** hashicorp's NewRaft: validates, loads state, restores the newest snapshot that opens, starts. */
  static async create(options: RaftOptions): Promise<Raft> {
    const config = { ...options.config };
    validateConfig(config);
    const clock = options.clock ?? systemClock;
    const random = options.random ?? systemRandom;
    const logger = config.logger ?? silentLogger;
    const { core, stored } = await startCore({ ...options, config, clock, random }, logger);
    const raft = new Raft({ ...options, config, clock, random }, core, logger, stored);
    await raft.driver.start();
    return raft;
  }

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
    const driver = new Driver({ options, core, logger, stored, emitter: this, observers: this.observers });
    this.driver = driver;
    this.writes = new Writes(driver, this.clock, this.transport);
    this.reads = new Reads(driver, options.faults?.followerReadWithoutApply === true);
    this.membership = new MembershipApi(driver);
  }

  // ---- Writes and reads --------------------------------------------------------------------------
  /**
   * hashicorp's Apply: appends a Command entry (leader only); resolves once it is applied. `data`
   * must be a Uint8Array (a Buffer is one): anything else rejects with a TypeError and nothing is
   * written (the log stores bytes; a string would reach this leader's FSM as a string and every
   * other replica's as bytes).
   */
  apply(data: Uint8Array, options: ApplyOptions = {}): Promise<ApplyResult> {
    return this.writes.apply(data, options);
  }

  /** hashicorp's ApplyLog: only data and extensions (both Uint8Array) are taken from the given log. */
  applyLog(
    log: { data: Uint8Array; extensions?: Uint8Array },
    options: ApplyOptions = {},
  ): Promise<ApplyResult> {
    return this.writes.applyLog(log, options);
  }

  /** Resolves once every entry before it is applied. Leader only. */
  barrier(options: ApplyOptions = {}): Promise<number> {
    return this.writes.barrier(options);
  }

  /** Resolves once reading local FSM state is linearizable (readIndex without the index). */
  async linearizableRead(options: ReadOptions = {}): Promise<void> {
    await this.readIndex(options);
  }

  /** hashicorp's VerifyLeader: confirms with a quorum that this node is still the leader. */
  verifyLeader(options: ApplyOptions = {}): Promise<void> {
    return this.reads.verifyLeader(options);
  }

  /**
   * Linearizable read point (Raft thesis 6.4): resolves with an index once the local FSM has applied
   * at least that far, so reading local state afterwards is linearizable. No log entry is written.
   * On a follower it asks the leader for the read index (a raftkit RPC; a Go leader cannot answer).
   */
  readIndex(options: ReadOptions = {}): Promise<number> {
    return this.reads.readIndex(options);
  }

  /** Resolves once the FSM has applied index (or rejects on timeout/abort/shutdown). */
  waitApplied(index: number, options: ApplyOptions = {}): Promise<void> {
    return this.reads.waitApplied(index, options);
  }

  // ---- State -------------------------------------------------------------------------------------
  /** This server's role (Shutdown once stopped). */
  get state(): RaftState {
    return this.driver.stopped ? RaftState.Shutdown : this.core.state;
  }

  /** hashicorp's LeaderWithID: this node's view, possibly stale; null when unknown. */
  leader(): LeaderInfo | null {
    return this.driver.stopped ? null : this.driver.events.leader;
  }

  /**
   * True once this server learned that a committed configuration removed it (the leader that
   * removed it, or a follower sent the commit), until a committed configuration names it again.
   * Known in memory only: a removed server that restarts does not know it. With
   * `Config.shutdownOnRemove` the server shuts down instead.
   */
  get removed(): boolean {
    return this.driver.events.removed;
  }

  /**
   * Async iterator of leadership (true/false) starting with the current value (hashicorp's
   * LeaderCh, for any number of consumers). A slow consumer skips to the latest value, so it may
   * read the same value twice; `config.notifyCh` (a NotifyChannel) reports every transition instead.
   */
  leadershipChanges(signal?: AbortSignal): AsyncGenerator<boolean> {
    const stopped = () => this.driver.stopped;
    return leadershipChanges(this, () => this.state === RaftState.Leader, stopped, signal);
  }

  /**
   * hashicorp's LastContact: when this server last heard from a leader (on the leader itself: now),
   * as a Date on the injected clock's wall time; null when it never has.
   */
  lastContact(): Date | null {
    const since = this.driver.sinceLastContact();
    return since === null ? null : new Date(this.clock.wallTime() - since);
  }

  /** The index of the last entry in the log (committed or not). */
  lastIndex(): number {
    return this.core.lastIndex();
  }

  /** The highest index this server knows to be committed. */
  commitIndex(): number {
    return this.core.commitIndex;
  }

  /** Index of the last entry covered by the newest snapshot (0 when none). */
  lastSnapshotIndex(): number {
    return this.core.snapshotIndex();
  }

  /**
   * The highest commit index known to be durable: what a restart recovers and replays the FSM to.
   * It may be behind appliedIndex(), since entries are applied at the commit index in memory.
   */
  durableCommitIndex(): number {
    return this.driver.durableCommit;
  }

  /** The highest index applied to the FSM. */
  appliedIndex(): number {
    return this.driver.fsmRunner.applied;
  }

  /** The current term. */
  currentTerm(): number {
    return this.core.term;
  }

  /** The latest configuration (possibly uncommitted) and its index. */
  getConfiguration(): IndexedConfiguration {
    const { latest, latestIndex } = this.core.configurations();
    return { configuration: latest, index: latestIndex };
  }

  /** hashicorp's Stats() keys. */
  stats(): Record<string, string> {
    return raftStats({
      core: this.core,
      state: this.state,
      applied: this.driver.fsmRunner.applied,
      protocolVersion: this.config.protocolVersion,
      sinceLastContact: this.driver.sinceLastContact(),
    });
  }

  /** Replication state per peer as the leader sees it (empty on followers). */
  replication(): ReplicationState[] {
    return replicationOf(this.core);
  }

  /**
   * The core's queries, read-only: the test kit checks Raft's invariants through them.
   * @internal
   */
  inspect(): CoreView {
    return this.core;
  }

  // ---- Membership and leadership transfer --------------------------------------------------------
  /**
   * hashicorp's AddVoter: adds a server as a voter, or promotes a non-voter. A new server first
   * catches up as a non-voter and is promoted once it is close to the leader's log; if it has not
   * caught up within Config.catchUpTimeout the change fails with ErrCatchUpTimeout and the
   * non-voter is removed again. Changes queue behind the pending one and start in order.
   * Resolves with the index of the configuration entry once it is committed.
   *
   * `prevIndex` (0 = any) must equal the latest configuration's index when the change starts.
   * `timeout` is a number of ms (hashicorp's form) or `{ timeout, signal }`; 0 or absent means no
   * limit. Unlike hashicorp (whose timeout bounds only the enqueueing), it bounds the whole wait:
   * queued, catching up and committing. When it passes (ErrEnqueueTimeout) or the signal aborts
   * (ErrAborted), a change still queued is dropped and one still catching up is rolled back; one
   * whose entry was appended may still commit.
   */
  addVoter(id: ServerId, address: ServerAddress, prevIndex = 0, timeout: ChangeTimeout = 0): Promise<number> {
    return this.membership.change({ command: 'addVoter', id, address, prevIndex }, timeout);
  }

  /** hashicorp's AddNonvoter: adds a server that receives the log but never votes (as addVoter). */
  addNonvoter(
    id: ServerId,
    address: ServerAddress,
    prevIndex = 0,
    timeout: ChangeTimeout = 0,
  ): Promise<number> {
    return this.membership.change({ command: 'addNonvoter', id, address, prevIndex }, timeout);
  }

  /** hashicorp's RemoveServer (timeout semantics as addVoter). */
  removeServer(id: ServerId, prevIndex = 0, timeout: ChangeTimeout = 0): Promise<number> {
    return this.membership.change({ command: 'removeServer', id, address: '', prevIndex }, timeout);
  }

  /** hashicorp's DemoteVoter: a voter keeps receiving the log as a non-voter (timeout as addVoter). */
  demoteVoter(id: ServerId, prevIndex = 0, timeout: ChangeTimeout = 0): Promise<number> {
    return this.membership.change({ command: 'demoteVoter', id, address: '', prevIndex }, timeout);
  }

  /**
   * hashicorp's live BootstrapCluster, on a running server: a server with no state at all (term 0,
   * empty log, no snapshot) writes `configuration` as entry 1 of term 1, as the offline
   * `bootstrapCluster` does, and resolves once that write is durable. The server then campaigns at
   * its next election timeout (alone in the configuration it becomes leader; otherwise it waits for
   * a quorum of the others). Bootstrap one voter, or every voter with the identical configuration.
   *
   * Rejects with a TypeError or RangeError for a malformed configuration and
   * ErrInvalidConfiguration for one hashicorp's check refuses (empty or duplicate IDs or
   * addresses, no voter); ErrNotVoter when this server is not a voter in it (hashicorp 1.3.7+);
   * ErrCantBootstrap when the server has any state (a restart, or a leader already reached it):
   * callers that bootstrap at every start can ignore that one. `options` bound the wait for the
   * write (a timeout or abort does not undo it).
   */
  bootstrapCluster(configuration: Configuration, options: ApplyOptions = {}): Promise<void> {
    return this.membership.bootstrap(configuration, options);
  }

  /** Transfers leadership to the most up-to-date voter. */
  leadershipTransfer(): Promise<void> {
    return this.membership.transfer(null);
  }

  /** Transfers leadership to the given voter (hashicorp's LeadershipTransferToServer). */
  leadershipTransferToServer(id: ServerId, address: ServerAddress): Promise<void> {
    return this.membership.transferTo(id, address);
  }

  // ---- Snapshots, observers, config, shutdown ----------------------------------------------------
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
    this.driver.waits.applies.rejectAll(() => new ErrAbortedByRestore());
    await this.driver.snapshots.restoreUser(meta, reader);
    await this.barrier(options);
  }

  /** hashicorp's RegisterObserver: `callback` receives the observations `options` selects. */
  registerObserver(options: ObserverOptions, callback: (observation: Observation) => void): Observer {
    return this.observers.register(options, callback);
  }

  /** hashicorp's ReloadableConfig(): the current values of the fields reloadConfig can change. */
  reloadableConfig(): ReloadableConfig {
    return reloadableOf(this.config);
  }

  /**
   * hashicorp's ReloadConfig: changes the reloadable fields. Fields left out (or undefined) keep
   * their current values; the result is validated like the whole config (ErrInvalidConfig, and
   * nothing changes) before it takes effect.
   */
  reloadConfig(reload: Partial<ReloadableConfig>): void {
    const { heartbeatTimeout, electionTimeout } = reloadInto(this.config, reload);
    this.core.reloadTimeouts({ heartbeatTimeout, electionTimeout });
  }

  /** shutdown() was called (or the node stopped itself). */
  get shutdownCalled(): boolean {
    return this.driver.stopped;
  }

  /** Stops the node (not graceful, like hashicorp): pending operations fail with ErrRaftShutdown. */
  shutdown(): Promise<void> {
    return this.driver.shutdown();
  }

  override toString(): string {
    return `Node at ${this.transport.localAddr()} [${RAFT_STATE_NAMES[this.state]}]`;
  }
}
