/** `raftkit chaos [flags]`: runs chaos.ts and prints its verdict. */
import { integerFlag, parseFlags, UsageError, type Command } from './command.js';
import { CHAOS_FAULTS, runChaos, type ChaosFault, type ChaosOptions, type ChaosReport } from './chaos.js';

export const CHAOS_USAGE = `usage: raftkit chaos [--nodes 3|5] [--duration SECONDS] [--seed N] [--clients N] [--keys N]
       [--faults kill,pause,isolate,crash] [--log-store wal|lmdb] [--dir DIR] [--keep] [--break stale-reads]
  real kv serve processes under SIGKILL/SIGSTOP/partition faults; the history is checked for linearizability`;

export function parseChaosArgs(argv: string[]): ChaosOptions {
  const values = parseFlags(argv, {
    values: ['nodes', 'duration', 'seed', 'clients', 'keys', 'faults', 'log-store', 'dir', 'break'],
    switches: ['keep'],
  });
  const nodes = integerFlag(values.nodes, '--nodes', { fallback: 3, min: 3, max: 5 });
  if (nodes === 4) throw new UsageError('--nodes must be 3 or 5');
  const faults = (values.faults ?? CHAOS_FAULTS.join(',')).split(',') as ChaosFault[];
  for (const fault of faults) {
    if (!CHAOS_FAULTS.includes(fault)) {
      throw new UsageError(`--faults: unknown fault "${fault}" (${CHAOS_FAULTS.join(', ')})`);
    }
  }
  const logStore = values['log-store'];
  if (logStore !== undefined && logStore !== 'wal' && logStore !== 'lmdb') {
    throw new UsageError(`--log-store must be wal or lmdb, got "${logStore}"`);
  }
  if (values.break !== undefined && values.break !== 'stale-reads') {
    throw new UsageError(`--break: the only deliberate fault is stale-reads, got "${values.break}"`);
  }
  return {
    nodes,
    durationMs: integerFlag(values.duration, '--duration', { fallback: 30, min: 1, max: 86_400 }) * 1000,
    seed: integerFlag(values.seed, '--seed', { fallback: 1, min: 0, max: 2 ** 32 - 1 }),
    clients: integerFlag(values.clients, '--clients', { fallback: 4, min: 1, max: 64 }),
    keys: integerFlag(values.keys, '--keys', { fallback: 5, min: 1, max: 1000 }),
    faults,
    logStore,
    dir: values.dir,
    keep: values.keep ?? false,
    breakStaleReads: values.break === 'stale-reads',
  };
}

/** The report as lines for people. */
export function formatChaosReport(report: ChaosReport): string[] {
  const { counts, linearizability } = report;
  const lines = [
    `seed ${report.seed}: ${report.events.length} events`,
    `writes: ${counts.writesOk} ok, ${counts.writesUnknown} unknown outcome, ${counts.writesFailed} refused; reads: ${counts.readsOk} answered, ${counts.readsFailed} not`,
  ];
  for (const key of linearizability.keys) {
    lines.push(`  ${key.key}: ${key.operations} operations, ${key.verdict} (${key.steps} search steps)`);
    if (key.verdict === 'violation') {
      const describe = (op: { kind: string; value?: string; client?: number }) =>
        `${op.kind}(${op.value ?? 'absent'}) by client ${op.client}`;
      lines.push(
        `    last linearizable: ${key.longestPrefix!.slice(-3).map(describe).join(' -> ') || '(none)'}`,
      );
      lines.push(`    cannot place: ${key.stuck!.map(describe).join(', ')}`);
    }
  }
  lines.push(linearizability.ok ? 'linearizable: yes' : 'linearizable: NO');
  if (report.kept) lines.push(`history: ${report.kept}/history.json`);
  return lines;
}

/** Exit code 0 when the history is linearizable, 1 when not (or inconclusive). */
export const chaos: Command = {
  name: 'chaos',
  usage: CHAOS_USAGE,
  async run(argv, io) {
    const options = parseChaosArgs(argv);
    const report = await runChaos({ ...options, log: (line) => io.stdout.write(`${line}\n`) });
    for (const line of formatChaosReport(report)) io.stdout.write(`${line}\n`);
    return report.linearizability.ok ? 0 : 1;
  },
};
