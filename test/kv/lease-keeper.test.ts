/**
 * Lease expiry (src/kv/lease-keeper.ts) on a manual clock: the leader's countdowns, keepalives,
 * countdowns restarted by every new term (never an early expiry), followers that count nothing,
 * and a mass expiry proposed a bounded number at a time.
 */
import { describe, expect, it } from 'vitest';
import { encodeCommand } from '../../src/kv/commands.js';
import { LeaseKeeper } from '../../src/kv/lease-keeper.js';
import { silentLogger } from '../../src/raft/logger.js';
import { ManualClock } from '../transport/helpers.js';
import { FakeSingleNodeCluster } from './fake-cluster.js';

function setup(options: { maxRevokesInFlight?: number } = {}) {
  const clock = new ManualClock();
  const cluster = new FakeSingleNodeCluster();
  const keeper = new LeaseKeeper({
    cluster,
    fsm: cluster.fsm,
    clock,
    logger: silentLogger,
    checkIntervalMs: 100,
    ...options,
  });
  const grant = async (ttl: number, key?: string) => {
    const { index } = await cluster.apply(encodeCommand({ op: 'lease-grant', ttl }));
    if (key !== undefined) {
      await cluster.apply(
        encodeCommand({
          op: 'txn',
          compare: [],
          success: [{ op: 'put', key, value: Buffer.from('v'), lease: index }],
          failure: [],
        }),
      );
    }
    return index;
  };
  /** Advances in check-interval steps (timers armed by a firing timer fire on a later step). */
  const advance = async (ms: number) => {
    for (let t = 0; t < ms; t += 100) {
      clock.advance(Math.min(100, ms - t));
      await new Promise((resolve) => setImmediate(resolve));
    }
  };
  return { clock, cluster, keeper, grant, advance };
}

describe('LeaseKeeper', () => {
  it('expires a lease on the leader once its TTL has passed, not before, deleting its keys', async () => {
    const { cluster, keeper, grant, advance } = setup();
    keeper.check();
    const id = await grant(2, 'session/a');
    await advance(1900);
    expect(cluster.fsm.lease(id)).toBeDefined();
    expect(keeper.remainingMs(id)).toBe(100);
    await advance(200);
    expect(cluster.fsm.lease(id)).toBeUndefined();
    expect(cluster.fsm.get('session/a')).toBeUndefined();
    expect(keeper.expired).toBe(1);
    keeper.stop();
  });

  it('a keepalive restarts the countdown at the full TTL; a gone lease answers null', async () => {
    const { cluster, keeper, grant, advance } = setup();
    keeper.check();
    const id = await grant(2);
    await advance(1500);
    expect(keeper.keepAlive(id)).toBe(2);
    await advance(1500);
    expect(cluster.fsm.lease(id)).toBeDefined();
    await advance(600);
    expect(cluster.fsm.lease(id)).toBeUndefined();
    expect(keeper.keepAlive(id)).toBeNull();
    keeper.stop();
  });

  it('counts nothing on a follower, and a new term restarts every countdown at the full TTL', async () => {
    const { cluster, keeper, grant, advance } = setup();
    keeper.check();
    const id = await grant(3);
    await advance(2500);
    // Leadership moves away, then comes back in a later term: 2.5 s had passed, yet the new term
    // must not expire the lease before a whole TTL (another leader may have had a keepalive).
    cluster.follow('n2');
    await advance(1000);
    expect(keeper.remainingMs(id)).toBeNull();
    cluster.state = 'Leader';
    cluster.leader = { id: 'n1', address: cluster.address };
    cluster.term = 2;
    await advance(2900);
    expect(cluster.fsm.lease(id)).toBeDefined();
    await advance(300);
    expect(cluster.fsm.lease(id)).toBeUndefined();
    keeper.stop();
  });

  it('restarts the countdowns when leadership moves and comes back between two checks (the term changed)', async () => {
    const { cluster, keeper, grant, advance } = setup();
    keeper.check();
    const id = await grant(3);
    await advance(2500);
    cluster.term = 5; // lost and won again, unseen by the keeper's checks
    await advance(2900);
    expect(cluster.fsm.lease(id)).toBeDefined();
    await advance(300);
    expect(cluster.fsm.lease(id)).toBeUndefined();
    keeper.stop();
  });

  it('proposes a mass expiry a bounded number at a time, and each lease once', async () => {
    const { cluster, keeper, grant, advance } = setup({ maxRevokesInFlight: 4 });
    keeper.check();
    for (let i = 0; i < 40; i++) await grant(1);
    // Hold every revocation in flight to see how many the keeper proposes at once.
    const held: (() => void)[] = [];
    const apply = cluster.apply.bind(cluster);
    const proposed: string[] = [];
    cluster.apply = (data) => {
      proposed.push(Buffer.from(data).toString());
      return new Promise((resolve) => held.push(() => resolve(apply(data))));
    };
    await advance(1500);
    expect(held.length).toBe(4);
    await advance(1000);
    expect(held.length).toBe(4);
    while (held.length > 0) {
      for (const release of held.splice(0)) release();
      await advance(200);
    }
    expect(cluster.fsm.leaseCount).toBe(0);
    expect(new Set(proposed).size).toBe(40);
    expect(proposed.length).toBe(40);
    expect(JSON.parse(proposed[0])).toMatchObject({ op: 'lease-revoke', reason: 'expire' });
    keeper.stop();
  });

  it('never expires a pinned lease (a request waits for a lock with it); unpinning restarts it', async () => {
    const { cluster, keeper, grant, advance } = setup();
    keeper.check();
    const id = await grant(1);
    keeper.pin(id);
    await advance(5000);
    expect(cluster.fsm.lease(id)).toBeDefined();
    keeper.unpin(id);
    await advance(900);
    expect(cluster.fsm.lease(id)).toBeDefined();
    await advance(300);
    expect(cluster.fsm.lease(id)).toBeUndefined();
    keeper.stop();
  });
});
