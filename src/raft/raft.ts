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
import {
  checked,
  requireBytes,
  requireConfiguration,
  requireCount,
  requireName,
  requireWaitOptions,
} from './arguments.js';
import {
  coreOptionsOf,
  mergeReloadable,
  reloadableOf,
  validateConfig,
  type Config,
  type ReloadableConfig,
} from './config.js';
import { Driver } from './driver.js';
import { leadershipChanges } from './events.js';
import { silentLogger, type Logger } from './logger.js';
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
import { TRANSFER, type Waits } from './pending.js';
import { requireEntryFits } from './append-frames.js';
import { loadStoredState, type StoredState } from './startup.js';
import { raftStats } from './stats.js';

const EMPTY = new Uint8Array(0);

/**
 * The checks every wait makes before it starts anything: its options are well-formed, and a
 * signal that is already aborted refuses at once. Returns the rejection, or null to go on.
 */
function refuseWait(options: unknown): Promise<never> | null {
  try {
    if (requireWaitOptions(options).signal?.aborted) return Promise.reject(new ErrAborted());
  } catch (error) {
    return Promise.reject(error as Error);
  }
  return null;
}

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
    const log = await stored.index(stored.logStart);
    core.loadLog(log.first, log.terms.terms, log.configurations);
    config.notifyCh?.claim();
    core.start();
    const raft = new Raft({ ...options, config, clock, random }, core, logger, stored);
    const { driver } = raft;
    options.transport.setHandler((rpc) => driver.rpcs.receive(rpc));
    // Network transports put our ID in response headers (hashicorp 1.3.7+ peers read it).
    (options.transport as { setLocalId?: (id: string) => void }).setLocalId?.(config.localId);
    // Entries up to the stored commit index (or the log's end, when a lost tail left the log
    // shorter: core/raft.ts start) are applied before NewRaft returns. That index is written
    // lazily (with the next write that happens anyway), so after a crash the FSM may start behind
    // what it had applied; the rest is applied again once the commit index is re-learned from the
    // leader (or by this node's own election). Never behind the stored one.
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
    const notify = options.config.notifyCh;
    if (notify) this.on('leadership', (leader: boolean) => notify.send(leader));
  }

  private get waits(): Waits {
    return this.driver.waits;
  }

  // ---------------------------------------------------------------------------------------------
  // Writes and reads

  /**
   * hashicorp's Apply: appends a Command entry (leader only); resolves once it is applied. `data`
   * must be a Uint8Array (a Buffer is one): anything else rejects with a TypeError and nothing is
   * written (the log stores bytes; a string would reach this leader's FSM as a string and every
   * other replica's as bytes).
   */
  apply(data: Uint8Array, options: ApplyOptions = {}): Promise<ApplyResult> {
    return checked(
      () => requireBytes('data', data),
      () => this.propose(LogType.Command, data, EMPTY, options),
    );
  }

  /** hashicorp's ApplyLog: only data and extensions (both Uint8Array) are taken from the given log. */
  applyLog(
    log: { data: Uint8Array; extensions?: Uint8Array },
    options: ApplyOptions = {},
  ): Promise<ApplyResult> {
    return checked(
      () => {
        if (typeof log !== 'object' || log === null) throw new TypeError('log must be an object with data');
        requireBytes('log.data', log.data);
        if (log.extensions !== undefined) requireBytes('log.extensions', log.extensions);
      },
      () => this.propose(LogType.Command, log.data, log.extensions ?? EMPTY, options),
    );
  }

  /** Resolves once every entry before it is applied. Leader only. */
  async barrier(options: ApplyOptions = {}): Promise<number> {
    return (await this.propose(LogType.Barrier, EMPTY, EMPTY, options)).index;
  }

  private propose(
    type: LogType,
    data: Uint8Array,
    extensions: Uint8Array,
    options: ApplyOptions,
  ): Promise<ApplyResult> {
    const refused = refuseWait(options);
    if (refused) return refused;
    try {
      // Refused before anything is written: no follower would ever accept it.
      requireEntryFits({ data, extensions }, this.transport.maxFrameBytes);
    } catch (error) {
      return Promise.reject(error as Error);
    }
    return this.command(
      (core) => {
        const [index] = core.propose([{ type, data, extensions, appendedAt: this.clock.wallTime() }]);
        this.driver.metrics.incrCounter(type === LogType.Barrier ? 'raft.barrier' : 'raft.apply', 1);
        return index;
      },
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
    await (refuseWait(options) ?? this.leaderReadIndex(options));
  }

  /**
   * Linearizable read point (Raft thesis 6.4): resolves with an index once the local FSM has applied
   * at least that far, so reading local state afterwards is linearizable. No log entry is written.
   * On a follower it asks the leader for the read index (a raftkit RPC; a Go leader cannot answer).
   */
  async readIndex(options: ReadOptions = {}): Promise<number> {
    const refused = refuseWait(options);
    if (refused) return refused;
    const index =
      this.core.state === RaftState.Leader
        ? await this.leaderReadIndex(options)
        : await this.followerReadIndex(options);
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

  /** Asks the leader; the caller's timeout and signal end the wait as they end any other. */
  private followerReadIndex(options: ReadOptions): Promise<number> {
    const readId = this.nextReadId++;
    const read = this.waits.reads.wait(readId, options);
    const { leader, term, self } = this.core;
    this.driver.rpcs.readIndexFromLeader(leader, term, self).then(
      (index) => this.waits.reads.resolve(readId, index),
      (error: Error) => this.waits.reads.reject(readId, error),
    );
    return read;
  }

  /** Resolves once the FSM has applied index (or rejects on timeout/abort/shutdown). */
  waitApplied(index: number, options: ApplyOptions = {}): Promise<void> {
    return checked(
      () => requireCount('index', index),
      () => {
        if (this.driver.fsmRunner.applied >= index) return Promise.resolve();
        return refuseWait(options) ?? this.waits.applied.wait(index, options);
      },
    );
  }

  // ---------------------------------------------------------------------------------------------
  // State

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
    return leadershipChanges(
      this,
      () => this.state === RaftState.Leader,
      () => this.driver.stopped,
      signal,
    );
  }

  /**
   * hashicorp's LastContact: when this server last heard from a leader (on the leader itself: now),
   * as a Date on the injected clock's wall time; null when it never has.
   */
  lastContact(): Date | null {
    const since = this.sinceLastContact();
    return since === null ? null : new Date(this.clock.wallTime() - since);
  }

  /** Milliseconds since the last contact with a leader (0 on the leader), null when never. */
  private sinceLastContact(): number | null {
    if (this.core.state === RaftState.Leader) return 0;
    const at = this.driver.rpcs.lastLeaderContact;
    return Number.isFinite(at) ? this.clock.now() - at : null;
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
      sinceLastContact: this.sinceLastContact(),
    });
  }

  /** Replication state per peer as the leader sees it (empty on followers). */
  replication(): ReplicationState[] {
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
    return this.changeMembership({ command: 'addVoter', id, address, prevIndex }, timeout);
  }

  /** hashicorp's AddNonvoter: adds a server that receives the log but never votes (as addVoter). */
  addNonvoter(
    id: ServerId,
    address: ServerAddress,
    prevIndex = 0,
    timeout: ChangeTimeout = 0,
  ): Promise<number> {
    return this.changeMembership({ command: 'addNonvoter', id, address, prevIndex }, timeout);
  }

  /** hashicorp's RemoveServer (timeout semantics as addVoter). */
  removeServer(id: ServerId, prevIndex = 0, timeout: ChangeTimeout = 0): Promise<number> {
    return this.changeMembership({ command: 'removeServer', id, address: '', prevIndex }, timeout);
  }

  /** hashicorp's DemoteVoter: a voter keeps receiving the log as a non-voter (timeout as addVoter). */
  demoteVoter(id: ServerId, prevIndex = 0, timeout: ChangeTimeout = 0): Promise<number> {
    return this.changeMembership({ command: 'demoteVoter', id, address: '', prevIndex }, timeout);
  }

  private changeMembership(change: ConfigurationChange, timeout: ChangeTimeout): Promise<number> {
    const options = typeof timeout === 'number' ? { timeout } : timeout;
    const onExpire = (token: number) => (error: Error) => {
      // Cancelling a change that is catching up appends the removal of its non-voter.
      if (!this.driver.stopped) this.driver.run((core) => core.cancelConfigurationChange(token));
      return error instanceof ErrApplyTimeout ? new ErrEnqueueTimeout() : error;
    };
    return checked(
      () => {
        requireName('id', change.id);
        if (change.command.startsWith('add')) requireName('address', change.address);
        requireCount('prevIndex', change.prevIndex);
        requireWaitOptions(options);
      },
      () =>
        refuseWait(options) ??
        this.command(
          (core) => core.changeConfiguration(change),
          (token) => this.waits.membership.wait(token, options, { onExpire: onExpire(token) }),
        ),
    );
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
    return (
      refuseWait(options) ??
      this.command(
        (core) => core.bootstrap(requireConfiguration('configuration', configuration)),
        (seq) => this.waits.durable.wait(seq, options),
      )
    );
  }

  /** Transfers leadership to the most up-to-date voter. */
  leadershipTransfer(): Promise<void> {
    return this.transferTo(null);
  }

  /** Transfers leadership to the given voter (hashicorp's LeadershipTransferToServer). */
  leadershipTransferToServer(id: ServerId, address: ServerAddress): Promise<void> {
    return checked(
      () => (requireName('id', id), requireName('address', address)),
      () => this.transferTo({ id, address }),
    );
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
    if (typeof reload !== 'object' || reload === null) throw new TypeError('reloadConfig takes an object');
    const next = { ...this.config, ...mergeReloadable(this.reloadableConfig(), reload) };
    validateConfig(next);
    Object.assign(this.config, reloadableOf(next));
    this.core.reloadTimeouts({
      heartbeatTimeout: next.heartbeatTimeout,
      electionTimeout: next.electionTimeout,
    });
  }

  /** shutdown() was called (or the node stopped itself). */
  get shutdownCalled(): boolean {
    return this.driver.stopped;
  }

  /** Stops the node (not graceful, like hashicorp): pending operations fail with ErrRaftShutdown. */
  async shutdown(): Promise<void> {
    if (this.driver.stopped) return;
    this.driver.stop();
    this.emit('stateChange', RaftState.Shutdown);
    this.emit('leadership', false);
    this.config.notifyCh?.close();
    await this.driver.idle();
    await this.transport.close();
  }

  override toString(): string {
    return `Node at ${this.transport.localAddr()} [${RAFT_STATE_NAMES[this.state]}]`;
  }
}
