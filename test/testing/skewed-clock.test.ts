/** SkewedClock: the clock `kv serve --debug-clock` runs on in chaos runs. */
import { describe, expect, it } from 'vitest';
import type { Clock, Timer } from '../../src/core/clock.js';
import { SkewedClock } from '../../src/testing/skewed-clock.js';

/** A base clock moved by hand, recording the delays timers were set with. */
function manualClock(): Clock & { advance(ms: number): void; delays: number[] } {
  let now = 1000;
  const delays: number[] = [];
  return {
    now: () => now,
    wallTime: () => 1_700_000_000_000 + now,
    setTimer(delayMs: number): Timer {
      delays.push(delayMs);
      return { cancel() {} };
    },
    advance(ms: number) {
      now += ms;
    },
    delays,
  };
}

describe('SkewedClock', () => {
  it('follows its base clock until skewed', () => {
    const base = manualClock();
    const clock = new SkewedClock(base);
    base.advance(250);
    expect(clock.now()).toBe(base.now());
    expect(clock.wallTime()).toBe(base.wallTime());
  });

  it('jumps now() forward, runs at the new rate from the moment of the change, and scales timers', () => {
    const base = manualClock();
    const clock = new SkewedClock(base);
    base.advance(100);
    clock.apply({ jumpMs: 500, rate: 2 });
    expect(clock.now()).toBe(base.now() + 500);
    base.advance(100);
    expect(clock.now()).toBe(base.now() - 100 + 500 + 200);
    clock.setTimer(300, () => {});
    expect(base.delays.at(-1)).toBe(150);
    const before = clock.now();
    clock.apply({ rate: 1 });
    base.advance(10);
    expect(clock.now()).toBe(before + 10);
  });

  it('moves the wall clock either way but never lets now() go back', () => {
    const base = manualClock();
    const clock = new SkewedClock(base);
    clock.apply({ wallJumpMs: -60_000 });
    expect(clock.wallTime()).toBe(base.wallTime() - 60_000);
    const before = clock.now();
    expect(() => clock.apply({ jumpMs: -1 })).toThrow(RangeError);
    expect(clock.now()).toBe(before);
  });

  it('refuses rates and jumps out of bounds, and values that are not numbers, changing nothing', () => {
    const base = manualClock();
    const clock = new SkewedClock(base);
    for (const skew of [
      { rate: 0 },
      { rate: 11 },
      { rate: NaN },
      { jumpMs: 1e12 },
      { wallJumpMs: Infinity },
    ]) {
      expect(() => clock.apply(skew)).toThrow(RangeError);
    }
    expect(() => clock.apply({ rate: '2' as unknown as number })).toThrow(RangeError);
    expect(clock.currentRate).toBe(1);
    base.advance(10);
    expect(clock.now()).toBe(base.now());
  });
});
