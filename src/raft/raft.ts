/**
 * Raft: the runtime around RaftCore. It feeds the core time, RPCs and acknowledgements, carries out
 * its Ready (persist, then send, then apply), and turns the core's events into promises for callers.
 * API and semantics follow hashicorp/raft; waits are promises with timeouts and AbortSignals.
 *
 * The pieces with their own concern live beside it (storage-writer: group commit; fsm-runner: the
 * FSM lane; snapshots; entry-cache; observer; startup). What stays here is hashicorp's whole public
 * surface on one class plus the loop, which is why the file is long: its sections are the loop,
 * outgoing and incoming RPCs, core events, and the API groups (writes, reads, state, membership,
 * snapshots/shutdown). The waiter bookkeeping is the next thing to move out if it grows.
 */
import { EventEmitter } from 'node:events';
import type { Readable } from 'node:stream';
import type { Clock, Random, Timer } from '../core/clock.js';
import { isVoter, type ConfigurationChange } from '../core/configuration.js';
import {
  ErrAborted,
  ErrAbortedByRestore,
  ErrApplyTimeout,
  ErrEnqueueTimeout,
  ErrLeadershipLost,
  ErrNotLeader,
  ErrRaftShutdown,
  ErrReadIndexNotSupported,
  ErrUnexpectedCommand,
  RaftError,
} from '../core/errors.js';
import type { CoreEvent, HardState, OutboundRequest, OutboundResponse, Ready } from '../core/ready.js';
import { RaftCore, type CoreFaults } from '../core/raft.js';
import {
  LogType,
  RAFT_STATE_NAMES,
  RaftState,
  type Configuration,
  type LogEntry,
  type Peer,
  type RaftResponse,
  type ServerAddress,
  type ServerId,
  type SnapshotMeta,
} from '../core/types.js';
import { systemClock, systemRandom } from '../platform/clock.js';
import type { LogStore, SnapshotStore, StableStore } from '../storage/types.js';
import type { IncomingRpc, Transport } from '../transport/types.js';
import { decodeConfiguration, encodeConfiguration } from '../wire/configuration.js';
import { validateConfig, type Config, type ReloadableConfig } from './config.js';
import { EntryCache } from './entry-cache.js';
import type { FSM } from './fsm.js';
import { FsmRunner } from './fsm-runner.js';
import { silentLogger, type Logger } from './logger.js';
import { loadStartState } from './startup.js';
import { StorageWriter } from './storage-writer.js';
import { SnapshotManager } from './snapshots.js';
import { ObserverRegistry, type Observation, type ObserverOptions } from './observer.js';

export interface RaftOptions {
  config: Config;
  fsm: FSM;
  logStore: LogStore;
  stableStore: StableStore;
  snapshotStore: SnapshotStore;
  transport: Transport;
  clock?: Clock;
  random?: Random;
  /** Test-only deliberate bugs (see CoreFaults). */
  faults?: CoreFaults;
}

export interface ApplyOptions {
  /** Milliseconds to wait for the entry to be committed and applied (0 = no limit). */
  timeout?: number;
  signal?: AbortSignal;
}

export interface ReadOptions extends ApplyOptions {
  /**
   * Serve from the leader's lease when it holds one (no heartbeat round). Linearizable only under
   * the clock assumption stated at Config.maxClockDrift; followers still ask the leader.
   */
  lease?: boolean;
}

export interface ApplyResult {
  index: number;
  /** What the FSM's apply returned for this entry. */
  response: unknown;
}

export interface LeaderInfo {
  id: ServerId;
  address: ServerAddress;
}

interface PendingApply {
  term: number;
  resolve: (result: ApplyResult) => void;
  reject: (error: Error) => void;
}

/** Entries kept in memory for replication and applying. */
const ENTRY_CACHE_SIZE = 8192;

export class Raft extends EventEmitter {
  readonly config: Config;
  readonly core: RaftCore;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly logStore: LogStore;
  readonly transport: Transport;
  private readonly cache = new EntryCache(ENTRY_CACHE_SIZE);
  private readonly writer: StorageWriter;
  readonly fsmRunner: FsmRunner;
  readonly snapshots: SnapshotManager;
  readonly observers = new ObserverRegistry();

  private timer: Timer | null = null;
  private timerAt = Infinity;
  private flushScheduled = false;
  private persistedSeq = 0;
  private durableCommit = 0;
  private waiting: (OutboundRequest | OutboundResponse)[] = [];
  private nextRpcId = 1;
  private readonly incoming = new Map<number, IncomingRpc>();
  private readonly pendingApplies = new Map<number, PendingApply>();
  private readonly appliedWaiters: { index: number; resolve: () => void; reject: (error: Error) => void }[] =
    [];
  private readonly readWaiters = new Map<
    number,
    { resolve: (index: number) => void; reject: (error: Error) => void }
  >();
  private readonly membershipWaiters = new Map<
    number,
    { resolve: (index: number) => void; reject: (error: Error) => void }
  >();
  private transferWaiter: { resolve: () => void; reject: (error: Error) => void } | null = null;
  private nextReadId = 1;
  private isShutdown = false;
  /** Why the node stopped itself (storage or FSM failure); pending operations fail with it. */
  private failure: Error | null = null;
  private lastContactAt = -Infinity;
  private leaderCache: LeaderInfo | null = null;

  private constructor(
    options: RaftOptions,
    core: RaftCore,
    writer: (raft: Raft) => StorageWriter,
    runner: (raft: Raft) => FsmRunner,
    snapshots: (raft: Raft) => SnapshotManager,
  ) {
    super();
    this.config = options.config;
    this.core = core;
    this.clock = options.clock ?? systemClock;
    this.logger = options.config.logger ?? silentLogger;
    this.logStore = options.logStore;
    this.transport = options.transport;
    this.writer = writer(this);
    this.fsmRunner = runner(this);
    this.snapshots = snapshots(this);
  }

  /** hashicorp's NewRaft: validates, loads state, restores the newest snapshot that opens, starts. */
  static async create(options: RaftOptions): Promise<Raft> {
    const config = { ...options.config };
    validateConfig(config);
    const clock = options.clock ?? systemClock;
    const random = options.random ?? systemRandom;
    const logger = config.logger ?? silentLogger;
    const transport = options.transport;
    const core = new RaftCore({
      id: config.localId,
      address: transport.localAddr(),
      heartbeatTimeout: config.heartbeatTimeout,
      electionTimeout: config.electionTimeout,
      commitTimeout: config.commitTimeout,
      leaderLeaseTimeout: config.leaderLeaseTimeout,
      maxAppendEntries: config.maxAppendEntries,
      maxInflightAppends: config.maxInflightAppends,
      preVote: !config.preVoteDisabled,
      maxClockDrift: config.maxClockDrift,
      random,
      codec: { encode: encodeConfiguration, decode: decodeConfiguration },
      faults: options.faults,
    });
    const start = await loadStartState(options, core, clock.now(), logger);
    const raft = new Raft(
      { ...options, config },
      core,
      (r) =>
        new StorageWriter(
          options.logStore,
          options.stableStore,
          start.storeLastIndex,
          (seq, hardState) => r.onDurable(seq, hardState),
          (error) => r.fail('storage write failed', error),
        ),
      (r) =>
        new FsmRunner(
          options.fsm,
          start.applied,
          (lo, hi) => r.cache.read(options.logStore, lo, hi),
          decodeConfiguration,
          (entry, response) => r.onApplied(entry, response),
          (error) => r.fail('FSM failed', error),
        ),
      (r) =>
        new SnapshotManager(r, options.snapshotStore, options.logStore, options.fsm, clock, random, logger),
    );
    raft.durableCommit = core.commitIndex;
    raft.persistedSeq = 0;
    transport.setHandler((rpc) => raft.onRpc(rpc));
    // Network transports put our ID in response headers (hashicorp 1.3.7+ peers read it).
    (transport as { setLocalId?: (id: string) => void }).setLocalId?.(config.localId);
    core.start();
    // Committed entries are applied before NewRaft returns, so the FSM never looks older than it
    // did before a restart (the commit index is persisted before anything is applied).
    raft.fsmRunner.advance(core.commitIndex);
    await raft.waitApplied(core.commitIndex);
    raft.snapshots.start();
    raft.flush();
    return raft;
  }

  // ---------------------------------------------------------------------------------------------
  // The loop: every input goes through the core, then the Ready is carried out.

  /** Runs fn against the core at the current time, then carries out what it produced. */
  runCore<T>(fn: (core: RaftCore) => T): T {
    return this.withCore(fn);
  }

  private withCore<T>(fn: (core: RaftCore) => T): T {
    if (this.isShutdown) throw new ErrRaftShutdown();
    this.core.tick(this.clock.now());
    const result = fn(this.core);
    this.scheduleFlush();
    return result;
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // Inputs of one turn (many applies, many responses) share one Ready: that is the batching.
    queueMicrotask(() => this.flush());
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.isShutdown) return;
    while (this.core.hasReady()) this.handleReady(this.core.ready());
    this.armTimer();
  }

  private armTimer(): void {
    const deadline = this.core.nextDeadline();
    if (deadline === this.timerAt && this.timer) return;
    this.timer?.cancel();
    this.timerAt = deadline;
    if (!Number.isFinite(deadline)) {
      this.timer = null;
      return;
    }
    this.timer = this.clock.setTimer(Math.max(0, deadline - this.clock.now()), () => {
      this.timer = null;
      this.timerAt = Infinity;
      if (this.isShutdown) return;
      this.core.tick(this.clock.now());
      this.flush();
    });
  }

  private handleReady(ready: Ready): void {
    for (const event of ready.events) this.onCoreEvent(event);
    if (ready.write) {
      if (ready.write.truncateFrom !== null) this.cache.truncateFrom(ready.write.truncateFrom);
      this.cache.add(ready.write.entries);
      this.writer.enqueue(ready.write);
    }
    for (const install of ready.installs) this.snapshots.install(install);
    for (const out of ready.requests) this.release(out);
    for (const out of ready.responses) this.release(out);
  }

  /** Sends a message now if what it depends on is durable, else holds it. */
  private release(message: OutboundRequest | OutboundResponse): void {
    if (message.after > this.persistedSeq) {
      this.waiting.push(message);
      return;
    }
    if ('rpcId' in message) this.sendResponse(message);
    else this.dispatch(message);
  }

  private onDurable(seq: number, hardState: HardState | null): void {
    if (this.isShutdown) return;
    this.persistedSeq = seq;
    this.core.tick(this.clock.now());
    this.core.persisted(seq);
    if (hardState && hardState.commit > this.durableCommit) {
      this.durableCommit = hardState.commit;
      this.fsmRunner.advance(this.durableCommit);
    }
    const ready = this.waiting;
    this.waiting = [];
    for (const message of ready) this.release(message);
    this.flush();
  }

  // ---------------------------------------------------------------------------------------------
  // Outgoing RPCs

  private dispatch(out: OutboundRequest): void {
    const { request, to } = out;
    const settle = (promise: Promise<RaftResponse>): void => {
      promise.then(
        (response) => this.onRpcResult(out, response, null),
        (error: Error) => this.onRpcResult(out, null, error),
      );
    };
    switch (request.kind) {
      case 'appendEntries':
        settle(this.sendAppendEntries(out));
        return;
      case 'installSnapshot':
        settle(this.snapshots.send(out));
        return;
      case 'requestVote':
        settle(this.transport.requestVote(to, request));
        return;
      case 'requestPreVote':
        settle(this.transport.requestPreVote(to, request));
        return;
      case 'timeoutNow':
        settle(this.transport.timeoutNow(to, request));
        return;
      case 'readIndex':
        return;
    }
  }

  private async sendAppendEntries(out: OutboundRequest): Promise<RaftResponse> {
    const request = out.request;
    if (request.kind !== 'appendEntries') throw new Error('not an AppendEntries');
    if (out.entriesTo >= out.entriesFrom) {
      request.entries = await this.cache.read(this.logStore, out.entriesFrom, out.entriesTo);
      // Leaders never rewrite their log within one leadership, so entries read while the epoch is
      // unchanged are the ones the core meant. After a step-down they might not be: drop.
      if (this.core.epoch !== out.epoch || this.core.state !== RaftState.Leader) throw new StaleRequest();
    }
    return this.transport.appendEntries(out.to, request);
  }

  private onRpcResult(out: OutboundRequest, response: RaftResponse | null, error: Error | null): void {
    if (this.isShutdown || error instanceof StaleRequest) return;
    this.withCore((core) => {
      if (response) core.onResponse(out, response);
      else core.onFailure(out, classifyFailure(error!));
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Incoming RPCs

  private onRpc(rpc: IncomingRpc): void {
    if (this.isShutdown) {
      rpc.respond(null, new ErrRaftShutdown());
      return;
    }
    const rpcId = this.nextRpcId++;
    this.incoming.set(rpcId, rpc);
    const request = rpc.request;
    if (request.kind === 'appendEntries' || request.kind === 'installSnapshot')
      this.lastContactAt = this.clock.now();
    this.withCore((core) => core.step({ rpcId, request }));
  }

  private sendResponse(message: OutboundResponse): void {
    const rpc = this.incoming.get(message.rpcId);
    if (!rpc) return;
    this.incoming.delete(message.rpcId);
    // A snapshot the core did not accept still has its bytes on the connection: drain them.
    if (rpc.data && !this.snapshots.consuming(message.rpcId)) rpc.data.resume();
    rpc.respond(message.response);
  }

  /** For the snapshot manager: the incoming RPC an install belongs to. */
  incomingRpc(rpcId: number): IncomingRpc | undefined {
    return this.incoming.get(rpcId);
  }

  // ---------------------------------------------------------------------------------------------
  // Core events

  private onCoreEvent(event: CoreEvent): void {
    switch (event.type) {
      case 'state':
        this.logger.info({ state: RAFT_STATE_NAMES[event.state], term: event.term }, 'state change');
        this.emit('stateChange', event.state);
        this.observers.notify({ type: 'state', state: event.state });
        if (event.state === RaftState.Leader) this.emit('leadership', true);
        return;
      case 'leader': {
        const leader = event.leader ? { id: event.leader.id, address: event.leader.address } : null;
        this.leaderCache = leader;
        this.emit('leaderChange', leader);
        this.observers.notify({ type: 'leader', leader });
        return;
      }
      case 'leadershipLost':
        this.emit('leadership', false);
        this.failPendingApplies(this.core.commitIndex, () => new ErrLeadershipLost());
        return;
      case 'configuration':
        this.emit('configuration', event.configurations);
        return;
      case 'peer':
        this.observers.notify({ type: 'peer', server: event.server, removed: event.removed });
        return;
      case 'heartbeatFailed':
        this.observers.notify({ type: 'failedHeartbeat', peerId: event.id, lastContact: event.lastContact });
        return;
      case 'heartbeatResumed':
        this.observers.notify({ type: 'resumedHeartbeat', peerId: event.id });
        return;
      case 'voteRequest':
        this.observers.notify(
          event.request.kind === 'requestVote'
            ? { type: 'requestVote', request: event.request }
            : { type: 'requestPreVote', request: event.request },
        );
        return;
      case 'readState':
        this.readWaiters.get(event.readId)?.resolve(event.index);
        this.readWaiters.delete(event.readId);
        return;
      case 'readFailed':
        this.readWaiters.get(event.readId)?.reject(event.error);
        this.readWaiters.delete(event.readId);
        return;
      case 'transferDone':
        if (event.error) this.transferWaiter?.reject(event.error);
        else this.transferWaiter?.resolve();
        this.transferWaiter = null;
        return;
      case 'membershipDone':
        this.membershipWaiters.get(event.token)?.resolve(event.index);
        this.membershipWaiters.delete(event.token);
        return;
      case 'membershipFailed':
        this.membershipWaiters.get(event.token)?.reject(event.error);
        this.membershipWaiters.delete(event.token);
        return;
      case 'removed':
        this.logger.warn({ id: this.config.localId }, 'removed from the configuration');
        if (this.config.shutdownOnRemove) {
          // Let the step-down's messages go out first.
          queueMicrotask(() => void this.shutdown());
        }
        return;
    }
  }

  private onApplied(entry: LogEntry, response: unknown): void {
    const pending = this.pendingApplies.get(entry.index);
    if (pending) {
      this.pendingApplies.delete(entry.index);
      if (pending.term === entry.term) pending.resolve({ index: entry.index, response });
      else pending.reject(new ErrLeadershipLost());
    }
    this.resolveAppliedWaiters(entry.index);
    this.emit('applied', entry.index);
    this.snapshots.onApplied();
  }

  private failPendingApplies(aboveIndex: number, error: () => Error): void {
    for (const [index, pending] of this.pendingApplies) {
      if (index > aboveIndex) {
        this.pendingApplies.delete(index);
        pending.reject(error());
      }
    }
  }

  private fail(what: string, error: Error): void {
    this.logger.error({ err: error }, `${what}: shutting down`);
    this.failure = new RaftError(`${what}: ${error.message}`);
    void this.shutdown();
  }

  // ---------------------------------------------------------------------------------------------
  // Public API: writes

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
    const result = await this.propose(LogType.Barrier, new Uint8Array(0), new Uint8Array(0), options);
    return result.index;
  }

  private propose(
    type: LogType,
    data: Uint8Array,
    extensions: Uint8Array,
    options: ApplyOptions,
  ): Promise<ApplyResult> {
    return new Promise<ApplyResult>((resolve, reject) => {
      if (options.signal?.aborted) return reject(new ErrAborted());
      let index: number;
      try {
        [index] = this.withCore((core) =>
          core.propose([{ type, data, extensions, appendedAt: this.clock.wallTime() }]),
        );
      } catch (error) {
        return reject(error as Error);
      }
      const cleanup = this.deadline(options, (error) => {
        if (this.pendingApplies.delete(index)) reject(error);
      });
      this.pendingApplies.set(index, {
        term: this.core.term,
        resolve: (result) => {
          cleanup();
          resolve(result);
        },
        reject: (error) => {
          cleanup();
          reject(error);
        },
      });
    });
  }

  /** Arms the timeout and abort signal of one wait; returns the disarm function. */
  private deadline(options: ApplyOptions, onExpire: (error: Error) => void): () => void {
    let timer: Timer | null = null;
    if (options.timeout && options.timeout > 0) {
      timer = this.clock.setTimer(options.timeout, () => onExpire(new ErrApplyTimeout()));
    }
    const onAbort = () => onExpire(new ErrAborted());
    options.signal?.addEventListener('abort', onAbort, { once: true });
    return () => {
      timer?.cancel();
      options.signal?.removeEventListener('abort', onAbort);
    };
  }

  // ---------------------------------------------------------------------------------------------
  // Public API: reads

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
        : await this.followerReadIndex();
    await this.waitApplied(index, options);
    return index;
  }

  private leaderReadIndex(options: ReadOptions): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      const readId = this.nextReadId++;
      const cleanup = this.deadline(options, (error) => {
        if (this.readWaiters.delete(readId)) reject(error);
      });
      this.readWaiters.set(readId, {
        resolve: (index) => {
          cleanup();
          resolve(index);
        },
        reject: (error) => {
          cleanup();
          reject(error);
        },
      });
      try {
        this.withCore((core) => core.readIndex(readId, options.lease === true));
      } catch (error) {
        this.readWaiters.delete(readId);
        cleanup();
        reject(error as Error);
      }
    });
  }

  private async followerReadIndex(): Promise<number> {
    const leader = this.core.leader;
    if (!leader || this.isShutdown) throw new ErrNotLeader();
    try {
      const response = await this.transport.readIndex(leader, {
        kind: 'readIndex',
        term: this.core.term,
        from: this.core.self,
      });
      if (!response.success) throw new ErrNotLeader();
      return response.readIndex;
    } catch (error) {
      if (error instanceof ErrUnexpectedCommand) throw new ErrReadIndexNotSupported();
      throw error;
    }
  }

  /** Resolves once the FSM has applied index (or rejects on timeout/abort/shutdown). */
  waitApplied(index: number, options: ApplyOptions = {}): Promise<void> {
    if (this.fsmRunner.applied >= index) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const waiter = {
        index,
        resolve: () => (cleanup(), resolve()),
        reject: (error: Error) => (cleanup(), reject(error)),
      };
      const cleanup = this.deadline(options, (error) => {
        const at = this.appliedWaiters.indexOf(waiter);
        if (at >= 0) this.appliedWaiters.splice(at, 1);
        reject(error);
      });
      const at = this.appliedWaiters.findIndex((other) => other.index > index);
      this.appliedWaiters.splice(at < 0 ? this.appliedWaiters.length : at, 0, waiter);
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Public API: state

  get state(): RaftState {
    return this.isShutdown ? RaftState.Shutdown : this.core.state;
  }

  /** hashicorp's LeaderWithID: this node's view, possibly stale; null when unknown. */
  leader(): LeaderInfo | null {
    return this.isShutdown ? null : this.leaderCache;
  }

  /** Async iterator of leadership (true/false) starting with the current value; never drops the latest. */
  async *leadershipChanges(signal?: AbortSignal): AsyncGenerator<boolean> {
    let latest = this.state === RaftState.Leader;
    let dirty = true;
    let wake: (() => void) | null = null;
    const onChange = (isLeader: boolean) => {
      latest = isLeader;
      dirty = true;
      wake?.();
    };
    const onAbort = () => wake?.();
    this.on('leadership', onChange);
    signal?.addEventListener('abort', onAbort);
    try {
      while (!signal?.aborted && !this.isShutdown) {
        if (dirty) {
          dirty = false;
          yield latest;
          continue;
        }
        await new Promise<void>((resolve) => (wake = resolve));
        wake = null;
      }
    } finally {
      this.off('leadership', onChange);
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Wall-clock ms of the last contact with a leader ("0" semantics on the leader: now). */
  lastContact(): number | null {
    if (this.core.state === RaftState.Leader) return this.clock.wallTime();
    if (!Number.isFinite(this.lastContactAt)) return null;
    return this.clock.wallTime() - (this.clock.now() - this.lastContactAt);
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
    return this.durableCommit;
  }

  /**
   * The FSM was restored from a snapshot up to index (installed from the leader, or a user
   * restore): a durable proof that everything up to index committed.
   */
  noteSnapshotInstalled(index: number): void {
    if (index > this.durableCommit) this.durableCommit = index;
    this.resolveAppliedWaiters(index);
    this.emit('snapshotInstalled', index);
  }

  private resolveAppliedWaiters(applied: number): void {
    while (this.appliedWaiters.length > 0 && this.appliedWaiters[0].index <= applied) {
      this.appliedWaiters.shift()!.resolve();
    }
  }

  appliedIndex(): number {
    return this.fsmRunner.applied;
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
    const core = this.core;
    const { latest, latestIndex } = core.configurations();
    const selfVoter = isVoter(latest, core.id);
    const contact = this.lastContact();
    return {
      state: RAFT_STATE_NAMES[this.state],
      term: String(core.term),
      last_log_index: String(core.lastIndex()),
      last_log_term: String(core.lastTerm()),
      commit_index: String(core.commitIndex),
      applied_index: String(this.fsmRunner.applied),
      fsm_pending: String(Math.max(0, this.durableCommit - this.fsmRunner.applied)),
      last_snapshot_index: String(core.snapshotIndex()),
      last_snapshot_term: String(core.snapshotTerm()),
      protocol_version: String(this.config.protocolVersion),
      protocol_version_min: '0',
      protocol_version_max: '3',
      snapshot_version_min: '0',
      snapshot_version_max: '1',
      latest_configuration_index: String(latestIndex),
      latest_configuration: JSON.stringify(latest.servers),
      num_peers: String(
        selfVoter ? latest.servers.filter((s) => s.suffrage === 0 && s.id !== core.id).length : 0,
      ),
      last_contact:
        core.state === RaftState.Leader
          ? '0'
          : contact === null
            ? 'never'
            : `${this.clock.wallTime() - contact}ms`,
    };
  }

  /** Replication state per peer as the leader sees it (empty on followers). */
  replication(): { id: ServerId; matchIndex: number; nextIndex: number; lastContact: number }[] {
    return this.core.replication().map((p) => ({
      id: p.id,
      matchIndex: p.matchIndex,
      nextIndex: p.nextIndex,
      lastContact: p.lastContact,
    }));
  }

  // ---------------------------------------------------------------------------------------------
  // Public API: membership and leadership transfer

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
    return new Promise<number>((resolve, reject) => {
      let token: number;
      try {
        token = this.withCore((core) => core.changeConfiguration(change));
      } catch (error) {
        return reject(error as Error);
      }
      const cleanup = this.deadline({ timeout }, (error) => {
        if (!this.membershipWaiters.delete(token)) return;
        this.core.cancelConfigurationChange(token);
        reject(error instanceof ErrApplyTimeout ? new ErrEnqueueTimeout() : error);
      });
      this.membershipWaiters.set(token, {
        resolve: (index) => (cleanup(), resolve(index)),
        reject: (error) => (cleanup(), reject(error)),
      });
    });
  }

  /** Transfers leadership to the most up-to-date voter. */
  leadershipTransfer(): Promise<void> {
    return this.transferTo(null);
  }

  leadershipTransferToServer(id: ServerId, address: ServerAddress): Promise<void> {
    return this.transferTo({ id, address });
  }

  private transferTo(target: Peer | null): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      try {
        this.withCore((core) =>
          core.transferLeadership(target ? { id: target.id, address: target.address, suffrage: 0 } : null),
        );
      } catch (error) {
        return reject(error as Error);
      }
      this.transferWaiter = { resolve, reject };
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Public API: snapshots, observers, config, shutdown

  /** Takes a snapshot now (hashicorp's Snapshot()); resolves with its metadata. */
  snapshot() {
    return this.snapshots.take(true);
  }

  /**
   * hashicorp's Restore: replaces the state with an external snapshot (a backup), keeping the
   * current membership. Leader only. Pending applies fail with ErrAbortedByRestore. Resolves once
   * a Noop after the restore is committed, i.e. a quorum holds the restored state.
   */
  async restore(meta: SnapshotMeta, reader: Readable, options: ApplyOptions = {}): Promise<void> {
    if (this.isShutdown) throw new ErrRaftShutdown();
    if (this.core.state !== RaftState.Leader) throw new ErrNotLeader();
    this.failPendingApplies(-1, () => new ErrAbortedByRestore());
    await this.snapshots.restoreUser(meta, reader);
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
    return this.isShutdown;
  }

  /** Stops the node (not graceful, like hashicorp): pending operations fail with ErrRaftShutdown. */
  async shutdown(): Promise<void> {
    if (this.isShutdown) return;
    this.isShutdown = true;
    this.timer?.cancel();
    this.snapshots.stop();
    this.fsmRunner.stop();
    const error = () => this.failure ?? new ErrRaftShutdown();
    this.failPendingApplies(-1, error);
    for (const waiter of this.readWaiters.values()) waiter.reject(error());
    this.readWaiters.clear();
    for (const waiter of this.appliedWaiters.splice(0)) waiter.reject(error());
    for (const waiter of this.membershipWaiters.values()) waiter.reject(error());
    this.membershipWaiters.clear();
    this.transferWaiter?.reject(error());
    this.transferWaiter = null;
    for (const rpc of this.incoming.values()) rpc.respond(null, error());
    this.incoming.clear();
    this.emit('stateChange', RaftState.Shutdown);
    this.emit('leadership', false);
    await this.writer.drain();
    await this.fsmRunner.idle();
    await this.transport.close();
  }

  override toString(): string {
    return `Node at ${this.transport.localAddr()} [${RAFT_STATE_NAMES[this.state]}]`;
  }
}

/** An AppendEntries that lost its meaning before it was sent (the node stopped leading). */
class StaleRequest extends RaftError {}

function classifyFailure(error: Error): 'error' | 'unsupported' | 'logNotFound' {
  if (error.name === 'ErrLogNotFound') return 'logNotFound';
  if (error.name === 'ErrUnexpectedCommand' || error.name === 'ErrUnsupportedRpc') return 'unsupported';
  return 'error';
}
