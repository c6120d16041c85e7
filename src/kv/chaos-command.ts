/** `raftkit chaos [flags]`: runs src/kv/chaos.ts and prints its verdict. */
import { parseArgs } from 'node:util';
import { CHAOS_FAULTS, runChaos, type ChaosFault, type ChaosOptions, type ChaosReport } from './chaos.js';

export const CHAOS_USAGE = `usage: raftkit chaos [--nodes 3|5] [--duration SECONDS] [--seed N] [--clients N] [--keys N]
       [--faults kill,pause,isolate,crash] [--log-store wal|lmdb] [--dir DIR] [--keep] [--break stale-reads]
  real kv serve processes under SIGKILL/SIGSTOP/partition faults; the history is checked for linearizability`;

export class ChaosUsageError extends Error {
  override name = 'ChaosUsageError';
}

function integer(text: string | undefined, flag: string, fallback: number, min: number, max: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new ChaosUsageError(`${flag} must be an integer from ${min} to ${max}, got "${text}"`);
  }
  return value;
}

export function parseChaosArgs(argv: string[]): ChaosOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        nodes: { type: 'string' },
        duration: { type: 'string' },
        seed: { type: 'string' },
        clients: { type: 'string' },
        keys: { type: 'string' },
        faults: { type: 'string' },
        'log-store': { type: 'string' },
        dir: { type: 'string' },
        keep: { type: 'boolean' },
        break: { type: 'string' },
      },
      strict: true,
    }));
  } catch (error) {
    throw new ChaosUsageError((error as Error).message);
  }
  const nodes = integer(values.nodes, '--nodes', 3, 3, 5);
  if (nodes === 4) throw new ChaosUsageError('--nodes must be 3 or 5');
  const faults = (values.faults ?? CHAOS_FAULTS.join(',')).split(',') as ChaosFault[];
  for (const fault of faults) {
    if (!CHAOS_FAULTS.includes(fault)) {
      throw new ChaosUsageError(`--faults: unknown fault "${fault}" (${CHAOS_FAULTS.join(', ')})`);
    }
  }
  const logStore = values['log-store'];
  if (logStore !== undefined && logStore !== 'wal' && logStore !== 'lmdb') {
    throw new ChaosUsageError(`--log-store must be wal or lmdb, got "${logStore}"`);
  }
  if (values.break !== undefined && values.break !== 'stale-reads') {
    throw new ChaosUsageError(`--break: the only deliberate fault is stale-reads, got "${values.break}"`);
  }
  return {
    nodes,
    durationMs: integer(values.duration, '--duration', 30, 1, 86_400) * 1000,
    seed: integer(values.seed, '--seed', 1, 0, 2 ** 32 - 1),
    clients: integer(values.clients, '--clients', 4, 1, 64),
    keys: integer(values.keys, '--keys', 5, 1, 1000),
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

/** Exit code 0 when the history is linearizable, 1 when not (or inconclusive), 2 for bad flags. */
export async function chaosCommand(
  argv: string[],
  out: { write(text: string): unknown } = process.stdout,
  err: { write(text: string): unknown } = process.stderr,
): Promise<number> {
  let options: ChaosOptions;
  try {
    options = parseChaosArgs(argv);
  } catch (error) {
    if (!(error instanceof ChaosUsageError)) throw error;
    err.write(`raftkit chaos: ${error.message}\n${CHAOS_USAGE}\n`);
    return 2;
  }
  const report = await runChaos({ ...options, log: (line) => out.write(`${line}\n`) });
  for (const line of formatChaosReport(report)) out.write(`${line}\n`);
  return report.linearizability.ok ? 0 : 1;
}
