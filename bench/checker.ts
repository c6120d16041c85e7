/**
 * Linearizability checker throughput: the Jepsen etcd corpus (test/testing/jepsen), the hardest
 * component a real chaos run produced (test/testing/chaos), and large synthetic histories of a store that really ran (test/testing/kv-workload.ts), from today's chaos
 * workload (reads and writes over a few keys) to cas, ranges and txns.
 *
 *   npm run bench:checker [-- rounds]
 *
 * For each history: operations, components, verdict, search steps and memo hits, and the time of
 * the best of `rounds` runs (default 3; the first run of each also pays for the JIT) as ops/s.
 */
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { readFileSync } from 'node:fs';
import { checkKvLinearizability, parseKvHistory, type KvOperation } from '../src/testing/linearizability.js';
import { loadEtcdCorpus } from '../test/testing/jepsen-log.js';
import { executedHistory, type WorkloadOptions } from '../test/testing/kv-workload.js';

export interface CheckerBenchRow {
  name: string;
  operations: number;
  components: number;
  verdicts: string;
  steps: number;
  cacheHits: number;
  /** Best wall-clock time over the rounds, in ms, and the CPU time of that round (all threads). */
  milliseconds: number;
  cpuMilliseconds: number;
  opsPerSecond: number;
}

/** Checks `histories` `rounds` times; the row keeps the fastest round. */
function measure(name: string, histories: readonly KvOperation[][], rounds: number): CheckerBenchRow {
  let best = Infinity;
  let bestCpu = Infinity;
  let reports = histories.map((history) => checkKvLinearizability(history));
  for (let round = 0; round < rounds; round++) {
    const cpu = process.cpuUsage();
    const start = performance.now();
    reports = histories.map((history) => checkKvLinearizability(history));
    const wall = performance.now() - start;
    if (wall < best) {
      const used = process.cpuUsage(cpu);
      [best, bestCpu] = [wall, (used.user + used.system) / 1000];
    }
  }
  const operations = histories.reduce((sum, history) => sum + history.length, 0);
  const verdicts = new Map<string, number>();
  for (const component of reports.flatMap((report) => report.components)) {
    verdicts.set(component.verdict, (verdicts.get(component.verdict) ?? 0) + 1);
  }
  return {
    name,
    operations,
    components: reports.reduce((sum, report) => sum + report.components.length, 0),
    verdicts: [...verdicts].map(([verdict, count]) => `${count} ${verdict}`).join(', '),
    steps: reports.reduce((sum, report) => sum + report.steps, 0),
    cacheHits: reports.reduce((sum, report) => sum + report.cacheHits, 0),
    milliseconds: best,
    cpuMilliseconds: bestCpu,
    opsPerSecond: operations / (best / 1000),
  };
}

const chaosKeys = ['k0', 'k1', 'k2', 'k3', 'k4'];

/** The synthetic histories: name and workload. */
export const SYNTHETIC: readonly [string, WorkloadOptions][] = [
  [
    'chaos today: 50k reads/writes, 5 keys, 8 clients, 5% lost',
    { seed: 1, operations: 50_000, clients: 8, keys: chaosKeys, unknownRate: 0.05 },
  ],
  [
    'with cas: 20k read/write/cas, 5 keys, 8 clients, 5% lost',
    {
      seed: 2,
      operations: 20_000,
      clients: 8,
      keys: chaosKeys,
      mix: { read: 2, write: 1, cas: 2 },
      unknownRate: 0.05,
    },
  ],
  [
    'one hot key: 5k read/write/delete/cas, 8 clients, 5% lost',
    {
      seed: 3,
      operations: 5_000,
      clients: 8,
      keys: ['hot'],
      mix: { read: 4, write: 3, delete: 1, cas: 4 },
      unknownRate: 0.05,
    },
  ],
  [
    'stress, past the limit: one hot key, 10k ops, 16 clients',
    {
      seed: 3,
      operations: 10_000,
      clients: 16,
      keys: ['hot'],
      mix: { read: 4, write: 3, delete: 1, cas: 4 },
      unknownRate: 0.05,
      latency: 20,
    },
  ],
  [
    'ranges and txns: 5k ops, 6 keys in one component, 2% lost',
    {
      seed: 4,
      operations: 5_000,
      clients: 8,
      keys: ['a', 'ab', 'abc', 'b', 'ba', 'c'],
      mix: { read: 6, write: 4, delete: 1, cas: 2, range: 1, txn: 1 },
      unknownRate: 0.02,
      prefixes: ['', 'a', 'ab', 'b'],
    },
  ],
];

export function benchChecker(rounds = 3): CheckerBenchRow[] {
  const corpusDir = fileURLToPath(new URL('../../test/testing/jepsen', import.meta.url));
  const corpus = loadEtcdCorpus(corpusDir);
  const rows = [
    measure(
      `Jepsen etcd corpus: ${corpus.length} histories`,
      corpus.map((history) => history.operations),
      rounds,
    ),
  ];
  const seed2 = parseKvHistory(
    readFileSync(new URL('../../test/testing/chaos/seed2-k2.json', import.meta.url), 'utf8'),
  );
  rows.push(measure('chaos seed 2, 5 min all faults: 2 keys, 42% unknown', [seed2], rounds));
  for (const [name, options] of SYNTHETIC) rows.push(measure(name, [executedHistory(options)], rounds));
  return rows;
}

function main(): void {
  const rounds = Number(process.argv[2] ?? 3);
  const rows = benchChecker(rounds);
  const table = [['history', 'ops', 'components', 'verdicts', 'steps', 'memo hits', 'ms', 'cpu ms', 'ops/s']];
  for (const row of rows) {
    table.push([
      row.name,
      String(row.operations),
      String(row.components),
      row.verdicts,
      String(row.steps),
      String(row.cacheHits),
      row.milliseconds.toFixed(0),
      row.cpuMilliseconds.toFixed(0),
      String(Math.round(row.opsPerSecond)),
    ]);
  }
  const widths = table[0].map((_, column) => Math.max(...table.map((line) => line[column].length)));
  for (const line of table) {
    console.log(
      line
        .map((cell, column) => (column === 0 ? cell.padEnd(widths[column]) : cell.padStart(widths[column])))
        .join('  '),
    );
  }
  console.log(
    `(best of ${rounds} runs after one warm-up run; steps and memo hits are per run; cpu counts all ` +
      `threads, the garbage collector's too; on a shared machine wall time runs above it)`,
  );
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) main();
