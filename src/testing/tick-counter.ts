/**
 * Counts the process.nextTick calls made in this thread, so that the simulator knows when a step
 * left no tick-chained work behind (see Simulation.settle). Node gives no way to see its tick
 * queue; a counting wrapper around process.nextTick, installed once per thread, is the cheapest
 * way to know. It forwards every call unchanged.
 */
let queued = 0;
let installed = false;

/** process.nextTick calls made since the counter was installed (it installs on first use). */
export function ticksQueued(): number {
  if (!installed) install();
  return queued;
}

function install(): void {
  installed = true;
  const original = process.nextTick;
  process.nextTick = function countedNextTick(...args: Parameters<typeof process.nextTick>): void {
    queued++;
    original.apply(process, args);
  } as typeof process.nextTick;
}

/**
 * Rounds of process.nextTick awaited after each event so that the work it started (every
 * microtask and process.nextTick it queued; streams hop through a few of each) completes within
 * this turn of the event loop. Virtual time needs no real turn of it: one setImmediate per step
 * was a third of a run's time, idle.
 */
export const SETTLE_ROUNDS = 4;

/** A promise executor resolving after the ticks queued so far (one function, no closure per round). */
export const afterTicks = (resolve: () => void): void => process.nextTick(resolve);
