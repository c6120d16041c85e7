import { describe, expect, it } from 'vitest';
import { RaftState, ServerSuffrage } from '../../src/core/types.js';
import { bootstrapCluster } from '../../src/raft/bootstrap.js';
import { defaultConfig } from '../../src/raft/config.js';
import { Raft } from '../../src/raft/raft.js';
import { InmemStore } from '../../src/storage/inmem.js';
import { InmemSnapshotStore } from '../../src/storage/inmem-snapshot.js';
import { InmemNetwork, InmemTransport } from '../../src/transport/inmem.js';
import { ListFsm } from '../support/list-fsm.js';

async function waitFor<T>(fn: () => T | undefined | null | false, ms = 5000): Promise<T> {
  const start = Date.now();
  for (;;) {
    const value = fn();
    if (value) return value;
    if (Date.now() - start > ms) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('3-node in-memory cluster on the real clock', () => {
  it('elects a leader, replicates and applies everywhere', async () => {
    const network = new InmemNetwork();
    const ids = ['a', 'b', 'c'];
    const servers = ids.map((id) => ({ id, address: `addr-${id}`, suffrage: ServerSuffrage.Voter }));
    const nodes = await Promise.all(
      ids.map(async (id) => {
        const config = {
          ...defaultConfig(),
          localId: id,
          heartbeatTimeout: 50,
          electionTimeout: 50,
          leaderLeaseTimeout: 50,
        };
        const store = new InmemStore();
        const snaps = new InmemSnapshotStore();
        await bootstrapCluster(config, store, store, snaps, { servers });
        const fsm = new ListFsm();
        const raft = await Raft.create({
          config,
          fsm,
          logStore: store,
          stableStore: store,
          snapshotStore: snaps,
          transport: new InmemTransport(network, `addr-${id}`),
        });
        return { raft, fsm };
      }),
    );
    try {
      const leader = await waitFor(() => nodes.find((n) => n.raft.state === RaftState.Leader));
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          leader.raft.apply(new TextEncoder().encode(`v${i}`), { timeout: 2000 }),
        ),
      );
      expect(results.map((r) => r.response)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
      await waitFor(() => nodes.every((n) => n.fsm.items.length === 20));
      for (const n of nodes) expect(n.fsm.items).toEqual(leader.fsm.items);
      const index = await leader.raft.readIndex({ timeout: 2000 });
      expect(index).toBeGreaterThanOrEqual(results[19].index);
      const follower = nodes.find((n) => n !== leader)!;
      await expect(follower.raft.apply(new Uint8Array([1]))).rejects.toThrow('node is not the leader');
      expect(await follower.raft.readIndex({ timeout: 2000 })).toBeGreaterThanOrEqual(results[19].index);
    } finally {
      await Promise.all(nodes.map((n) => n.raft.shutdown()));
    }
  });
});
