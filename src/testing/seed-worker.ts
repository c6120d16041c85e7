/** A worker thread of `runSeedsInWorkers`: runs the seeds it is sent and posts back each result. */
import { parentPort, workerData } from 'node:worker_threads';
import { seedOptions, type SeedRunOptions } from './run-seeds.js';
import { runSimulation } from './simulation.js';

const options = workerData as SeedRunOptions;
parentPort!.on('message', (seed: number) => {
  void runSimulation(seedOptions(options, seed)).then((result) => parentPort!.postMessage(result));
});
