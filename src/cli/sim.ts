/** `raftkit sim`: runs simulator seeds and prints one summary line (plus replay info on failure). */
import type { CoreFaults } from '../testing/index.js';
import { median, replayCommand, runSeeds } from '../testing/run-seeds.js';
import { SIMULATED_ELECTION_TIMEOUT } from '../testing/simulation.js';
import { integerFlag, parseFlags, UsageError, type Command } from './command.js';

/** The deliberately broken cores (CoreFaults), for showing that the checker catches them. */
const BROKEN_CORES = [
  'commitPreviousTermEntries',
  'voteWithoutPersist',
  'skipUpToDateCheck',
  'readWithoutConfirm',
] as const;

export const SIM_USAGE = `usage: raftkit sim [--seeds N] [--seed S] [--nodes 3|5] [--duration MS] [--break FAULT]
  runs the deterministic cluster simulator (--seed S alone replays one seed); --break runs a
  deliberately broken core to watch the checker catch it: ${BROKEN_CORES.join(', ')}`;

const POSITIVE = { fallback: 0, min: 1, max: Number.MAX_SAFE_INTEGER, what: 'a positive integer' };

export async function simCommand(argv: string[], out: (line: string) => void): Promise<number> {
  const values = parseFlags(argv, { values: ['seeds', 'seed', 'nodes', 'duration', 'break'] });
  // --seed S alone replays one seed; with --seeds N it runs N seeds starting at S.
  const firstSeed = integerFlag(values.seed, '--seed', { ...POSITIVE, fallback: 1 });
  const seeds = integerFlag(values.seeds, '--seeds', {
    ...POSITIVE,
    fallback: values.seed === undefined ? 100 : 1,
  });
  const nodes = values.nodes === undefined ? undefined : integerFlag(values.nodes, '--nodes', POSITIVE);
  if (nodes !== undefined && nodes !== 3 && nodes !== 5) throw new UsageError('--nodes must be 3 or 5');
  const duration =
    values.duration === undefined ? undefined : integerFlag(values.duration, '--duration', POSITIVE);
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

export const sim: Command = {
  name: 'sim',
  usage: SIM_USAGE,
  run: (argv, io) => simCommand(argv, (line) => io.stdout.write(`${line}\n`)),
};

function brokenCore(name: string): CoreFaults {
  if (!(BROKEN_CORES as readonly string[]).includes(name)) {
    throw new UsageError(`--break must be one of ${BROKEN_CORES.join(', ')}`);
  }
  return { [name]: true };
}
