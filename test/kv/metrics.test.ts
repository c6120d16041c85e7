import { Histogram, Registry, type Metric } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { OpHistogram } from '../../src/kv/metrics.js';

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

/** prom-client's own Histogram and an OpHistogram, each in a registry, fed the same values. */
function pair() {
  const reference = new Registry();
  const histogram = new Histogram({
    name: 'x_seconds',
    help: 'Help text.',
    labelNames: ['op'],
    buckets: BUCKETS,
    registers: [reference],
  });
  const plain = new Registry();
  const ours = new OpHistogram('x_seconds', 'Help text.', BUCKETS);
  plain.registerMetric(ours as unknown as Metric);
  return { reference, histogram, plain, ours };
}

describe('OpHistogram (kv_apply_duration_seconds without prom-client hashing labels per write)', () => {
  it('exposes byte for byte what prom-client Histogram exposes for the same observations', async () => {
    const { reference, histogram, plain, ours } = pair();
    for (const [op, value] of OBSERVATIONS) {
      histogram.observe({ op }, value);
      ours.observe(op, value);
    }
    const expected = await reference.metrics();
    expect(expected).toContain('x_seconds_bucket{le="0.0005",op="put"} 3');
    expect(await plain.metrics()).toBe(expected);
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
    expect(await withoutExemplars(plain)).toEqual(await withoutExemplars(reference));
  });

  it('is empty before any observation and after the registry resets its metrics', async () => {
    const { reference, histogram, plain, ours } = pair();
    expect(await plain.metrics()).toBe(await reference.metrics());
    histogram.observe({ op: 'put' }, 0.1);
    ours.observe('put', 0.1);
    reference.resetMetrics();
    plain.resetMetrics();
    expect(await plain.metrics()).toBe(await reference.metrics());
    expect(await plain.metrics()).not.toContain('op="put"');
  });
});
