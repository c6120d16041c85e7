/**
 * A Prometheus histogram that counts into plain arrays and builds its series only when scraped.
 * prom-client's Histogram converts and hashes its labels on every observe, and the runtime and the
 * KV service observe once or more per write (1.4% and 0.7% of a busy leader, bench/PROFILE.md).
 */

/** One sample of a histogram's series, as prom-client's Histogram.get() lists it. */
export interface HistogramValue {
  /** `le` (the bucket's upper bound) for buckets, and the histogram's label when it has one. */
  labels: Record<string, string | number>;
  /** A cumulative bucket count, the sum or the count. */
  value: number;
  /** `<name>_bucket`, `<name>_sum` or `<name>_count`. */
  metricName: string;
}

/** What CountedHistogram.get() returns: prom-client's metric object with its values. */
export interface HistogramMetric {
  /** The metric's name. */
  name: string;
  /** Its help text. */
  help: string;
  /** Always `histogram`. */
  type: string;
  /** How prom-client's cluster mode merges workers' values (`sum`). */
  aggregator: string;
  /** Each series' buckets, then its sum and count. */
  values: HistogramValue[];
}

interface Row {
  /** Observations per bucket (not cumulative); the last slot counts those above every bound. */
  counts: number[];
  sum: number;
  count: number;
}

/**
 * A histogram with at most one label, in prom-client's exposition byte for byte: register it with
 * `registry.registerMetric(histogram as unknown as Metric)`. The registry reads `name`, `help`,
 * `type`, `aggregator`, `get()` (the values prom-client's own Histogram returns, in the same order)
 * and `reset()`. Without a label it shows zeroed buckets from the start, as prom-client's does.
 * A value that is not a finite number is ignored (prom-client throws).
 */
export class CountedHistogram {
  /** The Prometheus metric type, as prom-client's registry reads it. */
  readonly type = 'histogram';
  /** How prom-client's cluster mode merges workers' values. */
  readonly aggregator = 'sum';
  /** The metric's name (`_bucket`, `_sum` and `_count` are added to it). */
  readonly name: string;
  /** The metric's help text. */
  readonly help: string;
  private readonly rows = new Map<string, Row>();

  /**
   * @param name The metric's name.
   * @param help Its help text.
   * @param buckets Upper bounds, ascending.
   * @param label The label's name; observations then name its value. None: one unlabelled series.
   */
  constructor(
    name: string,
    help: string,
    private readonly buckets: readonly number[],
    private readonly label?: string,
  ) {
    this.name = name;
    this.help = help;
    if (label === undefined) this.rowOf('');
  }

  /** Counts one observation, under `labelValue` when the histogram has a label. */
  observe(value: number, labelValue = ''): void {
    if (!Number.isFinite(value)) return;
    const row = this.rows.get(labelValue) ?? this.rowOf(labelValue);
    const { buckets } = this;
    let slot = 0;
    while (slot < buckets.length && value > buckets[slot]) slot++;
    row.counts[slot]++;
    row.sum += value;
    row.count++;
  }

  /** Forgets every observation (the registry's resetMetrics), like prom-client's reset. */
  reset(): void {
    this.rows.clear();
  }

  /** The series as prom-client's Histogram.get() returns them. */
  get(): HistogramMetric {
    const values: HistogramValue[] = [];
    const bucketName = `${this.name}_bucket`;
    for (const [labelValue, row] of this.rows) {
      const labels: Record<string, string> = this.label === undefined ? {} : { [this.label]: labelValue };
      let cumulative = 0;
      this.buckets.forEach((le, slot) => {
        cumulative += row.counts[slot];
        values.push({ labels: { le, ...labels }, value: cumulative, metricName: bucketName });
      });
      values.push(
        { labels: { le: '+Inf', ...labels }, value: row.count, metricName: bucketName },
        { labels, value: row.sum, metricName: `${this.name}_sum` },
        { labels, value: row.count, metricName: `${this.name}_count` },
      );
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  private rowOf(labelValue: string): Row {
    const row = { counts: new Array<number>(this.buckets.length + 1).fill(0), sum: 0, count: 0 };
    this.rows.set(labelValue, row);
    return row;
  }
}
