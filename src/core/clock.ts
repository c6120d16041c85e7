/**
 * Time and chance enter raftkit only through these interfaces. The real implementations live in
 * src/platform; the simulator supplies virtual ones, so a whole cluster replays from a seed.
 */

/** A timer armed by Clock.setTimer. */
export interface Timer {
  /** Disarms it; nothing happens if it already fired. */
  cancel(): void;
}

/** The only source of time in raftkit (pass a virtual one to run a cluster deterministically). */
export interface Clock {
  /** Monotonic milliseconds (never goes back). */
  now(): number;
  /** Wall-clock milliseconds since the Unix epoch (for timestamps shown to people, never for timeouts). */
  wallTime(): number;
  /** Calls fn once, after delayMs. */
  setTimer(delayMs: number, fn: () => void): Timer;
  /**
   * Calls fn once, after the I/O callbacks of the current turn of the event loop (setImmediate),
   * so that work they all produce is done once (the runtime's batching). Optional: without it,
   * as with the simulator's virtual clock, which never turns the real loop, fn runs on a microtask.
   */
  afterTurn?(fn: () => void): void;
}

/** The only source of chance in raftkit (election timeouts); pass a seeded one to replay runs. */
export interface Random {
  /** Uniform in [0, 1). */
  next(): number;
}

/** Uniform integer in [lo, hi). */
export function randomBetween(random: Random, lo: number, hi: number): number {
  return lo + Math.floor(random.next() * (hi - lo));
}
