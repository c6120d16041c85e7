/**
 * A restart that finds the newest snapshot beyond the end of the stored log: the log is what the
 * snapshot replaced (a follower that died after storing an installed snapshot, before the write
 * that drops its old log landed; or a leader that snapshotted entries it had applied from memory
 * before its own write of them landed). Start-up sets that log aside (startup.ts logStart); the
 * next write must then drop it rather than leave a gap, which WalStore refuses (and a refused
 * write fail-stops the node).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LogType, RaftState, ServerSuffrage } from '../../src/core/types.js';
import { encodeConfiguration } from '../../src/wire/configuration.js';
import { Raft } from '../../src/raft/raft.js';
import { InmemSnapshotStore } from '../../src/storage/inmem-snapshot.js';
import { StableKeys } from '../../src/storage/types.js';
import { WalStore } from '../../src/storage/wal.js';
import { InmemNetwork, InmemTransport } from '../../src/transport/inmem.js';
import { fastConfig, ListFsm, waitFor } from './helpers.js';

describe('a stored log that ends below the snapshot', () => {
  const dirs: string[] = [];
  afterEach(async () => {
    for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
  });

  it('is dropped by the next write, which then continues past the snapshot', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'raftkit-below-snapshot-'));
    dirs.push(dir);
    const configuration = {
      servers: [{ id: 'a', address: 'addr-a', suffrage: ServerSuffrage.Voter }],
    };
    const store = await WalStore.open(dir);
    const entry = (index: number, type: LogType, data: Uint8Array) => ({
      index,
      term: 1,
      type,
      data,
      extensions: new Uint8Array(0),
      appendedAt: 0,
    });
    // The log holds 1..3; the snapshot covers 1..10 (the FSM had applied 4..10 from memory).
    await store.storeLogs([
      entry(1, LogType.Configuration, encodeConfiguration(configuration)),
      entry(2, LogType.Command, new TextEncoder().encode('x2')),
      entry(3, LogType.Command, new TextEncoder().encode('x3')),
    ]);
    await store.setUint64(StableKeys.currentTerm, 1);
    await store.setUint64(StableKeys.commitIndex, 3);
    const snapshots = new InmemSnapshotStore();
    const sink = await snapshots.create(1, 10, 1, configuration, 1);
    const items = Array.from({ length: 9 }, (_, i) => `x${i + 2}`);
    await sink.write(new TextEncoder().encode(JSON.stringify(items)));
    await sink.close();

    const fsm = new ListFsm();
    const raft = await Raft.create({
      config: fastConfig('a'),
      fsm,
      logStore: store,
      stableStore: store,
      snapshotStore: snapshots,
      transport: new InmemTransport(new InmemNetwork(), 'addr-a'),
    });
    try {
      await waitFor(() => raft.state === RaftState.Leader || undefined, 5000, `leadership (${raft.state})`);
      const { index } = await raft.apply(new TextEncoder().encode('after'), { timeout: 3000 });
      expect(index).toBeGreaterThan(10);
      expect(fsm.items.slice(-2)).toEqual(['x10', 'after']);
      expect(await store.firstIndex()).toBe(11);
      expect(await store.lastIndex()).toBe(index);
    } finally {
      await raft.shutdown();
      await store.close();
    }
  });
});
