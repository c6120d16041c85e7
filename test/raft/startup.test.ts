/** The one start-up path (raft/startup.ts) that Raft.create, recoverCluster and getConfiguration share. */
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { LogType, ServerSuffrage, type LogEntry } from '../../src/core/types.js';
import type { FSM } from '../../src/raft/fsm.js';
import { silentLogger } from '../../src/raft/logger.js';
import { loadStoredState } from '../../src/raft/startup.js';
import { InmemStore } from '../../src/storage/inmem.js';
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
