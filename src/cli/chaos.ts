/**
 * `raftkit chaos`: the KV service as real processes, real faults, and a verdict.
 *
 * It starts N `raftkit kv serve` processes on free loopback ports (chaos-cluster.ts), runs
 * concurrent clients that record a history (chaos-workload.ts), and a seeded nemesis that injects
 * several faults at once and heals each (chaos-nemesis.ts). At the end every fault is healed, every
 * key is read once more, the history goes through `checkKvLinearizability` (src/testing), and every
 * member's key space, read from its own applied state once it has applied a final write, must be
 * the same. A run passes iff the history is linearizable and the states agree.
 *
 * `--break stale-reads` starts servers that answer reads from local state, `--break early-ack`
 * servers that acknowledge writes before they commit: the verdict must be a failure. Timing is
 * real, so runs are not replayable from the seed; the seed fixes the choices of faults and
 * operations. A failing run keeps its directory: `history.json` (seed, fault schedule, history)
 * beside every server's log.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sleep, systemClock, type Clock } from '../index.js';
import { checkKvLinearizability, type LinearizabilityReport } from '../testing/linearizability.js';
import { SeededRandom } from '../testing/prng.js';
import { ChaosCluster } from './chaos-cluster.js';
import { DISK_FAULTS_FLAG, type DiskAction, type DiskReport } from './chaos-disk.js';
import { CHAOS_FAULTS, Nemesis, type ChaosFault } from './chaos-nemesis.js';
import { ChaosWorkload, workloadKeys, type WorkloadCounts } from './chaos-workload.js';
import { defaultCliPath } from './node-processes.js';

export { CHAOS_FAULTS, type ChaosFault } from './chaos-nemesis.js';

/** Deliberately broken servers, to watch the verdict fail. */
export type ChaosBreak = 'stale-reads' | 'early-ack' | 'ignore-fsync';
export const CHAOS_BREAKS: readonly ChaosBreak[] = ['stale-reads', 'early-ack', 'ignore-fsync'];

export interface ChaosOptions {
  nodes?: number;
  /** How long clients and nemesis run, in ms (default 30 s). */
  durationMs?: number;
  seed?: number;
  clients?: number;
  keys?: number;
  /** Faults the nemesis may inject (default all; without disk under LMDB). */
  faults?: readonly ChaosFault[];
  /** Faults active at once (default 2). */
  concurrentFaults?: number;
  /** With `disk` among the faults: which disk faults take turns (default all of DISK_ACTIONS). */
  diskActions?: readonly DiskAction[];
  /** Where the servers keep their data (default a new temporary directory). */
  dir?: string;
  /** Keep the directory (and history.json) even after a clean verdict. */
  keep?: boolean;
  logStore?: 'wal' | 'lmdb';
  /** Run deliberately broken servers, to watch the verdict fail. */
  break?: ChaosBreak;
  cliPath?: string;
  clock?: Clock;
  log?: (line: string) => void;
}

export interface ChaosReport {
  seed: number;
  counts: WorkloadCounts;
  /** Faults started, by kind. */
  faults: Partial<Record<ChaosFault, number>>;
  /** The fault schedule, as "t+1234ms kill -9 n2 (leader)" lines. */
  events: string[];
  linearizability: LinearizabilityReport;
  /** Whether every member ended with the same key space, and where they differ when not. */
  states: { agree: boolean; differences: string[] };
  /** What the disk faults did, and any server that did not fail-stop, come back or refuse damage. */
  disk: DiskReport;
  /** Whether the servers spoke KV v2 (ranges, txn, conditional headers were in the workload). */
  v2: boolean;
  /** The data directory if it was kept (history.json inside), else null. */
  kept: string | null;
}

/**
 * Raft timings for one shared machine: quicker recovery than hashicorp's defaults (1000/1000/500),
 * yet enough slack that a loaded machine does not keep the cluster in elections.
 */
const TUNING = ['--heartbeat-timeout', '600', '--election-timeout', '600', '--leader-lease-timeout', '300'];
const REQUEST_TIMEOUT_MS = 2000;
const BREAK_FLAGS: Record<ChaosBreak, string> = {
  'stale-reads': '--debug-stale-reads',
  'early-ack': '--debug-early-ack',
  'ignore-fsync': '--debug-ignore-fsync-failures',
};

/** Every fault the log store allows: all of them, but disk faults only under the WAL (LMDB does its own I/O). */
export function defaultFaults(logStore: 'wal' | 'lmdb' | undefined): ChaosFault[] {
  return CHAOS_FAULTS.filter((fault) => fault !== 'disk' || logStore !== 'lmdb');
}

/** Whether a report passes: linearizable, the final states agree, and no disk fault went unhandled. */
export function chaosPassed(report: ChaosReport): boolean {
  return report.linearizability.ok && report.states.agree && report.disk.problems.length === 0;
}

export async function runChaos(options: ChaosOptions = {}): Promise<ChaosReport> {
  const clock = options.clock ?? systemClock;
  const seed = options.seed ?? 1;
  const random = new SeededRandom(seed);
  const log = options.log ?? (() => {});
  const faults = options.faults ?? defaultFaults(options.logStore);
  const disk = faults.includes('disk');
  if (options.break === 'ignore-fsync' && !disk)
    throw new Error('chaos: --break ignore-fsync needs disk faults');
  if (disk && options.logStore === 'lmdb') throw new Error('chaos: disk faults need the wal log store');
  const root = options.dir ?? mkdtempSync(join(tmpdir(), 'raftkit-chaos-'));
  const cluster = await ChaosCluster.create({
    root,
    nodes: options.nodes ?? 3,
    extraServeArgs: [
      ...TUNING,
      ...(options.logStore ? ['--log-store', options.logStore] : []),
      ...(faults.includes('clock') ? ['--debug-clock'] : []),
      ...(disk ? [DISK_FAULTS_FLAG, `seed=${seed}`] : []),
      ...(options.break ? [BREAK_FLAGS[options.break]] : []),
    ],
    cliPath: options.cliPath ?? defaultCliPath(),
    clock,
    requestTimeoutMs: REQUEST_TIMEOUT_MS,
  });
  const started = clock.now();
  const events: string[] = [];
  const event = (line: string) => {
    events.push(`t+${Math.round(clock.now() - started)}ms ${line}`);
    log(`chaos: ${events[events.length - 1]}`);
  };
  const keys = workloadKeys(options.keys ?? 6);

  let passed = false;
  try {
    cluster.startAll();
    await cluster.untilServing('at start');
    const v2 = await speaksV2(cluster, clock);
    const workload = new ChaosWorkload(cluster, keys, clock, v2);
    const clientCount = options.clients ?? 4;
    event(
      `serving: ${cluster.members.length} servers, ${clientCount} clients, keys ${keys.join(',')}, KV v2 ${v2}`,
    );
    const nemesis = new Nemesis(cluster, {
      faults,
      random: random.fork(),
      clock,
      event,
      maxActive: options.concurrentFaults,
      diskActions: options.diskActions,
    });
    let stop = false;
    const clients = Array.from({ length: clientCount }, (_, i) =>
      workload.client(i, random.fork(), () => stop),
    );
    await nemesis.run(clock.now() + (options.durationMs ?? 30_000));
    stop = true;
    await Promise.all(clients);
    await heal(cluster);
    const barrier = await cluster.untilServing('after the faults');
    event('healed; final reads');
    for (const key of keys) {
      for (let attempt = 0; !(await workload.finalRead(key, attempt)); attempt++) {
        if (attempt > 50) throw new Error(`chaos: final read of ${key} kept failing`);
        await sleep(clock, 100);
      }
    }
    const states = compareStates(await cluster.keySpaces(barrier, [...keys, 'chaos-ready']));
    const linearizability = checkKvLinearizability(workload.history);
    const report: ChaosReport = {
      seed,
      counts: workload.counts,
      faults: nemesis.injected,
      events,
      linearizability,
      states,
      disk: nemesis.disk.report,
      v2,
      kept: null,
    };
    passed = chaosPassed(report);
    if (options.keep === true || !passed) {
      report.kept = root;
      const history = workload.history.map((op) => ({ ...op, end: op.end === Infinity ? null : op.end }));
      writeFileSync(join(root, 'history.json'), JSON.stringify({ seed, events, history }, null, 1));
    }
    return report;
  } finally {
    await cluster.stopAll();
    if (passed && options.keep !== true && options.dir === undefined)
      rmSync(root, { recursive: true, force: true });
  }
}

/** Heals the network, starts every member that is down, and resets skewed clocks. */
async function heal(cluster: ChaosCluster): Promise<void> {
  await cluster.network(new Map());
  for (const member of cluster.members) {
    member.process.signal('SIGCONT');
    member.process.send({ raftkitClock: { rate: 1 } });
    member.process.start();
  }
}

/**
 * Whether the servers answer KV v2's range route: 200 JSON yes, 404/405 (older servers) no; other
 * answers (no leader yet, a timeout) are asked again.
 */
async function speaksV2(cluster: ChaosCluster, clock: Clock): Promise<boolean> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const member = (await cluster.leader()) ?? cluster.members[attempt % cluster.members.length];
    const outcome = await cluster.request(member, 'GET', '/kv?prefix=chaos&limit=1');
    if ('status' in outcome && outcome.status === 200) return outcome.body.startsWith('{');
    if ('status' in outcome && (outcome.status === 404 || outcome.status === 405)) return false;
    await sleep(clock, 200);
  }
  throw new Error('chaos: no server answered whether it speaks KV v2');
}

/** Compares the members' key spaces: every key, every member, one value. */
export function compareStates(spaces: Map<string, Map<string, string | null>>): ChaosReport['states'] {
  const differences: string[] = [];
  const [first, ...rest] = [...spaces.entries()];
  for (const [id, space] of rest) {
    for (const [key, value] of first[1]) {
      if (space.get(key) !== value) {
        differences.push(
          `${key}: ${first[0]} has ${JSON.stringify(value)}, ${id} has ${JSON.stringify(space.get(key))}`,
        );
      }
    }
  }
  return { agree: differences.length === 0, differences };
}
