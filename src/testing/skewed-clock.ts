/**
 * A Clock that runs off another one at a changeable rate and with jumps, for clock faults in chaos
 * runs (`kv serve --debug-clock`): a node whose clock is fast, slow or jumps must stay safe, since
 * nothing in Raft may rely on clocks agreeing across nodes. It keeps the Clock contract a real
 * monotonic clock keeps: `now()` never goes back (a jump moves it forward only); the wall clock,
 * which only labels things for people, may jump either way. Timers scale with the rate, as a fast
 * or slow oscillator would make them. Test-only: production uses the platform clock directly.
 */
import type { Clock, Timer } from '../core/clock.js';

/** Bounds on what a fault may ask of the clock, so that a bad request cannot stall a node forever. */
export const SKEW_RATE_MIN = 0.1;
/** The fastest rate a SkewedClock accepts. */
export const SKEW_RATE_MAX = 10;
/** The largest single jump, in ms (a day). */
export const SKEW_JUMP_MAX_MS = 86_400_000;

/** What a clock fault changes: a forward jump of `now()`, a jump of the wall clock, a new rate. */
export interface ClockSkew {
  /** Moves `now()` forward by this many ms (>= 0). */
  jumpMs?: number;
  /** Moves the wall clock by this many ms (either sign). */
  wallJumpMs?: number;
  /** From now on the clock advances `rate` ms per ms of the base clock (SKEW_RATE_MIN..MAX). */
  rate?: number;
}

/** A Clock derived from `base`: `now()` = anchor + (base.now() - baseAnchor) * rate + jumps. */
export class SkewedClock implements Clock {
  private rate = 1;
  private anchor: number;
  private baseAnchor: number;
  private wallOffset = 0;

  /** Starts in step with `base`: rate 1, no jump. */
  constructor(private readonly base: Clock) {
    this.anchor = base.now();
    this.baseAnchor = this.anchor;
  }

  /** The base clock's time since the last change, at the current rate, plus the jumps so far. */
  now(): number {
    return this.anchor + (this.base.now() - this.baseAnchor) * this.rate;
  }

  /** The base wall clock plus the wall jumps so far. */
  wallTime(): number {
    return this.base.wallTime() + this.wallOffset;
  }

  /** A base timer for `delayMs` of this clock's time (shorter when it runs fast). */
  setTimer(delayMs: number, fn: () => void): Timer {
    return this.base.setTimer(Math.max(0, delayMs) / this.rate, fn);
  }

  /** The current rate (1: the base clock's pace). */
  get currentRate(): number {
    return this.rate;
  }

  /** Applies a skew; throws a RangeError (changing nothing) when a field is out of bounds. */
  apply(skew: ClockSkew): void {
    const { jumpMs = 0, wallJumpMs = 0, rate = this.rate } = skew;
    if (!(Number.isFinite(jumpMs) && jumpMs >= 0 && jumpMs <= SKEW_JUMP_MAX_MS)) {
      throw new RangeError(`clock skew: jumpMs must be 0..${SKEW_JUMP_MAX_MS}, got ${jumpMs}`);
    }
    if (!(Number.isFinite(wallJumpMs) && Math.abs(wallJumpMs) <= SKEW_JUMP_MAX_MS)) {
      throw new RangeError(`clock skew: wallJumpMs must be within ±${SKEW_JUMP_MAX_MS}, got ${wallJumpMs}`);
    }
    if (!(Number.isFinite(rate) && rate >= SKEW_RATE_MIN && rate <= SKEW_RATE_MAX)) {
      throw new RangeError(`clock skew: rate must be ${SKEW_RATE_MIN}..${SKEW_RATE_MAX}, got ${rate}`);
    }
    // Re-anchor first so that the time elapsed so far keeps the old rate.
    this.anchor = this.now() + jumpMs;
    this.baseAnchor = this.base.now();
    this.rate = rate;
    this.wallOffset += wallJumpMs;
  }
}
