/**
 * Virtual time for the simulator: one queue of events ordered by (time, insertion). Each node gets
 * a Clock view whose timers die with the node (a crash silences everything the old process
 * scheduled), so a dead runtime can never act again.
 */
import type { Clock, Timer } from '../core/clock.js';

interface Event {
  at: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
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
  at(time: number, fn: () => void): Timer {
    const event: Event = { at: Math.max(time, this.now), seq: this.seq++, fn, cancelled: false };
    this.push(event);
    return { cancel: () => (event.cancelled = true) };
  }

  /** Schedules `fn` `delay` ms from now. */
  after(delay: number, fn: () => void): Timer {
    return this.at(this.now + Math.max(0, delay), fn);
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
      event.fn();
      return true;
    }
    this.now = until;
    return false;
  }

  /** A Clock for one node process; its timers stop firing once `alive()` turns false. */
  clockFor(alive: () => boolean): SkewedClock {
    return new SkewedClock(this, alive);
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

/**
 * One node's clock. Within the Clock contract (`now()` monotonic) a real clock can run at a
 * slightly different rate than true time and jump forward (a process or VM pause, a suspended
 * host); its wall clock can step either way (NTP). Timers run on the node's own clock: a timer of
 * `delay` ms fires after `delay / rate` ms of true (virtual) time.
 */
export class SkewedClock implements Clock {
  /** Local ms per true ms (1 = exact). */
  private rate = 1;
  /** Local time at `anchor` (true time). */
  private local: number;
  private anchor: number;
  /** Offset of the wall clock from the simulated epoch. */
  private wallOffset = 0;

  constructor(
    private readonly scheduler: Scheduler,
    private readonly alive: () => boolean,
  ) {
    this.local = scheduler.now;
    this.anchor = scheduler.now;
  }

  now(): number {
    return this.local + (this.scheduler.now - this.anchor) * this.rate;
  }

  wallTime(): number {
    return WALL_EPOCH + this.now() + this.wallOffset;
  }

  setTimer(delay: number, fn: () => void): Timer {
    const alive = this.alive;
    // Whole true milliseconds, rounded up: the timer never fires before its local deadline (a
    // float rounding short of it would make the runtime re-arm tiny timers forever).
    return this.scheduler.after(Math.ceil(delay / this.rate), () => alive() && fn());
  }

  /** Runs the clock at `rate` local ms per true ms from now on. */
  setRate(rate: number): void {
    this.local = this.now();
    this.anchor = this.scheduler.now;
    this.rate = rate;
  }

  /** The monotonic clock jumps forward by `ms` (never back: that would break the Clock contract). */
  jump(ms: number): void {
    this.local += Math.max(0, ms);
  }

  /** The wall clock steps by `ms`, either way (only timestamps see it). */
  stepWall(ms: number): void {
    this.wallOffset += ms;
  }
}
