/** The real Clock and Random: the only place raftkit reads the system clock or rolls dice. */
import { performance } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import type { Clock, Random, Timer } from '../core/clock.js';

/** The real Clock: monotonic `now()` from performance.now(), wall time from Date, Node timers and turns. */
export const systemClock: Clock = {
  now: () => performance.now(),
  wallTime: () => Date.now(),
  setTimer(delayMs: number, fn: () => void): Timer {
    const handle = setTimeout(fn, Math.max(0, delayMs));
    return { cancel: () => clearTimeout(handle) };
  },
  afterTurn(fn: () => void): void {
    setImmediate(fn);
  },
};

/** Seeded from the OS; deterministic PRNGs for tests live in src/testing. */
export const systemRandom: Random = {
  next: () => Math.random(),
};

/** A cryptographically seeded source for IDs (not for timing). */
export function randomHex(bytes: number): string {
  return randomBytes(bytes).toString('hex');
}

/** Resolves after ms on the given clock; rejects if the signal aborts first. */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
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
