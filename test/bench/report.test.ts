/**
 * The arithmetic behind bench/RESULTS.md: percentiles, medians of per-repetition ratios, the
 * summary per system and the completeness check the CI's quick run relies on. No speed is
 * measured here.
 */
import { describe, expect, it } from 'vitest';
import { checkResults, REQUIRED_RATIOS } from '../../bench/check-results.js';
import { PHASES, toSample, type PhaseSample, type SystemRun } from '../../bench/cluster-load.js';
import type { LoadResult } from '../../bench/loadgen.js';
import {
  computeRatios,
  renderMarkdown,
  summarizeSystems,
  targetMet,
  type BenchResults,
} from '../../bench/report.js';
import { median, percentile, ratioPerRepetition } from '../../bench/stats.js';
import type { SystemName } from '../../bench/systems.js';

describe('stats', () => {
  it('takes nearest-rank percentiles of sorted values', () => {
    const values = Array.from({ length: 1000 }, (_, i) => i + 1);
    expect(percentile(values, 0.5)).toBe(501);
    expect(percentile(values, 0.99)).toBe(991);
    expect(percentile(values, 0.999)).toBe(1000);
    expect(percentile([], 0.5)).toBeNaN();
  });

  it('takes medians of the finite values only', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([NaN, 5, Infinity])).toBe(5);
    expect(median([])).toBeNaN();
  });

  it('divides repetition by repetition before taking the median', () => {
    // Medians of each side would give 200/100 = 2; the per-repetition ratios say 1.
    const ratio = ratioPerRepetition([100, 200, 400], [100, 200, 100]);
    expect(ratio.runs).toEqual([1, 1, 4]);
    expect(ratio.median).toBe(1);
  });
});

function sample(rate: number, p50Ms: number, serverCpuPer1k = 0.3): PhaseSample {
  return {
    rate,
    p50Ms,
    p99Ms: p50Ms * 4,
    p999Ms: p50Ms * 8,
    serverCpuPer1k,
    loadgenCpuPer1k: 0.02,
    otherCores: 0.1,
    rssMiB: [80, 60, 70],
    failures: 0,
    statuses: { '200': 1000 },
    load1: 1,
  };
}

function run(system: SystemName, repetition: number, rate: number, p50Ms: number): SystemRun {
  const phases: Record<string, PhaseSample> = {};
  for (const phase of PHASES) phases[phase.name] = sample(rate, p50Ms);
  return {
    system,
    repetition,
    fill: { rate, seconds: 1 },
    phases,
    failover: { unavailableMs: 1500 + repetition, electionTimeoutMs: 1000 },
  };
}

const RUNS: SystemRun[] = [0, 1, 2].flatMap((repetition) => [
  run('raftkit', repetition, 6000 + repetition * 1000, 1),
  run('etcd', repetition, 3000, 2),
  run('hashicorp', repetition, 2000, 4),
]);

function results(runs: SystemRun[]): BenchResults {
  const { ratios, runs: ratioRuns } = computeRatios(runs);
  return {
    generated: '2026-01-01T00:00:00.000Z',
    command: 'npm run bench',
    quick: false,
    machine: { cpus: 2 },
    versions: { node: 'v20' },
    settings: { parts: ['load'], systems: ['raftkit', 'etcd', 'hashicorp'], keys: 100, valueSize: 100 },
    load: { load1Min: 1, load1Median: 1, load1Max: 1, otherCoresMedian: 0 },
    systems: summarizeSystems(runs),
    ratios,
    ratio_runs: ratioRuns,
    runs,
  };
}

describe('report', () => {
  it('computes the ratios the issue names, per repetition', () => {
    const { ratios } = results(RUNS);
    for (const name of REQUIRED_RATIOS) expect(ratios[name]).toBeGreaterThan(0);
    expect(ratios.writes_c16_vs_etcd).toBeCloseTo(7000 / 3000);
    expect(ratios.writes_c64_vs_hashicorp).toBeCloseTo(3.5);
    expect(ratios.p50_c1_vs_etcd).toBe(0.5);
    expect(ratios.cpu_per_write_c64_vs_etcd).toBe(1);
  });

  it('judges targets in the right direction', () => {
    expect(targetMet('writes_c64_vs_etcd', 3.1)).toBe(true);
    expect(targetMet('writes_c64_vs_etcd', 2.9)).toBe(false);
    expect(targetMet('p50_c1_vs_etcd', 0.4)).toBe(true);
    expect(targetMet('p50_c1_vs_etcd', 0.6)).toBe(false);
    expect(targetMet('writes_c1_vs_etcd', 1)).toBeUndefined();
  });

  it('summarizes each system with medians and the leader RSS first', () => {
    const raftkit = summarizeSystems(RUNS).raftkit!;
    expect(raftkit.phases.writes_c64.rate).toBe(7000);
    expect(raftkit.phases.writes_c64.leaderRssMiB).toBe(80);
    expect(raftkit.phases.writes_c64.followerRssMiB).toBe(65);
    expect(raftkit.failover.medianMs).toBe(1501);
    expect(raftkit.failover.vsElectionTimeout).toBeCloseTo(1.501);
  });

  it('renders every system and ratio into RESULTS.md', () => {
    const markdown = renderMarkdown(results(RUNS));
    for (const label of [
      'raftkit (kv serve, WAL, binary commands)',
      'etcd (v3 JSON gateway)',
      'hashicorp/raft KV (BoltDB)',
    ]) {
      expect(markdown).toContain(label);
    }
    expect(markdown).toContain('`writes_c16_vs_etcd` | 2.33');
    expect(markdown).toContain('## Failover');
  });

  it('turns a loadgen answer into a sample, counting failures and per-1k CPU', () => {
    const answer: LoadResult = {
      op: 'get',
      concurrency: 64,
      seconds: 10,
      ok: 2000,
      misses: 5,
      rate: 200,
      latency_ms: { p50: 1, p90: 2, p99: 3, p999: 4, max: 5, mean: 1 },
      status: { '200': 1995, '404': 5, '503': 7, conn_error: 1 },
      server_cpu_s: [1, 0.5, -1],
      server_rss_kib: [2048, 1024, -1],
      server_hwm_kib: [2048, 1024, -1],
      loadgen_cpu_s: 0.2,
      machine_busy_cpu_s: 3.7,
    };
    const s = toSample(answer, 0.5);
    expect(s.failures).toBe(8);
    expect(s.serverCpuPer1k).toBeCloseTo(0.75);
    expect(s.loadgenCpuPer1k).toBeCloseTo(0.1);
    expect(s.otherCores).toBeCloseTo(0.2);
    expect(s.rssMiB).toEqual([2, 1]);
  });
});

describe('checkResults', () => {
  it('passes complete results', () => {
    expect(checkResults(results(RUNS))).toEqual([]);
  });

  it('names what is missing or not positive', () => {
    const broken = results(RUNS.filter((r) => r.system !== 'hashicorp'));
    broken.systems.etcd!.phases.writes_c1.rate = 0;
    broken.systems.raftkit!.failover.medianMs = NaN;
    const problems = checkResults(broken);
    expect(problems).toContain('no results for hashicorp');
    expect(problems).toContain('etcd.writes_c1.rate is 0, not a positive number');
    expect(problems).toContain('raftkit.failover.medianMs is NaN, not a positive number');
  });

  it('requires the parts that were asked for', () => {
    const r = results(RUNS);
    r.settings.parts = ['floor', 'restart'];
    expect(checkResults(r)).toEqual([
      'floor.fdatasync_per_s is undefined, not a positive number',
      'floor.loopback_rtt_p50_us is undefined, not a positive number',
      'restart.raftCreateMs is undefined, not a positive number',
      'restart.processToServingMs is undefined, not a positive number',
    ]);
  });
});
