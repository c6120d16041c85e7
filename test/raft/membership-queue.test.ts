/**
 * Membership changes queue in order (as hashicorp/raft's do), each with its own timeout and
 * AbortSignal, and a change that cannot complete (a new server that never runs) neither wedges the
 * queue nor stays in the configuration (issue 15 parts 3-4).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ErrAborted, ErrCatchUpTimeout, ErrEnqueueTimeout } from '../../src/core/errors.js';
import type { Config } from '../../src/raft/config.js';
import { TestCluster, waitFor } from './helpers.js';

const clusters: TestCluster[] = [];
afterEach(async () => {
  await Promise.all(clusters.splice(0).map((c) => c.shutdown()));
});

async function cluster(overrides: Partial<Config> = {}, ids = ['a', 'b', 'c']): Promise<TestCluster> {
  const c = new TestCluster(overrides);
  clusters.push(c);
  await c.start(ids);
  await c.leader();
  return c;
}

const members = (c: TestCluster, leaderId: string) =>
  c.nodes
    .find((n) => n.id === leaderId)!
    .raft.getConfiguration()
    .configuration.servers.map((s) => s.id)
    .sort();

describe('membership queue', () => {
  it('a change asked for while another is pending waits its turn instead of failing', async () => {
    const c = await cluster({}, ['a', 'b', 'c', 'd']);
    const leader = await c.leader();
    await c.launch('e');
    const [first, second] = c.nodes.filter((n) => n !== leader && n.id !== 'e');
    // Asked in one turn: each starts only once the one before it has committed.
    const adding = leader.raft.addVoter('e', 'addr-e', 0, 5000);
    const demoting = leader.raft.demoteVoter(first.id, 0, 5000);
    const removing = leader.raft.removeServer(second.id, 0, 5000);
    const [added, demoted, removed] = await Promise.all([adding, demoting, removing]);
    expect(added).toBeLessThan(demoted);
    expect(demoted).toBeLessThan(removed);
    expect(members(c, leader.id)).toEqual(['a', 'b', 'c', 'd', 'e'].filter((id) => id !== second.id));
  });

  it('addVoter of a server that does not run fails after catchUpTimeout, removes the non-voter, and the queue moves on', async () => {
    // Timeouts as long as the catch-up bound (which may not be shorter than the election timeout):
    // with the tests' 100 ms lease a loaded machine's stalled event loop sometimes cost the leader
    // its lease first (ErrLeadershipLost, not the catch-up error this case is about).
    const c = await cluster({
      catchUpTimeout: 1000,
      heartbeatTimeout: 1000,
      electionTimeout: 1000,
      leaderLeaseTimeout: 800,
    });
    const leader = await c.leader();
    const follower = c.nodes.find((n) => n !== leader)!;
    // No timeout of its own: only the catch-up bound ends it.
    const ghost = leader.raft.addVoter('ghost', 'addr-ghost');
    const behind = leader.raft.removeServer(follower.id, 0, 10_000);
    await expect(ghost).rejects.toBeInstanceOf(ErrCatchUpTimeout);
    await behind;
    await waitFor(() => !members(c, leader.id).includes('ghost'), 5000, 'the non-voter to be removed');
    expect(members(c, leader.id)).not.toContain(follower.id);
    await c.write(3);
  });

  it("the caller's timeout rolls back a change still catching up, and drops one still queued", async () => {
    const c = await cluster();
    const leader = await c.leader();
    const ghost = leader.raft.addVoter('ghost', 'addr-ghost', 0, 300);
    const queued = leader.raft.addNonvoter('other', 'addr-other', 0, 100);
    await expect(queued).rejects.toBeInstanceOf(ErrEnqueueTimeout);
    await expect(ghost).rejects.toBeInstanceOf(ErrEnqueueTimeout);
    await waitFor(() => !members(c, leader.id).includes('ghost'), 5000, 'the non-voter to be removed');
    expect(members(c, leader.id)).not.toContain('other');
    // Nothing is left pending: the next change starts at once.
    await c.launch('d');
    await leader.raft.addVoter('d', 'addr-d', 0, 5000);
    expect(members(c, leader.id)).toContain('d');
  });

  it('an AbortSignal ends one queued change; the others go through', async () => {
    const c = await cluster();
    const leader = await c.leader();
    await c.launch('d');
    await c.launch('e');
    const controller = new AbortController();
    const first = leader.raft.addVoter('d', 'addr-d', 0, 5000);
    const aborted = leader.raft.addNonvoter('x', 'addr-x', 0, { signal: controller.signal });
    const last = leader.raft.addVoter('e', 'addr-e', 0, { timeout: 5000 });
    controller.abort();
    await expect(aborted).rejects.toBeInstanceOf(ErrAborted);
    await first;
    await last;
    expect(members(c, leader.id)).toEqual(['a', 'b', 'c', 'd', 'e']);
  });
});
