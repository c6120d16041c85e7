/** BatchingFSM and ConfigurationStore (hashicorp's optional FSM interfaces; issue 15 part 5). */
import type { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { ServerSuffrage, type Configuration, type LogEntry } from '../../src/core/types.js';
import { bootstrapCluster } from '../../src/raft/bootstrap.js';
import type { BatchingFSM, ConfigurationStore, FSMSnapshot } from '../../src/raft/fsm.js';
import { Raft } from '../../src/raft/raft.js';
import { InmemStore } from '../../src/storage/inmem.js';
import { InmemSnapshotStore } from '../../src/storage/inmem-snapshot.js';
import { InmemNetwork, InmemTransport } from '../../src/transport/inmem.js';
import { fastConfig, waitFor } from './helpers.js';

class RecordingFsm implements BatchingFSM, ConfigurationStore {
  readonly batches: number[][] = [];
  readonly configurations: { index: number; ids: string[] }[] = [];
  applied: string[] = [];
  throwOn: string | null = null;

  apply(): unknown {
    throw new Error('apply must not be called on a BatchingFSM');
  }

  applyBatch(logs: readonly LogEntry[]): unknown[] {
    const texts = logs.map((log) => new TextDecoder().decode(log.data));
    if (this.throwOn !== null && texts.includes(this.throwOn)) throw new Error(`refused ${this.throwOn}`);
    this.batches.push(logs.map((log) => log.index));
    this.applied.push(...texts);
    return texts.map((text) => `ok:${text}`);
  }

  storeConfiguration(index: number, configuration: Configuration): void {
    this.configurations.push({ index, ids: configuration.servers.map((s) => s.id) });
  }

  snapshot(): FSMSnapshot {
    return { persist: async (sink) => void (await sink.close()), release: () => {} };
  }

  async restore(_reader: Readable): Promise<void> {}
}

let raft: Raft | null = null;
afterEach(async () => {
  await raft?.shutdown();
  raft = null;
});

async function single(fsm: RecordingFsm): Promise<Raft> {
  const store = new InmemStore();
  const snapshots = new InmemSnapshotStore();
  const config = fastConfig('a');
  await bootstrapCluster(config, store, store, snapshots, {
    servers: [{ id: 'a', address: 'addr-a', suffrage: ServerSuffrage.Voter }],
  });
  raft = await Raft.create({
    config,
    fsm,
    logStore: store,
    stableStore: store,
    snapshotStore: snapshots,
    transport: new InmemTransport(new InmemNetwork(), 'addr-a'),
  });
  await waitFor(() => raft!.state === 2, 5000, 'the single server to lead');
  return raft;
}

const bytes = (text: string) => new TextEncoder().encode(text);

describe('optional FSM interfaces', () => {
  it('a BatchingFSM gets runs of commands in one call, each with its own response', async () => {
    const fsm = new RecordingFsm();
    const node = await single(fsm);
    const results = await Promise.all(['x', 'y', 'z'].map((v) => node.apply(bytes(v), { timeout: 3000 })));
    expect(results.map((r) => r.response)).toEqual(['ok:x', 'ok:y', 'ok:z']);
    expect(fsm.applied).toEqual(['x', 'y', 'z']);
    // Proposed in one turn: they commit together and reach the FSM in one call.
    expect(fsm.batches.some((batch) => batch.length === 3)).toBe(true);
  });

  it("a throwing applyBatch becomes every entry's response; the log goes on", async () => {
    const fsm = new RecordingFsm();
    const node = await single(fsm);
    fsm.throwOn = 'bad';
    const failed = await node.apply(bytes('bad'), { timeout: 3000 });
    expect(failed.response).toBeInstanceOf(Error);
    fsm.throwOn = null;
    expect((await node.apply(bytes('good'), { timeout: 3000 })).response).toBe('ok:good');
  });

  it('a ConfigurationStore is told about each committed configuration entry, in log order', async () => {
    const fsm = new RecordingFsm();
    const node = await single(fsm);
    await waitFor(() => fsm.configurations.length >= 1, 5000, 'the bootstrap configuration');
    expect(fsm.configurations[0]).toEqual({ index: 1, ids: ['a'] });
    const index = await node.addNonvoter('b', 'addr-b', 0, 3000);
    await waitFor(() => fsm.configurations.length >= 2, 5000, 'the new configuration');
    expect(fsm.configurations[1]).toEqual({ index, ids: ['a', 'b'] });
  });
});
