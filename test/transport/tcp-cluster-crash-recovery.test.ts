import { afterEach, describe, expect, it } from 'vitest';
import {
  kill,
  leaderOf,
  restart,
  startCluster,
  stopCluster,
  write,
  type ClusterNode,
  type StoreKind,
} from './cluster-node.js';
import { waitFor } from './helpers.js';

let nodes: ClusterNode[] = [];
afterEach(async () => {
  await stopCluster(nodes);
  nodes = [];
});

/** Every node's FSM holds the same commands, including all of `expected`. */
async function converged(expected: string[]): Promise<void> {
  await waitFor(() => {
    const first = nodes[0].fsm.items;
    return nodes.every((n) => n.raft && JSON.stringify(n.fsm.items) === JSON.stringify(first));
  }, 15_000);
  const items = new Set(nodes[0].fsm.items);
  for (const command of expected) expect(items.has(command)).toBe(true);
}

async function crashAndRecoverLeader(size: number, storeKind: StoreKind): Promise<void> {
  nodes = await startCluster(size, [], storeKind);
  const written: string[] = [];
  for (let i = 0; i < 20; i++) {
    written.push(`a${i}`);
    await write(nodes, `a${i}`);
  }
  await converged(written);

  const old = await waitFor(() => leaderOf(nodes), 5000);
  await kill(old);
  const next = await waitFor(() => leaderOf(nodes), 10_000);
  expect(next).not.toBe(old);
  // Enough writes while it is down for the leader to snapshot and compact past its log.
  for (let i = 0; i < 80; i++) {
    written.push(`b${i}`);
    await write(nodes, `b${i}`);
  }
  // Compact the leader's log past everything the crashed node has: it must get a snapshot.
  await next.raft!.snapshot();
  await restart(old);
  written.push('c0');
  await write(nodes, 'c0');
  await converged(written);
  expect(old.fsm.items.length).toBe(nodes[0].fsm.items.length);
  expect(old.received.get('installSnapshot')).toBeGreaterThanOrEqual(1);
}

describe('raftkit clusters over the TCP transport', () => {
  it('3 nodes on LMDB: commit everywhere, survive a leader crash, catch the restarted node up', async () => {
    await crashAndRecoverLeader(3, 'lmdb');
  });

  it('5 nodes on the WAL: commit everywhere, survive a leader crash, catch the restarted node up', async () => {
    await crashAndRecoverLeader(5, 'wal');
  });
});
