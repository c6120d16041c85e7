/**
 * `Raft.durableCommitIndex()` promises what a restart recovers. While a follower repairs a lost
 * tail, its hard state keeps the commit index it had before the loss (so that a restart before the
 * repair still knows), which is beyond its log: the durable commit index must then follow what the
 * log holds durably, not the commit index in memory, whose newest entries may still be on their way
 * to the disk. (The simulator's seed 66747 found it: "commit index went back across restart".)
 */
import { describe, expect, it } from 'vitest';
import { LogType, ServerSuffrage, type LogEntry } from '../../src/core/types.js';
import { bootstrapCluster } from '../../src/raft/bootstrap.js';
import { Raft } from '../../src/raft/raft.js';
import { InmemSnapshotStore } from '../../src/storage/inmem-snapshot.js';
import { StableKeys } from '../../src/storage/types.js';
import { InmemNetwork, InmemTransport } from '../../src/transport/inmem.js';
import { fastConfig, HeldLogStore, ListFsm, waitFor } from './helpers.js';

function command(index: number): LogEntry {
  return {
    index,
    term: 1,
    type: LogType.Command,
    data: Uint8Array.of(index),
    extensions: new Uint8Array(0),
    appendedAt: 0,
  };
}

describe('durableCommitIndex while a lost tail is repaired', () => {
  it('is never beyond what a restart recovers, even when the commit index in memory is', async () => {
    const network = new InmemNetwork();
    const store = new HeldLogStore();
    const snapshots = new InmemSnapshotStore();
    const config = fastConfig('f', { heartbeatTimeout: 60_000, electionTimeout: 60_000 });
    const servers = ['leader', 'f', 'x'].map((id) => ({
      id,
      address: `addr-${id}`,
      suffrage: ServerSuffrage.Voter,
    }));
    await bootstrapCluster(config, store, store, snapshots, { servers });
    // The disk lost entries 2..5 after they were synced; the hard state still says 5 committed.
    await store.setUint64(StableKeys.commitIndex, 5);
    const start = () =>
      Raft.create({
        config,
        fsm: new ListFsm(),
        logStore: store,
        stableStore: store,
        snapshotStore: snapshots,
        transport: new InmemTransport(network, 'addr-f'),
      });
    const follower = await start();
    expect(follower.commitIndex()).toBe(1);
    store.hold = true;
    const leader = new InmemTransport(network, 'addr-leader');
    const target = { id: 'f', address: 'addr-f' };
    const append = (prevLogIndex: number, entries: LogEntry[]) =>
      void leader
        .appendEntries(target, {
          kind: 'appendEntries',
          term: 1,
          leader: { id: 'leader', address: 'addr-leader' },
          prevLogIndex,
          prevLogTerm: 1,
          entries,
          leaderCommitIndex: 5,
        })
        .catch(() => undefined);
    // The repair: 2..4 are written (and held on their way to the disk), then 5 arrives.
    append(1, [command(2), command(3), command(4)]);
    await waitFor(() => store.held.length === 1 || undefined, 5000, 'the write of 2..4');
    append(4, [command(5)]);
    await waitFor(() => follower.commitIndex() === 5 || undefined, 5000, 'commit index 5 in memory');
    // Committed entries are applied from memory, before their local copies land (core applyIndex).
    await waitFor(() => follower.appliedIndex() === 5 || undefined, 5000, 'entries 2..5 applied');
    store.held.shift()!.land();
    await waitFor(() => follower.durableCommitIndex() === 4 || undefined, 5000, '2..4 durable');
    const claimed = follower.durableCommitIndex();
    // The process dies before entry 5 reaches the disk, and starts again.
    store.hold = false;
    for (const write of store.held.splice(0)) write.drop();
    await follower.shutdown();
    await leader.close();
    const restarted = await start();
    const recovered = restarted.commitIndex();
    await restarted.shutdown();
    expect(recovered).toBe(4);
    expect(claimed).toBeLessThanOrEqual(recovered);
  });
});
