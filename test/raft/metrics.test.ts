/** Library metrics with hashicorp/raft's names, and their prom-client adapter (issue 15 part 6). */
import { readFileSync } from 'node:fs';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { RAFT_METRICS, type MetricsSink, type RaftMetricName } from '../../src/raft/metrics.js';
import { prometheusMetrics, prometheusName, TIMER_BUCKETS } from '../../src/raft/prometheus.js';
import { TestCluster, waitFor } from './helpers.js';

class RecordingSink implements MetricsSink {
  readonly counters = new Map<RaftMetricName, number>();
  readonly gauges = new Map<RaftMetricName, number>();
  readonly samples = new Map<RaftMetricName, number[]>();

  incrCounter(name: RaftMetricName, value: number): void {
    this.counters.set(name, (this.counters.get(name) ?? 0) + value);
  }

  setGauge(name: RaftMetricName, value: number): void {
    this.gauges.set(name, value);
  }

  addSample(name: RaftMetricName, milliseconds: number): void {
    const list = this.samples.get(name) ?? [];
    list.push(milliseconds);
    this.samples.set(name, list);
  }

  count(name: RaftMetricName): number {
    return this.samples.get(name)?.length ?? 0;
  }
}

const clusters: TestCluster[] = [];
afterEach(async () => {
  await Promise.all(clusters.splice(0).map((c) => c.shutdown()));
});

describe('library metrics', () => {
  it("reports hashicorp's metrics from the apply path, replication, elections and snapshots", async () => {
    const sinks = new Map<string, RecordingSink>();
    const c = new TestCluster({}, (id) => {
      const sink = new RecordingSink();
      sinks.set(id, sink);
      return sink;
    });
    clusters.push(c);
    await c.start(['a', 'b', 'c']);
    const leader = await c.leader();
    await c.write(10);
    await leader.raft.barrier({ timeout: 3000 });
    await leader.raft.snapshot();
    const onLeader = sinks.get(leader.id)!;
    expect(onLeader.counters.get('raft.apply')).toBe(10);
    expect(onLeader.counters.get('raft.barrier')).toBe(1);
    expect(onLeader.counters.get('raft.state.leader')).toBe(1);
    expect(onLeader.counters.get('raft.state.candidate')).toBeGreaterThanOrEqual(1);
    expect(onLeader.count('raft.fsm.apply')).toBe(10);
    expect(onLeader.count('raft.commitTime')).toBeGreaterThan(0);
    expect(onLeader.samples.get('raft.commitTime')!.every((ms) => ms >= 0 && ms < 10_000)).toBe(true);
    expect(onLeader.gauges.get('raft.commitNumLogs')).toBeGreaterThan(0);
    expect(onLeader.count('raft.replication.appendEntries.rpc')).toBeGreaterThan(0);
    // Every command reaches both followers. The barrier commits at a quorum (one follower), so
    // the second follower's answers may still be on their way: wait for them, do not assume.
    await waitFor(
      () => (onLeader.counters.get('raft.replication.appendEntries.logs') ?? 0) >= 20,
      5000,
      'both followers to have received all 10 commands',
    );
    expect(onLeader.count('raft.snapshot.create')).toBe(1);
    await waitFor(() => onLeader.count('raft.leader.lastContact') > 0, 3000, 'a lastContact sample');
    for (const node of c.nodes.filter((n) => n !== leader)) {
      const sink = sinks.get(node.id)!;
      await waitFor(() => sink.count('raft.fsm.apply') === 10, 3000, `${node.id} to apply`);
      expect(sink.counters.get('raft.apply')).toBeUndefined();
      expect(sink.count('raft.commitTime')).toBe(0);
    }
  });

  it('the prom-client adapter registers every metric up front and updates it', async () => {
    const registry = new Registry();
    const sink = prometheusMetrics(registry);
    const names = (await registry.getMetricsAsJSON()).map((metric) => metric.name).sort();
    expect(names).toEqual((Object.keys(RAFT_METRICS) as RaftMetricName[]).map(prometheusName).sort());
    sink.incrCounter('raft.apply', 2);
    sink.setGauge('raft.commitNumLogs', 7);
    sink.addSample('raft.commitTime', 3);
    const text = await registry.metrics();
    expect(text).toMatch(/^raft_apply_total 2$/m);
    expect(text).toMatch(/^raft_commitNumLogs 7$/m);
    expect(text).toMatch(/^raft_commitTime_seconds_count 1$/m);
    expect(text).toMatch(/^raft_commitTime_seconds_sum 0\.003$/m);
    expect(text).toContain('hashicorp/raft: raft.replication.appendEntries.rpc');
  });

  it('a scrape of the adapter is byte for byte what prom-client Counters, Gauges and Histograms show', async () => {
    const registry = new Registry();
    const sink = prometheusMetrics(registry);
    // The reference: the adapter as it was, prom-client's own metric for every name.
    const reference = new Registry();
    const registers = [reference];
    const metrics = new Map<RaftMetricName, Counter | Gauge | Histogram>();
    for (const name of Object.keys(RAFT_METRICS) as RaftMetricName[]) {
      const [kind, help] = RAFT_METRICS[name];
      const options = { name: prometheusName(name), help: `${help} (hashicorp/raft: ${name})`, registers };
      metrics.set(
        name,
        kind === 'counter'
          ? new Counter(options)
          : kind === 'gauge'
            ? new Gauge(options)
            : new Histogram({ ...options, buckets: [...TIMER_BUCKETS] }),
      );
    }
    expect(await registry.metrics()).toBe(await reference.metrics());
    const samples: [RaftMetricName, number][] = [
      ['raft.fsm.apply', 0.1],
      ['raft.fsm.apply', 0.25],
      ['raft.fsm.apply', 0.3],
      ['raft.fsm.apply', 10_000],
      ['raft.fsm.apply', 0],
      ['raft.commitTime', 4.2],
      ['raft.replication.appendEntries.rpc', 1],
    ];
    for (const [name, ms] of samples) {
      sink.addSample(name, ms);
      (metrics.get(name) as Histogram).observe(ms / 1000);
    }
    sink.incrCounter('raft.apply', 3);
    (metrics.get('raft.apply') as Counter).inc(3);
    sink.setGauge('raft.commitNumLogs', 5);
    (metrics.get('raft.commitNumLogs') as Gauge).set(5);
    const text = await registry.metrics();
    expect(text).toMatch(/^raft_fsm_apply_seconds_bucket\{le="0.00025"\} 3$/m);
    expect(text).toBe(await reference.metrics());
  });

  it("README's metrics table lists every metric the runtime reports, under both names", () => {
    const readme = readFileSync('README.md', 'utf8');
    for (const name of Object.keys(RAFT_METRICS) as RaftMetricName[]) {
      expect(readme).toContain(`| \`${name}\` | ${RAFT_METRICS[name][0]} | \`${prometheusName(name)}\` |`);
    }
  });
});
