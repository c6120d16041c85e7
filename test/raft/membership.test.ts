import { afterEach, describe, expect, it } from 'vitest';
import {
  ErrConfigurationChanged,
  ErrInvalidConfig,
  ErrLeadershipTransferInProgress,
  ErrNotLeader,
} from '../../src/core/errors.js';
import { RaftState, ServerSuffrage } from '../../src/core/types.js';
import type { Observation } from '../../src/raft/observer.js';
import { TestCluster, waitFor } from './helpers.js';

const clusters: TestCluster[] = [];
afterEach(async () => {
  await Promise.all(clusters.splice(0).map((c) => c.shutdown()));
});

async function cluster(ids = ['a', 'b', 'c']): Promise<TestCluster> {
  const c = new TestCluster();
  clusters.push(c);
  await c.start(ids);
  await c.leader();
  return c;
}

const suffrageOf = (c: TestCluster, leaderId: string, id: string) =>
  c.nodes
    .find((n) => n.id === leaderId)!
    .raft.getConfiguration()
    .configuration.servers.find((s) => s.id === id)?.suffrage;

describe('membership changes', () => {
  it('addVoter catches an empty server up as a non-voter, then promotes it; writes keep committing', async () => {
    const c = await cluster();
    await c.write(30);
    const leader = await c.leader();
    const fresh = await c.launch('d');
    const adding = leader.raft.addVoter('d', 'addr-d', 0, 5000);
    const during = leader.raft.apply(new TextEncoder().encode('during'), { timeout: 3000 });
    const index = await adding;
    expect((await during).index).toBeGreaterThan(0);
    expect(index).toBe(leader.raft.getConfiguration().index);
    expect(suffrageOf(c, leader.id, 'd')).toBe(ServerSuffrage.Voter);
    await waitFor(() => fresh.fsm.items.length === 31, 5000, 'the new voter to apply everything');
  });

  it('addNonvoter replicates to a server that never campaigns', async () => {
    const c = await cluster();
    const leader = await c.leader();
    const learner = await c.launch('d');
    const states: RaftState[] = [];
    learner.raft.on('stateChange', (s: RaftState) => states.push(s));
    await leader.raft.addNonvoter('d', 'addr-d', 0, 5000);
    await c.write(5);
    await waitFor(() => learner.fsm.items.length === 5, 5000, 'the non-voter to apply');
    await c.stop(leader);
    const next = await c.leader();
    expect(next.id).not.toBe('d');
    expect(states).not.toContain(RaftState.Candidate);
    expect(suffrageOf(c, next.id, 'd')).toBe(ServerSuffrage.Nonvoter);
  });

  it('removeServer and demoteVoter change the configuration', async () => {
    const c = await cluster(['a', 'b', 'c', 'd']);
    const leader = await c.leader();
    const others = c.nodes.filter((n) => n !== leader);
    await leader.raft.demoteVoter(others[0].id, 0, 3000);
    expect(suffrageOf(c, leader.id, others[0].id)).toBe(ServerSuffrage.Nonvoter);
    await leader.raft.removeServer(others[1].id, 0, 3000);
    expect(suffrageOf(c, leader.id, others[1].id)).toBeUndefined();
    await c.write(3);
  });

  it('refuses a change with a stale prevIndex and on a follower', async () => {
    const c = await cluster();
    const leader = await c.leader();
    const follower = c.nodes.find((n) => n !== leader)!;
    const { index } = leader.raft.getConfiguration();
    await expect(leader.raft.addNonvoter('x', 'addr-x', index + 7, 1000)).rejects.toBeInstanceOf(
      ErrConfigurationChanged,
    );
    await expect(follower.raft.addVoter('x', 'addr-x', 0, 1000)).rejects.toBeInstanceOf(ErrNotLeader);
  });

  it('a leader that removes itself steps down and shuts down; the others elect a new leader', async () => {
    const c = await cluster(['a', 'b', 'c', 'd']);
    const leader = await c.leader();
    await leader.raft.removeServer(leader.id, 0, 3000).catch(() => {});
    await waitFor(() => leader.raft.state === RaftState.Shutdown, 3000, 'the removed leader to shut down');
    const next = await waitFor(
      () => c.nodes.find((n) => n !== leader && n.raft.state === RaftState.Leader),
      5000,
      'a new leader',
    );
    expect(suffrageOf(c, next.id, leader.id)).toBeUndefined();
  });
});

describe('a removed follower (issue 11 item 5)', () => {
  it('learns of its removal and shuts down (shutdownOnRemove, the default)', async () => {
    const c = await cluster();
    const leader = await c.leader();
    const follower = c.nodes.find((n) => n !== leader)!;
    await leader.raft.removeServer(follower.id, 0, 3000);
    // The old leader stopped replicating to it at the append, so it never learned and campaigned.
    await waitFor(
      () => follower.raft.state === RaftState.Shutdown,
      5000,
      'the removed follower to shut down',
    );
    await c.write(3);
  });

  it('with shutdownOnRemove false it knows it was removed, never campaigns, and can be added back', async () => {
    const c = new TestCluster({ shutdownOnRemove: false });
    clusters.push(c);
    await c.start(['a', 'b', 'c']);
    const leader = await c.leader();
    const follower = c.nodes.find((n) => n !== leader)!;
    const states: RaftState[] = [];
    follower.raft.on('stateChange', (s: RaftState) => states.push(s));
    const removedEvents: unknown[] = [];
    follower.raft.on('removed', () => removedEvents.push(true));
    await leader.raft.removeServer(follower.id, 0, 3000);
    await waitFor(() => follower.raft.removed, 5000, 'the follower to learn it was removed');
    expect(removedEvents).toHaveLength(1);
    // Several election timeouts pass: a removed server that did not know would campaign.
    const term = leader.raft.currentTerm();
    await c.write(3);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(states).not.toContain(RaftState.Candidate);
    expect(follower.raft.state).toBe(RaftState.Follower);
    expect(leader.raft.currentTerm()).toBe(term);
    // The leader stopped sending it entries once it had acknowledged its removal.
    expect(leader.raft.replication().map((peer) => peer.id)).not.toContain(follower.id);
    await leader.raft.addVoter(follower.id, follower.address, 0, 5000);
    await waitFor(() => !follower.raft.removed, 5000, 'the follower to learn it was added back');
    await c.write(2, 'w');
    await waitFor(() => follower.fsm.items.length === 5, 5000, 'the re-added follower to apply everything');
  });
});

describe('leadership transfer', () => {
  it('moves leadership to the chosen server and refuses writes while it runs', async () => {
    const c = await cluster();
    await c.write(10);
    const leader = await c.leader();
    const target = c.nodes.find((n) => n !== leader)!;
    const transfer = leader.raft.leadershipTransferToServer(target.id, target.address);
    // Asked in the same turn, before the transfer can finish.
    const write = leader.raft.apply(new Uint8Array([1]));
    const second = leader.raft.leadershipTransfer();
    await expect(write).rejects.toBeInstanceOf(ErrLeadershipTransferInProgress);
    await expect(second).rejects.toBeInstanceOf(ErrLeadershipTransferInProgress);
    await transfer;
    await waitFor(() => target.raft.state === RaftState.Leader, 3000, 'the target to lead');
    expect(leader.raft.state).not.toBe(RaftState.Leader);
  });

  it('refuses on a follower', async () => {
    const c = await cluster();
    const leader = await c.leader();
    const follower = c.nodes.find((n) => n !== leader)!;
    await expect(follower.raft.leadershipTransfer()).rejects.toBeInstanceOf(ErrNotLeader);
  });
});

describe('reads', () => {
  it('readIndex on the leader and on a follower returns an index the local FSM has applied', async () => {
    const c = await cluster();
    await c.write(20);
    const leader = await c.leader();
    const follower = c.nodes.find((n) => n !== leader)!;
    const last = leader.raft.lastIndex();
    expect(await leader.raft.readIndex({ timeout: 2000 })).toBeGreaterThanOrEqual(last);
    const index = await follower.raft.readIndex({ timeout: 2000 });
    expect(index).toBeGreaterThanOrEqual(last);
    expect(follower.raft.appliedIndex()).toBeGreaterThanOrEqual(index);
    expect(follower.fsm.items.length).toBe(20);
    await leader.raft.verifyLeader();
    expect(await leader.raft.barrier()).toBeGreaterThan(last);
  });

  it('a partitioned leader cannot confirm a read', async () => {
    const c = await cluster();
    const leader = await c.leader();
    c.network.isolate(leader.address);
    await expect(leader.raft.readIndex({ timeout: 300 })).rejects.toThrow(/timed out|leadership lost/);
  });
});

describe('observers and reloadConfig', () => {
  it('delivers leader and state observations; a full non-blocking observer drops and counts', async () => {
    const c = new TestCluster();
    clusters.push(c);
    await c.start(['a', 'b', 'c']);
    const seen: Observation[] = [];
    const node = c.nodes[0];
    const observer = node.raft.registerObserver({ blocking: true }, (o) => seen.push(o));
    const tiny = node.raft.registerObserver({ queueLength: 1 }, () => {});
    await c.leader();
    await c.write(3);
    await waitFor(
      () => seen.some((o) => o.type === 'leader' && o.leader !== null),
      3000,
      'a leader observation',
    );
    expect(observer.numObserved).toBe(seen.length);
    expect(tiny.numObserved + tiny.numDropped).toBeGreaterThan(0);
    observer.deregister();
  });

  it('reloadConfig validates like the full config', async () => {
    const c = await cluster();
    const { raft } = c.nodes[0];
    expect(() =>
      raft.reloadConfig({
        trailingLogs: 5,
        snapshotInterval: 1000,
        snapshotThreshold: 5,
        heartbeatTimeout: 100,
        electionTimeout: 50,
      }),
    ).toThrow(ErrInvalidConfig);
    raft.reloadConfig({
      trailingLogs: 5,
      snapshotInterval: 1000,
      snapshotThreshold: 5,
      heartbeatTimeout: 200,
      electionTimeout: 200,
    });
    expect(raft.config.trailingLogs).toBe(5);
  });
});
