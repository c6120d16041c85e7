/**
 * A write that fails outside the storage writer — the log compaction after a snapshot, a snapshot
 * store's create, write or close — fail-stops the node as a failed write inside the writer does
 * (the simulator's seed 197 found a node that carried on after its compaction's fsync failed).
 * A shortage of file descriptors changed nothing and is retried later instead.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ErrOutOfDescriptors, ErrSnapshotStore, ErrStoreCorrupt } from '../../src/core/errors.js';
import { RaftState, ServerSuffrage, type LogEntry } from '../../src/core/types.js';
import { bootstrapCluster } from '../../src/raft/bootstrap.js';
import type { Logger } from '../../src/raft/logger.js';
import type { SnapshotCreateArgs } from '../../src/storage/snapshot-meta.js';
import { InmemStore } from '../../src/storage/inmem.js';
import { InmemSnapshotStore } from '../../src/storage/inmem-snapshot.js';
import type { SnapshotSink } from '../../src/storage/types.js';
import { waitForAsync } from '../support/wait.js';
import { fastConfig, TestCluster, waitFor, type TestNode } from './helpers.js';

/** A log store whose compaction (a deleteRange of the log's head) fails once armed. */
class FailingCompactionStore extends InmemStore {
  failCompaction = false;
  override async deleteRange(min: number, max: number): Promise<void> {
    if (this.failCompaction && min === (await this.firstIndex())) throw new Error('EIO: fsync failed');
    return super.deleteRange(min, max);
  }
}

/** A log store whose record at `damagedAt` fails its checksum once armed (as the WAL's reader reports it). */
class DamagedRecordStore extends InmemStore {
  damagedAt = 0;
  override async getLogs(lo: number, hi: number): Promise<LogEntry[]> {
    if (this.damagedAt >= lo && this.damagedAt <= hi)
      throw new ErrStoreCorrupt(`record ${this.damagedAt}: checksum mismatch`);
    return super.getLogs(lo, hi);
  }
}

/** A snapshot store whose next create, or the next sink's close, fails with `error`. */
class FailingSnapshotStore extends InmemSnapshotStore {
  failCreate: Error | null = null;
  failClose: Error | null = null;
  creates = 0;

  override async create(...args: SnapshotCreateArgs): Promise<SnapshotSink> {
    this.creates++;
    const failure = this.failCreate;
    this.failCreate = null;
    if (failure) throw failure;
    const sink = await super.create(...args);
    const closeFailure = this.failClose;
    this.failClose = null;
    return {
      id: sink.id,
      write: (chunk) => sink.write(chunk),
      close: () => (closeFailure ? sink.cancel().then(() => Promise.reject(closeFailure)) : sink.close()),
      cancel: () => sink.cancel(),
    };
  }
}

function errorLogger(): Logger & { errors: string[] } {
  const errors: string[] = [];
  const noop = () => {};
  return { debug: noop, info: noop, warn: noop, error: (_obj, msg) => errors.push(msg ?? ''), errors };
}

const clusters: TestCluster[] = [];
afterEach(async () => {
  await Promise.all(clusters.splice(0).map((cluster) => cluster.shutdown()));
});

/** A single-voter cluster that snapshots every 4 applied entries and keeps no trailing log. */
async function solo(
  store: InmemStore,
  snapshots: InmemSnapshotStore,
): Promise<{ node: TestNode; logger: ReturnType<typeof errorLogger> }> {
  const logger = errorLogger();
  const overrides = { snapshotThreshold: 4, trailingLogs: 0, snapshotInterval: 20, logger };
  const cluster = new TestCluster(overrides);
  clusters.push(cluster);
  const servers = [{ id: 'solo', address: 'addr-solo', suffrage: ServerSuffrage.Voter }];
  await bootstrapCluster(fastConfig('solo', overrides), store, store, snapshots, { servers });
  const node = await cluster.launch('solo', store, snapshots);
  await cluster.leader();
  return { node, logger };
}

async function writeSome(node: TestNode, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    await node.raft.apply(new TextEncoder().encode(`v${i}`), { timeout: 3000 }).catch(() => {});
  }
}

describe('a failed write outside the storage writer', () => {
  it('in the log compaction after a snapshot fail-stops the node', async () => {
    const store = new FailingCompactionStore();
    const { node, logger } = await solo(store, new InmemSnapshotStore());
    store.failCompaction = true;
    await writeSome(node, 8);
    await waitFor(() => node.raft.state === RaftState.Shutdown, 10_000, 'the node to fail-stop');
    expect(node.raft.shutdownCalled).toBe(true);
    expect(logger.errors).toContain('log compaction failed: shutting down');
  });

  it.each([
    ['a snapshot sink (the close that fsyncs it)', 'failClose'],
    ['a snapshot create', 'failCreate'],
  ] as const)('in %s fail-stops the node', async (_what, failure) => {
    const snapshots = new FailingSnapshotStore();
    snapshots[failure] = new ErrSnapshotStore('EIO');
    const { node, logger } = await solo(new InmemStore(), snapshots);
    await writeSome(node, 8);
    await waitFor(() => node.raft.state === RaftState.Shutdown, 10_000, 'the node to fail-stop');
    expect(logger.errors).toContain('snapshot store write failed: shutting down');
  });

  it('for want of file descriptors leaves the node running; a later snapshot succeeds', async () => {
    const snapshots = new FailingSnapshotStore();
    snapshots.failCreate = new ErrOutOfDescriptors('EMFILE');
    const { node, logger } = await solo(new InmemStore(), snapshots);
    await writeSome(node, 8);
    await waitForAsync(async () => (await snapshots.list()).length > 0, 10_000, 'a snapshot');
    expect(snapshots.creates).toBeGreaterThanOrEqual(2);
    expect(node.raft.state).toBe(RaftState.Leader);
    expect(logger.errors).toEqual([]);
  });
});

describe('a log record that fails its checksum while the node runs', () => {
  it('read to replicate it to a follower, fail-stops the leader: it is never sent, and never retried forever', async () => {
    const store = new DamagedRecordStore();
    const logger = errorLogger();
    const overrides = { snapshotThreshold: 10_000, logger };
    const servers = [{ id: 'a', address: 'addr-a', suffrage: ServerSuffrage.Voter }];
    await bootstrapCluster(fastConfig('a', overrides), store, store, new InmemSnapshotStore(), { servers });
    // A restarted leader's entry cache is empty: replicating its old entries reads the store.
    const first = new TestCluster(overrides);
    clusters.push(first);
    const before = await first.launch('a', store);
    await first.leader();
    await writeSome(before, 6);
    await first.shutdown();
    clusters.splice(clusters.indexOf(first), 1);
    const cluster = new TestCluster(overrides);
    clusters.push(cluster);
    const leader = await cluster.launch('a', store);
    await cluster.leader();
    await waitFor(() => leader.raft.appliedIndex() >= 7, 5000, 'the log to be applied again');
    store.damagedAt = 3;
    const follower = await cluster.launch('b');
    void leader.raft.addVoter('b', follower.address, 0, 5000).catch(() => {});
    await waitFor(() => leader.raft.state === RaftState.Shutdown, 10_000, 'the leader to fail-stop');
    expect(logger.errors).toContain('log store damaged: shutting down');
    expect(await follower.store.lastIndex()).toBeLessThan(3);
  });
});
