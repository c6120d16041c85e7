/**
 * A leader's own log write is off the commit path: an entry that a quorum of followers holds
 * durably is committed, applied and answered while the leader's copy is still on its way to the
 * disk (core applyIndex). Nothing acknowledged is lost if the leader then dies before its write
 * lands: the followers that made the quorum hold it, one of them leads next, and the old leader
 * re-learns it on restart.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { RaftState, ServerSuffrage } from '../../src/core/types.js';
import { bootstrapCluster } from '../../src/raft/bootstrap.js';
import { InmemSnapshotStore } from '../../src/storage/inmem-snapshot.js';
import { fastConfig, HeldLogStore, TestCluster, waitFor, type TestNode } from './helpers.js';

const encode = (text: string) => new TextEncoder().encode(text);

describe("a leader's own write is not waited for", () => {
  let cluster: TestCluster;
  afterEach(async () => {
    for (const node of cluster.nodes) for (const write of (node.store as HeldLogStore).held) write.drop();
    await cluster.shutdown();
  });

  it('applies and answers once two followers hold the entry, and loses nothing when it dies then', async () => {
    cluster = new TestCluster();
    const ids = ['a', 'b', 'c'];
    const servers = ids.map((id) => ({ id, address: `addr-${id}`, suffrage: ServerSuffrage.Voter }));
    for (const id of ids) {
      const store = new HeldLogStore();
      const snapshots = new InmemSnapshotStore();
      await bootstrapCluster(fastConfig(id), store, store, snapshots, { servers });
      await cluster.launch(id, store, snapshots);
    }
    await cluster.write(3, 'warm');
    const leader = await cluster.leader();
    const store = leader.store as HeldLogStore;
    store.hold = true;

    const answer = await leader.raft.apply(encode('acked'), { timeout: 3000 });
    // Answered and applied although the leader's own copy has not landed.
    expect(store.held.length).toBeGreaterThan(0);
    expect(leader.fsm.items.at(-1)).toBe('acked');
    expect(answer.index).toBe(leader.raft.appliedIndex());
    expect(leader.raft.durableCommitIndex()).toBeLessThan(answer.index);
    expect((await store.lastIndex()) < answer.index).toBe(true);

    // The leader dies before its write lands (what it had in memory is gone), then comes back.
    const held = store.held.splice(0);
    const stopping = cluster.stop(leader);
    for (const write of held) write.drop();
    for (const write of store.held.splice(0)) write.drop();
    await stopping;
    store.hold = false;
    const next = await waitFor(
      () => cluster.nodes.find((node: TestNode) => node.raft.state === RaftState.Leader),
      10_000,
      'a new leader among the followers',
    );
    await next.raft.apply(encode('after'), { timeout: 3000 });
    expect(next.fsm.items).toContain('acked');
    const back = await cluster.launch(leader.id, store, leader.snapshots);
    await waitFor(() => back.fsm.items.includes('after') || undefined, 10_000, 'the old leader catching up');
    expect(back.fsm.items.slice(-2)).toEqual(['acked', 'after']);
  });
});
