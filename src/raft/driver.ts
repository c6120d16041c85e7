/**
 * The drive loop, and the parts it drives. Every input (a caller's request, an RPC, an answer, a
 * durable write, a timer) goes through the core at the current time (run), then the core's Ready
 * is carried out: events are routed, the write is handed to group commit, messages go out once
 * what they depend on is durable, and entries are applied up to core.applyIndex(): committed in
 * memory (a quorum holds them durably), whether or not the local write has landed yet. Neither
 * the commit index (Durability.commitChanged) nor a leader's own write is waited for: each took a
 * serial fsync off every write's path.
 *
 * Inputs that arrive in one turn of the event loop share one Ready (the flush runs after the
 * turn's I/O callbacks, Clock.afterTurn): that is where batching comes from. The parts (rpc.ts, events.ts, pending.ts, storage-writer.ts,
 * fsm-runner.ts, snapshots.ts, entry-cache.ts) reach the core only through run().
 */
import type { EventEmitter } from 'node:events';
import type { Clock, Timer } from '../core/clock.js';
import { ErrLeadershipLost, ErrRaftShutdown, ErrStoreCorrupt, RaftError } from '../core/errors.js';
import type { RaftCore } from '../core/raft.js';
import type { HardState, OutboundRequest, OutboundResponse, Ready } from '../core/ready.js';
import { RaftState, ServerSuffrage, type LogEntry } from '../core/types.js';
import { mark, tracing } from '../platform/trace.js';
import type { Transport } from '../transport/types.js';
import { decodeConfiguration } from '../wire/configuration.js';
import { EntryCache } from './entry-cache.js';
import { CoreEvents } from './events.js';
import { FsmRunner } from './fsm-runner.js';
import type { Logger } from './logger.js';
import type { NotifyChannel } from './notify-channel.js';
import type { ObserverRegistry } from './observer.js';
import type { RaftOptions } from './options.js';
import { discardMetrics, type MetricsSink } from './metrics.js';
import { Waits } from './pending.js';
import { RpcRelay } from './rpc.js';
import { SnapshotManager } from './snapshots.js';
import type { StoredState } from './startup.js';
import { StorageWriter } from './storage-writer.js';

/** Entries kept in memory for replication and applying. */
const ENTRY_CACHE_SIZE = 8192;

export interface DriverOptions {
  options: RaftOptions & Required<Pick<RaftOptions, 'clock' | 'random'>>;
  core: RaftCore;
  logger: Logger;
  stored: StoredState;
  /** Where 'applied' and 'snapshotInstalled' are emitted, and the core's events (the Raft). */
  emitter: EventEmitter;
  observers: ObserverRegistry;
}

export class Driver {
  readonly core: RaftCore;
  readonly waits: Waits;
  readonly events: CoreEvents;
  readonly rpcs: RpcRelay;
  readonly fsmRunner: FsmRunner;
  readonly snapshots: SnapshotManager;
  /** Where hashicorp's metrics go (discarded when no sink was given). */
  readonly metrics: MetricsSink;
  /** The highest commit index known to be durable (what a restart recovers; may trail applied). */
  durableCommit: number;
  private readonly cache = new EntryCache(ENTRY_CACHE_SIZE);
  private readonly writer: StorageWriter;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly emitter: EventEmitter;
  private readonly transport: Transport;
  private readonly localId: string;
  private readonly notify: NotifyChannel | undefined;
  private stoppedFlag = false;
  /** Why the node stopped itself (storage or FSM failure); pending operations fail with it. */
  private failure: Error | null = null;
  private timer: Timer | null = null;
  private timerAt = Infinity;
  private flushScheduled = false;
  private urgentFlushScheduled = false;
  /** The commit index last marked for the c1 trace (platform/trace.ts). */
  private tracedCommit = 0;
  private persistedSeq = 0;
  /** Messages held until persistence reaches their `after` seq. */
  private waiting: (OutboundRequest | OutboundResponse)[] = [];

  constructor(input: DriverOptions) {
    const { options, core, logger, stored } = input;
    // Stops the whole node (a failed part, or this server's removal with shutdownOnRemove).
    const shutdown = () => void this.shutdown();
    const { config, clock, transport, logStore, fsm } = options;
    this.core = core;
    this.clock = clock;
    this.metrics = options.metrics ?? discardMetrics;
    this.logger = logger;
    this.emitter = input.emitter;
    this.transport = transport;
    this.localId = config.localId;
    this.notify = config.notifyCh;
    if (this.notify) input.emitter.on('leadership', (leader: boolean) => this.notify?.send(leader));
    this.durableCommit = core.commitIndex;
    const fail = (what: string) => (error: Error) => {
      // A store closed by shutdown() fails what was in flight: that is no failure of the node.
      if (this.stoppedFlag) return;
      this.logger.error({ err: error }, `${what}: shutting down`);
      this.failure ??= new RaftError(`${what}: ${error.message}`);
      shutdown();
    };
    // A record that fails its checksum is never sent nor applied, and the node does not carry on
    // around it (a leader would retry it forever): it fail-stops for an operator to repair it
    // from the others (remove, wipe, add again), as at start-up, where the store refuses to open.
    const readEntries = (lo: number, hi: number) =>
      this.cache.read(logStore, lo, hi).catch((error: Error) => {
        if (error instanceof ErrStoreCorrupt) fail('log store damaged')(error);
        throw error;
      });
    this.waits = new Waits(clock);
    this.events = new CoreEvents({
      emitter: input.emitter,
      observers: input.observers,
      waits: this.waits,
      logger,
      metrics: this.metrics,
      commitIndex: () => core.commitIndex,
      localId: config.localId,
      removed: () => {
        logger.warn({ id: config.localId }, 'removed from the configuration');
        // Let the step-down's messages go out first.
        if (config.shutdownOnRemove) queueMicrotask(shutdown);
      },
    });
    this.rpcs = new RpcRelay(
      transport,
      clock,
      {
        stopped: () => this.stopped,
        faults: options.faults,
        step: (incoming) => this.run((c) => c.step(incoming)),
        onResponse: (out, response) => this.run((c) => c.onResponse(out, response)),
        onFailure: (out, reason) => this.run((c) => c.onFailure(out, reason)),
        isCurrentLeadership: (epoch) => core.epoch === epoch && core.state === RaftState.Leader,
        readEntries,
        cachedEntries: (lo, hi) => this.cache.peek(lo, hi),
        sendSnapshot: (out) => this.snapshots.send(out),
        consumingSnapshot: (rpcId) => this.snapshots.consuming(rpcId),
      },
      this.metrics,
    );
    this.writer = new StorageWriter(
      logStore,
      options.stableStore,
      stored.lastIndex,
      (seq, hardState) => this.onDurable(seq, hardState),
      fail('storage write failed'),
    );
    const snapshot = stored.snapshot;
    this.fsmRunner = new FsmRunner(
      fsm,
      snapshot
        ? {
            index: snapshot.index,
            term: snapshot.term,
            configuration: { configuration: snapshot.configuration, index: snapshot.configurationIndex },
          }
        : { index: 0, term: 0, configuration: { configuration: { servers: [] }, index: 0 } },
      readEntries,
      decodeConfiguration,
      (entry, response) => this.onApplied(entry, response),
      fail('FSM failed'),
      { sink: this.metrics, clock, isLeader: () => core.state === RaftState.Leader },
    );
    this.snapshots = new SnapshotManager({
      host: {
        stopped: () => this.stopped,
        snapshotIndex: () => core.snapshotIndex(),
        leadership: () => {
          if (core.state !== RaftState.Leader) return null;
          const { latest, latestIndex } = core.configurations();
          return {
            term: core.term,
            lastIndex: core.lastIndex(),
            configuration: latest,
            configurationIndex: latestIndex,
          };
        },
        snapshotTaken: (index, term, compactBefore) =>
          this.run((c) => c.snapshotTaken(index, term, compactBefore)),
        snapshotInstalled: (rpcId, ok) =>
          this.run((c) => (ok ? c.snapshotInstalled(rpcId) : c.snapshotInstallFailed(rpcId))),
        userSnapshotRestored: (index, term) => this.run((c) => c.userSnapshotRestored(index, term)),
        fsmRestoredTo: (index) => this.onFsmRestored(index),
        snapshotData: (rpcId) => this.rpcs.snapshotData(rpcId),
      },
      config,
      store: options.snapshotStore,
      logs: logStore,
      fsm,
      fsmRunner: this.fsmRunner,
      transport,
      clock,
      random: options.random,
      logger,
      metrics: this.metrics,
      failStop: (what, error) => fail(what)(error),
    });
  }

  get stopped(): boolean {
    return this.stoppedFlag;
  }

  /** Runs an input against the core at the current time; what it produced is carried out next. */
  run<T>(fn: (core: RaftCore) => T): T {
    if (this.stoppedFlag) throw new ErrRaftShutdown();
    this.core.tick(this.clock.now());
    const state = this.core.state;
    const result = fn(this.core);
    // A change of role is announced at once (events, notifyCh): whoever reads the new state in a
    // later callback of this turn finds its events delivered. Only the hot inputs wait for the turn.
    if (this.core.state !== state) this.scheduleUrgentFlush();
    this.scheduleFlush();
    return result;
  }

  /** Starts a command in the core, then waits under the key it returns; a refused command rejects. */
  command<T>(start: (core: RaftCore) => number, wait: (key: number) => Promise<T>): Promise<T> {
    let key: number;
    try {
      key = this.run(start);
    } catch (error) {
      return Promise.reject(error as Error);
    }
    return wait(key);
  }

  /**
   * NewRaft's last steps, once the core has started: RPCs come in, the FSM catches up to the
   * commit index, snapshots and timers run.
   */
  async start(): Promise<void> {
    const { core, transport } = this;
    transport.setHandler((rpc) => this.rpcs.receive(rpc));
    // Network transports put our ID in response headers (hashicorp 1.3.7+ peers read it).
    (transport as { setLocalId?: (id: string) => void }).setLocalId?.(this.localId);
    // Entries up to the stored commit index (or the log's end, when a lost tail left the log
    // shorter: core/raft.ts start) are applied before NewRaft returns. That index is written
    // lazily (with the next write that happens anyway), so after a crash the FSM may start behind
    // what it had applied; the rest is applied again once the commit index is re-learned from the
    // leader (or by this node's own election). Never behind the stored one.
    this.fsmRunner.advance(core.commitIndex);
    if (this.fsmRunner.applied < core.commitIndex) await this.waits.applied.wait(core.commitIndex);
    this.snapshots.start();
    this.flush();
  }

  /** Carries out everything the core has produced, then waits for its next deadline. */
  flush(): void {
    this.flushScheduled = false;
    if (this.stoppedFlag) return;
    while (this.core.hasReady()) this.handleReady(this.core.ready());
    if (tracing && this.core.commitIndex > this.tracedCommit)
      mark('commit', (this.tracedCommit = this.core.commitIndex));
    this.fsmRunner.advance(this.core.applyIndex());
    this.armTimer();
  }

  /**
   * Stops driving: no input reaches the core any more, and every wait and every incoming RPC still
   * awaiting its response fails (with the failure that stopped the node, if one did).
   */
  private stop(): void {
    // A graceful stop writes the commit index, which is otherwise written lazily; after a failure
    // (storage or FSM) nothing more is written.
    if (!this.stoppedFlag && this.failure === null) {
      const write = this.core.finalWrite();
      if (write) this.writer.enqueue(write);
    }
    this.stoppedFlag = true;
    this.timer?.cancel();
    this.snapshots.stop();
    this.fsmRunner.stop();
    const error = () => this.failure ?? new ErrRaftShutdown();
    this.waits.failAll(error);
    this.rpcs.failAll(error);
  }

  /** Stops the node (not graceful, like hashicorp), then waits for what was in flight. */
  async shutdown(): Promise<void> {
    if (this.stoppedFlag) return;
    this.stop();
    this.emitter.emit('stateChange', RaftState.Shutdown);
    this.emitter.emit('leadership', false);
    this.notify?.close();
    await this.writer.drain();
    await this.fsmRunner.idle();
    await this.transport.close();
  }

  /** Milliseconds since the last contact with a leader (0 on the leader), null when never. */
  sinceLastContact(): number | null {
    if (this.core.state === RaftState.Leader) return 0;
    const at = this.rpcs.lastLeaderContact;
    return Number.isFinite(at) ? this.clock.now() - at : null;
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // Inputs of one turn of the event loop share one Ready: that is the batching. After the turn's
    // I/O callbacks, not on a microtask: every socket read in one poll phase (a leader's HTTP
    // requests, its followers' answers) runs before the flush, so they share one log write and one
    // AppendEntries per follower instead of one each (bench/PROFILE.md, 2026-12-05). A virtual
    // clock has no turns: a microtask then.
    if (this.clock.afterTurn) this.clock.afterTurn(this.flushNow);
    else queueMicrotask(this.flushNow);
  }

  private readonly flushNow = (): void => this.flush();

  private scheduleUrgentFlush(): void {
    if (this.urgentFlushScheduled) return;
    this.urgentFlushScheduled = true;
    queueMicrotask(() => {
      this.urgentFlushScheduled = false;
      this.flush();
    });
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
      if (this.stoppedFlag) return;
      this.core.tick(this.clock.now());
      this.sampleLeaderContact();
      this.flush();
    });
  }

  /** raft.leader.lastContact: how long ago the voter heard from least recently answered. */
  private sampleLeaderContact(): void {
    if (this.core.state !== RaftState.Leader) return;
    const now = this.clock.now();
    let oldest = now;
    const { servers } = this.core.configurations().latest;
    for (const peer of this.core.replication()) {
      const voter = servers.some(
        (server) => server.id === peer.id && server.suffrage === ServerSuffrage.Voter,
      );
      if (voter && peer.lastContact < oldest) oldest = peer.lastContact;
    }
    if (Number.isFinite(oldest)) this.metrics.addSample('raft.leader.lastContact', now - oldest);
  }

  private handleReady(ready: Ready): void {
    for (const event of ready.events) this.events.route(event);
    if (ready.write) {
      const { entries } = ready.write;
      if (ready.write.truncateFrom !== null) this.cache.truncateFrom(ready.write.truncateFrom);
      this.cache.add(entries);
      if (tracing && entries.length > 0) mark('ready', entries[entries.length - 1].index);
      // The store submits the write from a microtask (WalStore.joinGroup); a leader's AppendEntries
      // of these cached entries are written to the sockets below, in this turn (rpc.ts), so the
      // followers' fsyncs start before the leader's own write reaches the thread pool.
      this.writer.enqueue(ready.write);
    }
    for (const install of ready.installs) this.snapshots.install(install);
    for (const out of ready.requests) this.release(out);
    for (const out of ready.responses) this.release(out);
  }

  /** Sends a message now if what it depends on is durable, else holds it. */
  private release(message: OutboundRequest | OutboundResponse): void {
    if (message.after > this.persistedSeq) this.waiting.push(message);
    else if ('rpcId' in message) this.rpcs.respond(message);
    else this.rpcs.send(message);
  }

  private onDurable(seq: number, hardState: HardState | null): void {
    if (this.stoppedFlag) return;
    this.persistedSeq = seq;
    this.core.tick(this.clock.now());
    this.core.persisted(seq);
    this.waits.durable.resolveUpTo(seq, undefined);
    // The stored commit index may be beyond the log while a lost tail is repaired (core/raft.ts):
    // a restart recovers only what the durable log holds, which may trail the commit index in
    // memory (entries still on their way to the disk).
    const commit = hardState ? Math.min(hardState.commit, this.core.durableIndex()) : 0;
    if (commit > this.durableCommit) this.durableCommit = commit;
    const ready = this.waiting;
    this.waiting = [];
    for (const message of ready) this.release(message);
    this.flush();
  }

  private onApplied(entry: LogEntry, response: unknown): void {
    if (tracing) mark('applied', entry.index);
    this.waits.applies.resolve(entry.index, { index: entry.index, response }, (term) =>
      term === entry.term ? null : new ErrLeadershipLost(),
    );
    this.waits.applied.resolveUpTo(entry.index, undefined);
    this.emitter.emit('applied', entry.index);
    this.snapshots.onApplied();
  }

  /** The FSM was restored from a snapshot: a durable proof that everything up to index committed. */
  private onFsmRestored(index: number): void {
    if (index > this.durableCommit) this.durableCommit = index;
    this.waits.applied.resolveUpTo(index, undefined);
    this.emitter.emit('snapshotInstalled', index);
  }
}
