/**
 * Library metrics with hashicorp/raft's names (go-metrics: counters, gauges and timers in ms). The
 * runtime reports them to a MetricsSink given at `Raft.create`; `prometheusMetrics(registry)`
 * (prometheus.ts) is the adapter to prom-client. Reporting costs a method call and no allocation,
 * and nothing at all when no sink is given.
 */

/** go-metrics' kinds: a counter adds, a gauge is set, a timer records one sample in milliseconds. */
export type MetricKind = 'counter' | 'gauge' | 'timer';

/** Every metric the runtime reports: its kind and what it measures (README's metrics table). */
export const RAFT_METRICS = {
  /** hashicorp's `raft.apply`. */
  'raft.apply': ['counter', 'Commands proposed on this leader (apply and applyLog).'],
  /** hashicorp's `raft.barrier`. */
  'raft.barrier': ['counter', 'Barriers proposed on this leader.'],
  /** hashicorp's `raft.state.follower`. */
  'raft.state.follower': ['counter', 'Times this server went back to following (from candidate or leader).'],
  /** hashicorp's `raft.state.candidate`. */
  'raft.state.candidate': ['counter', 'Times this server became a candidate (elections it started).'],
  /** hashicorp's `raft.state.leader`. */
  'raft.state.leader': ['counter', 'Times this server became the leader.'],
  /** hashicorp's `raft.commitTime`. */
  'raft.commitTime': [
    'timer',
    "Leader: from proposing a command to applying it once committed (the leader's wall clock).",
  ],
  /** hashicorp's `raft.commitNumLogs`. */
  'raft.commitNumLogs': ['gauge', 'Entries handed to the FSM in the last batch.'],
  /** hashicorp's `raft.fsm.apply`. */
  'raft.fsm.apply': ['timer', 'Time the FSM took to apply one command (or one applyBatch call).'],
  /** hashicorp's `raft.leader.lastContact`. */
  'raft.leader.lastContact': [
    'timer',
    'Leader: how long ago the voter heard from least recently last answered, sampled at each timer tick.',
  ],
  /** hashicorp's `raft.replication.appendEntries.rpc`. */
  'raft.replication.appendEntries.rpc': [
    'timer',
    'Leader: round trip of one AppendEntries RPC (with entries or a heartbeat) to a follower.',
  ],
  /** hashicorp's `raft.replication.appendEntries.logs`. */
  'raft.replication.appendEntries.logs': ['counter', 'Leader: entries sent in AppendEntries RPCs.'],
  /** hashicorp's `raft.snapshot.create`. */
  'raft.snapshot.create': ['timer', 'Time to take a snapshot: capture and persist.'],
} as const satisfies Record<string, readonly [MetricKind, string]>;

/** The name of a metric the runtime reports (hashicorp/raft's name). */
export type RaftMetricName = keyof typeof RAFT_METRICS;

/** Where the runtime reports its metrics (go-metrics' sink, reduced to what raft uses). */
export interface MetricsSink {
  /** Adds `value` to a counter. */
  incrCounter(name: RaftMetricName, value: number): void;
  /** Sets a gauge. */
  setGauge(name: RaftMetricName, value: number): void;
  /** Records one sample of a timer, in milliseconds. */
  addSample(name: RaftMetricName, milliseconds: number): void;
}

const ignore = (): void => {};

/** The sink used when none is given: drops everything. */
export const discardMetrics: MetricsSink = { incrCounter: ignore, setGauge: ignore, addSample: ignore };
