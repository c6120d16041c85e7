/** `raftkit sim`: runs simulator seeds and prints a summary (plus replay info on failure), or the planted-bug campaign. */
import { PLANTED_BUGS, runCampaign, type CampaignRow } from '../testing/planted-bugs.js';
import { median, replayCommand, type SeedRunOptions, type SeedRunSummary } from '../testing/run-seeds.js';
import { defaultJobs, runSeedsInWorkers } from '../testing/seed-workers.js';
import { CLOCK_BEYOND_BOUND, FAULT_KINDS } from '../testing/sim-faults.js';
import { LEADER_KINDS, SIMULATED_ELECTION_TIMEOUT, type LeaderKind } from '../testing/simulation.js';
import { integerFlag, parseFlags, UsageError, type Command } from './command.js';

const BUG_NAMES = PLANTED_BUGS.map((bug) => bug.name);

export const SIM_USAGE = `usage: raftkit sim [--seeds N] [--seed S] [--nodes 3|5] [--duration MS] [--faults LIST]
                  [--leaders LIST] [--break BUG] [--jobs N] [--json] [--campaign]
  runs the deterministic cluster simulator (--seed S alone replays one seed and prints its trace).
  --faults   comma-separated fault kinds (default all): ${FAULT_KINDS.join(',')}
             (${CLOCK_BEYOND_BOUND} runs clocks outside the lease's drift bound: lease reads may fail there)
  --leaders  leader behaviours mixed in a run (default all): ${LEADER_KINDS.join(',')}
  --jobs     seeds run at once in worker threads (default: one per core)
  --json     the last line of stdout is one JSON object; exit 0 iff no seed failed
  --break    a deliberately planted bug, to watch the checker catch it: ${BUG_NAMES.join(', ')}
  --campaign runs every planted bug for up to --seeds seeds (default 2000) and prints a table`;

const POSITIVE = { fallback: 0, min: 1, max: Number.MAX_SAFE_INTEGER, what: 'a positive integer' };

/** A comma-separated list whose every item is allowed; undefined when the flag was not given. */
function listFlag(text: string | undefined, flag: string, allowed: readonly string[]): string[] | undefined {
  if (text === undefined) return undefined;
  const items = text.split(',').filter((item) => item !== '');
  const unknown = items.filter((item) => !allowed.includes(item));
  if (unknown.length > 0 || items.length === 0)
    throw new UsageError(`${flag} takes a comma-separated list of ${allowed.join(', ')}; got "${text}"`);
  return items;
}

export async function simCommand(argv: string[], out: (line: string) => void): Promise<number> {
  const values = parseFlags(argv, {
    values: ['seeds', 'seed', 'nodes', 'duration', 'break', 'faults', 'leaders', 'jobs'],
    switches: ['json', 'campaign'],
  });
  // --seed S alone replays one seed; with --seeds N it runs N seeds starting at S.
  const firstSeed = integerFlag(values.seed, '--seed', { ...POSITIVE, fallback: 1 });
  const seeds = integerFlag(values.seeds, '--seeds', {
    ...POSITIVE,
    fallback: values.campaign ? 2000 : values.seed === undefined ? 100 : 1,
  });
  const nodes = values.nodes === undefined ? undefined : integerFlag(values.nodes, '--nodes', POSITIVE);
  if (nodes !== undefined && nodes !== 3 && nodes !== 5) throw new UsageError('--nodes must be 3 or 5');
  const duration =
    values.duration === undefined ? undefined : integerFlag(values.duration, '--duration', POSITIVE);
  const faultKinds = listFlag(values.faults, '--faults', [...FAULT_KINDS, CLOCK_BEYOND_BOUND]);
  const leaderKinds = listFlag(values.leaders, '--leaders', LEADER_KINDS) as LeaderKind[] | undefined;
  const broken = values.break === undefined ? undefined : listFlag(values.break, '--break', BUG_NAMES)![0];
  const jobs = integerFlag(values.jobs, '--jobs', { fallback: defaultJobs(), min: 1, max: 64 });
  const run = (options: SeedRunOptions) => runSeedsInWorkers(options, Math.min(jobs, options.seeds));
  if (values.campaign) return campaign(seeds, firstSeed, values.json === true, run, out);

  const summary = await run({
    seeds,
    firstSeed,
    nodes,
    duration,
    faults: broken === undefined ? undefined : { [broken]: true },
    faultKinds,
    leaderKinds,
    stopOnFailure: broken !== undefined,
  });
  const perSeed = (total: number) => Math.round(total / Math.max(1, summary.seedsRun));
  const violations = summary.failures.reduce((sum, failure) => sum + failure.violations.length, 0);
  const transferEt = median(summary.transfers) / SIMULATED_ELECTION_TIMEOUT;
  out(
    `seeds run: ${summary.seedsRun}, violations: ${violations} (failing seeds: ${summary.failures.length}), ` +
      `seeds/s: ${summary.seedsPerSecond.toFixed(2)}, CPU ms/seed: ${summary.cpuMsPerSeed.toFixed(1)}, ` +
      `steps/seed: ${perSeed(summary.steps)}, virtual ms/seed: ${perSeed(summary.virtualMs)} | ` +
      `acknowledged writes: ${summary.acked}, ` +
      `linearizable reads checked: ${summary.readsChecked}, elections: ${summary.elections}, ` +
      `membership changes: ${summary.membershipChanges}, snapshots installed: ${summary.snapshotsInstalled}, ` +
      `transfers: ${summary.transfers.length} (median ${transferEt.toFixed(2)} election timeouts)`,
  );
  const replayOptions = { duration, broken, faults: values.faults, leaders: values.leaders };
  for (const failure of summary.failures) {
    out(`seed ${failure.seed} (${failure.nodes} nodes) failed:`);
    for (const violation of failure.violations.slice(0, 5)) out(`  ${violation}`);
    out(`  replay: ${replayCommand(failure, replayOptions)}`);
    out('  last events:');
    for (const line of failure.trace) out(`    ${line}`);
  }
  if (values.json) {
    out(
      JSON.stringify({
        seeds: summary.seedsRun,
        failures: summary.failures.map((failure) => ({
          seed: failure.seed,
          nodes: failure.nodes,
          violation: failure.violations[0],
          replay: replayCommand(failure, replayOptions),
        })),
        seedsPerSecond: Number(summary.seedsPerSecond.toFixed(2)),
        cpuMsPerSeed: Number(summary.cpuMsPerSeed.toFixed(1)),
        stepsPerSeed: perSeed(summary.steps),
        virtualMsPerSeed: perSeed(summary.virtualMs),
        acknowledgedWrites: summary.acked,
        readsChecked: summary.readsChecked,
        elections: summary.elections,
        membershipChanges: summary.membershipChanges,
        snapshotsInstalled: summary.snapshotsInstalled,
        transfers: summary.transfers.length,
        faults: faultKinds ?? FAULT_KINDS,
        leaders: leaderKinds ?? LEADER_KINDS,
        ...(broken === undefined ? {} : { broken }),
      }),
    );
  }
  return summary.failures.length === 0 ? 0 : 1;
}

/** The planted-bug campaign: one table row per bug; exit 0 iff every bug was caught. */
async function campaign(
  seeds: number,
  firstSeed: number,
  json: boolean,
  run: (options: SeedRunOptions) => Promise<SeedRunSummary>,
  out: (line: string) => void,
): Promise<number> {
  if (!json) out(`${'bug'.padEnd(28)} ${'seeds'.padStart(6)} ${'caught by'.padEnd(34)} rule`);
  const rows = await runCampaign({
    seeds,
    firstSeed,
    run,
    onRow: (row: CampaignRow) => {
      if (json) return;
      const caught = row.caughtBy ?? `MISSED in ${row.seeds} seeds`;
      out(`${row.bug.name.padEnd(28)} ${String(row.seeds).padStart(6)} ${caught.padEnd(34)} ${row.bug.rule}`);
    },
  });
  const missed = rows.filter((row) => row.seed === null).map((row) => row.bug.name);
  if (json) {
    out(
      JSON.stringify({
        bugs: rows.map((row) => ({
          bug: row.bug.name,
          rule: row.bug.rule,
          seedsToCatch: row.seed === null ? null : row.seeds,
          seed: row.seed,
          caughtBy: row.caughtBy,
        })),
        missed,
      }),
    );
  } else {
    out(`${rows.length - missed.length} of ${rows.length} planted bugs caught within ${seeds} seeds`);
  }
  return missed.length === 0 ? 0 : 1;
}

export const sim: Command = {
  name: 'sim',
  usage: SIM_USAGE,
  run: (argv, io) => simCommand(argv, (line) => io.stdout.write(`${line}\n`)),
};
