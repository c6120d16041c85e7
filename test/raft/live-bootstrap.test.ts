/**
 * Live `raft.bootstrapCluster(configuration)` (hashicorp's Raft.BootstrapCluster, issue 15 part 5):
 * a running server with no state writes the configuration as entry 1 of term 1, exactly what the
 * offline bootstrap writes, then elects itself or waits for the others; with any state it refuses
 * with ErrCantBootstrap, and a malformed configuration is refused before anything is written.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  ErrAborted,
  ErrCantBootstrap,
  ErrInvalidConfiguration,
  ErrNotVoter,
  ErrRaftShutdown,
} from '../../src/core/errors.js';
import { RaftState, ServerSuffrage, type Configuration, type LogEntry } from '../../src/core/types.js';
import { bootstrapCluster, hasExistingState } from '../../src/raft/bootstrap.js';
import { systemClock } from '../../src/platform/clock.js';
import { openNodeStorage } from '../../src/kit/storage.js';
import { Raft } from '../../src/raft/raft.js';
import { InmemStore } from '../../src/storage/inmem.js';
import { InmemSnapshotStore } from '../../src/storage/inmem-snapshot.js';
import { StableKeys } from '../../src/storage/types.js';
import { InmemNetwork, InmemTransport } from '../../src/transport/inmem.js';
import { useTempDir } from '../support/temp-dir.js';
import { fastConfig, ListFsm, TestCluster, waitFor } from './helpers.js';

const clusters: TestCluster[] = [];
afterEach(async () => {
  await Promise.all(clusters.splice(0).map((c) => c.shutdown()));
});

function cluster(): TestCluster {
  const c = new TestCluster();
  clusters.push(c);
  return c;
}

const voter = (id: string) => ({ id, address: `addr-${id}`, suffrage: ServerSuffrage.Voter });
const voters = (...ids: string[]): Configuration => ({ servers: ids.map(voter) });
const bytes = (text: string) => new TextEncoder().encode(text);

/** What the offline bootstrap writes for `configuration`: term and entry 1. */
async function offlineBootstrap(
  id: string,
  configuration: Configuration,
): Promise<{ term: number; entry: LogEntry }> {
  const store = new InmemStore();
  await bootstrapCluster(fastConfig(id), store, store, new InmemSnapshotStore(), configuration);
  return { term: await store.getUint64(StableKeys.currentTerm), entry: await store.getLog(1) };
}

/** The server wrote nothing: no term, no log, no configuration. */
async function expectNoState(raft: Raft, store: InmemStore): Promise<void> {
  expect(raft.currentTerm()).toBe(0);
  expect(raft.lastIndex()).toBe(0);
  expect(raft.getConfiguration().configuration.servers).toEqual([]);
  expect(await hasExistingState(store, store, new InmemSnapshotStore())).toBe(false);
}

describe('live bootstrapCluster', () => {
  it('a lone server writes what the offline bootstrap writes, then elects itself and takes writes', async () => {
    const c = cluster();
    const node = await c.launch('a');
    await node.raft.bootstrapCluster(voters('a'));
    // Durable when the promise resolves: the stores hold term 1 and the configuration entry.
    const offline = await offlineBootstrap('a', voters('a'));
    expect(await node.store.getUint64(StableKeys.currentTerm)).toBe(offline.term);
    const entry = await node.store.getLog(1);
    expect({ ...entry, appendedAt: 0 }).toEqual({ ...offline.entry, appendedAt: 0 });
    expect(node.raft.getConfiguration()).toEqual({ configuration: voters('a'), index: 1 });
    await waitFor(() => node.raft.state === RaftState.Leader, 5000, 'the server to elect itself');
    await node.raft.apply(bytes('x'), { timeout: 3000 });
    expect(node.fsm.items).toEqual(['x']);
  });

  it('every voter bootstrapped live with the identical configuration forms one cluster', async () => {
    const c = cluster();
    const nodes = [await c.launch('a'), await c.launch('b'), await c.launch('c')];
    await Promise.all(nodes.map((n) => n.raft.bootstrapCluster(voters('a', 'b', 'c'))));
    await c.write(3);
    await waitFor(() => nodes.every((n) => n.fsm.items.length === 3), 5000, 'every replica to apply');
    for (const n of nodes) expect(n.fsm.items).toEqual(['v0', 'v1', 'v2']);
  });

  it('one server bootstrapped with itself, the others added with addVoter (hashicorp’s advice)', async () => {
    const c = cluster();
    const a = await c.launch('a');
    await a.raft.bootstrapCluster(voters('a'));
    await c.leader();
    const b = await c.launch('b');
    await a.raft.addVoter('b', b.address, 0, 5000);
    await c.write(1);
    await waitFor(() => b.fsm.items.length === 1, 5000, 'b to apply');
    // b received its state from the leader: it can no longer bootstrap.
    await expect(b.raft.bootstrapCluster(voters('b'))).rejects.toBeInstanceOf(ErrCantBootstrap);
  });

  it('refuses with ErrCantBootstrap once any state exists: a second call, or an offline bootstrap', async () => {
    const c = cluster();
    const a = await c.launch('a');
    await a.raft.bootstrapCluster(voters('a'));
    await expect(a.raft.bootstrapCluster(voters('a'))).rejects.toBeInstanceOf(ErrCantBootstrap);
    await expect(a.raft.bootstrapCluster(voters('a'))).rejects.toThrow(ErrCantBootstrap.text);
    await c.start(['b']);
    const b = c.nodes.find((n) => n.id === 'b')!;
    await expect(b.raft.bootstrapCluster(voters('b'))).rejects.toBeInstanceOf(ErrCantBootstrap);
    expect(b.raft.getConfiguration().configuration).toEqual(voters('b'));
  });

  it('refuses a configuration it is not a voter in with ErrNotVoter, writing nothing', async () => {
    const c = cluster();
    const a = await c.launch('a');
    await expect(a.raft.bootstrapCluster(voters('b', 'c'))).rejects.toBeInstanceOf(ErrNotVoter);
    const nonvoter = { servers: [voter('b'), { ...voter('a'), suffrage: ServerSuffrage.Nonvoter }] };
    await expect(a.raft.bootstrapCluster(nonvoter)).rejects.toBeInstanceOf(ErrNotVoter);
    await expectNoState(a.raft, a.store);
  });

  it('checks the configuration before anything is written, then still bootstraps with a good one', async () => {
    const c = cluster();
    const a = await c.launch('a');
    const loose = a.raft as unknown as {
      bootstrapCluster(configuration: unknown, options?: unknown): Promise<void>;
    };
    const refused: [unknown, new (...args: never[]) => Error][] = [
      [undefined, TypeError],
      ['a,b', TypeError],
      [{ servers: 'a' }, TypeError],
      [{ servers: [null] }, TypeError],
      [{ servers: [{ id: 7, address: 'addr-a', suffrage: 0 }] }, TypeError],
      [{ servers: [{ id: 'a', address: ['addr-a'], suffrage: 0 }] }, TypeError],
      [{ servers: [{ id: 'a', address: 'addr-a', suffrage: 3 }] }, TypeError],
      [{ servers: [{ id: 'a', address: 'addr-a' }] }, TypeError],
      [{ servers: [{ id: 'a'.repeat(1025), address: 'addr-a', suffrage: 0 }] }, RangeError],
      [{ servers: Array.from({ length: 4097 }, (_, i) => voter(`s${i}`)) }, RangeError],
      [{ servers: [] }, ErrInvalidConfiguration],
      [{ servers: [voter('a'), voter('a')] }, ErrInvalidConfiguration],
      [{ servers: [voter('a'), { ...voter('b'), address: 'addr-a' }] }, ErrInvalidConfiguration],
      [{ servers: [{ ...voter('a'), id: '' }] }, ErrInvalidConfiguration],
      [{ servers: [{ ...voter('a'), address: '' }] }, ErrInvalidConfiguration],
      [{ servers: [{ ...voter('a'), suffrage: ServerSuffrage.Nonvoter }] }, ErrInvalidConfiguration],
    ];
    for (const [configuration, type] of refused) {
      await expect(
        loose.bootstrapCluster(configuration),
        JSON.stringify(configuration)?.slice(0, 80),
      ).rejects.toBeInstanceOf(type);
    }
    await expect(loose.bootstrapCluster(voters('a'), { timeout: -1 })).rejects.toBeInstanceOf(RangeError);
    await expect(loose.bootstrapCluster(voters('a'), { signal: AbortSignal.abort() })).rejects.toBeInstanceOf(
      ErrAborted,
    );
    await expectNoState(a.raft, a.store);
    // Only the configuration's own fields reach the log.
    await loose.bootstrapCluster({ servers: [{ ...voter('a'), extra: 'dropped' }], more: 1 });
    expect(a.raft.getConfiguration().configuration).toEqual(voters('a'));
    await c.leader();
  });

  it('the offline bootstrap checks the configuration the same way', async () => {
    const store = new InmemStore();
    const offline = (configuration: unknown) =>
      bootstrapCluster(
        fastConfig('a'),
        store,
        store,
        new InmemSnapshotStore(),
        configuration as Configuration,
      );
    await expect(offline({ servers: 'a' })).rejects.toBeInstanceOf(TypeError);
    await expect(
      offline({ servers: [{ id: 'a', address: 'addr-a', suffrage: 'voter' }] }),
    ).rejects.toBeInstanceOf(TypeError);
    const tooMany = { servers: Array.from({ length: 4097 }, (_, i) => voter(`s${i}`)) };
    await expect(offline(tooMany)).rejects.toBeInstanceOf(RangeError);
    expect(await hasExistingState(store, store, new InmemSnapshotStore())).toBe(false);
  });

  it('a failed write of the bootstrap stops the server and rejects with the failure', async () => {
    const c = cluster();
    const store = new InmemStore();
    store.storeLogs = () => Promise.reject(new Error('fsync failed'));
    const a = await c.launch('a', store);
    await expect(a.raft.bootstrapCluster(voters('a'))).rejects.toThrow(/storage write failed: fsync failed/);
    expect(a.raft.state).toBe(RaftState.Shutdown);
  });

  it('after shutdown it rejects with ErrRaftShutdown', async () => {
    const c = cluster();
    const a = await c.launch('a');
    await c.stop(a);
    await expect(a.raft.bootstrapCluster(voters('a'))).rejects.toBeInstanceOf(ErrRaftShutdown);
  });
});

describe('live bootstrapCluster on a real store', () => {
  const dir = useTempDir('raftkit-live-bootstrap-');

  async function start(network: InmemNetwork, fsm = new ListFsm()) {
    const storage = await openNodeStorage(dir.path, { clock: systemClock });
    const raft = await Raft.create({
      config: fastConfig('a'),
      fsm,
      logStore: storage.logStore,
      stableStore: storage.logStore,
      snapshotStore: storage.snapshotStore,
      transport: new InmemTransport(network, 'addr-a'),
    });
    return { raft, fsm, storage };
  }

  it('the bootstrap is durable: after a restart the server has its configuration and leads again', async () => {
    const network = new InmemNetwork();
    const first = await start(network);
    await first.raft.bootstrapCluster(voters('a'));
    await waitFor(() => first.raft.state === RaftState.Leader, 5000, 'a leader');
    await first.raft.apply(bytes('x'), { timeout: 3000 });
    await first.raft.shutdown();
    await first.storage.close();

    const second = await start(new InmemNetwork());
    try {
      expect(second.raft.getConfiguration().configuration).toEqual(voters('a'));
      expect(second.fsm.items).toEqual(['x']);
      await expect(second.raft.bootstrapCluster(voters('a'))).rejects.toBeInstanceOf(ErrCantBootstrap);
      await waitFor(() => second.raft.state === RaftState.Leader, 5000, 'a leader after restart');
    } finally {
      await second.raft.shutdown();
      await second.storage.close();
    }
  });
});
