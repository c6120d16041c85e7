/**
 * The client's time and chance. `raftkit/client` may not import the library (src/platform holds
 * the project's real Clock), so it carries this small one of its own; it is the only file of the
 * client that reads the system clock, sets timers or rolls dice (eslint.config.js exempts it as it
 * exempts src/platform), and tests inject a manual one through `KvClientOptions.clock`.
 */
import { performance } from 'node:perf_hooks';

/** A pending timer. */
export interface ClientTimer {
  /** Stops the timer if it has not fired. */
  cancel(): void;
}

/** Monotonic milliseconds and timers: structurally the library's `Clock`, so either may be passed. */
export interface ClientClock {
  /** Monotonic milliseconds. */
  now(): number;
  /** Calls `fn` once after `delayMs`. */
  setTimer(delayMs: number, fn: () => void): ClientTimer;
}

/**
 * The real clock: `performance.now()` and Node timers. Timers are ref'd on purpose: an open lease,
 * lock or watch keeps the process alive until it is closed, as an open socket would.
 */
export const systemClientClock: ClientClock = {
  now: () => performance.now(),
  setTimer(delayMs, fn) {
    const handle = setTimeout(fn, Math.max(0, delayMs));
    return { cancel: () => clearTimeout(handle) };
  },
};

/** A number in [0, 1) for backoff jitter (not for anything secret). */
export const systemJitter = (): number => Math.random();

/** Resolves after `ms` on `clock`, or rejects with the signal's reason once it aborts. */
export function delay(clock: ClientClock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason as Error);
    const timer = clock.setTimer(ms, () => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    });
    const onAbort = () => {
      timer.cancel();
      reject(signal!.reason as Error);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
