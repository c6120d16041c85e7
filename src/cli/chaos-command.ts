/** `raftkit chaos [flags]`: runs chaos.ts and prints its verdict (with --json, one JSON line last). */
import { integerFlag, parseFlags, UsageError, type Command } from './command.js';
import {
  CHAOS_BREAKS,
  CHAOS_FAULTS,
  defaultFaults,
  chaosPassed,
  runChaos,
  type ChaosBreak,
  type ChaosFault,
  type ChaosOptions,
  type ChaosReport,
} from './chaos.js';

export const CHAOS_USAGE = `usage: raftkit chaos [--nodes 3|5] [--duration SECONDS] [--seed N] [--clients N] [--keys N]
       [--faults ${CHAOS_FAULTS.join(',')}] [--concurrent-faults N]
       [--log-store wal|lmdb] [--dir DIR] [--keep] [--break ${CHAOS_BREAKS.join('|')}] [--json]
  real kv serve processes under combined faults; passes iff the history is linearizable and every
  member ends with the same key space, and every disk fault was handled (exit 0), else exit 1;
  disk faults (fsync failures, torn writes, EIO, a damaged WAL) need --log-store wal (the default);
  --json prints a JSON summary last`;

export interface ChaosCommandOptions extends ChaosOptions {
  json: boolean;
}

export function parseChaosArgs(argv: string[]): ChaosCommandOptions {
  const values = parseFlags(argv, {
    values: [
      'nodes',
      'duration',
      'seed',
      'clients',
      'keys',
      'faults',
      'concurrent-faults',
      'log-store',
      'dir',
      'break',
    ],
    switches: ['keep', 'json'],
  });
  const nodes = integerFlag(values.nodes, '--nodes', { fallback: 3, min: 3, max: 5 });
  if (nodes === 4) throw new UsageError('--nodes must be 3 or 5');
  const logStore = values['log-store'];
  if (logStore !== undefined && logStore !== 'wal' && logStore !== 'lmdb') {
    throw new UsageError(`--log-store must be wal or lmdb, got "${logStore}"`);
  }
  const faults =
    values.faults === undefined ? defaultFaults(logStore) : (values.faults.split(',') as ChaosFault[]);
  for (const fault of faults) {
    if (!CHAOS_FAULTS.includes(fault)) {
      throw new UsageError(`--faults: unknown fault "${fault}" (${CHAOS_FAULTS.join(', ')})`);
    }
  }
  const broken = values.break as ChaosBreak | undefined;
  if (broken !== undefined && !CHAOS_BREAKS.includes(broken)) {
    throw new UsageError(`--break: the deliberate faults are ${CHAOS_BREAKS.join(', ')}, got "${broken}"`);
  }
  if (broken === 'ignore-fsync' && !faults.includes('disk')) {
    throw new UsageError(
      '--break ignore-fsync needs disk among --faults (it breaks what a failed fsync does)',
    );
  }
  if (logStore === 'lmdb' && faults.includes('disk')) {
    throw new UsageError('--faults disk needs --log-store wal (LMDB does its own file I/O)');
  }
  return {
    nodes,
    durationMs: integerFlag(values.duration, '--duration', { fallback: 30, min: 1, max: 86_400 }) * 1000,
    seed: integerFlag(values.seed, '--seed', { fallback: 1, min: 0, max: 2 ** 32 - 1 }),
    clients: integerFlag(values.clients, '--clients', { fallback: 4, min: 1, max: 64 }),
    keys: integerFlag(values.keys, '--keys', { fallback: 6, min: 1, max: 1000 }),
    faults,
    concurrentFaults: integerFlag(values['concurrent-faults'], '--concurrent-faults', {
      fallback: 2,
      min: 1,
      max: 8,
    }),
    logStore,
    dir: values.dir,
    keep: values.keep ?? false,
    break: broken,
    json: values.json ?? false,
  };
}

/** The report as lines for people. */
export function formatChaosReport(report: ChaosReport): string[] {
  const { counts, linearizability } = report;
  const faults = Object.entries(report.faults).map(([kind, n]) => `${kind} ${n}`);
  const kinds = Object.entries(counts.byKind).map(([kind, c]) => `${kind} ${c.ok}/${c.unknown}/${c.failed}`);
  const lines = [
    `seed ${report.seed}: ${report.events.length} events; faults: ${faults.join(', ') || 'none'}`,
    `operations: ${counts.ops} (${counts.ok} ok, ${counts.unknown} unknown outcome, ${counts.failed} failed); KV v2 ${report.v2}`,
    `  by kind (ok/unknown/failed): ${kinds.join(', ')}`,
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
  const { disk } = report;
  if (report.faults.disk !== undefined) {
    const injected = Object.entries(disk.injected).map(([kind, n]) => `${kind} ${n}`);
    lines.push(
      `disk faults: ${injected.join(', ')}; ${disk.failStops} fail-stops, ${disk.recovered} came back, ${disk.repaired} repaired`,
    );
  }
  for (const problem of disk.problems) lines.push(`  disk problem: ${problem}`);
  for (const difference of report.states.differences) lines.push(`  state differs: ${difference}`);
  lines.push(`final states agree: ${report.states.agree ? 'yes' : 'NO'}`);
  if (disk.problems.length > 0) lines.push(`disk faults handled: NO (see the disk problems)`);
  lines.push(linearizability.ok ? 'linearizable: yes' : 'linearizable: NO');
  if (report.kept) lines.push(`history: ${report.kept}/history.json`);
  return lines;
}

/** The one-line summary of --json. */
export function chaosJson(report: ChaosReport): string {
  return JSON.stringify({
    linearizable: report.linearizability.ok,
    statesAgree: report.states.agree,
    passed: chaosPassed(report),
    seed: report.seed,
    ops: report.counts.ops,
    ok: report.counts.ok,
    unknown: report.counts.unknown,
    failed: report.counts.failed,
    byKind: report.counts.byKind,
    faults: report.faults,
    disk: report.disk,
    events: report.events.length,
    v2: report.v2,
    kept: report.kept,
  });
}

/** Exit code 0 when the run passes (linearizable, states agree), 1 when not. */
export const chaos: Command = {
  name: 'chaos',
  usage: CHAOS_USAGE,
  async run(argv, io) {
    const { json, ...options } = parseChaosArgs(argv);
    const report = await runChaos({ ...options, log: (line) => io.stdout.write(`${line}\n`) });
    for (const line of formatChaosReport(report)) io.stdout.write(`${line}\n`);
    if (json) io.stdout.write(`${chaosJson(report)}\n`);
    return chaosPassed(report) ? 0 : 1;
  },
};
