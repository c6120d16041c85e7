import { Histogram, Registry, type Metric } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { CountedHistogram } from '../../src/raft/histogram.js';

const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
// On a bound, below, between, above all of them, and zero: each lands where prom-client puts it.
const OBSERVATIONS: [string, number][] = [
  ['put', 0.0005],
  ['put', 0.0004],
  ['delete', 0.003],
  ['put', 0.7],
  ['txn', 9],
  ['put', 0],
  ['delete', 5],
  ['cas', 0.00051],
  ['put', 0.0025],
];

/** prom-client's own Histogram and a CountedHistogram, each in a registry, with or without a label. */
function pair(label?: string) {
  const reference = new Registry();
  const histogram = new Histogram({
    name: 'x_seconds',
    help: 'Help text.',
    labelNames: label === undefined ? [] : [label],
    buckets: BUCKETS,
    registers: [reference],
  });
  const plain = new Registry();
  const ours = new CountedHistogram('x_seconds', 'Help text.', BUCKETS, label);
  plain.registerMetric(ours as unknown as Metric);
  return { reference, histogram, plain, ours };
}

// The JSON form (Node cluster aggregation) too, but for prom-client's empty exemplar slots.
const withoutExemplars = async (registry: Registry) =>
  (await registry.getMetricsAsJSON()).map((metric) => ({
    ...metric,
    values: metric.values.map(({ labels, value, metricName }: Record<string, unknown>) => ({
      labels,
      value,
      metricName,
    })),
  }));

describe('CountedHistogram (prom-client exposition without hashing labels per observation)', () => {
  it('with a label: exposes byte for byte what prom-client Histogram exposes for the same observations', async () => {
    const { reference, histogram, plain, ours } = pair('op');
    for (const [op, value] of OBSERVATIONS) {
      histogram.observe({ op }, value);
      ours.observe(value, op);
    }
    const expected = await reference.metrics();
    expect(expected).toContain('x_seconds_bucket{le="0.0005",op="put"} 3');
    expect(await plain.metrics()).toBe(expected);
    expect(await withoutExemplars(plain)).toEqual(await withoutExemplars(reference));
  });

  it('without a label: the same, zeroed buckets before the first observation included', async () => {
    const { reference, histogram, plain, ours } = pair();
    expect(await reference.metrics()).toContain('x_seconds_bucket{le="0.0005"} 0');
    expect(await plain.metrics()).toBe(await reference.metrics());
    for (const [, value] of OBSERVATIONS) {
      histogram.observe(value);
      ours.observe(value);
    }
    const expected = await reference.metrics();
    expect(expected).toContain('x_seconds_bucket{le="0.0005"} 3');
    expect(await plain.metrics()).toBe(expected);
    expect(await withoutExemplars(plain)).toEqual(await withoutExemplars(reference));
  });

  it('is empty before any observation and after the registry resets its metrics', async () => {
    for (const label of ['op', undefined]) {
      const { reference, histogram, plain, ours } = pair(label);
      expect(await plain.metrics()).toBe(await reference.metrics());
      histogram.observe(label === undefined ? {} : { op: 'put' }, 0.1);
      ours.observe(0.1, 'put');
      reference.resetMetrics();
      plain.resetMetrics();
      expect(await plain.metrics()).toBe(await reference.metrics());
      expect(await plain.metrics()).not.toContain('x_seconds_count');
    }
  });

  it('ignores a value that is not a finite number (prom-client throws)', async () => {
    const { plain, ours } = pair();
    ours.observe(Number.NaN);
    ours.observe(Number.POSITIVE_INFINITY);
    ours.observe(0.002);
    const text = await plain.metrics();
    expect(text).toMatch(/^x_seconds_count 1$/m);
    expect(text).toMatch(/^x_seconds_sum 0\.002$/m);
  });
});
