/**
 * Defence in depth for issue 11.1: a transport that does not check bounds (here InmemTransport,
 * which hands requests over as they are) cannot bring a term or index beyond 2^48-1 into a node.
 * The runtime answers such a request with ErrOutOfRange and the node changes nothing.
 */
import { describe, expect, it } from 'vitest';
import { ErrOutOfRange } from '../../src/core/bounds.js';
import { InmemTransport } from '../../src/transport/inmem.js';
import { TestCluster } from './helpers.js';

describe('requests beyond the bounds, from a transport that does not check them', () => {
  it('are refused with ErrOutOfRange and change no term, role or leader', async () => {
    const cluster = await new TestCluster().start(['a', 'b', 'c']);
    const leader = await cluster.leader();
    const follower = cluster.nodes.find((n) => n !== leader)!;
    const before = { term: follower.raft.currentTerm(), state: follower.raft.state };
    const intruder = new InmemTransport(cluster.network, 'addr-intruder');
    const target = { id: follower.id, address: follower.address };
    const vote = {
      kind: 'requestVote' as const,
      term: Number.MAX_SAFE_INTEGER,
      candidate: { id: 'b', address: 'addr-b' },
      lastLogIndex: 1,
      lastLogTerm: 1,
      leadershipTransfer: true,
    };
    await expect(intruder.requestVote(target, vote)).rejects.toThrow(ErrOutOfRange);
    await expect(
      intruder.appendEntries(target, {
        kind: 'appendEntries',
        term: before.term,
        leader: { id: leader.id, address: leader.address },
        prevLogIndex: 2 ** 48,
        prevLogTerm: 1,
        entries: [],
        leaderCommitIndex: 0,
      }),
    ).rejects.toThrow(ErrOutOfRange);
    expect({ term: follower.raft.currentTerm(), state: follower.raft.state }).toEqual(before);
    await intruder.close();
    await Promise.all(cluster.nodes.map((n) => n.raft.shutdown()));
  });
});
