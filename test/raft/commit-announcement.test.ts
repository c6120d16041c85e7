/**
 * The commit announcement (issue 14 part 3): when the commit index moves, the leader sends no
 * AppendEntries that carries only the new commit index ahead of its apply and its answer to the
 * caller. The followers learn it with the next append or heartbeat, or at the commit tick
 * (commitTimeout) when nothing else goes their way. Fails on the code before, which wrote one
 * commit-only AppendEntries per follower in the flush that moved the commit, before the apply.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { RaftRequest } from '../../src/core/types.js';
import { TestCluster, waitFor } from './helpers.js';

let cluster: TestCluster | null = null;
afterEach(async () => {
  await cluster?.shutdown();
  cluster = null;
});

const bytes = (text: string) => new TextEncoder().encode(text);

describe('the commit announcement', () => {
  it('leaves with the next append or at the commit tick, never ahead of the answer', async () => {
    cluster = await new TestCluster({
      heartbeatTimeout: 1000,
      electionTimeout: 1000,
      leaderLeaseTimeout: 500,
      commitTimeout: 200,
    }).start(['a', 'b', 'c']);
    const leader = await cluster.leader();
    const followers = cluster.nodes.filter((node) => node !== leader);
    await cluster.write(1, 'warm');
    await waitFor(
      () => followers.every((node) => node.fsm.items.length === 1),
      5000,
      'followers applied warm',
    );

    // Every AppendEntries the leader sends, and whether the caller had its answer by then.
    const sent: { to: string; entries: number; commit: number; answered: boolean }[] = [];
    let answered = false;
    const network = cluster.network;
    const deliver = network.deliver.bind(network);
    network.deliver = (from, to, request: RaftRequest, data) => {
      if (request.kind === 'appendEntries' && from.localAddr() === leader.address) {
        sent.push({ to, entries: request.entries.length, commit: request.leaderCommitIndex, answered });
      }
      return deliver(from, to, request, data);
    };

    const first = await leader.raft.apply(bytes('x'), { timeout: 3000 }).then((result) => {
      answered = true;
      return result;
    });
    const announcedBeforeAnswer = sent.filter((m) => !m.answered && m.commit >= first.index);
    expect(announcedBeforeAnswer).toEqual([]);

    // The next write carries the first one's commit to each follower.
    const second = await leader.raft.apply(bytes('y'), { timeout: 3000 });
    for (const follower of followers) {
      const carrying = sent.find(
        (m) => m.to === follower.address && m.entries > 0 && m.commit >= first.index,
      );
      expect(carrying, follower.address).toBeDefined();
    }
    // Idle, the commit tick tells the followers the second one committed, and they apply it.
    await waitFor(
      () => followers.every((node) => node.fsm.items.length === 3),
      5000,
      'followers applied the second write',
    );
    const ticked = sent.filter((m) => m.entries === 0 && m.commit >= second.index);
    expect(new Set(ticked.map((m) => m.to))).toEqual(new Set(followers.map((node) => node.address)));
  });
});
