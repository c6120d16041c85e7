// node bench/c1-disk/steps.mjs DIR...: for each `c1-cluster.sh kv` run, the load generator's c1 p50 and the
// median of each step of bench/c1-trace.ts (needs the bench build: npx tsc -p tsconfig.bench.json).
import { readFileSync } from 'node:fs';
import { readC1Steps } from '../../dist-bench/bench/c1-trace.js';

for (const dir of process.argv.slice(2)) {
  const steps = readC1Steps(`${dir}/trace`);
  const load = JSON.parse(readFileSync(`${dir}/load.json`, 'utf8'));
  console.log(
    `${dir}: loadgen c1 p50 ${load.latency_ms.p50.toFixed(2)} ms; ${steps.requests} writes traced, median ${steps.totalMs.toFixed(3)} ms`,
  );
  for (const step of steps.steps) console.log(`  ${step.ms.toFixed(3)}  ${step.name}`);
}
