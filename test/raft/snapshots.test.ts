import { mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrNoSnapshotOpens } from '../../src/core/errors.js';
import { ServerSuffrage, RaftState } from '../../src/core/types.js';
import type { Logger } from '../../src/raft/logger.js';
import { Raft } from '../../src/raft/raft.js';
import { getConfiguration, parsePeersJson, recoverCluster } from '../../src/raft/recovery.js';
import { systemClock } from '../../src/platform/clock.js';
import { bootstrapCluster } from '../../src/raft/bootstrap.js';
import { FileSnapshotStore } from '../../src/storage/file-snapshot.js';
import { InmemSnapshotStore } from '../../src/storage/inmem-snapshot.js';
import { InmemStore } from '../../src/storage/inmem.js';
import { InmemNetwork, InmemTransport } from '../../src/transport/inmem.js';
import { fastConfig, ListFsm, TestCluster, waitFor } from './helpers.js';

const dirs: string[] = [];
const clusters: TestCluster[] = [];
const solos: Raft[] = [];
afterEach(async () => {
  await Promise.all(clusters.splice(0).map((c) => c.shutdown()));
  await Promise.all(solos.splice(0).map((raft) => raft.shutdown()));
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

function capturingLogger(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  const noop = () => {};
  return { debug: noop, info: noop, error: noop, warn: (_obj, msg) => warnings.push(msg ?? ''), warnings };
}

async function fileStoreWithSnapshots(): Promise<{ store: FileSnapshotStore; ids: string[]; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'raftkit-snap-'));
  dirs.push(dir);
  const store = new FileSnapshotStore(dir, 3, { clock: systemClock });
  await store.init();
  const configuration = { servers: [{ id: 'solo', address: 'addr-solo', suffrage: ServerSuffrage.Voter }] };
  const ids: string[] = [];
  for (const [index, items] of [
    [5, ['a', 'b']],
    [10, ['a', 'b', 'c', 'd']],
  ] as const) {
    const sink = await store.create(1, index, 1, configuration, 1);
    await sink.write(new TextEncoder().encode(JSON.stringify(items)));
    await sink.close();
    ids.push(sink.id);
  }
  return { store, ids, dir };
}

async function startOn(store: FileSnapshotStore, logger: Logger): Promise<{ raft: Raft; fsm: ListFsm }> {
  const fsm = new ListFsm();
  const logs = new InmemStore();
  await logs.setUint64('CurrentTerm', 1);
  const network = new (await import('../../src/transport/inmem.js')).InmemNetwork();
  const raft = await Raft.create({
    config: { ...fastConfig('solo'), logger },
    fsm,
    logStore: logs,
    stableStore: logs,
    snapshotStore: store,
    transport: new InmemTransport(network, 'addr-solo'),
  });
  return { raft, fsm };
}

describe('restoring at start', () => {
  for (const damage of ['bit-flipped', 'truncated'] as const) {
    it(`skips a ${damage} state.bin with a warning naming it and restores the older snapshot`, async () => {
      const { store, ids, dir } = await fileStoreWithSnapshots();
      const state = join(dir, 'snapshots', ids[1], 'state.bin');
      if (damage === 'truncated') await truncate(state, 5);
      else {
        const bytes = await readFile(state);
        bytes[3] ^= 0x10;
        await writeFile(state, bytes);
      }
      const logger = capturingLogger();
      const { raft, fsm } = await startOn(store, logger);
      try {
        expect(fsm.items).toEqual(['a', 'b']);
        expect(raft.appliedIndex()).toBe(5);
        expect(logger.warnings.some((w) => w.includes(ids[1]))).toBe(true);
      } finally {
        await raft.shutdown();
      }
    });
  }

  it('refuses to start when snapshots exist and none opens', async () => {
    const { store, ids, dir } = await fileStoreWithSnapshots();
    for (const id of ids) await truncate(join(dir, 'snapshots', id, 'state.bin'), 1);
    await expect(startOn(store, capturingLogger())).rejects.toBeInstanceOf(ErrNoSnapshotOpens);
  });
});

describe('snapshots in a running cluster', () => {
  it('takes snapshots by threshold, compacts the log, and catches up a new server by InstallSnapshot', async () => {
    const cluster = new TestCluster({ snapshotThreshold: 10, trailingLogs: 2, snapshotInterval: 20 });
    clusters.push(cluster);
    await cluster.start(['a', 'b', 'c']);
    await cluster.write(60);
    const leader = await cluster.leader();
    await waitFor(() => Number(leader.raft.stats().last_snapshot_index) > 0, 5000, 'a snapshot');
    // A last snapshot on demand covers every entry, so what is compacted away includes early ones.
    await leader.raft.snapshot().catch(() => {});
    expect(await leader.store.firstIndex()).toBeGreaterThan(1);

    const fresh = await cluster.launch('d');
    let installed = false;
    fresh.raft.on('snapshotInstalled', () => (installed = true));
    await leader.raft.addVoter('d', 'addr-d', 0, 5000);
    await waitFor(() => fresh.fsm.items.length === 60, 5000, 'the new server to catch up');
    expect(installed).toBe(true);
    expect(fresh.fsm.items).toEqual(leader.fsm.items);
    expect(
      leader.raft.getConfiguration().configuration.servers.map((s) => [s.id, s.suffrage]),
    ).toContainEqual(['d', ServerSuffrage.Voter]);
  });

  /** A ListFsm that records how many commands it held at each snapshot it was asked for. */
  class RecordingFsm extends ListFsm {
    readonly taken: number[] = [];
    override snapshot(): ReturnType<ListFsm['snapshot']> {
      this.taken.push(this.items.length);
      return super.snapshot();
    }
  }

  /**
   * A solo leader with Random fixed at 0.5 (the applied-entry check waits for its limit * 1.5) and
   * a snapshot timer out of reach. The log holds the configuration and a Noop before the commands.
   */
  async function soloWithLimits(limits: { snapshotThreshold: number; snapshotLogLimit: number }) {
    const store = new InmemStore();
    const snapshots = new InmemSnapshotStore();
    const config = fastConfig('solo', { ...limits, snapshotInterval: 600_000 });
    const servers = [{ id: 'solo', address: 'addr-solo', suffrage: ServerSuffrage.Voter }];
    await bootstrapCluster(config, store, store, snapshots, { servers });
    const fsm = new RecordingFsm();
    const raft = await Raft.create({
      config,
      fsm,
      logStore: store,
      stableStore: store,
      snapshotStore: snapshots,
      transport: new InmemTransport(new InmemNetwork(), 'addr-solo'),
      random: { next: () => 0.5 },
    });
    solos.push(raft);
    await waitFor(() => raft.state === RaftState.Leader, 5000, 'leadership');
    const write = async (n: number) => {
      for (let i = 0; i < n; i++) await raft.apply(new TextEncoder().encode(`v${i}`), { timeout: 3000 });
    };
    return { raft, fsm, write };
  }

  it('as entries apply, snapshotThreshold alone takes no snapshot: the interval timer checks it (hashicorp)', async () => {
    // Before snapshotLogLimit the applied-entry check used the threshold: a snapshot at index 15
    // (10 * 1.5), 13 commands in. A snapshot the background check started runs before a user's.
    const { raft, fsm, write } = await soloWithLimits({ snapshotThreshold: 10, snapshotLogLimit: 0 });
    await write(40);
    await raft.snapshot();
    expect(fsm.taken).toEqual([40]);
  });

  it('as entries apply, snapshotLogLimit plus a per-node random part takes a snapshot, so replicas differ', async () => {
    // Limit 20 (over the threshold 10) and Random 0.5: a snapshot once 30 entries were applied since
    // the last one, at index 30 (28 commands), then at 60 after a user snapshot at 32 (30 commands).
    // Without the random part every replica snapshotted at the same index: here at 20.
    const { raft, fsm, write } = await soloWithLimits({ snapshotThreshold: 10, snapshotLogLimit: 20 });
    await write(29);
    await waitFor(() => fsm.taken.length > 0, 5000, 'a snapshot');
    expect(fsm.taken[0]).toBeGreaterThanOrEqual(28);
    await write(1);
    await raft.snapshot();
    const user = fsm.taken.at(-1)!;
    expect(fsm.taken).toEqual([fsm.taken[0], user]);
    await write(35);
    await waitFor(() => fsm.taken.length > 2, 5000, 'a second snapshot');
    expect(fsm.taken[2]).toBeGreaterThanOrEqual(user + 30);
  });

  it('snapshotLogLimit under snapshotThreshold counts as the threshold', async () => {
    const { fsm, write } = await soloWithLimits({ snapshotThreshold: 20, snapshotLogLimit: 1 });
    await write(29);
    await waitFor(() => fsm.taken.length > 0, 5000, 'a snapshot');
    expect(fsm.taken[0]).toBeGreaterThanOrEqual(28);
  });

  it('restore() replaces the state on every server with an external snapshot (hashicorp Restore)', async () => {
    const cluster = new TestCluster();
    clusters.push(cluster);
    await cluster.start(['a', 'b', 'c']);
    await cluster.write(5);
    const leader = await cluster.leader();
    const backup = Readable.from([Buffer.from(JSON.stringify(['restored-1', 'restored-2']))]);
    const meta = {
      version: 1,
      id: 'backup',
      index: 3,
      term: 1,
      configuration: { servers: [] },
      configurationIndex: 0,
      size: 0,
    };
    await leader.raft.restore(meta, backup, { timeout: 5000 });
    await waitFor(
      () => cluster.nodes.every((n) => n.fsm.items.join() === 'restored-1,restored-2'),
      5000,
      'restore everywhere',
    );
    const after = await leader.raft.apply(new TextEncoder().encode('next'), { timeout: 3000 });
    expect(after.response).toBe(3);
  });
});

describe('recovery tools', () => {
  it('recoverCluster forces a one-server membership on a survivor that keeps all its data', async () => {
    const cluster = new TestCluster();
    clusters.push(cluster);
    await cluster.start(['a', 'b', 'c']);
    await cluster.write(12);
    const survivor = cluster.nodes.find((n) => n.raft.state !== RaftState.Leader)!;
    await waitFor(() => survivor.fsm.items.length === 12, 5000, 'replication');
    await cluster.shutdown();
    clusters.length = 0;

    const solo = {
      servers: [{ id: survivor.id, address: survivor.address, suffrage: ServerSuffrage.Voter }],
    };
    await recoverCluster(
      fastConfig(survivor.id),
      new ListFsm(),
      survivor.store,
      survivor.store,
      survivor.snapshots,
      null,
      solo,
    );
    expect(await getConfiguration(survivor.store, survivor.snapshots)).toEqual({
      configuration: solo,
      index: 1,
    });

    const revived = new TestCluster();
    clusters.push(revived);
    const node = await revived.launch(survivor.id, survivor.store, survivor.snapshots);
    await revived.leader();
    expect(node.fsm.items).toEqual(survivor.fsm.items);
    const result = await node.raft.apply(new TextEncoder().encode('after-recovery'), { timeout: 3000 });
    expect(result.response).toBe(13);
  });

  it('reads both peers.json forms and refuses bad ones with a clear error', () => {
    expect(parsePeersJson('["10.0.0.1:8300","10.0.0.2:8300"]').servers).toEqual([
      { id: '10.0.0.1:8300', address: '10.0.0.1:8300', suffrage: ServerSuffrage.Voter },
      { id: '10.0.0.2:8300', address: '10.0.0.2:8300', suffrage: ServerSuffrage.Voter },
    ]);
    expect(
      parsePeersJson('[{"id":"a","address":"h:1"},{"id":"b","address":"h:2","non_voter":true}]').servers.map(
        (s) => s.suffrage,
      ),
    ).toEqual([ServerSuffrage.Voter, ServerSuffrage.Nonvoter]);
    expect(() => parsePeersJson('{')).toThrow(/not JSON/);
    expect(() => parsePeersJson('[{"id":"a"}]')).toThrow(/needs string "id" and "address"/);
    expect(() => parsePeersJson('[{"id":"a","address":"h:1"},{"id":"a","address":"h:2"}]')).toThrow(
      /duplicate ID/,
    );
    expect(() => parsePeersJson('[{"id":"a","address":"h:1","non_voter":true}]')).toThrow(
      /at least one voter/,
    );
  });
});
