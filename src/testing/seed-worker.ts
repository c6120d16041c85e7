/** A worker thread of `runSeedsInWorkers`: runs the seeds it is sent and posts back each result. */
import { parentPort, workerData } from 'node:worker_threads';
import { seedOptions, type SeedRunOptions } from './run-seeds.js';
import { runSimulation } from './simulation.js';

// Nothing in a run reads an error's stack, and capturing one for every refused write and timed-out
// RPC was 5-7% of a run (profile of `raftkit sim`). This thread only runs seeds.
Error.stackTraceLimit = 0;
const options = workerData as SeedRunOptions;
parentPort!.on('message', (seed: number) => {
  void runSimulation(seedOptions(options, seed)).then((result) => parentPort!.postMessage(result));
});
