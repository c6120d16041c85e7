/**
 * One repetition of the HTTP load on one system: a fresh 3-node cluster, every key filled once,
 * then each phase of the closed-loop load against the leader, and last the failover (the leader
 * SIGKILLed under write load). The cluster and its data directories are gone afterwards.
 */
import { cleanupGoNodes, type ServerNode } from '../test/interop/harness.js';
import { runLoad, type LoadResult, type LoadSpec } from './loadgen.js';
import { startCluster, type SystemName, type SystemSpec } from './systems.js';

export interface Phase {
  /** Key in results.json, e.g. writes_c64. */
  name: string;
  op: 'put' | 'get';
  concurrency: number;
}

export const PHASES: Phase[] = [
  { name: 'writes_c1', op: 'put', concurrency: 1 },
  { name: 'writes_c16', op: 'put', concurrency: 16 },
  { name: 'writes_c64', op: 'put', concurrency: 64 },
  { name: 'writes_c256', op: 'put', concurrency: 256 },
  { name: 'reads_c64', op: 'get', concurrency: 64 },
];

export const FAILOVER_CONCURRENCY = 16;
/**
 * Per-request deadline in the failover run. A write that a follower forwarded to the dead leader
 * hangs until the server gives up (etcd: 7 s); like any client with a deadline, the worker abandons
 * it and retries, so the figure is when the cluster can take writes again (within this much).
 */
export const FAILOVER_REQUEST_TIMEOUT_S = 0.3;
const FILL_CONCURRENCY = 256;

export interface LoadSettings {
  warmupS: number;
  durationS: number;
  keys: number;
  valueSize: number;
  /** Longest wait in the failover run, s: the leader dies `failoverKillS` in, the run ends at the first success after. */
  failoverS: number;
  failoverKillS: number;
}

/** What one measured phase gave, in the units RESULTS.md shows. */
export interface PhaseSample {
  rate: number;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  /** CPU seconds of all three servers per 1,000 operations. */
  serverCpuPer1k: number;
  /** CPU seconds of the load generator per 1,000 operations. */
  loadgenCpuPer1k: number;
  /** CPU seconds per second used by everything else on the machine during the window. */
  otherCores: number;
  /** VmRSS at the end of the window, MiB: the leader, then the followers. */
  rssMiB: number[];
  /** Answers that were not successes (non-2xx statuses and connection errors). */
  failures: number;
  /** Every answer by HTTP status (and conn_error), to tell what the failures were. */
  statuses: Record<string, number>;
  load1: number;
}

export interface FailoverSample {
  /** From the SIGKILL of the leader to the first successful write issued after it, ms. */
  unavailableMs: number;
  electionTimeoutMs: number;
}

export interface SystemRun {
  system: SystemName;
  repetition: number;
  fill: { rate: number; seconds: number };
  phases: Record<string, PhaseSample>;
  failover: FailoverSample;
}

function failures(result: LoadResult): number {
  let count = 0;
  for (const [status, n] of Object.entries(result.status)) {
    if (!status.startsWith('2') && !(result.op === 'get' && status === '404')) count += n;
  }
  return count;
}

export function toSample(result: LoadResult, load1: number): PhaseSample {
  const live = (values: number[]) => values.filter((value) => value >= 0);
  const serverCpu = live(result.server_cpu_s).reduce((sum, value) => sum + value, 0);
  const per1k = (seconds: number) => (result.ok > 0 ? (seconds / result.ok) * 1000 : NaN);
  return {
    rate: result.rate,
    p50Ms: result.latency_ms.p50,
    p99Ms: result.latency_ms.p99,
    p999Ms: result.latency_ms.p999,
    serverCpuPer1k: per1k(serverCpu),
    loadgenCpuPer1k: per1k(result.loadgen_cpu_s),
    otherCores: Math.max(0, result.machine_busy_cpu_s - serverCpu - result.loadgen_cpu_s) / result.seconds,
    rssMiB: live(result.server_rss_kib).map((kib) => kib / 1024),
    failures: failures(result),
    statuses: result.status,
    load1,
  };
}

/**
 * Puts every key once, in order (not measured), so the measured writes overwrite keys as a
 * long-lived store's do rather than create them.
 */
export function fillKeys(
  target: Pick<LoadSpec, 'api' | 'urls' | 'pids'>,
  settings: Pick<LoadSettings, 'keys' | 'valueSize'>,
): Promise<LoadResult> {
  return runLoad({
    ...target,
    keys: settings.keys,
    valueSize: settings.valueSize,
    op: 'put',
    concurrency: FILL_CONCURRENCY,
    warmupS: 0,
    durationS: 0,
    fill: true,
  });
}

/** The leader first: loadgen's workers start there and its pid leads the CPU and RSS lists. */
function leaderFirst(nodes: ServerNode[], leader: ServerNode): ServerNode[] {
  return [leader, ...nodes.filter((node) => node !== leader && node.running)];
}

export async function runSystem(
  system: SystemSpec,
  repetition: number,
  settings: LoadSettings,
  loadAverage: () => number,
  log: (line: string) => void,
): Promise<SystemRun> {
  const nodes = await startCluster(system);
  try {
    const target = async (): Promise<Pick<LoadSpec, 'api' | 'urls' | 'pids'>> => {
      const ordered = leaderFirst(nodes, await system.leader(nodes));
      return {
        api: system.api,
        urls: ordered.map((node) => `http://${node.httpAddress}`),
        pids: ordered.map((node) => node.pid!),
      };
    };
    const common = { keys: settings.keys, valueSize: settings.valueSize };
    const fill = await fillKeys(await target(), settings);
    log(`  ${system.name} fill ${settings.keys} keys: ${Math.round(fill.rate)}/s`);
    const phases: Record<string, PhaseSample> = {};
    for (const phase of PHASES) {
      const load1 = loadAverage();
      const result = await runLoad({
        ...(await target()),
        ...common,
        op: phase.op,
        concurrency: phase.concurrency,
        warmupS: settings.warmupS,
        durationS: settings.durationS,
      });
      phases[phase.name] = toSample(result, load1);
      const s = phases[phase.name];
      log(
        `  ${system.name} ${phase.name}: ${Math.round(s.rate)}/s p50 ${s.p50Ms.toFixed(2)} p99 ${s.p99Ms.toFixed(2)} ms` +
          ` cpu ${s.serverCpuPer1k.toFixed(3)} s/1k, loadgen ${s.loadgenCpuPer1k.toFixed(3)} s/1k` +
          (s.failures > 0 ? `, ${s.failures} failures` : ''),
      );
    }
    const failover = await measureFailover(system, await target(), settings);
    log(`  ${system.name} failover: ${failover.unavailableMs.toFixed(0)} ms without a successful write`);
    return {
      system: system.name,
      repetition,
      fill: { rate: fill.rate, seconds: fill.seconds },
      phases,
      failover,
    };
  } finally {
    await cleanupGoNodes();
  }
}

async function measureFailover(
  system: SystemSpec,
  target: Pick<LoadSpec, 'api' | 'urls' | 'pids'>,
  settings: LoadSettings,
): Promise<FailoverSample> {
  const result = await runLoad({
    ...target,
    keys: settings.keys,
    valueSize: settings.valueSize,
    op: 'put',
    concurrency: FAILOVER_CONCURRENCY,
    warmupS: settings.warmupS,
    durationS: settings.failoverS,
    kill: { pid: target.pids[0], afterS: settings.failoverKillS },
    timeoutS: FAILOVER_REQUEST_TIMEOUT_S,
  });
  const unavailableMs = result.failover?.first_ok_after_kill_ms ?? -1;
  return {
    unavailableMs: unavailableMs < 0 ? NaN : unavailableMs,
    electionTimeoutMs: system.electionTimeoutMs,
  };
}
