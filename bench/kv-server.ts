/** What the KV benchmarks share: one `kv serve` child process, its CPU and memory, number formatting. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { freePorts } from '../src/cli/free-ports.js';

export const fmt = (n: number, digits = 0) =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

export function percentile(sorted: number[], p: number): number {
  return sorted.length === 0
    ? NaN
    : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** CPU seconds and RSS of a process, from /proc. */
export function procStats(pid: number): { cpuSeconds: number; rssMiB: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of stat (11 and 12 after the command), in clock ticks (100/s on Linux).
  const cpuSeconds = (Number(fields[11]) + Number(fields[12])) / 100;
  const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return { cpuSeconds, rssMiB: rss === null ? NaN : Number(rss[1]) / 1024 };
}

export interface SingleServer {
  id: string;
  httpUrl: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** A one-member cluster as a child process (`cli` is the built src/cli.js), once it leads. */
export async function startSingleServer(cli: string, extra: string[]): Promise<SingleServer> {
  const [raftPort, httpPort] = await freePorts(2);
  const root = mkdtempSync(join(tmpdir(), 'raftkit-bench-kv-'));
  const raft = `127.0.0.1:${raftPort}`;
  const httpUrl = `http://127.0.0.1:${httpPort}`;
  const args = ['--id', 'w1', '--raft-addr', raft, '--http-addr', `127.0.0.1:${httpPort}`];
  const child = spawn(
    process.execPath,
    [cli, 'kv', 'serve', ...args, '--data-dir', join(root, 'w1'), '--peers', `w1=${raft}`, ...extra],
    { stdio: 'ignore' },
  );
  const stop = async () => {
    child.kill('SIGTERM');
    if (child.exitCode === null) await new Promise((resolve) => child.once('exit', resolve));
    rmSync(root, { recursive: true, force: true });
  };
  const deadline = performance.now() + 60_000;
  while (performance.now() < deadline) {
    try {
      const status = (await (await fetch(`${httpUrl}/status`)).json()) as {
        state: string;
        leader: { http: string };
      };
      if (status.state === 'Leader' && status.leader.http !== '') return { id: 'w1', httpUrl, child, stop };
    } catch {
      // not up yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await stop();
  throw new Error('the server did not become leader within 60 s');
}
