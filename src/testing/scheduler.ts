/**
 * Virtual time for the simulator: one queue of events ordered by (time, insertion). Each node gets
 * a Clock view whose timers die with the node (a crash silences everything the old process
 * scheduled), so a dead runtime can never act again.
 */
import type { Clock, Timer } from '../core/clock.js';
import { SkewedClock } from './skewed-clock.js';

/**
 * One queued callback; it is its own Timer (a timer armed per message and per deadline: no
 * closure or wrapper object per event). `alive`, when set, must still hold for `fn` to run.
 */
class Event implements Timer {
  cancelled = false;

  constructor(
    readonly at: number,
    readonly seq: number,
    readonly fn: () => void,
    readonly alive: (() => boolean) | null,
  ) {}

  cancel(): void {
    this.cancelled = true;
  }
}

/** Epoch of the simulated wall clock (only shown in timestamps). */
const WALL_EPOCH = 1_700_000_000_000;

/**
 * Virtual time: a queue of timed callbacks that `step` runs one at a time, jumping the clock to
 * each. `clockFor` gives each simulated process its Clock.
 */
export class Scheduler {
  /** The current virtual time, in ms since the start of the run. */
  now = 0;
  private seq = 0;
  private heap: Event[] = [];

  /** Schedules `fn` at virtual time `time` (not before now). */
  at(time: number, fn: () => void, alive: (() => boolean) | null = null): Timer {
    const event = new Event(Math.max(time, this.now), this.seq++, fn, alive);
    this.push(event);
    return event;
  }

  /** Schedules `fn` `delay` ms from now. */
  after(delay: number, fn: () => void, alive: (() => boolean) | null = null): Timer {
    return this.at(this.now + Math.max(0, delay), fn, alive);
  }

  /** Runs the next event; returns false when none is left before `until`. */
  step(until: number): boolean {
    while (this.heap.length > 0) {
      const event = this.pop();
      if (event.cancelled) continue;
      if (event.at > until) {
        this.push(event);
        this.now = until;
        return false;
      }
      this.now = event.at;
      if (event.alive === null || event.alive()) event.fn();
      return true;
    }
    this.now = until;
    return false;
  }

  /**
   * A Clock for one node process, skewable (rate, jumps) for clock faults; its timers stop firing
   * once `alive()` turns false.
   */
  clockFor(alive: () => boolean): SkewedClock {
    const base: Clock = {
      now: () => this.now,
      wallTime: () => WALL_EPOCH + this.now,
      // Whole virtual milliseconds, rounded up: a timer never fires before its deadline (a float
      // rounding short of it would make the runtime re-arm tiny timers forever).
      setTimer: (delay, fn) => this.after(Math.ceil(delay), fn, alive),
    };
    return new SkewedClock(base);
  }

  private push(event: Event): void {
    const heap = this.heap;
    heap.push(event);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (before(heap[parent], event)) break;
      heap[i] = heap[parent];
      i = parent;
    }
    heap[i] = event;
  }

  private pop(): Event {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop()!;
    if (heap.length > 0) {
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        if (left >= heap.length) break;
        const right = left + 1;
        const child = right < heap.length && before(heap[right], heap[left]) ? right : left;
        if (before(last, heap[child])) break;
        heap[i] = heap[child];
        i = child;
      }
      heap[i] = last;
    }
    return top;
  }
}

function before(a: Event, b: Event): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}
