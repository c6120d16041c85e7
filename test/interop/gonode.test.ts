/**
 * Proves the Go peer (hashicorp/raft 1.1.2 + raft-boltdb, test/interop/gonode) on its own, over
 * real loopback TCP, before raftkit nodes join it: elections, replication of the KV contract's
 * commands, CAS, snapshots (format, restart, InstallSnapshot to a lagging follower), leadership
 * transfer, membership changes, and refusal of bad input.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  cleanupGoNodes,
  createGoNode,
  startGoCluster,
  waitFor,
  waitForLeader,
  waitForSameState,
  type GoNode,
  type HttpResult,
} from './harness.js';
import type { StatusBody, StatusMember } from '../../src/kv/contract.js';

const RESERVED_PREFIX = '_raftkit/';

function jsonOf<T = Record<string, unknown>>(result: HttpResult): T {
  return JSON.parse(result.body.toString('utf8')) as T;
}

function base64(value: string | Uint8Array): string {
  return Buffer.from(value).toString('base64');
}

/** The client-visible part of a state dump (the service's own keys left out). */
function userKeys(state: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(state).filter(([key]) => !key.startsWith(RESERVED_PREFIX)));
}

function voters(nodes: GoNode[]): StatusMember[] {
  return nodes.map((node) => ({ id: node.id, address: node.raftAddress, suffrage: 'Voter' }));
}

function byId(servers: StatusMember[]): StatusMember[] {
  return [...servers].sort((a, b) => a.id.localeCompare(b.id));
}

function followersOf(nodes: GoNode[], leader: GoNode): GoNode[] {
  return nodes.filter((node) => node !== leader);
}

/** Writes `count` keys `prefix<i>` through the leader; returns the expected base64 map. */
async function writeKeys(leader: GoNode, prefix: string, count: number): Promise<Record<string, string>> {
  const expected: Record<string, string> = {};
  for (let i = 0; i < count; i++) {
    const result = await leader.client.put(`${prefix}${i}`, `value of ${prefix}${i}`);
    expect(result.status, result.body.toString()).toBe(200);
    expected[`${prefix}${i}`] = base64(`value of ${prefix}${i}`);
  }
  return expected;
}

/**
 * Asks `from` to hand leadership to `targetId` (or to any follower) until a new term's leader is
 * the one wanted. raft 1.1.2's transfer is best effort: the old leader keeps heartbeating, and a
 * heartbeat that reaches the target on the transport goroutine between TimeoutNow and its term
 * bump turns it back into a follower; a plain election follows that anyone may win.
 */
async function transferLeadership(nodes: GoNode[], from: GoNode, targetId?: string): Promise<GoNode> {
  const wanted = (leader: GoNode) =>
    targetId === undefined ? leader.id !== from.id : leader.id === targetId;
  let leader = from;
  const failures: string[] = [];
  for (let attempt = 0; attempt < 5; attempt++) {
    const term = (await leader.client.status()).term;
    await leader.client.transfer(targetId === undefined ? {} : { id: targetId }).catch((error: unknown) => {
      failures.push(String(error));
    });
    leader = await waitForLeader(nodes, { afterTerm: term });
    if (wanted(leader)) return leader;
    failures.push(`attempt ${attempt + 1}: ${leader.id} won term ${(await leader.client.status()).term}`);
  }
  throw new Error(`leadership never moved as asked:\n${failures.join('\n')}`);
}

describe('Go hashicorp/raft 1.1.2 peer', () => {
  afterEach(({ task }) => cleanupGoNodes({ printLogs: task.result?.state === 'fail' }));

  it('elects one leader that all three agree on, with all three as voters', async () => {
    const nodes = await startGoCluster(3);
    const leader = await waitForLeader(nodes);

    for (const node of nodes) {
      const status = await node.client.status();
      expect(status.id).toBe(node.id);
      expect(status.state).toBe(node === leader ? 'Leader' : 'Follower');
      expect(status.term).toBeGreaterThan(0);
      expect(status.leader).toMatchObject({ id: leader.id, address: leader.raftAddress });
      expect(byId(status.configuration)).toEqual(voters(nodes));
    }
    // The leader registers its HTTP base URL the way raftkit members do.
    await waitFor(
      async () => (await nodes[0].client.status()).leader.http === `http://${leader.httpAddress}`,
      {
        what: 'the leader to publish its HTTP address',
      },
    );
  });

  it('replicates puts and deletes made through the leader to every node', async () => {
    const nodes = await startGoCluster(3);
    const leader = await waitForLeader(nodes);

    const expected = await writeKeys(leader, 'key/', 10);
    const everyByte = Uint8Array.from({ length: 256 }, (_, i) => i);
    expect((await leader.client.put('binary', everyByte)).status).toBe(200);
    expected.binary = base64(everyByte);
    const deleted = await leader.client.delete('key/0');
    expect(deleted.status).toBe(200);
    delete expected['key/0'];
    const first = jsonOf<{ index: number }>(await leader.client.put('ordered', 'a')).index;
    const second = jsonOf<{ index: number }>(await leader.client.put('ordered', 'b')).index;
    expect(second).toBeGreaterThan(first);
    expected.ordered = base64('b');

    const state = await waitForSameState(nodes);
    expect(userKeys(state)).toEqual(expected);
    const read = await leader.client.get('binary');
    expect(read.status).toBe(200);
    expect(new Uint8Array(read.body)).toEqual(everyByte);
    expect((await leader.client.get('key/0')).status).toBe(404);
    const [follower] = followersOf(nodes, leader);
    expect((await follower.client.get('key/1', { stale: true })).body.toString()).toBe('value of key/1');
  });

  it('answers 503 with the leader on a follower, and applies nothing', async () => {
    const nodes = await startGoCluster(3);
    const leader = await waitForLeader(nodes);
    const [follower] = followersOf(nodes, leader);

    for (const result of [
      await follower.client.put('refused', 'x'),
      await follower.client.delete('refused'),
      await follower.client.get('refused'),
    ]) {
      expect(result.status).toBe(503);
      expect(jsonOf<StatusBody>(result).leader.id).toBe(leader.id);
    }
    await leader.client.barrier();
    const state = await waitForSameState(nodes);
    expect(state).not.toHaveProperty('refused');
  });

  it('applies compare-and-set only when the current value matches', async () => {
    const nodes = await startGoCluster(3);
    const leader = await waitForLeader(nodes);
    const kv = leader.client;

    expect((await kv.put('lock', 'owner-a', { prev: null })).status).toBe(200);
    expect((await kv.put('lock', 'owner-b', { prev: null })).status).toBe(412);
    expect((await kv.put('lock', 'owner-b', { prev: 'someone-else' })).status).toBe(412);
    expect((await kv.get('lock')).body.toString()).toBe('owner-a');
    expect((await kv.put('lock', 'owner-b', { prev: 'owner-a' })).status).toBe(200);
    expect((await kv.get('lock')).body.toString()).toBe('owner-b');
    expect((await kv.put('absent', 'x', { prev: 'anything' })).status).toBe(412);
    expect((await kv.get('absent')).status).toBe(404);

    const state = await waitForSameState(nodes);
    expect(userKeys(state)).toEqual({ lock: base64('owner-b') });
  });

  it('keeps a follower state across a user snapshot and a restart, in the contract snapshot format', async () => {
    const nodes = await startGoCluster(3, { trailingLogs: 4 });
    const leader = await waitForLeader(nodes);
    const [follower] = followersOf(nodes, leader);
    const before = await writeKeys(leader, 'before-', 10);
    const snapshotted = await waitForSameState(nodes);

    const snapshot = await follower.client.snapshot();
    expect(snapshot.index).toBeGreaterThan(0);
    const snapshotDir = join(follower.dataDir, 'snapshots', snapshot.id);
    expect((await readdir(snapshotDir)).sort()).toEqual(['meta.json', 'state.bin']);
    const stateBin = JSON.parse(await readFile(join(snapshotDir, 'state.bin'), 'utf8')) as unknown;
    expect(stateBin).toEqual(snapshotted);
    expect(await follower.stop()).toBe(0);

    const after = await writeKeys(leader, 'after-', 5);
    await follower.start();
    const state = await waitForSameState(nodes);
    expect(userKeys(state)).toEqual({ ...before, ...after });
    expect((await follower.client.status()).lastSnapshotIndex).toBeGreaterThanOrEqual(snapshot.index);
  });

  it('brings a crashed follower back with InstallSnapshot once the leader compacted its log', async () => {
    const nodes = await startGoCluster(3, { trailingLogs: 2 });
    const leader = await waitForLeader(nodes);
    const [lagging] = followersOf(nodes, leader);
    await waitForSameState(nodes);
    await lagging.kill();

    const expected = await writeKeys(leader, 'missed-', 20);
    const snapshot = await leader.client.snapshot();
    await lagging.start();

    const state = await waitForSameState(nodes);
    expect(userKeys(state)).toEqual(expected);
    // The follower never snapshots on its own here (threshold 8192), so this one came from the leader.
    expect((await lagging.client.status()).lastSnapshotIndex).toBeGreaterThanOrEqual(snapshot.index);
  });

  it('survives a restart of the whole cluster with its state and membership', async () => {
    const nodes = await startGoCluster(3);
    const expected = await writeKeys(await waitForLeader(nodes), 'durable-', 5);
    await waitForSameState(nodes);

    for (const code of await Promise.all(nodes.map((node) => node.stop()))) expect(code).toBe(0);
    await Promise.all(nodes.map((node) => node.start()));

    const leader = await waitForLeader(nodes);
    expect(byId((await leader.client.status()).configuration)).toEqual(voters(nodes));
    // Without a snapshot the FSMs start empty and replay the log only once the new leader has
    // committed an entry of its own term; the barrier is that entry.
    await leader.client.barrier();
    expect(userKeys(await waitForSameState(nodes))).toEqual(expected);
  });

  it('transfers leadership to a chosen follower, then to any follower', async () => {
    const nodes = await startGoCluster(3);
    const leader = await waitForLeader(nodes);
    const target = followersOf(nodes, leader)[1];

    const newLeader = await transferLeadership(nodes, leader, target.id);
    expect(newLeader.id).toBe(target.id);
    expect((await newLeader.client.put('after-transfer', 'yes')).status).toBe(200);
    expect((await leader.client.put('on-old-leader', 'no')).status).toBe(503);
    expect(userKeys(await waitForSameState(nodes))).toEqual({ 'after-transfer': base64('yes') });

    const thirdLeader = await transferLeadership(nodes, newLeader);
    expect(thirdLeader.id).not.toBe(newLeader.id);
  });

  it('adds a joining voter that catches up, and removes it again', async () => {
    const nodes = await startGoCluster(3);
    const leader = await waitForLeader(nodes);
    const expected = await writeKeys(leader, 'early-', 5);
    const joiner = await createGoNode({ id: 'n4' });
    await joiner.start();
    const alone = await joiner.client.status();
    expect(alone.configuration).toEqual([]);
    expect(alone.leader.id).toBe('');

    await leader.client.join({
      id: joiner.id,
      address: joiner.raftAddress,
      http: `http://${joiner.httpAddress}`,
    });
    const all = [...nodes, joiner];
    const state = await waitForSameState(all);
    expect(userKeys(state)).toEqual(expected);
    expect(state[`${RESERVED_PREFIX}http/n4`]).toBe(base64(`http://${joiner.httpAddress}`));
    await waitFor(async () => (await joiner.client.status()).leader.id === leader.id, {
      what: 'n4 to follow',
    });
    expect(byId((await joiner.client.status()).configuration)).toEqual(voters(all));

    await leader.client.remove(joiner.id);
    expect(byId((await leader.client.status()).configuration)).toEqual(voters(nodes));
    expect((await leader.client.put('after-removal', 'x')).status).toBe(200);
    expect(await joiner.stop()).toBe(0);
  });

  it('refuses malformed requests with 400 and applies nothing', async () => {
    const nodes = await startGoCluster(3);
    const leader = await waitForLeader(nodes);
    const kv = leader.client;

    expect((await kv.put(`${RESERVED_PREFIX}http/n1`, 'http://evil')).status).toBe(400);
    expect((await kv.request('PUT', '/kv/')).status).toBe(400);
    expect((await kv.request('POST', '/cluster/join', 'not json')).status).toBe(400);
    expect((await kv.request('POST', '/cluster/join', '{"address":"127.0.0.1:1"}')).status).toBe(400);
    expect((await kv.request('POST', '/cluster/transfer', '{"id":"nobody"}')).status).toBe(400);
    expect((await kv.request('GET', '/no-such-endpoint')).status).toBe(404);

    await kv.barrier();
    const state = await waitForSameState(nodes);
    expect(userKeys(state)).toEqual({});
    expect(state[`${RESERVED_PREFIX}http/n1`]).not.toBe(base64('http://evil'));
    expect(byId((await kv.status()).configuration)).toEqual(voters(nodes));
  });
});
