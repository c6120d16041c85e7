/**
 * A leader whose own process stalls (a long GC, a starved CPU, a blocking snapshot capture) for
 * longer than leaderLeaseTimeout keeps leading once it runs again: the answers its peers sent
 * meanwhile are still unread when its first timer fires, and check-quorum must not read that as
 * the peers' silence (issue 14: the 307/503/504 answers of `kv serve` under CPU contention).
 */
import { describe, expect, it } from 'vitest';
import { TestCluster } from './helpers.js';

/** Blocks this process's event loop, as a stall of the leader's process does. */
function stallEventLoop(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // busy: no timer, no I/O callback runs
  }
}

describe('check-quorum and a stalled leader', () => {
  it('a leader stalled for 3.5 leases keeps its leadership and its term, and commits on', async () => {
    // Followers wait 2-4 s before they campaign: far beyond the stall, so only check-quorum can end
    // this leadership.
    const cluster = await new TestCluster({
      heartbeatTimeout: 2000,
      electionTimeout: 2000,
      leaderLeaseTimeout: 200,
      commitTimeout: 20,
    }).start(['a', 'b', 'c']);
    try {
      const leader = await cluster.leader();
      await cluster.write(5, 'before');
      const term = leader.raft.currentTerm();
      const leadership: boolean[] = [];
      leader.raft.on('leadership', (leading: boolean) => leadership.push(leading));
      stallEventLoop(700);
      await cluster.write(5, 'after');
      expect(leadership).toEqual([]);
      expect(leader.raft.currentTerm()).toBe(term);
      expect(await cluster.leader()).toBe(leader);
    } finally {
      await cluster.shutdown();
    }
  });
});
