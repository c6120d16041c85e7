/**
 * Seeds on every core: runSeeds with one worker thread per job. Each seed's run is the same as
 * in one thread (a seed decides everything), so only the wall-clock time changes.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { runSeeds, type SeedRunOptions, type SeedRunSummary, type SeedRunner } from './run-seeds.js';
import type { SimulationResult } from './simulation.js';

/** The default number of jobs: one per core. */
export function defaultJobs(): number {
  return availableParallelism();
}

/**
 * runSeeds over `jobs` worker threads. Worker threads need the compiled kit (dist); run from
 * TypeScript sources (as under vitest) it runs in this thread.
 */
export async function runSeedsInWorkers(options: SeedRunOptions, jobs: number): Promise<SeedRunSummary> {
  const script = new URL('./seed-worker.js', import.meta.url);
  if (jobs <= 1 || import.meta.url.endsWith('.ts')) return withoutStacks(() => runSeeds(options));
  const workers = Array.from({ length: jobs }, () => new Worker(script, { workerData: options }));
  try {
    const runners = workers.map(
      (worker): SeedRunner =>
        (seed) =>
          new Promise<SimulationResult>((resolve, reject) => {
            worker.once('message', resolve);
            worker.once('error', reject);
            worker.postMessage(seed);
          }).finally(() => worker.removeAllListeners('error')),
    );
    return await runSeeds(options, runners);
  } finally {
    await Promise.all(workers.map((worker) => worker.terminate()));
  }
}

/**
 * Runs `fn` with error stacks off (as the worker threads run, seed-worker.ts): no run reads a
 * stack, and capturing one for every refused write and timed-out RPC is 5-7% of a run.
 */
async function withoutStacks<T>(fn: () => Promise<T>): Promise<T> {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return await fn();
  } finally {
    Error.stackTraceLimit = limit;
  }
}
