/**
 * The only path to the user's FSM. Applies committed entries strictly in order, exactly once, and
 * runs snapshot captures and restores between two applies (never concurrently with one).
 */
import type { Configuration, LogEntry } from '../core/types.js';
import { LogType } from '../core/types.js';
import type { Clock } from '../core/clock.js';
import type { BatchingFSM, ConfigurationStore, FSM } from './fsm.js';
import type { MetricsSink } from './metrics.js';

/** How many entries one read from the log brings to the FSM. */
const APPLY_BATCH = 256;

/** What the runner reports its metrics with. */
export interface FsmMetrics {
  sink: MetricsSink;
  clock: Clock;
  /** raft.commitTime is a leader's metric (appendedAt is the leader's clock). */
  isLeader(): boolean;
}

export interface AppliedConfiguration {
  configuration: Configuration;
  index: number;
}

export class FsmRunner {
  applied: number;
  appliedTerm: number;
  configuration: AppliedConfiguration;
  private target: number;
  private exclusive: (() => Promise<void>)[] = [];
  private running = false;
  private stopped = false;
  private idleWaiters: (() => void)[] = [];
  /** The FSM implements BatchingFSM. */
  private readonly batching: boolean;

  constructor(
    private readonly fsm: FSM,
    start: { index: number; term: number; configuration: AppliedConfiguration },
    private readonly readEntries: (lo: number, hi: number) => Promise<LogEntry[]>,
    private readonly decodeConfiguration: (data: Uint8Array) => Configuration,
    private readonly onApplied: (entry: LogEntry, response: unknown) => void,
    private readonly onError: (error: Error) => void,
    private readonly metrics: FsmMetrics,
  ) {
    this.applied = start.index;
    this.appliedTerm = start.term;
    this.target = start.index;
    this.configuration = start.configuration;
    this.batching = typeof (fsm as Partial<BatchingFSM>).applyBatch === 'function';
  }

  /** Entries up to `commitIndex` are durable and committed: apply them. */
  advance(commitIndex: number): void {
    if (commitIndex <= this.target) return;
    this.target = commitIndex;
    this.kick();
  }

  /** Runs fn between two applies; resolves with its result. */
  runExclusive<T>(fn: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.exclusive.push(() => fn().then(resolve, reject));
      this.kick();
    });
  }

  /** After a restore from a snapshot: the FSM now reflects everything up to index. */
  restoredTo(index: number, term: number, configuration: AppliedConfiguration): void {
    if (index <= this.applied) return;
    this.applied = index;
    this.appliedTerm = term;
    this.configuration = configuration;
    if (this.target < index) this.target = index;
  }

  stop(): void {
    this.stopped = true;
  }

  /** Resolves once nothing is running. */
  idle(): Promise<void> {
    if (!this.running) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private kick(): void {
    if (!this.running && !this.stopped) void this.loop();
  }

  private async loop(): Promise<void> {
    this.running = true;
    try {
      while (!this.stopped) {
        const task = this.exclusive.shift();
        if (task) {
          await task();
          continue;
        }
        if (this.applied >= this.target) break;
        const entries = await this.readEntries(
          this.applied + 1,
          Math.min(this.target, this.applied + APPLY_BATCH),
        );
        this.metrics.sink.setGauge('raft.commitNumLogs', entries.length);
        for (let at = 0; at < entries.length;) {
          if (this.stopped || this.exclusive.length > 0) break;
          const entry = entries[at];
          if (entry.index !== this.applied + 1) {
            at++;
            continue;
          }
          if (this.batching && entry.type === LogType.Command) {
            const commands = commandRun(entries, at);
            await this.applyBatch(entries.slice(at, at + commands));
            at += commands;
          } else {
            // Most FSMs apply synchronously: no promise and no microtask hop per entry then.
            const applying = this.applyOne(entry);
            if (applying) await applying;
            at++;
          }
        }
        this.sampleCommitTime(entries);
      }
    } catch (error) {
      this.onError(error as Error);
    } finally {
      this.running = false;
      for (const waiter of this.idleWaiters.splice(0)) waiter();
    }
  }

  /** raft.commitTime of the newest entry of a batch, once (not per entry: the hot path stays cheap). */
  private sampleCommitTime(entries: readonly LogEntry[]): void {
    const last = entries.length > 0 ? entries[entries.length - 1] : null;
    if (!last || last.appendedAt <= 0 || last.index > this.applied || !this.metrics.isLeader()) return;
    this.metrics.sink.addSample('raft.commitTime', this.metrics.clock.wallTime() - last.appendedAt);
  }

  /** Consecutive Command entries through BatchingFSM.applyBatch. */
  private async applyBatch(batch: LogEntry[]): Promise<void> {
    let responses: unknown[];
    const started = this.metrics.clock.now();
    try {
      const result = (this.fsm as BatchingFSM).applyBatch(batch);
      responses = result instanceof Promise ? await result : result;
      if (!Array.isArray(responses) || responses.length !== batch.length) {
        throw new TypeError(
          `applyBatch returned ${Array.isArray(responses) ? responses.length : typeof responses} responses for ${batch.length} entries`,
        );
      }
    } catch (error) {
      responses = batch.map(() => error);
    }
    this.metrics.sink.addSample('raft.fsm.apply', this.metrics.clock.now() - started);
    for (let i = 0; i < batch.length; i++) {
      this.applied = batch[i].index;
      this.appliedTerm = batch[i].term;
      this.onApplied(batch[i], responses[i]);
    }
  }

  /** Applies one entry; a promise only when the FSM (or its configuration store) returned one. */
  private applyOne(entry: LogEntry): Promise<void> | undefined {
    if (entry.type === LogType.Command) {
      // A throwing FSM is the user's bug; it becomes that entry's response instead of stalling
      // the log (every server applies the same entries, so they fail alike).
      const started = this.metrics.clock.now();
      let response: unknown;
      try {
        response = this.fsm.apply(entry);
      } catch (error) {
        response = error;
      }
      if (response instanceof Promise) {
        return response.then(
          (value: unknown) => this.appliedCommand(entry, value, started),
          (error: unknown) => this.appliedCommand(entry, error, started),
        );
      }
      this.appliedCommand(entry, response, started);
      return undefined;
    }
    if (entry.type === LogType.Configuration) {
      const configuration = this.decodeConfiguration(entry.data);
      this.configuration = { configuration, index: entry.index };
      const store = (this.fsm as Partial<ConfigurationStore>).storeConfiguration;
      if (typeof store === 'function') {
        // Nobody waits on a configuration entry; the FSM's failure to record it is its own.
        let stored: unknown;
        try {
          stored = store.call(this.fsm, entry.index, configuration);
        } catch {
          stored = undefined;
        }
        return Promise.resolve(stored).then(
          () => this.appliedEntry(entry, undefined),
          () => this.appliedEntry(entry, undefined),
        );
      }
    }
    this.appliedEntry(entry, undefined);
    return undefined;
  }

  private appliedCommand(entry: LogEntry, response: unknown, started: number): void {
    this.metrics.sink.addSample('raft.fsm.apply', this.metrics.clock.now() - started);
    this.appliedEntry(entry, response);
  }

  private appliedEntry(entry: LogEntry, response: unknown): void {
    this.applied = entry.index;
    this.appliedTerm = entry.term;
    this.onApplied(entry, response);
  }
}

/** How many Command entries run consecutively from `at`. */
function commandRun(entries: readonly LogEntry[], at: number): number {
  let end = at;
  while (end < entries.length && entries[end].type === LogType.Command) end++;
  return end - at;
}
