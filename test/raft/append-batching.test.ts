/**
 * Batching on a leader: requests that arrive in one turn of the event loop (at c64, many sockets
 * are read in one poll phase) share one Ready, so each follower gets one AppendEntries carrying all
 * of them rather than one frame per request (bench/PROFILE.md, 2026-12-05: 0.19 -> 0.13 frames per
 * write at c64). Fails with a flush per microtask, which cut a frame after each request.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { RaftRequest } from '../../src/core/types.js';
import { TestCluster } from './helpers.js';

let cluster: TestCluster | null = null;
afterEach(async () => {
  await cluster?.shutdown();
  cluster = null;
});

describe('AppendEntries batching on the leader', () => {
  it('sends the applies of one turn to each follower in one AppendEntries', async () => {
    // No heartbeat or commit-timeout tick in the way while the batch forms.
    cluster = await new TestCluster({
      heartbeatTimeout: 1000,
      electionTimeout: 1000,
      commitTimeout: 500,
    }).start(['a', 'b', 'c']);
    const leader = await cluster.leader();
    await cluster.write(1, 'warm');
    const frames = new Map<string, number[]>();
    const network = cluster.network;
    const deliver = network.deliver.bind(network);
    network.deliver = (from, to, request: RaftRequest, data) => {
      if (request.kind === 'appendEntries' && request.entries.length > 0) {
        frames.set(to, [...(frames.get(to) ?? []), request.entries.length]);
      }
      return deliver(from, to, request, data);
    };
    const count = 32;
    // Each apply from its own callback of one check phase, as each socket read is its own callback.
    const applied = await new Promise<Promise<unknown>[]>((resolve) => {
      const promises: Promise<unknown>[] = [];
      for (let i = 0; i < count; i++) {
        setImmediate(() => {
          promises.push(leader.raft.apply(new TextEncoder().encode(`v${i}`), { timeout: 3000 }));
          if (promises.length === count) resolve(promises);
        });
      }
    });
    await Promise.all(applied);
    const followers = cluster.nodes.filter((node) => node !== leader).map((node) => node.address);
    for (const follower of followers) expect(frames.get(follower), follower).toEqual([count]);
  });
});
