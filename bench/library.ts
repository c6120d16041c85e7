/**
 * In-process library throughput: a 3-node raftkit cluster in this one process (RaftNode, WAL
 * stores, TCP over loopback; the library API, no HTTP), `raft.apply()` of 100-byte commands on the
 * leader with 1, 64 and 1,024 applies outstanding. All three nodes share one event loop, so this
 * is the library's cost per write with nothing else in the way.
 *
 *   node dist-bench/bench/library.js --dir DIR [--outstanding 1,64,1024] [--warmup 1] [--duration 10]
 *
 * Prints one JSON object: per outstanding count, applies/s, latency percentiles and the process's
 * CPU seconds per 1,000 applies. `npm run bench` runs it as a child (so it can be profiled alone).
 */
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { RaftNode, type FSM, type FSMSnapshot } from '../src/index.js';
import { freePort, waitFor } from '../test/interop/harness.js';
import { percentile } from './stats.js';

const PAYLOAD = Buffer.alloc(100, 0x61);

/** Counts what it applies: the cheapest state machine, so the numbers are the library's. */
export class CountingFsm implements FSM {
  applied = 0;
  apply(): number {
    return ++this.applied;
  }
  snapshot(): FSMSnapshot {
    const state = Buffer.from(String(this.applied));
    return {
      persist: async (sink) => {
        await sink.write(state);
        await sink.close();
      },
      release() {},
    };
  }
  async restore(reader: AsyncIterable<Uint8Array>): Promise<void> {
    const chunks: Uint8Array[] = [];
    for await (const chunk of reader) chunks.push(chunk);
    this.applied = Number(Buffer.concat(chunks).toString());
  }
}

export interface LibrarySample {
  outstanding: number;
  appliesPerS: number;
  p50Ms: number;
  p99Ms: number;
  /** CPU seconds of the whole process (three nodes) per 1,000 applies. */
  cpuPer1k: number;
  /** The measured window on the monotonic clock in µs (to cut a --cpu-prof profile to it). */
  windowUs: { fromUs: number; untilUs: number };
}

async function measure(
  leader: RaftNode,
  outstanding: number,
  warmupS: number,
  durationS: number,
): Promise<LibrarySample> {
  const latencies: number[] = [];
  const start = performance.now();
  const startUs = Number(process.hrtime.bigint() / 1000n);
  const from = start + warmupS * 1000;
  const until = from + durationS * 1000;
  const lane = async () => {
    for (let now = performance.now(); now < until; now = performance.now()) {
      await leader.raft.apply(PAYLOAD, { timeout: 30_000 });
      const done = performance.now();
      if (done >= from && done <= until) latencies.push(done - now);
    }
  };
  const lanes = Promise.all(Array.from({ length: outstanding }, lane));
  await sleep(warmupS * 1000);
  const cpuFrom = process.cpuUsage();
  await sleep(until - performance.now());
  const cpu = process.cpuUsage(cpuFrom);
  await lanes;
  latencies.sort((a, b) => a - b);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  return {
    outstanding,
    appliesPerS: latencies.length / durationS,
    p50Ms: percentile(latencies, 0.5),
    p99Ms: percentile(latencies, 0.99),
    cpuPer1k: (cpuSeconds / latencies.length) * 1000,
    windowUs: { fromUs: startUs + warmupS * 1e6, untilUs: startUs + (warmupS + durationS) * 1e6 },
  };
}

export async function runLibraryBench(options: {
  dir: string;
  outstanding: number[];
  warmupS: number;
  durationS: number;
}): Promise<LibrarySample[]> {
  const addrs: string[] = [];
  for (let i = 0; i < 3; i++) addrs.push(`127.0.0.1:${await freePort()}`);
  const nodes = await Promise.all(
    addrs.map((addr, i) =>
      RaftNode.createAndBootstrap({
        addr,
        nodeAddrs: addrs,
        dir: join(options.dir, `node${i}`),
        fsm: new CountingFsm(),
      }),
    ),
  );
  try {
    const leader = await waitFor(() => nodes.find((node) => node.isLeader()), {
      timeoutMs: 30_000,
      what: 'a leader',
    });
    const samples: LibrarySample[] = [];
    for (const outstanding of options.outstanding) {
      samples.push(await measure(leader, outstanding, options.warmupS, options.durationS));
    }
    return samples;
  } finally {
    await Promise.all(nodes.map((node) => node.close()));
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      dir: { type: 'string' },
      outstanding: { type: 'string', default: '1,64,1024' },
      warmup: { type: 'string', default: '1' },
      duration: { type: 'string', default: '10' },
    },
  });
  if (values.dir === undefined) throw new Error('--dir is required (an empty directory to hold the stores)');
  const samples = await runLibraryBench({
    dir: values.dir,
    outstanding: values.outstanding.split(',').map(Number),
    warmupS: Number(values.warmup),
    durationS: Number(values.duration),
  });
  process.stdout.write(`${JSON.stringify(samples)}\n`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
