/**
 * From the runs of `npm run bench` to bench/results.json and bench/RESULTS.md: medians per system
 * and phase, raftkit's ratios to each peer taken repetition by repetition, and the issue's targets
 * beside them (reported, never asserted).
 */
import type { FailoverSample, PhaseSample, SystemRun } from './cluster-load.js';
import { PHASES } from './cluster-load.js';
import type { LibrarySample } from './library.js';
import type { FloorResult } from './loadgen.js';
import type { RestartMeasures, RestartResult } from './restart.js';
import type { SnapshotInstallResult } from './snapshot-install.js';
import { median, ratioPerRepetition } from './stats.js';
import { raftkitCommandFormat, type SystemName } from './systems.js';

export const PEERS: SystemName[] = ['etcd', 'hashicorp'];

export const SYSTEM_LABELS: Record<SystemName, string> = {
  // The table says which log command form raftkit ran with (not the default: bench/systems.ts).
  raftkit: `raftkit (kv serve, WAL${raftkitCommandFormat() === 'omit' ? '' : `, ${raftkitCommandFormat()} commands`})`,
  hashicorp: 'hashicorp/raft KV (BoltDB)',
  etcd: 'etcd (v3 JSON gateway)',
};

/** A phase's medians over the repetitions; RSS split into the leader's and the followers'. */
export type PhaseSummary = Omit<PhaseSample, 'rssMiB' | 'statuses' | 'load1'> & {
  leaderRssMiB: number;
  followerRssMiB: number;
};

export interface SystemSummary {
  label: string;
  fillRate: number;
  phases: Record<string, PhaseSummary>;
  failover: { medianMs: number; runsMs: number[]; electionTimeoutMs: number; vsElectionTimeout: number };
}

/** How each ratio is computed from a phase's samples; "latency" and "cpu" ratios: lower is better. */
interface RatioSpec {
  phase: string;
  metric: keyof PhaseSample;
}

const RATIO_SPECS: Record<string, RatioSpec> = {
  writes_c1: { phase: 'writes_c1', metric: 'rate' },
  writes_c16: { phase: 'writes_c16', metric: 'rate' },
  writes_c64: { phase: 'writes_c64', metric: 'rate' },
  writes_c256: { phase: 'writes_c256', metric: 'rate' },
  reads_c64: { phase: 'reads_c64', metric: 'rate' },
  p50_c1: { phase: 'writes_c1', metric: 'p50Ms' },
  p99_c1: { phase: 'writes_c1', metric: 'p99Ms' },
  p50_c64: { phase: 'writes_c64', metric: 'p50Ms' },
  cpu_per_write_c64: { phase: 'writes_c64', metric: 'serverCpuPer1k' },
  cpu_per_read_c64: { phase: 'reads_c64', metric: 'serverCpuPer1k' },
};

/** The issue's targets for raftkit's ratios (medians of per-repetition ratios). */
export const RATIO_TARGETS: Record<string, { atLeast?: number; atMost?: number }> = {
  writes_c16_vs_etcd: { atLeast: 2 },
  writes_c16_vs_hashicorp: { atLeast: 2 },
  writes_c64_vs_etcd: { atLeast: 3 },
  writes_c64_vs_hashicorp: { atLeast: 3 },
  p50_c1_vs_etcd: { atMost: 0.5 },
  p99_c1_vs_etcd: { atMost: 1 },
  reads_c64_vs_etcd: { atLeast: 2 },
  cpu_per_write_c64_vs_etcd: { atMost: 0.4 },
};

export interface BenchResults {
  generated: string;
  command: string;
  quick: boolean;
  machine: Record<string, string | number>;
  versions: Record<string, string>;
  settings: Record<string, unknown>;
  /** 1-minute load average sampled every 5 s over the whole run, and other processes' CPU. */
  load: { load1Min: number; load1Median: number; load1Max: number; otherCoresMedian: number };
  systems: Partial<Record<SystemName, SystemSummary>>;
  /** raftkit / peer, median over repetitions of the ratio within each repetition. */
  ratios: Record<string, number>;
  ratio_runs: Record<string, number[]>;
  runs: SystemRun[];
  floor?: FloorResult;
  library?: LibrarySample[];
  restart?: RestartResult;
  snapshot_install?: SnapshotInstallResult;
}

function summarizePhase(samples: PhaseSample[]): PhaseSummary {
  const pick = (metric: (sample: PhaseSample) => number) => median(samples.map(metric));
  return {
    rate: pick((s) => s.rate),
    p50Ms: pick((s) => s.p50Ms),
    p99Ms: pick((s) => s.p99Ms),
    p999Ms: pick((s) => s.p999Ms),
    serverCpuPer1k: pick((s) => s.serverCpuPer1k),
    loadgenCpuPer1k: pick((s) => s.loadgenCpuPer1k),
    otherCores: pick((s) => s.otherCores),
    leaderRssMiB: pick((s) => s.rssMiB[0] ?? NaN),
    followerRssMiB: pick((s) => median(s.rssMiB.slice(1))),
    failures: samples.reduce((sum, s) => sum + s.failures, 0),
  };
}

function summarizeFailover(samples: FailoverSample[]): SystemSummary['failover'] {
  const runsMs = samples.map((s) => s.unavailableMs);
  const electionTimeoutMs = samples[0]?.electionTimeoutMs ?? NaN;
  const medianMs = median(runsMs);
  return { medianMs, runsMs, electionTimeoutMs, vsElectionTimeout: medianMs / electionTimeoutMs };
}

export function summarizeSystems(runs: SystemRun[]): Partial<Record<SystemName, SystemSummary>> {
  const systems: Partial<Record<SystemName, SystemSummary>> = {};
  for (const name of Object.keys(SYSTEM_LABELS) as SystemName[]) {
    const mine = runs.filter((run) => run.system === name);
    if (mine.length === 0) continue;
    const phases: Record<string, PhaseSummary> = {};
    for (const phase of PHASES)
      phases[phase.name] = summarizePhase(mine.map((run) => run.phases[phase.name]));
    systems[name] = {
      label: SYSTEM_LABELS[name],
      fillRate: median(mine.map((run) => run.fill.rate)),
      phases,
      failover: summarizeFailover(mine.map((run) => run.failover)),
    };
  }
  return systems;
}

/** raftkit's ratio to each peer present, per RATIO_SPECS, repetition by repetition. */
export function computeRatios(runs: SystemRun[]): {
  ratios: Record<string, number>;
  runs: Record<string, number[]>;
} {
  const ratios: Record<string, number> = {};
  const perRun: Record<string, number[]> = {};
  const series = (system: SystemName, spec: RatioSpec) =>
    runs
      .filter((run) => run.system === system)
      .sort((a, b) => a.repetition - b.repetition)
      .map((run) => run.phases[spec.phase][spec.metric] as number);
  for (const peer of PEERS) {
    if (!runs.some((run) => run.system === peer) || !runs.some((run) => run.system === 'raftkit')) continue;
    for (const [name, spec] of Object.entries(RATIO_SPECS)) {
      const ratio = ratioPerRepetition(series('raftkit', spec), series(peer, spec));
      ratios[`${name}_vs_${peer}`] = ratio.median;
      perRun[`${name}_vs_${peer}`] = ratio.runs;
    }
  }
  return { ratios, runs: perRun };
}

export function targetMet(name: string, value: number): boolean | undefined {
  const target = RATIO_TARGETS[name];
  if (target === undefined || !Number.isFinite(value)) return undefined;
  return (
    (target.atLeast === undefined || value >= target.atLeast) &&
    (target.atMost === undefined || value <= target.atMost)
  );
}

// ---------------------------------------------------------------------------------------------
// RESULTS.md

const int = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '–');
const fixed = (n: number, digits = 2) => (Number.isFinite(n) ? n.toFixed(digits) : '–');

function table(header: string[], rows: (string | number)[][], alignRight = true): string {
  const separator = header.map((_, i) => (i === 0 || !alignRight ? '---' : '---:'));
  return [header, separator, ...rows].map((row) => `| ${row.join(' | ')} |`).join('\n');
}

function headlineTable(results: BenchResults): string {
  const rows = Object.values(results.systems).map((s) => [
    s.label,
    int(s.phases.writes_c1.rate),
    fixed(s.phases.writes_c1.p50Ms),
    fixed(s.phases.writes_c1.p99Ms),
    int(s.phases.writes_c16.rate),
    int(s.phases.writes_c64.rate),
    fixed(s.phases.writes_c64.p50Ms),
    int(s.phases.writes_c256.rate),
    int(s.phases.reads_c64.rate),
    fixed(s.phases.writes_c64.serverCpuPer1k, 3),
    fixed(s.failover.medianMs, 0),
  ]);
  return table(
    [
      '3 nodes',
      'c1 writes/s',
      'c1 p50 ms',
      'c1 p99 ms',
      'c16 writes/s',
      'c64 writes/s',
      'c64 p50 ms',
      'c256 writes/s',
      'c64 reads/s',
      'server CPU-s per 1k writes (c64)',
      'failover ms',
    ],
    rows,
  );
}

function phaseTable(results: BenchResults): string {
  const rows: (string | number)[][] = [];
  for (const phase of PHASES) {
    for (const s of Object.values(results.systems)) {
      const p = s.phases[phase.name];
      rows.push([
        `${phase.name} · ${s.label}`,
        int(p.rate),
        fixed(p.p50Ms),
        fixed(p.p99Ms),
        fixed(p.p999Ms),
        fixed(p.serverCpuPer1k, 3),
        fixed(p.loadgenCpuPer1k, 3),
        fixed(p.otherCores),
        `${int(p.leaderRssMiB)} / ${int(p.followerRssMiB)}`,
        p.failures,
      ]);
    }
  }
  return table(
    [
      'phase · system',
      'ops/s',
      'p50 ms',
      'p99 ms',
      'p999 ms',
      'server CPU-s /1k ops',
      'loadgen CPU-s /1k ops',
      'other load (cores)',
      'RSS MiB leader / follower',
      'failed answers',
    ],
    rows,
  );
}

function ratioTable(results: BenchResults): string {
  const rows = Object.entries(results.ratios).map(([name, value]) => {
    const target = RATIO_TARGETS[name];
    const goal =
      target === undefined
        ? ''
        : target.atLeast !== undefined
          ? `>= ${target.atLeast}`
          : `<= ${target.atMost}`;
    const met = targetMet(name, value);
    return [
      `\`${name}\``,
      fixed(value),
      (results.ratio_runs[name] ?? []).map((r) => fixed(r)).join(', '),
      goal,
      met === undefined ? '' : met ? 'met' : 'not met',
    ];
  });
  return table(['ratio (raftkit / peer)', 'median', 'per repetition', 'target', ''], rows);
}

/** A titled section of RESULTS.md: what was measured, then its table. */
function section(title: string, text: string, body: string): string[] {
  return [`## ${title}`, '', text, '', body, ''];
}

function failoverSection(results: BenchResults): string[] {
  const rows = Object.values(results.systems).map((s) => [
    s.label,
    fixed(s.failover.medianMs, 0),
    s.failover.runsMs.map((ms) => fixed(ms, 0)).join(', '),
    int(s.failover.electionTimeoutMs),
    fixed(s.failover.vsElectionTimeout),
  ]);
  if (rows.length === 0) return [];
  return section(
    'Failover',
    'Writes at c16 spread over all members (workers move to the next member after a failure); the ' +
      'leader is SIGKILLed 2 s into the window. Figure: from the kill to the first successful write ' +
      'issued after it. Target (raftkit): < 3x the election timeout.',
    table(['system', 'median ms', 'per repetition ms', 'election timeout ms', 'x election timeout'], rows),
  );
}

function restartSection(r: RestartResult): string[] {
  const row = (label: string, key: keyof RestartMeasures) => [label, int(r[key]), int(r.replay[key])];
  return section(
    'Restart with a long log',
    `A raftkit data directory holding ${int(r.entries)} committed KV puts (written through the stores ` +
      `in ${fixed(r.generateS, 1)} s). **Indexed**: a snapshot of the KV state at the last index, the ` +
      'whole log kept behind it (as trailing logs are); start-up restores the snapshot and reads only ' +
      `the log's terms from the WAL index (the snapshot took ${fixed(r.snapshotS, 1)} s to make, once). ` +
      '**Replay**: no snapshot, every entry is applied to the KV state machine before serving. ' +
      `Medians of ${r.runs.length / 2} runs each. Target (indexed): < 2 s.`,
    table(
      ['measure', 'indexed ms', 'replay ms'],
      [
        row('openNodeStorage (WAL open) in process', 'openStorageMs'),
        row('Raft.create in process (KV state machine)', 'raftCreateMs'),
        row('`kv serve` process start until GET /status answers', 'processToServingMs'),
        ['`kv serve` peak RSS by then (MiB)', int(r.processPeakRssMiB), int(r.replay.processPeakRssMiB)],
      ],
    ),
  );
}

function snapshotSection(s: SnapshotInstallResult): string[] {
  return section(
    'Snapshot install',
    `${s.stateMiB} MiB of values (256 KiB each) on a single-voter raftkit leader; a new node joins as ` +
      'a nonvoter and catches up by InstallSnapshot. Target: peak RSS growth < 64 MiB; read as the ' +
      "install's overhead (the newcomer keeps the state in memory): its peak RSS minus its RSS afterwards.",
    table(
      ['measure', 'value'],
      [
        ['snapshot size (MB)', fixed(s.snapshotBytes / 1e6, 0)],
        ['join until the snapshot is applied (s)', fixed(s.seconds)],
        ['throughput (MB/s)', fixed(s.mbPerS, 0)],
        ['leader peak RSS growth (MiB)', fixed(s.leaderPeakGrowthMiB, 0)],
        ['newcomer peak RSS growth (MiB)', fixed(s.newcomerPeakGrowthMiB, 0)],
        ['newcomer RSS afterwards (MiB)', fixed(s.newcomerRssAfterMiB, 0)],
        ['newcomer overhead: peak RSS minus RSS afterwards (MiB)', fixed(s.newcomerOverheadMiB, 0)],
      ],
    ),
  );
}

function librarySection(library: LibrarySample[]): string[] {
  return section(
    'In-process library throughput',
    'Three RaftNodes in one process (WAL stores, TCP over loopback), `raft.apply()` of 100-byte ' +
      'commands on the leader, no HTTP; CPU is the whole process (all three nodes).',
    table(
      ['outstanding applies', 'applies/s', 'p50 ms', 'p99 ms', 'CPU-s per 1k applies'],
      library.map((l) => [
        l.outstanding,
        int(l.appliesPerS),
        fixed(l.p50Ms),
        fixed(l.p99Ms),
        fixed(l.cpuPer1k, 3),
      ]),
    ),
  );
}

function floorSection(f: FloorResult): string[] {
  return section(
    'The floor',
    'Measured by bench/loadgen (Go) on the data directories\u2019 disk: append 128 bytes + fdatasync in a loop; ' +
      '64-byte ping-pong over one loopback TCP connection.',
    table(
      ['measure', 'value'],
      [
        ['fdatasync per s', int(f.fdatasync_per_s)],
        ['fdatasync p50 / p99 ms', `${fixed(f.fdatasync_p50_ms, 3)} / ${fixed(f.fdatasync_p99_ms, 3)}`],
        [
          'loopback round trip p50 / p99 µs',
          `${fixed(f.loopback_rtt_p50_us, 1)} / ${fixed(f.loopback_rtt_p99_us, 1)}`,
        ],
      ],
    ),
  );
}

function sections(results: BenchResults): string[] {
  return [
    ...failoverSection(results),
    ...(results.restart ? restartSection(results.restart) : []),
    ...(results.snapshot_install ? snapshotSection(results.snapshot_install) : []),
    ...(results.library ? librarySection(results.library) : []),
    ...(results.floor ? floorSection(results.floor) : []),
  ];
}

export function renderMarkdown(results: BenchResults): string {
  const settings = results.settings;
  const machine = Object.entries(results.machine).map(([key, value]) => `${key}: ${value}`);
  const versions = Object.entries(results.versions).map(([key, value]) => `${key}: ${value}`);
  const lines = [
    '# Benchmark results',
    '',
    `Generated ${results.generated} by \`${results.command}\`${results.quick ? ' (quick smoke run: not for comparison)' : ''}.`,
    'Written by bench/main.ts; see bench/README.md for what each number means.',
    '',
    `- Machine: ${machine.join(', ')}`,
    `- Versions: ${versions.join(', ')}`,
    `- Load: 1-minute load average ${fixed(results.load.load1Min)}–${fixed(results.load.load1Max)} ` +
      `(median ${fixed(results.load.load1Median)}) over the run; other processes used a median of ` +
      `${fixed(results.load.otherCoresMedian)} cores during the measured windows.`,
    `- Load: closed loop, keep-alive, one request in flight per worker, to the leader; ${settings.valueSize}-byte ` +
      `values over ${int(settings.keys as number)} keys (all filled first); ${settings.warmupS} s warm-up, ` +
      `${settings.durationS} s measured; ${settings.repetitions} repetition(s), systems interleaved ` +
      '(the order rotates each repetition); a fresh cluster per system and repetition.',
    '',
  ];
  if (Object.keys(results.systems).length > 0) {
    lines.push('## Headline (medians over repetitions)', '', headlineTable(results), '');
    if (Object.keys(results.ratios).length > 0) {
      lines.push(
        '## Ratios',
        '',
        'raftkit / peer within each repetition, then the median. Throughput: higher is better; ' +
          'latency (p50, p99) and CPU: lower is better.',
        '',
        ratioTable(results),
        '',
      );
    }
    lines.push('## Every phase (medians over repetitions)', '', phaseTable(results), '');
  }
  lines.push(...sections(results));
  return `${lines.join('\n')}\n`;
}
