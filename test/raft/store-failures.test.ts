/**
 * A write that fails outside the storage writer — the log compaction after a snapshot, a snapshot
 * store's create, write or close — fail-stops the node as a failed write inside the writer does
 * (the simulator's seed 197 found a node that carried on after its compaction's fsync failed).
 * A shortage of file descriptors changed nothing and is retried later instead.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ErrOutOfDescriptors, ErrSnapshotStore } from '../../src/core/errors.js';
import { RaftState, ServerSuffrage } from '../../src/core/types.js';
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
