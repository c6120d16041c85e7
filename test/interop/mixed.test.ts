/**
 * Mixed clusters: raftkit nodes (`raftkit kv serve`) and Go hashicorp/raft 1.1.2 nodes on the same
 * wire, replicating the same KV state machine. The Go peers are older than 1.7: they close the
 * connection on RequestPreVote, which raftkit counts as a granted pre-vote (see README.md here).
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  cleanupGoNodes,
  createGoNode,
  waitFor,
  waitForLeader,
  type GoNodeTuning,
  type ServerNode,
} from './harness.js';
import { createTsNode } from './ts-node.js';

let failed = false;
afterEach(async (context) => {
  failed = context.task.result?.state === 'fail';
  await cleanupGoNodes({ printLogs: failed });
});

/** Introduces every node to every other as the initial voters. */
function introduce(nodes: ServerNode[]): void {
  const peers = nodes.map((node) => ({ id: node.id, address: node.raftAddress }));
  for (const node of nodes) node.options.peers = peers;
}

async function putAll(leader: ServerNode, prefix: string, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const result = await leader.client.put(`${prefix}${i}`, `value-${prefix}${i}`);
    expect(result.status, `PUT ${prefix}${i} on ${leader.id}: ${result.body.toString()}`).toBe(200);
  }
}

/** Waits until `node` holds every key (read from its local state). */
async function holdsAll(node: ServerNode, prefix: string, count: number): Promise<void> {
  await waitFor(
    async () => {
      for (let i = 0; i < count; i++) {
        const result = await node.client.get(`${prefix}${i}`, { stale: true });
        if (result.status !== 200 || result.body.toString() !== `value-${prefix}${i}`) return false;
      }
      return true;
    },
    { timeoutMs: 20_000, what: `${node.id} to hold ${prefix}0..${prefix}${count - 1}` },
  );
}

/** Transfers leadership from `leader` to `target`, retrying (hashicorp 1.1.2's transfer can lose a race). */
async function transferTo(leader: ServerNode, target: ServerNode, all: ServerNode[]): Promise<void> {
  let current = leader;
  for (let attempt = 0; attempt < 6; attempt++) {
    const term = (await current.client.status()).term;
    await current.client.transfer({ id: target.id, address: target.raftAddress }).catch(() => {});
    current = await waitForLeader(all, { afterTerm: term, timeoutMs: 20_000 });
    if (current === target) return;
  }
  throw new Error(`leadership never reached ${target.id}`);
}

const slowGo: GoNodeTuning = { heartbeatTimeoutMs: 1500, electionTimeoutMs: 1500, leaderLeaseTimeoutMs: 750 };

describe('mixed Go/TypeScript clusters', () => {
  it('(a) 2 Go + 1 raftkit, Go leader: raftkit applies everything, then leads when the Go leader stops', async () => {
    const g1 = await createGoNode({ id: 'g1', ...slowGo });
    const g2 = await createGoNode({ id: 'g2', ...slowGo });
    const t1 = await createTsNode({ id: 't1' });
    const all = [g1, g2, t1];
    introduce(all);
    await Promise.all([g1.start(), g2.start()]);
    const goLeader = await waitForLeader([g1, g2], { timeoutMs: 20_000 });
    await t1.start();
    await putAll(goLeader, 'a', 20);
    await holdsAll(t1, 'a', 20);

    const term = (await goLeader.client.status()).term;
    const goFollower = goLeader === g1 ? g2 : g1;
    await goLeader.stop();
    let leader = await waitForLeader([goFollower, t1], { afterTerm: term, timeoutMs: 20_000 });
    if (leader !== t1) await transferTo(leader, t1, [goFollower, t1]);
    leader = t1;
    await putAll(leader, 'b', 10);
    await holdsAll(goFollower, 'b', 10);
    await holdsAll(goFollower, 'a', 20);
  });

  it('(b) 1 Go + 2 raftkit, raftkit leader: the Go node catches up by InstallSnapshot after compaction', async () => {
    const compacting: GoNodeTuning = { snapshotThreshold: 16, trailingLogs: 4, snapshotIntervalMs: 200 };
    const t1 = await createTsNode({ id: 't1', ...compacting });
    const t2 = await createTsNode({ id: 't2', ...compacting });
    const g1 = await createGoNode({ id: 'g1' });
    introduce([t1, t2, g1]);
    await Promise.all([t1.start(), t2.start()]);
    const leader = await waitForLeader([t1, t2], { timeoutMs: 20_000 });
    await putAll(leader, 's', 60);
    await waitFor(async () => (await leader.client.status()).lastSnapshotIndex > 16, {
      timeoutMs: 20_000,
      what: 'the raftkit leader to snapshot and compact',
    });
    await g1.start();
    await holdsAll(g1, 's', 60);
    expect((await g1.client.status()).lastSnapshotIndex).toBeGreaterThan(0);
    // The Go node keeps replicating normally afterwards.
    await putAll(leader, 'after', 5);
    await holdsAll(g1, 'after', 5);
  });

  it('(c) leadership transfer from raftkit to Go and from Go to raftkit', async () => {
    const t1 = await createTsNode({ id: 't1' });
    const t2 = await createTsNode({ id: 't2' });
    const g1 = await createGoNode({ id: 'g1', ...slowGo });
    const all = [t1, t2, g1];
    introduce(all);
    await Promise.all([t1.start(), t2.start()]);
    const tsLeader = await waitForLeader([t1, t2], { timeoutMs: 20_000 });
    await g1.start();
    await putAll(tsLeader, 'c', 5);
    await holdsAll(g1, 'c', 5);

    await transferTo(tsLeader, g1, all);
    await putAll(g1, 'd', 5);
    await transferTo(g1, t1, all);
    await putAll(t1, 'e', 5);
    for (const node of all) await holdsAll(node, 'e', 5);
  });

  it('(d) a membership change issued by a raftkit leader adds a Go node', async () => {
    const nodes = [
      await createTsNode({ id: 't1' }),
      await createTsNode({ id: 't2' }),
      await createTsNode({ id: 't3' }),
    ];
    introduce(nodes);
    await Promise.all(nodes.map((node) => node.start()));
    const leader = await waitForLeader(nodes, { timeoutMs: 20_000 });
    await putAll(leader, 'm', 10);
    const g1 = await createGoNode({ id: 'g1' });
    await g1.start();
    await leader.client.join({
      id: 'g1',
      address: g1.raftAddress,
      http: `http://${g1.httpAddress}`,
      voter: true,
    });
    await holdsAll(g1, 'm', 10);
    const { configuration } = await leader.client.status();
    expect(configuration).toContainEqual({ id: 'g1', address: g1.raftAddress, suffrage: 'Voter' });
    await waitFor(
      async () =>
        (await g1.client.status()).configuration.some((s) => s.id === 'g1' && s.suffrage === 'Voter'),
      { timeoutMs: 10_000, what: 'the Go node to see itself as a voter' },
    );
    // And the other direction: the raftkit leader removes the Go node again.
    await leader.client.remove('g1');
    expect((await leader.client.status()).configuration.map((s) => s.id)).not.toContain('g1');
    await putAll(leader, 'gone', 3);
  });

  it('(e) a raftkit node joined to a cluster led by a Go node names the leader by ID, redirects to it, and is removed by it', async () => {
    const g1 = await createGoNode({ id: 'g1', ...slowGo });
    const g2 = await createGoNode({ id: 'g2', ...slowGo });
    introduce([g1, g2]);
    await Promise.all([g1.start(), g2.start()]);
    const goLeader = await waitForLeader([g1, g2], { timeoutMs: 20_000 });
    await putAll(goLeader, 'j', 5);
    // No --peers: the node waits to be added. 1.1.2 sends only its address in AppendEntries, and
    // the first one arrives before the configuration that names it.
    const t1 = await createTsNode({ id: 't1' });
    await t1.start();
    await goLeader.client.join({
      id: 't1',
      address: t1.raftAddress,
      http: `http://${t1.httpAddress}`,
      voter: true,
    });
    await holdsAll(t1, 'j', 5);
    await waitFor(async () => (await t1.client.status()).leader?.id === goLeader.id, {
      timeoutMs: 10_000,
      what: `t1 to name the Go leader ${goLeader.id}`,
    });
    const status = await t1.client.status();
    expect(status.leader).toMatchObject({ id: goLeader.id, address: goLeader.raftAddress });
    const write = await t1.client.put('k', 'v');
    expect(write.status, write.body.toString()).toBe(307);

    await goLeader.client.remove('t1');
    expect((await goLeader.client.status()).configuration.map((s) => s.id)).not.toContain('t1');
    await putAll(goLeader, 'after', 2);
  });
});
