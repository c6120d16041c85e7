/** The caller's waits (raft/pending.ts): keyed futures with timeouts and AbortSignals written once. */
import { describe, expect, it } from 'vitest';
import { ErrAborted, ErrApplyTimeout, ErrEnqueueTimeout, ErrLeadershipLost } from '../../src/core/errors.js';
import { PendingRequests, Waits } from '../../src/raft/pending.js';
import { Scheduler } from '../../src/testing/scheduler.js';

function virtualTime() {
  const scheduler = new Scheduler();
  const clock = scheduler.clockFor(() => true);
  /** Runs every timer due up to `time`; returns how many ran. */
  const advance = async (time: number) => {
    let ran = 0;
    while (scheduler.step(time)) ran++;
    await new Promise((resolve) => setImmediate(resolve));
    return ran;
  };
  return { clock, advance };
}

/** How each promise ended, in the order they ended. */
function outcomes<T>(promises: Record<string, Promise<T>>): string[] {
  const seen: string[] = [];
  for (const [name, promise] of Object.entries(promises)) {
    promise.then(
      (value) => seen.push(`${name}=${String(value)}`),
      (error: Error) => seen.push(`${name}!${error.name}`),
    );
  }
  return seen;
}

describe('PendingRequests', () => {
  it('a wait fails with ErrApplyTimeout once its timeout passes, and not before', async () => {
    const { clock, advance } = virtualTime();
    const pending = new PendingRequests<number>(clock);
    const seen = outcomes({ a: pending.wait(7, { timeout: 100 }) });
    await advance(99);
    expect(seen).toEqual([]);
    await advance(100);
    expect(seen).toEqual(['a!ErrApplyTimeout']);
    expect(pending.size).toBe(0);
    pending.resolve(7, 1); // too late: nothing is waiting
    await advance(200);
    expect(seen).toEqual(['a!ErrApplyTimeout']);
  });

  it('a wait fails with ErrAborted when its signal fires', async () => {
    const { clock, advance } = virtualTime();
    const pending = new PendingRequests<number>(clock);
    const controller = new AbortController();
    const seen = outcomes({ a: pending.wait(1, { signal: controller.signal }), b: pending.wait(1) });
    controller.abort();
    await advance(0);
    expect(seen).toEqual(['a!ErrAborted']);
    pending.resolve(1, 5);
    await advance(0);
    expect(seen).toEqual(['a!ErrAborted', 'b=5']);
  });

  it('settling disarms the timer and the abort listener', async () => {
    const { clock, advance } = virtualTime();
    const pending = new PendingRequests<number>(clock);
    const controller = new AbortController();
    const seen = outcomes({ a: pending.wait(3, { timeout: 50, signal: controller.signal }) });
    pending.resolve(3, 9);
    controller.abort();
    // The cancelled timer never runs.
    expect(await advance(1000)).toBe(0);
    expect(seen).toEqual(['a=9']);
  });

  it('onExpire undoes what the wait started and picks the error', async () => {
    const { clock, advance } = virtualTime();
    const pending = new PendingRequests<number>(clock);
    const cancelled: number[] = [];
    const onExpire = (error: Error) => {
      cancelled.push(4);
      return error instanceof ErrApplyTimeout ? new ErrEnqueueTimeout() : error;
    };
    const seen = outcomes({ a: pending.wait(4, { timeout: 10 }, { onExpire }) });
    await advance(10);
    expect(seen).toEqual(['a!ErrEnqueueTimeout']);
    expect(cancelled).toEqual([4]);
  });

  it('resolveUpTo settles keys in ascending order, whatever order they were added in', async () => {
    const { clock, advance } = virtualTime();
    const pending = new PendingRequests<void>(clock);
    const seen = outcomes({
      at9: pending.wait(9),
      at3: pending.wait(3),
      at5: pending.wait(5),
      alsoAt3: pending.wait(3),
      at12: pending.wait(12),
    });
    pending.resolveUpTo(9, undefined);
    await advance(0);
    expect(seen).toEqual(['at3=undefined', 'alsoAt3=undefined', 'at5=undefined', 'at9=undefined']);
    expect(pending.size).toBe(1);
  });

  it('resolve refuses a wait whose tag does not match, and rejectAll filters by key', async () => {
    const { clock, advance } = virtualTime();
    const pending = new PendingRequests<string>(clock);
    const seen = outcomes({
      term2: pending.wait(10, {}, { tag: 2 }),
      term3: pending.wait(11, {}, { tag: 3 }),
      later: pending.wait(12),
      latest: pending.wait(13),
    });
    const refuse = (tag: number) => (tag === 3 ? null : new ErrLeadershipLost());
    pending.resolve(10, 'x', refuse);
    pending.resolve(11, 'y', refuse);
    pending.rejectAll(
      () => new ErrAborted(),
      (key) => key > 12,
    );
    await advance(0);
    expect(seen).toEqual(['term2!ErrLeadershipLost', 'term3=y', 'latest!ErrAborted']);
    expect(pending.size).toBe(1);
  });
});

describe('PendingRequests timeouts: one timer for all the waits', () => {
  /** The virtual clock, counting the timers armed through it. */
  function countingTime() {
    const time = virtualTime();
    let armed = 0;
    const clock = {
      ...time.clock,
      now: () => time.clock.now(),
      wallTime: () => time.clock.wallTime(),
      setTimer: (delay: number, fn: () => void) => {
        armed++;
        return time.clock.setTimer(delay, fn);
      },
    };
    return { clock, advance: time.advance, armed: () => armed };
  }

  it('a thousand applies with the same timeout arm one timer, not one each', async () => {
    const { clock, advance, armed } = countingTime();
    const pending = new PendingRequests<number>(clock);
    const results: Promise<number>[] = [];
    for (let key = 1; key <= 1000; key++) results.push(pending.wait(key, { timeout: 5000 }));
    for (let key = 1; key <= 1000; key++) pending.resolve(key, key);
    expect(await Promise.all(results)).toHaveLength(1000);
    expect(armed()).toBe(1);
    // Nothing is left armed: no timeout fires later.
    expect(await advance(10_000)).toBe(0);
  });

  it('waits with different timeouts each fail at their own deadline, earliest first', async () => {
    const { clock, advance } = countingTime();
    const pending = new PendingRequests<number>(clock);
    const seen = outcomes({
      a: pending.wait(1, { timeout: 300 }),
      b: pending.wait(2, { timeout: 100 }),
      c: pending.wait(3, { timeout: 200 }),
      d: pending.wait(4, { timeout: 200 }),
      untimed: pending.wait(5),
    });
    await advance(99);
    expect(seen).toEqual([]);
    await advance(100);
    expect(seen).toEqual(['b!ErrApplyTimeout']);
    pending.resolve(4, 44);
    await advance(199);
    expect(seen).toEqual(['b!ErrApplyTimeout', 'd=44']);
    await advance(200);
    expect(seen).toEqual(['b!ErrApplyTimeout', 'd=44', 'c!ErrApplyTimeout']);
    await advance(300);
    expect(seen).toEqual(['b!ErrApplyTimeout', 'd=44', 'c!ErrApplyTimeout', 'a!ErrApplyTimeout']);
    expect(pending.size).toBe(1);
  });

  it('a steady stream of settled waits keeps the timed list about as long as the waits in flight', async () => {
    const { clock } = countingTime();
    const pending = new PendingRequests<number>(clock);
    for (let key = 1; key <= 10_000; key++) {
      void pending.wait(key, { timeout: 60_000 });
      if (key > 8) pending.resolve(key - 8, key); // 8 in flight
    }
    expect(pending.size).toBe(8);
    // The list is private; its bound is the point of this test.
    expect((pending as unknown as { timed: unknown[] }).timed.length).toBeLessThanOrEqual(2 * 8 + 32);
  });
});

describe('Waits', () => {
  it('failAll fails every kind of wait', async () => {
    const { clock, advance } = virtualTime();
    const waits = new Waits(clock);
    const seen = outcomes<unknown>({
      apply: waits.applies.wait(1),
      applied: waits.applied.wait(1),
      read: waits.reads.wait(1),
      membership: waits.membership.wait(1),
      transfer: waits.transfer.wait(0),
    });
    waits.failAll(() => new ErrLeadershipLost('gone'));
    await advance(0);
    expect(seen.sort()).toEqual(
      ['apply', 'applied', 'membership', 'read', 'transfer']
        .map((name) => `${name}!ErrLeadershipLost`)
        .sort(),
    );
  });
});
