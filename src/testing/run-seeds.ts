/** Runs many simulator seeds and summarises them (the engine of `raftkit sim`). */
import { performance } from 'node:perf_hooks';
import type { CoreFaults } from '../core/raft.js';
import {
  runSimulation,
  type LeaderKind,
  type SimulationOptions,
  type SimulationResult,
} from './simulation.js';

/** A range of seeds for `runSeeds`. */
export interface SeedRunOptions {
  /** How many seeds to run. */
  seeds: number;
  /** The first seed; default 1. */
  firstSeed?: number;
  /** Voters per run (3 or 5); by default odd seeds run 3 and even seeds 5. */
  nodes?: number;
  /** Virtual ms of each run's safety phase; default 6000. */
  duration?: number;
  /** Deliberate core bugs, to watch the checker catch them. */
  faults?: CoreFaults;
  /** Fault kinds to inject (see FAULT_KINDS); default all. */
  faultKinds?: readonly string[];
  /** Leader behaviours to mix (see LEADER_KINDS); default all. */
  leaderKinds?: readonly LeaderKind[];
  /** Stop at the first failing seed. */
  stopOnFailure?: boolean;
}

/** Totals over the seeds run; they all passed when `failures` is empty. */
export interface SeedRunSummary {
  /** Seeds actually run (fewer than asked after a stopOnFailure stop). */
  seedsRun: number;
  /** The runs with violations, each with its seed and trace. */
  failures: SimulationResult[];
  /** Wall-clock throughput. */
  seedsPerSecond: number;
  /**
   * CPU time of the whole process (every worker thread, GC included) per seed run, in ms: the
   * cost of a seed whatever else the machine is doing.
   */
  cpuMsPerSeed: number;
  /** Scheduler events run (each followed by every per-step check), over all runs: the work done. */
  steps: number;
  /** Virtual time simulated, over all runs, in ms. */
  virtualMs: number;
  /** Client writes acknowledged, over all runs. */
  acked: number;
  /** Leaders elected, over all runs. */
  elections: number;
  /** Linearizable reads checked, over all runs. */
  readsChecked: number;
  /** Membership changes committed, over all runs. */
  membershipChanges: number;
  /** InstallSnapshots, over all runs. */
  snapshotsInstalled: number;
  /** Every completed leadership transfer's duration, in virtual ms. */
  transfers: number[];
}

/** The median of the values (0 for none). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const sorted = values.slice().sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** The options of one seed's run, as runSeeds derives them (nodes alternate 3 and 5 by default). */
export function seedOptions(options: SeedRunOptions, seed: number): SimulationOptions {
  return {
    seed,
    nodes: options.nodes ?? (seed % 2 === 0 ? 5 : 3),
    duration: options.duration,
    faults: options.faults,
    faultKinds: options.faultKinds,
    leaderKinds: options.leaderKinds,
  };
}

/** Runs one seed; a worker pool supplies its own (see `jobs`). */
export type SeedRunner = (seed: number) => Promise<SimulationResult>;

/**
 * Runs the seeds and adds up what they did; with `runners` (one per worker) several run at
 * once. With stopOnFailure the run stops handing out seeds above the lowest failing seed but
 * finishes those below it, so the failure reported is the lowest failing seed, as when run alone.
 */
export async function runSeeds(
  options: SeedRunOptions,
  runners: readonly SeedRunner[] = [(seed) => runSimulation(seedOptions(options, seed))],
): Promise<SeedRunSummary> {
  const first = options.firstSeed ?? 1;
  const end = first + options.seeds;
  const started = performance.now();
  const cpuStarted = process.cpuUsage();
  const results: SimulationResult[] = [];
  let next = first;
  let stopAt = end;
  const lane = async (run: SeedRunner): Promise<void> => {
    while (next < stopAt) {
      const result = await run(next++);
      results.push(result);
      if (result.violations.length > 0 && options.stopOnFailure) stopAt = Math.min(stopAt, result.seed);
    }
  };
  await Promise.all(runners.map(lane));
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuStarted);
  const kept = results.filter((result) => result.seed <= stopAt).sort((a, b) => a.seed - b.seed);
  const sum = (pick: (result: SimulationResult) => number) =>
    kept.reduce((total, result) => total + pick(result), 0);
  return {
    seedsRun: kept.length,
    failures: kept.filter((result) => result.violations.length > 0),
    seedsPerSecond: results.length / seconds,
    cpuMsPerSeed: (cpu.user + cpu.system) / 1000 / Math.max(1, results.length),
    steps: sum((result) => result.steps),
    virtualMs: sum((result) => result.virtualMs),
    acked: sum((result) => result.acked),
    elections: sum((result) => result.elections),
    readsChecked: sum((result) => result.readsChecked),
    membershipChanges: sum((result) => result.membershipChanges),
    snapshotsInstalled: sum((result) => result.snapshotsInstalled),
    transfers: kept.flatMap((result) => result.transfers),
  };
}

/** The `npm run sim` command line that replays a failing run. */
export function replayCommand(
  result: SimulationResult,
  options: { duration?: number; broken?: string; faults?: string; leaders?: string },
): string {
  const duration = options.duration ? ` --duration ${options.duration}` : '';
  const broken = options.broken ? ` --break ${options.broken}` : '';
  const faults = options.faults ? ` --faults ${options.faults}` : '';
  const leaders = options.leaders ? ` --leaders ${options.leaders}` : '';
  return `npm run sim -- --seed ${result.seed} --nodes ${result.nodes}${duration}${broken}${faults}${leaders}`;
}
