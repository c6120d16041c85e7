/**
 * Snapshots in the runtime: taking them (on threshold, on interval, on demand) and compacting the
 * log; sending the newest one to a follower that needs compacted entries; installing one received
 * from the leader; hashicorp's user Restore. Snapshot data is streamed end to end. Everything this
 * tells the core goes through the runtime's drive loop (SnapshotHost), like any other input.
 */
import type { Readable } from 'node:stream';
import { randomBetween, type Clock, type Random, type Timer } from '../core/clock.js';
import {
  ErrLeadershipLost,
  ErrNotLeader,
  ErrNothingNewToSnapshot,
  ErrOutOfDescriptors,
  RaftError,
} from '../core/errors.js';
import type { OutboundRequest, SnapshotInstall } from '../core/ready.js';
import type { Configuration, InstallSnapshotResponse, SnapshotMeta } from '../core/types.js';
import type { LogStore, SnapshotSink, SnapshotStore } from '../storage/types.js';
import type { Transport } from '../transport/types.js';
import type { Config } from './config.js';
import type { FSM, FSMSnapshot } from './fsm.js';
import type { FsmRunner } from './fsm-runner.js';
import type { Logger } from './logger.js';
import type { MetricsSink } from './metrics.js';

/** What the snapshot manager needs from the runtime around it. */
export interface SnapshotHost {
  stopped(): boolean;
  /** Index of the last entry the newest snapshot covers. */
  snapshotIndex(): number;
  /** The current leadership (term, last log index, latest configuration), or null if not leader. */
  leadership(): {
    term: number;
    lastIndex: number;
    configuration: Configuration;
    configurationIndex: number;
  } | null;
  /** Through the drive loop: a local snapshot was taken, log entries below compactBefore may go. */
  snapshotTaken(index: number, term: number, compactBefore: number): void;
  /** Through the drive loop: the install of an incoming snapshot finished (or failed). */
  snapshotInstalled(rpcId: number, ok: boolean): void;
  /** Through the drive loop: a user snapshot now stands at index (leader only). */
  userSnapshotRestored(index: number, term: number): void;
  /** The FSM now reflects everything up to index (waits for that index may settle). */
  fsmRestoredTo(index: number): void;
  /** The bytes following an incoming InstallSnapshot. */
  snapshotData(rpcId: number): Readable | undefined;
}

export interface SnapshotManagerOptions {
  host: SnapshotHost;
  /** The live config: its snapshot fields and trailingLogs are reloadable. */
  config: Pick<Config, 'snapshotInterval' | 'snapshotThreshold' | 'snapshotLogLimit' | 'trailingLogs'>;
  store: SnapshotStore;
  logs: LogStore;
  fsm: FSM;
  fsmRunner: FsmRunner;
  transport: Transport;
  clock: Clock;
  random: Random;
  logger: Logger;
  metrics: MetricsSink;
  /** Stops the node: a write to the log or snapshot store failed outside the storage writer. */
  failStop: (what: string, error: Error) => void;
}

export class SnapshotManager {
  private timer: Timer | null = null;
  private taking: Promise<SnapshotMeta> | null = null;
  private readonly consumingRpcs = new Set<number>();
  private stopped = false;
  /**
   * How far past its limit (as a fraction of it, in [0, 1)) this node lets its log grow before the
   * applied-entry check snapshots; drawn again after every snapshot. Without it every replica
   * snapshotted at the same index, so at c64 with 100k keys all three event loops were busy
   * serializing at once and the leader lost its lease (bench/PROFILE.md, #2). The timer check
   * keeps hashicorp's plain threshold.
   */
  private limitJitter: number;

  private readonly host: SnapshotHost;
  private readonly config: SnapshotManagerOptions['config'];
  private readonly store: SnapshotStore;
  private readonly logs: LogStore;
  private readonly fsm: FSM;
  private readonly runner: FsmRunner;
  private readonly transport: Transport;
  private readonly clock: Clock;
  private readonly random: Random;
  private readonly logger: Logger;
  private readonly metrics: MetricsSink;
  private readonly failStop: SnapshotManagerOptions['failStop'];

  constructor(options: SnapshotManagerOptions) {
    this.host = options.host;
    this.config = options.config;
    this.store = options.store;
    this.logs = options.logs;
    this.fsm = options.fsm;
    this.runner = options.fsmRunner;
    this.transport = options.transport;
    this.clock = options.clock;
    this.random = options.random;
    this.logger = options.logger;
    this.limitJitter = this.random.next();
    this.metrics = options.metrics;
    this.failStop = options.failStop;
  }

  start(): void {
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
  }

  /** hashicorp's rule: a random [interval, 2 x interval) timer checks snapshotThreshold. */
  private schedule(): void {
    if (this.stopped) return;
    const interval = this.config.snapshotInterval;
    this.timer = this.clock.setTimer(randomBetween(this.random, interval, 2 * interval), () => {
      if (this.appliedSinceSnapshot() >= this.config.snapshotThreshold) this.takeInBackground();
      this.schedule();
    });
  }

  private appliedSinceSnapshot(): number {
    return this.runner.applied - this.host.snapshotIndex();
  }

  /**
   * Called after each applied entry: raftkit's bound on the log between two timer checks
   * (Config.snapshotLogLimit). Checking snapshotThreshold here instead made every node of a busy
   * cluster snapshot its whole state every 8,192-16,384 writes, one to two seconds at c64: the
   * serialization was 6-7% of a follower's CPU (bench/PROFILE.md).
   */
  onApplied(): void {
    const { snapshotLogLimit, snapshotThreshold } = this.config;
    if (this.taking || snapshotLogLimit === 0) return;
    const limit = Math.max(snapshotLogLimit, snapshotThreshold);
    if (this.appliedSinceSnapshot() >= limit + Math.floor(limit * this.limitJitter)) this.takeInBackground();
  }

  private takeInBackground(): void {
    this.take(false).catch((error: Error) => {
      if (!(error instanceof ErrNothingNewToSnapshot)) this.logger.warn({ err: error }, 'snapshot failed');
    });
  }

  /** Takes a snapshot of the FSM at its applied index, stores it and compacts the log. */
  take(userRequested: boolean): Promise<SnapshotMeta> {
    if (this.taking) {
      if (!userRequested) return this.taking;
      return this.taking.then(() => this.take(true));
    }
    const started = this.clock.now();
    this.taking = this.doTake()
      .then((meta) => {
        this.metrics.addSample('raft.snapshot.create', this.clock.now() - started);
        return meta;
      })
      .finally(() => {
        this.taking = null;
      });
    return this.taking;
  }

  private async doTake(): Promise<SnapshotMeta> {
    const runner = this.runner;
    const captured = await runner.runExclusive(async () => {
      if (runner.applied <= this.host.snapshotIndex() || runner.applied === 0) return null;
      const fsmSnapshot: FSMSnapshot = await this.fsm.snapshot();
      return {
        fsmSnapshot,
        index: runner.applied,
        term: runner.appliedTerm,
        configuration: runner.configuration,
      };
    });
    if (!captured) throw new ErrNothingNewToSnapshot();
    const { fsmSnapshot, index, term, configuration } = captured;
    let sink: SnapshotSink | null = null;
    try {
      sink = await this.createSink(index, term, configuration.configuration, configuration.index);
      await fsmSnapshot.persist(sink);
    } catch (error) {
      await sink?.cancel().catch(() => {});
      throw error;
    } finally {
      fsmSnapshot.release();
    }
    const meta = (await this.store.list()).find(
      (candidate) => candidate.index === index && candidate.term === term,
    );
    await this.compact(index, term);
    this.limitJitter = this.random.next();
    this.logger.info({ index, term }, 'snapshot complete');
    return (
      meta ?? {
        version: 1,
        id: sink.id,
        index,
        term,
        configuration: configuration.configuration,
        configurationIndex: configuration.index,
        size: 0,
      }
    );
  }

  /** Deletes log entries the snapshot covers, keeping trailingLogs of them. */
  private async compact(index: number, term: number): Promise<void> {
    const compactBefore = Math.max(0, index - this.config.trailingLogs) + 1;
    this.host.snapshotTaken(index, term, compactBefore);
    const first = await this.logs.firstIndex();
    if (first > 0 && first < compactBefore) {
      await this.stopOnFailure('log compaction failed', this.logs.deleteRange(first, compactBefore - 1));
    }
  }

  /**
   * A write that fails outside the storage writer stops the node as one inside it does (etcd
   * panics on a failed snapshot save or log compaction too): after a failed fsync nothing says
   * what reached the disk, and carrying on (or retrying) would trust it. Only a shortage of file
   * descriptors, which changed nothing, is left to a later attempt.
   */
  private stopOnFailure<T>(what: string, operation: Promise<T>): Promise<T> {
    return operation.catch((error: Error) => {
      if (!(error instanceof ErrOutOfDescriptors)) this.failStop(what, error);
      throw error;
    });
  }

  /** A sink of the snapshot store whose failed creation, writes or close stop the node. */
  private async createSink(
    index: number,
    term: number,
    configuration: Configuration,
    configurationIndex: number,
  ): Promise<SnapshotSink> {
    const what = 'snapshot store write failed';
    const sink = await this.stopOnFailure(
      what,
      this.store.create(1, index, term, configuration, configurationIndex),
    );
    return {
      id: sink.id,
      write: (chunk) => this.stopOnFailure(what, sink.write(chunk)),
      close: () => this.stopOnFailure(what, sink.close()),
      cancel: () => sink.cancel(),
    };
  }

  // ---------------------------------------------------------------------------------------------
  // User restore (hashicorp's Restore)

  /**
   * Stores an external snapshot at max(lastIndex, meta.index) + 1 with the current membership,
   * restores the FSM from it and moves the leader's log past it. Returns the new index.
   */
  async restoreUser(meta: SnapshotMeta, reader: Readable): Promise<number> {
    const leadership = this.host.leadership();
    if (!leadership) throw new ErrNotLeader();
    const { term, configuration, configurationIndex } = leadership;
    const index = Math.max(leadership.lastIndex, meta.index) + 1;
    const id = await this.storeStream(reader, { index, term, configuration, configurationIndex }, null);
    const runner = this.runner;
    await runner.runExclusive(async () => {
      if (this.host.leadership()?.term !== term) throw new ErrLeadershipLost();
      await this.restoreFsm(id);
      runner.restoredTo(index, term, { configuration, index: configurationIndex });
      this.host.userSnapshotRestored(index, term);
      this.host.fsmRestoredTo(index);
    });
    this.logger.info({ index, term }, 'restored user snapshot');
    return index;
  }

  // ---------------------------------------------------------------------------------------------
  // Leader side: InstallSnapshot to a follower

  async send(out: OutboundRequest): Promise<InstallSnapshotResponse> {
    const request = out.request;
    if (request.kind !== 'installSnapshot') throw new Error('not an InstallSnapshot');
    const [newest] = await this.store.list();
    if (!newest) throw new RaftError('no snapshot to send');
    const { meta, reader } = await this.store.open(newest.id);
    request.lastLogIndex = meta.index;
    request.lastLogTerm = meta.term;
    request.configuration = meta.configuration;
    request.configurationIndex = meta.configurationIndex;
    request.size = meta.size;
    return this.transport.installSnapshot(out.to, request, reader);
  }

  // ---------------------------------------------------------------------------------------------
  // Follower side: InstallSnapshot from the leader

  consuming(rpcId: number): boolean {
    return this.consumingRpcs.has(rpcId);
  }

  install(install: SnapshotInstall): void {
    const data = this.host.snapshotData(install.rpcId);
    if (!data) {
      this.host.snapshotInstalled(install.rpcId, false);
      return;
    }
    this.consumingRpcs.add(install.rpcId);
    this.doInstall(install, data).then(
      () => this.finish(install.rpcId, true),
      (error: Error) => {
        this.logger.warn({ err: error, index: install.request.lastLogIndex }, 'failed to install snapshot');
        data.resume();
        this.finish(install.rpcId, false);
      },
    );
  }

  private finish(rpcId: number, ok: boolean): void {
    this.consumingRpcs.delete(rpcId);
    if (this.host.stopped()) return;
    this.host.snapshotInstalled(rpcId, ok);
  }

  private async doInstall(install: SnapshotInstall, data: Readable): Promise<void> {
    const { request } = install;
    const id = await this.storeStream(
      data,
      {
        index: request.lastLogIndex,
        term: request.lastLogTerm,
        configuration: request.configuration,
        configurationIndex: request.configurationIndex,
      },
      request.size,
    );
    const runner = this.runner;
    await runner.runExclusive(async () => {
      // Never roll the FSM back to an older state than it has applied.
      if (runner.applied >= request.lastLogIndex) return;
      await this.restoreFsm(id);
      runner.restoredTo(request.lastLogIndex, request.lastLogTerm, {
        configuration: request.configuration,
        index: request.configurationIndex,
      });
      this.host.fsmRestoredTo(request.lastLogIndex);
    });
    this.logger.info(
      { index: request.lastLogIndex, term: request.lastLogTerm },
      'installed snapshot from leader',
    );
  }

  /**
   * Streams a snapshot into the store and returns its ID; with an expected size, a different byte
   * count fails like hashicorp's "short read". The sink is cancelled on any failure.
   */
  private async storeStream(
    reader: AsyncIterable<unknown>,
    meta: {
      index: number;
      term: number;
      configuration: SnapshotMeta['configuration'];
      configurationIndex: number;
    },
    expectedSize: number | null,
  ): Promise<string> {
    const sink = await this.createSink(meta.index, meta.term, meta.configuration, meta.configurationIndex);
    let received = 0;
    try {
      for await (const chunk of reader) {
        received += (chunk as Uint8Array).length;
        await sink.write(chunk as Uint8Array);
      }
      if (expectedSize !== null && received !== expectedSize) {
        throw new RaftError(`short read: got ${received} of ${expectedSize} bytes`);
      }
      await sink.close();
    } catch (error) {
      await sink.cancel().catch(() => {});
      throw error;
    }
    return sink.id;
  }

  /** Replaces the FSM's state with a stored snapshot, checked first when the store can. */
  private async restoreFsm(id: string): Promise<void> {
    if (this.store.verify) await this.store.verify(id);
    const { reader } = await this.store.open(id);
    await this.fsm.restore(reader);
  }
}
