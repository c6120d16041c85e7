/** Prometheus metrics of one KV server, in a registry of its own (several servers may share a process). */
import { Counter, Gauge, Registry, type Metric } from 'prom-client';
import { CountedHistogram } from '../index.js';
import type { KvCluster } from './cluster.js';
import type { KvFsm } from './fsm.js';
import type { WatchHub } from './http/watch-hub.js';
import type { LeaseKeeper } from './lease-keeper.js';

export type RouteLabel =
  | 'kv'
  | 'range'
  | 'watch'
  | 'leases'
  | 'locks'
  | 'txn'
  | 'status'
  | 'metrics'
  | 'healthz'
  | 'readyz'
  | 'cluster_join'
  | 'cluster_formats'
  | 'cluster_remove'
  | 'cluster_transfer'
  | 'debug_isolate'
  | 'unknown';

const KNOWN_METHODS: ReadonlySet<string> = new Set(['GET', 'PUT', 'POST', 'DELETE', 'HEAD']);

interface RequestCount {
  labels: { method: string; route: RouteLabel; code: string };
  count: number;
}

export class KvMetrics {
  readonly registry: Registry;
  /**
   * Requests answered, by `method route code`; the counter reads them at scrape time. prom-client
   * hashes the labels of every `inc`, which was ~1% of a busy leader (bench/PROFILE.md).
   */
  private readonly requestCounts = new Map<string, RequestCount>();
  private readonly applyDuration: CountedHistogram;

  /** `sources.registry`: where the metrics go (default: a new one); share it with the library's (`prometheusMetrics`). */
  constructor(sources: {
    cluster: KvCluster;
    fsm: KvFsm;
    watches: WatchHub;
    leases: LeaseKeeper;
    registry?: Registry;
  }) {
    const { cluster, fsm, watches, leases } = sources;
    this.registry = sources.registry ?? new Registry();
    const registers = [this.registry];
    const gauge = (name: string, help: string, read: () => number) =>
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(read());
        },
      });
    // A count kept elsewhere, exposed as a Prometheus counter.
    const counter = (name: string, help: string, read: () => number) =>
      new Counter({
        name,
        help,
        registers,
        collect() {
          this.reset();
          this.inc(read());
        },
      });
    const raftGauge = (
      name: string,
      help: string,
      read: (status: ReturnType<KvCluster['status']>) => number,
    ) =>
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(read(cluster.status()));
        },
      });
    raftGauge('raft_term', 'Current Raft term.', (s) => s.term);
    raftGauge('raft_last_index', 'Index of the last log entry.', (s) => s.lastIndex);
    raftGauge('raft_commit_index', 'Highest index known to be committed.', (s) => s.commitIndex);
    raftGauge('raft_applied_index', 'Highest index applied to the state machine.', (s) => s.appliedIndex);
    raftGauge('raft_last_snapshot_index', 'Index of the latest snapshot.', (s) => s.lastSnapshotIndex);
    raftGauge('raft_is_leader', '1 while this server is the leader, else 0.', (s) =>
      s.state === 'Leader' ? 1 : 0,
    );
    raftGauge('raft_servers', 'Servers in the latest configuration.', (s) => s.configuration.length);
    gauge('kv_keys', 'Keys in the local state machine, reserved ones included.', () => fsm.size);
    gauge('kv_revision', 'Store revision: the log index of the last command applied.', () => fsm.revision);
    gauge('kv_watch_history_events', 'Changes kept in the watch history.', () => fsm.history.length);
    gauge(
      'kv_watch_compact_revision',
      'Watches must start at or after this revision.',
      () => fsm.history.compactRevision,
    );
    gauge('kv_watchers', 'Open watch streams.', () => watches.count);
    gauge('kv_watch_buffered_bytes', 'Bytes waiting in the sockets of watch streams.', () =>
      watches.bufferedBytes(),
    );
    counter('kv_watch_overflows_total', 'Watch streams closed for falling behind.', () => watches.overflows);
    gauge('kv_leases', 'Leases in the local state machine (lock leases included).', () => fsm.leaseCount);
    gauge('kv_locks', 'Locks with a holder or waiters.', () => fsm.lockCount);
    counter('kv_lease_expirations_total', 'Leases this server expired while leading.', () => leases.expired);
    const requestCounts = this.requestCounts;
    new Counter({
      name: 'kv_http_requests_total',
      help: 'HTTP requests answered, by method, route and status code.',
      labelNames: ['method', 'route', 'code'],
      registers,
      collect() {
        this.reset();
        for (const { labels, count } of requestCounts.values()) this.inc(labels, count);
      },
    });
    this.applyDuration = new CountedHistogram(
      'kv_apply_duration_seconds',
      'Time from submitting a command until it was committed and applied, by op.',
      APPLY_BUCKETS,
      'op',
    );
    // The registry reads a metric through get() and reset() only (CountedHistogram's comment).
    this.registry.registerMetric(this.applyDuration as unknown as Metric);
  }

  countRequest(method: string, route: RouteLabel, code: number): void {
    // Unknown methods are folded into one label so clients cannot grow the series without bound.
    const knownMethod = KNOWN_METHODS.has(method) ? method : 'OTHER';
    const key = `${knownMethod} ${route} ${code}`;
    const counted = this.requestCounts.get(key);
    if (counted !== undefined) counted.count++;
    else
      this.requestCounts.set(key, { labels: { method: knownMethod, route, code: String(code) }, count: 1 });
  }

  observeApply(op: string, seconds: number): void {
    this.applyDuration.observe(seconds, op);
  }
}

/** The buckets of `kv_apply_duration_seconds`, in seconds. */
const APPLY_BUCKETS: readonly number[] = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
];
