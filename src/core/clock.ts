/**
 * Time and chance enter raftkit only through these interfaces. The real implementations live in
 * src/platform; the simulator supplies virtual ones, so a whole cluster replays from a seed.
 */

export interface Timer {
  cancel(): void;
}

export interface Clock {
  /** Monotonic milliseconds (never goes back). */
  now(): number;
  /** Wall-clock milliseconds since the Unix epoch (for timestamps shown to people, never for timeouts). */
  wallTime(): number;
  /** Calls fn once, after delayMs. */
  setTimer(delayMs: number, fn: () => void): Timer;
}

export interface Random {
  /** Uniform in [0, 1). */
  next(): number;
}

/** Uniform integer in [lo, hi). */
export function randomBetween(random: Random, lo: number, hi: number): number {
  return lo + Math.floor(random.next() * (hi - lo));
}
