/**
 * The prom-client adapter of MetricsSink. Each hashicorp name becomes a Prometheus name by turning
 * dots into underscores: counters get `_total`, timers become histograms in seconds (`_seconds`),
 * gauges keep the name (`raft.apply` -> `raft_apply_total`, `raft.commitTime` ->
 * `raft_commitTime_seconds`). Every metric is registered up front, so a scrape shows all of them
 * from the start and reporting is a lookup in a fixed table.
 */
import { Counter, Gauge, type Metric, type Registry } from 'prom-client';
import { CountedHistogram } from './histogram.js';
import { RAFT_METRICS, type MetricsSink, type RaftMetricName } from './metrics.js';

/** Histogram buckets of the timers, in seconds (100 µs to 10 s). */
export const TIMER_BUCKETS: readonly number[] = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10,
];

/** The Prometheus name of a raft metric as `prometheusMetrics` registers it. */
export function prometheusName(name: RaftMetricName): string {
  const base = name.replaceAll('.', '_');
  const kind = RAFT_METRICS[name][0];
  return kind === 'counter' ? `${base}_total` : kind === 'timer' ? `${base}_seconds` : base;
}

/**
 * A MetricsSink that registers every raft metric in `registry` (prom-client) and updates them.
 * Give each Raft in a process its own registry (names repeat). The timers are CountedHistograms:
 * prom-client's Histogram hashes its labels on every observe, and `raft.fsm.apply` is observed once
 * per command applied; a scrape shows byte for byte what prom-client's Histogram would.
 */
export function prometheusMetrics(registry: Registry): MetricsSink {
  const registers = [registry];
  const counters = new Map<string, Counter>();
  const gauges = new Map<string, Gauge>();
  const timers = new Map<string, CountedHistogram>();
  for (const [name, [kind, help]] of Object.entries(RAFT_METRICS) as [
    RaftMetricName,
    (typeof RAFT_METRICS)[RaftMetricName],
  ][]) {
    const options = { name: prometheusName(name), help: `${help} (hashicorp/raft: ${name})`, registers };
    if (kind === 'counter') counters.set(name, new Counter(options));
    else if (kind === 'gauge') gauges.set(name, new Gauge(options));
    else {
      const histogram = new CountedHistogram(options.name, options.help, TIMER_BUCKETS);
      // The registry reads a metric through get() and reset() only (CountedHistogram's comment).
      registry.registerMetric(histogram as unknown as Metric);
      timers.set(name, histogram);
    }
  }
  return {
    incrCounter: (name, value) => counters.get(name)?.inc(value),
    setGauge: (name, value) => gauges.get(name)?.set(value),
    addSample: (name, milliseconds) => timers.get(name)?.observe(milliseconds / 1000),
  };
}
