import { describe, expect, it } from 'vitest';
import type { Peer, TimeoutNowRequest } from '../../src/core/types.js';
import { SeededRandom } from '../../src/testing/prng.js';
import { Scheduler } from '../../src/testing/scheduler.js';
import { SimNetwork } from '../../src/testing/sim-network.js';
import { InmemTransport } from '../../src/transport/inmem.js';

function runAll(scheduler: Scheduler, ms = 1000): void {
  const until = scheduler.now + ms;
  while (scheduler.step(until));
}

describe('Scheduler', () => {
  it("runs events in (time, insertion) order, never a cancelled one, nor a dead process's timers", () => {
    const scheduler = new Scheduler();
    const ran: string[] = [];
    scheduler.after(5, () => ran.push('b'));
    scheduler.after(1, () => ran.push('a'));
    scheduler.after(5, () => ran.push('c'));
    scheduler.after(3, () => ran.push('cancelled')).cancel();
    let alive = true;
    const clock = scheduler.clockFor(() => alive);
    clock.setTimer(4, () => ran.push('timer'));
    clock.setTimer(6, () => ran.push('timer after the crash'));
    const cancelled = clock.setTimer(2, () => ran.push('cancelled timer'));
    cancelled.cancel();
    scheduler.after(5, () => (alive = false));
    runAll(scheduler, 100);
    expect(ran).toEqual(['a', 'timer', 'b', 'c']);
    expect(scheduler.now).toBe(100);
  });
});

describe('SimNetwork links', () => {
  const b: Peer = { id: 'b', address: 'sim:b' };

  function pair() {
    const scheduler = new Scheduler();
    const network = new SimNetwork(scheduler, new SeededRandom(3));
    const a = new InmemTransport(network, 'sim:a');
    const target = new InmemTransport(network, b.address);
    const received: number[] = [];
    target.setHandler((rpc) => {
      received.push(scheduler.now);
      rpc.respond({});
    });
    const answered: number[] = [];
    const request: TimeoutNowRequest = { kind: 'timeoutNow', term: 1, from: { id: 'a', address: 'sim:a' } };
    const send = () => void a.timeoutNow(b, request).then(() => answered.push(scheduler.now));
    // Each step's promise reactions run before the next step, as in the simulator.
    const run = async (ms = 1000) => {
      const until = scheduler.now + ms;
      while (scheduler.step(until)) for (let i = 0; i < 4; i++) await Promise.resolve();
    };
    return { scheduler, network, received, answered, send, run };
  }

  it('a cut link drops every message, also one already on it; each link counts once; heal restores it', async () => {
    const { network, received, answered, send, run } = pair();
    send();
    await run();
    expect([received.length, answered.length]).toEqual([1, 1]);

    network.cutLink('sim:a', b.address);
    network.cutLink('sim:a', b.address);
    expect(network.cutLinks).toBe(1);
    send();
    await run();
    expect(received).toHaveLength(1);

    network.heal();
    expect(network.cutLinks).toBe(0);
    send();
    // Cut while the request travels: it never arrives.
    network.cutLink('sim:a', b.address);
    await run();
    expect(received).toHaveLength(1);

    network.heal();
    send();
    // Only the response's direction cut: the request arrives, its answer does not.
    network.cutLink(b.address, 'sim:a');
    await run();
    expect([received.length, answered.length]).toEqual([2, 1]);
  });

  it('a slow link adds its latency one way until heal', async () => {
    const { scheduler, network, received, send, run } = pair();
    network.slowLink('sim:a', b.address, 200);
    let sentAt = scheduler.now;
    send();
    await run();
    // Calm latency is 1-5 ms; the slow link adds 200.
    expect(received[0] - sentAt).toBeGreaterThanOrEqual(201);
    expect(received[0] - sentAt).toBeLessThanOrEqual(205);
    network.heal();
    sentAt = scheduler.now;
    send();
    await run();
    expect(received[1] - sentAt).toBeLessThanOrEqual(5);
  });
});
