/** Runs many simulator seeds and summarises them (the engine of `raftkit sim`). */
import { performance } from 'node:perf_hooks';
import type { CoreFaults } from '../core/raft.js';
import { runSimulation, type LeaderKind, type SimulationResult } from './simulation.js';

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

/** Runs seeds one after another (the engine of `raftkit sim`) and adds up what they did. */
export async function runSeeds(options: SeedRunOptions): Promise<SeedRunSummary> {
  const first = options.firstSeed ?? 1;
  const started = performance.now();
  const failures: SimulationResult[] = [];
  let acked = 0;
  let elections = 0;
  let seedsRun = 0;
  let readsChecked = 0;
  let membershipChanges = 0;
  let snapshotsInstalled = 0;
  const transfers: number[] = [];
  for (let seed = first; seed < first + options.seeds; seed++) {
    const nodes = options.nodes ?? (seed % 2 === 0 ? 5 : 3);
    const result = await runSimulation({
      seed,
      nodes,
      duration: options.duration,
      faults: options.faults,
      faultKinds: options.faultKinds,
      leaderKinds: options.leaderKinds,
    });
    seedsRun++;
    acked += result.acked;
    elections += result.elections;
    readsChecked += result.readsChecked;
    membershipChanges += result.membershipChanges;
    snapshotsInstalled += result.snapshotsInstalled;
    transfers.push(...result.transfers);
    if (result.violations.length > 0) {
      failures.push(result);
      if (options.stopOnFailure) break;
    }
  }
  const seconds = (performance.now() - started) / 1000;
  return {
    seedsRun,
    failures,
    seedsPerSecond: seedsRun / seconds,
    acked,
    elections,
    readsChecked,
    membershipChanges,
    snapshotsInstalled,
    transfers,
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
