/** The one start-up path (raft/startup.ts) that Raft.create, recoverCluster and getConfiguration share. */
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { LogType, ServerSuffrage, type LogEntry } from '../../src/core/types.js';
import type { FSM } from '../../src/raft/fsm.js';
import { silentLogger } from '../../src/raft/logger.js';
import { bootstrapCluster } from '../../src/raft/bootstrap.js';
import { Raft } from '../../src/raft/raft.js';
import { loadStoredState } from '../../src/raft/startup.js';
import { InmemStore } from '../../src/storage/inmem.js';
import type { EntryTerms } from '../../src/storage/types.js';
import { InmemNetwork, InmemTransport } from '../../src/transport/inmem.js';
import { fastConfig } from './helpers.js';
import { InmemSnapshotStore } from '../../src/storage/inmem-snapshot.js';

const configuration = { servers: [{ id: 'a', address: 'addr-a', suffrage: ServerSuffrage.Voter }] };

function entry(index: number, term: number): LogEntry {
  return {
    index,
    term,
    type: LogType.Command,
    data: new Uint8Array([index]),
    extensions: new Uint8Array(0),
    appendedAt: 0,
  };
}

/** An FSM that records what it was restored from. */
function recordingFsm(): FSM & { restored: string[] } {
  const restored: string[] = [];
  return {
    restored,
    apply: () => undefined,
    snapshot: () => ({ persist: async (sink) => sink.close(), release: () => {} }),
    restore: async (reader: Readable) => {
      restored.push(Buffer.concat(await reader.toArray()).toString());
    },
  };
}

async function stores(logLength: number) {
  const logs = new InmemStore();
  const snapshots = new InmemSnapshotStore();
  await logs.setUint64('CurrentTerm', 4);
  await logs.setUint64('CommitIndex', 2);
  await logs.storeLogs(Array.from({ length: logLength }, (_, i) => entry(i + 1, 1)));
  const sink = await snapshots.create(1, 2, 1, configuration, 1);
  await sink.write(new TextEncoder().encode('state-at-2'));
  await sink.close();
  return { logStore: logs, stableStore: logs, snapshotStore: snapshots };
}

async function collect(batches: AsyncIterable<LogEntry[]>): Promise<number[][]> {
  const seen: number[][] = [];
  for await (const batch of batches) seen.push(batch.map((e) => e.index));
  return seen;
}

describe('loadStoredState', () => {
  it('reads the hard state, restores the newest snapshot into the FSM, and reads the log from any index', async () => {
    const fsm = recordingFsm();
    const state = await loadStoredState(await stores(5), { restoreInto: fsm, logger: silentLogger });
    expect(state.hardState).toEqual({ term: 4, vote: null, commit: 2 });
    expect(state.snapshot?.index).toBe(2);
    expect(fsm.restored).toEqual(['state-at-2']);
    expect([state.firstIndex, state.lastIndex]).toEqual([1, 5]);
    expect(await collect(state.entries(3))).toEqual([[3, 4, 5]]);
  });

  it('keeps the log below the snapshot when it holds the snapshot entry, and skips a stale log a snapshot install replaced', async () => {
    // The log holds index 2 with the snapshot's term: the trailing entries are usable.
    const kept = await loadStoredState(await stores(5), { restoreInto: null, logger: silentLogger });
    expect(kept.logStart).toBe(1);
    // A snapshot at 2 (term 1) was installed over a log whose entry 2 has term 9; the process
    // stopped before the log's replacement was durable, then appended 3..4 with the snapshot's entry missing (the
    // simulator found this with a failed fsync: the restart read the stale log, or failed on the gap).
    const replaced = await stores(0);
    await replaced.logStore.storeLogs([entry(1, 9), entry(2, 9)]);
    const stale = await loadStoredState(replaced, { restoreInto: null, logger: silentLogger });
    expect([stale.firstIndex, stale.logStart]).toEqual([1, 3]);
    const gap = await stores(0);
    await gap.logStore.storeLogs([entry(1, 1), entry(3, 2), entry(4, 2)]);
    const afterGap = await loadStoredState(gap, { restoreInto: null, logger: silentLogger });
    expect(afterGap.logStart).toBe(3);
    expect(await collect(afterGap.entries(afterGap.logStart))).toEqual([[3, 4]]);
  });

  it('without an FSM reads only the newest snapshot metadata, and no hard state without a stable store', async () => {
    const { logStore, snapshotStore } = await stores(2);
    const state = await loadStoredState(
      { logStore, snapshotStore },
      { restoreInto: null, logger: silentLogger },
    );
    expect(state.snapshot?.index).toBe(2);
    expect(state.hardState).toEqual({ term: 0, vote: null, commit: 0 });
  });

  it('reads a long log in batches of 1024, and nothing from an empty store', async () => {
    const state = await loadStoredState(await stores(2500), { restoreInto: null, logger: silentLogger });
    expect((await collect(state.entries(1))).map((batch) => [batch[0], batch.at(-1)])).toEqual([
      [1, 1024],
      [1025, 2048],
      [2049, 2500],
    ]);
    const empty = await loadStoredState(
      { logStore: new InmemStore(), snapshotStore: new InmemSnapshotStore() },
      { restoreInto: null, logger: silentLogger },
    );
    expect([empty.firstIndex, empty.lastIndex, empty.snapshot]).toEqual([0, 0, null]);
    expect(await collect(empty.entries(empty.firstIndex))).toEqual([]);
  });
});

/**
 * An InmemStore that counts which entries had their payloads read. Its entryTerms stands for a
 * store's index (as WalStore's is): the entries it looks at in memory are not counted.
 */
class CountingStore extends InmemStore {
  payloadsRead: number[] = [];
  private indexing = false;
  override getLog(index: number): Promise<LogEntry> {
    this.payloadsRead.push(index);
    return super.getLog(index);
  }
  override getLogs(lo: number, hi: number): Promise<LogEntry[]> {
    if (!this.indexing) for (let index = lo; index <= hi; index++) this.payloadsRead.push(index);
    return super.getLogs(lo, hi);
  }
  override async entryTerms(lo: number, hi: number): Promise<EntryTerms> {
    this.indexing = true;
    try {
      return await super.entryTerms(lo, hi);
    } finally {
      this.indexing = false;
    }
  }
}

describe('start-up indexes the log', () => {
  it('index() gives every term and reads only the configuration entries', async () => {
    const { logStore, snapshotStore } = await stores(3000);
    await logStore.storeLogs([{ ...entry(3001, 2), type: LogType.Configuration, data: new Uint8Array([7]) }]);
    const counting = Object.setPrototypeOf(logStore, CountingStore.prototype) as CountingStore;
    counting.payloadsRead = [];
    const state = await loadStoredState(
      { logStore, snapshotStore },
      { restoreInto: null, logger: silentLogger },
    );
    const log = await state.index(1);
    expect(log.first).toBe(1);
    expect(log.terms.terms.length).toBe(3001);
    expect([log.terms.terms[0], log.terms.terms[2999], log.terms.terms[3000]]).toEqual([1, 1, 2]);
    expect(log.configurations.map((e) => e.index)).toEqual([3001]);
    // logStart looked at the snapshot's entry (2); the index read the configuration entry only.
    expect(counting.payloadsRead).toEqual([2, 3001]);
  });

  it('Raft.create reads no command payload beyond the committed ones it replays', async () => {
    const store = new CountingStore();
    const snapshots = new InmemSnapshotStore();
    const config = fastConfig('a');
    await bootstrapCluster(config, store, store, snapshots, configuration);
    await store.storeLogs(Array.from({ length: 5000 }, (_, i) => entry(i + 2, 1)));
    await store.setUint64('CommitIndex', 10);
    store.payloadsRead = [];
    const raft = await Raft.create({
      config,
      fsm: recordingFsm(),
      logStore: store,
      stableStore: store,
      snapshotStore: snapshots,
      transport: new InmemTransport(new InmemNetwork(), 'addr-a'),
    });
    try {
      expect(raft.lastIndex()).toBe(5001);
      expect(raft.appliedIndex()).toBe(10);
      // The configuration entry, then the replay of 1..10; none of the 4,991 entries after them.
      expect(Math.max(...store.payloadsRead)).toBeLessThanOrEqual(10);
    } finally {
      await raft.shutdown();
    }
  });
});
