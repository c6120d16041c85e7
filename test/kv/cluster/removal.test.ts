/**
 * A removed server on real in-process `kv serve` servers (issue 11 item 5): its
 * `_raftkit/http/<id>` record is deleted from the store however it was removed (DELETE
 * /cluster/{id} for the leader itself, the library's removeServer for a follower); a removed
 * server answers its KV routes with 410 Gone until a join adds it back.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { KvServer } from '../../../src/cli/serve.js';
import { RaftState } from '../../../src/core/types.js';
import { waitFor } from '../../support/wait.js';
import { InProcessCluster } from './in-process-cluster.js';

let cluster: InProcessCluster | undefined;
afterEach(async () => {
  await cluster?.close();
  cluster = undefined;
});

const ELECTION_MS = 20_000;

/** Waits until every one of `servers` has applied the deletion of `id`'s HTTP address. */
async function addressForgotten(servers: KvServer[], id: string): Promise<void> {
  await waitFor(
    () => servers.every((server) => server.fsm.httpAddress(id) === undefined),
    ELECTION_MS,
    `every remaining server to forget the HTTP address of ${id}`,
  );
}

describe('a removed server', () => {
  it('DELETE /cluster/{id} of the leader itself answers 200, the rest elect a leader, and its HTTP address is deleted', async () => {
    cluster = await InProcessCluster.start();
    const leader = await cluster.leader(ELECTION_MS);
    const rest = cluster.followers(leader);
    const res = await cluster.call(leader, 'DELETE', `/cluster/${leader.id}`);
    expect(res.status, res.text).toBe(200);
    const next = await waitFor(
      () => rest.find((server) => server.raft.state === RaftState.Leader),
      ELECTION_MS,
      'a new leader among the remaining servers',
    );
    expect(next.raft.getConfiguration().configuration.servers.map((server) => server.id)).not.toContain(
      leader.id,
    );
    await addressForgotten(rest, leader.id);
  });

  it('a follower removed through the library API has its HTTP address deleted by the leader', async () => {
    cluster = await InProcessCluster.start();
    const first = await cluster.leader(ELECTION_MS);
    // Let another server lead, so that `first` is a follower that has published its address.
    await first.raft.leadershipTransfer();
    const second = await cluster.leader(ELECTION_MS, cluster.followers(first));
    expect(second.fsm.httpAddress(first.id)).toBe(first.httpUrl);
    await second.raft.removeServer(first.id, 0, ELECTION_MS);
    await addressForgotten(cluster.followers(first), first.id);
  });

  it('a removed follower answers KV, lock, lease and watch routes 410 Gone, /readyz 503, /status removed; a join makes it serve again', async () => {
    cluster = await InProcessCluster.start();
    const leader = await cluster.leader(ELECTION_MS);
    const [victim] = cluster.followers(leader);
    const address = leader.raft
      .getConfiguration()
      .configuration.servers.find((s) => s.id === victim.id)!.address;
    expect((await cluster.call(leader, 'PUT', '/kv/k', Buffer.from('v1'))).status).toBe(200);
    expect((await cluster.call(leader, 'DELETE', `/cluster/${victim.id}`)).status).toBe(200);
    await waitFor(() => victim.raft.removed, ELECTION_MS, 'the removed server to learn it');
    for (const [method, path, body] of [
      ['GET', '/kv/k?stale', undefined],
      ['PUT', '/kv/k', Buffer.from('v2')],
      ['GET', '/kv?prefix=k&stale', undefined],
      ['POST', '/txn', JSON.stringify({ compare: [], success: [], failure: [] })],
      ['GET', '/locks', undefined],
      ['POST', '/leases', JSON.stringify({ ttl: 10 })],
      ['GET', '/watch?prefix=k', undefined],
    ] as const) {
      const res = await cluster.call(victim, method, path, body);
      expect(res.status, `${method} ${path}: ${res.text}`).toBe(410);
      expect(JSON.parse(res.text)).toEqual({
        error: expect.stringMatching(/^this server was removed from the cluster/),
      });
    }
    expect((await cluster.call(victim, 'GET', '/healthz')).status).toBe(200);
    const ready = await cluster.call(victim, 'GET', '/readyz');
    expect(ready.status).toBe(503);
    expect(ready.text).toMatch(/removed from the cluster/);
    const status = await cluster.call(victim, 'GET', '/status');
    expect(JSON.parse(status.text)).toMatchObject({ id: victim.id, removed: true });
    // It never campaigned: the leader kept its term.
    expect(victim.raft.state).toBe(RaftState.Follower);

    const join = await cluster.call(
      leader,
      'POST',
      '/cluster/join',
      JSON.stringify({ id: victim.id, address, http: victim.httpUrl }),
    );
    expect(join.status, join.text).toBe(200);
    await waitFor(() => !victim.raft.removed, ELECTION_MS, 'the server to learn it was added back');
    const read = await cluster.call(victim, 'GET', '/kv/k?stale');
    expect(read.status, read.text).toBe(200);
    expect(JSON.parse((await cluster.call(victim, 'GET', '/status')).text)).toMatchObject({ removed: false });
  });
});
