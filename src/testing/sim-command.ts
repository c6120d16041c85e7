/** `raftkit sim`: runs simulator seeds and prints one summary line (plus replay info on failure). */
import { parseArgs } from 'node:util';
import type { CoreFaults } from '../core/raft.js';
import { median, replayCommand, runSeeds } from './run-seeds.js';
import { SIMULATED_ELECTION_TIMEOUT } from './simulation.js';

export async function simCommand(argv: string[], out: (line: string) => void = console.log): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      seeds: { type: 'string' },
      seed: { type: 'string' },
      nodes: { type: 'string' },
      duration: { type: 'string' },
      break: { type: 'string' },
    },
    strict: true,
  });
  // --seed S alone replays one seed; with --seeds N it runs N seeds starting at S.
  const firstSeed = values.seed === undefined ? 1 : positiveInt(values.seed, '--seed');
  const seeds = positiveInt(values.seeds ?? (values.seed === undefined ? '100' : '1'), '--seeds');
  const nodes = values.nodes === undefined ? undefined : positiveInt(values.nodes, '--nodes');
  if (nodes !== undefined && nodes !== 3 && nodes !== 5) throw new UsageError('--nodes must be 3 or 5');
  const duration = values.duration === undefined ? undefined : positiveInt(values.duration, '--duration');
  const faults = values.break === undefined ? undefined : brokenCore(values.break);
  const summary = await runSeeds({
    seeds,
    firstSeed,
    nodes,
    duration,
    faults,
    stopOnFailure: faults !== undefined,
  });
  const violations = summary.failures.reduce((sum, failure) => sum + failure.violations.length, 0);
  const transferEt = median(summary.transfers) / SIMULATED_ELECTION_TIMEOUT;
  out(
    `seeds run: ${summary.seedsRun}, violations: ${violations} (failing seeds: ${summary.failures.length}), ` +
      `seeds/s: ${summary.seedsPerSecond.toFixed(2)} | acknowledged writes: ${summary.acked}, ` +
      `linearizable reads checked: ${summary.readsChecked}, elections: ${summary.elections}, ` +
      `membership changes: ${summary.membershipChanges}, snapshots installed: ${summary.snapshotsInstalled}, ` +
      `transfers: ${summary.transfers.length} (median ${transferEt.toFixed(2)} election timeouts)`,
  );
  for (const failure of summary.failures) {
    out(`seed ${failure.seed} (${failure.nodes} nodes) failed:`);
    for (const violation of failure.violations.slice(0, 5)) out(`  ${violation}`);
    out(`  replay: ${replayCommand(failure, { duration, broken: values.break })}`);
    out('  last events:');
    for (const line of failure.trace) out(`    ${line}`);
  }
  return summary.failures.length === 0 ? 0 : 1;
}

/** The deliberately broken cores (CoreFaults), for showing that the checker catches them. */
const BROKEN_CORES = [
  'commitPreviousTermEntries',
  'voteWithoutPersist',
  'skipUpToDateCheck',
  'readWithoutConfirm',
] as const;

function brokenCore(name: string): CoreFaults {
  if (!(BROKEN_CORES as readonly string[]).includes(name)) {
    throw new UsageError(`--break must be one of ${BROKEN_CORES.join(', ')}`);
  }
  return { [name]: true };
}

export class UsageError extends Error {
  override name = 'UsageError';
}

function positiveInt(text: string, flag: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value <= 0)
    throw new UsageError(`${flag} must be a positive integer, got "${text}"`);
  return value;
}
