/** The TypeScript side of bench/loadgen: its flags and the JSON it prints. */
import { LOADGEN_BIN, runJson } from './tools.js';

export type ApiKind = 'kv' | 'etcd';

export interface LoadSpec {
  api: ApiKind;
  /** Base URLs; workers start on the first (the leader) and move on after a failure. */
  urls: string[];
  op: 'put' | 'get';
  concurrency: number;
  warmupS: number;
  durationS: number;
  keys: number;
  valueSize: number;
  /** Put every key once, in order, then stop. */
  fill?: boolean;
  /** Server processes whose CPU (over the measured window) and memory to report. */
  pids: number[];
  /** Failover: SIGKILL this pid `killAfterS` into the measured window. */
  kill?: { pid: number; afterS: number };
  /** Per-request deadline in seconds (loadgen's default: 5). */
  timeoutS?: number;
}

export interface LatencyMs {
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

export interface LoadResult {
  op: string;
  concurrency: number;
  seconds: number;
  ok: number;
  misses: number;
  rate: number;
  latency_ms: LatencyMs;
  /** Answers by HTTP status, plus conn_error. */
  status: Record<string, number>;
  server_cpu_s: number[];
  server_rss_kib: number[];
  server_hwm_kib: number[];
  loadgen_cpu_s: number;
  /** CPU seconds used by the whole machine (every process) during the window. */
  machine_busy_cpu_s: number;
  failover?: { killed_at_ms: number; first_ok_after_kill_ms: number };
}

export interface FloorResult {
  fdatasync_per_s: number;
  fdatasync_p50_ms: number;
  fdatasync_p99_ms: number;
  loopback_rtt_p50_us: number;
  loopback_rtt_p99_us: number;
  loopback_round_trips_per_s: number;
}

export function runLoad(spec: LoadSpec): Promise<LoadResult> {
  const args = ['load', '-api', spec.api, '-urls', spec.urls.join(','), '-op', spec.op];
  args.push(
    '-c',
    String(spec.concurrency),
    '-keys',
    String(spec.keys),
    '-value-size',
    String(spec.valueSize),
  );
  args.push('-warmup', `${spec.warmupS}s`, '-duration', `${spec.durationS}s`, '-pids', spec.pids.join(','));
  if (spec.fill) args.push('-fill');
  if (spec.kill) args.push('-kill-pid', String(spec.kill.pid), '-kill-after', `${spec.kill.afterS}s`);
  if (spec.timeoutS !== undefined) args.push('-timeout', `${spec.timeoutS}s`);
  return runJson<LoadResult>(LOADGEN_BIN, args);
}

export function runFloor(dir: string, durationS: number): Promise<FloorResult> {
  return runJson<FloorResult>(LOADGEN_BIN, ['floor', '-dir', dir, '-duration', `${durationS}s`]);
}
