/**
 * A removed server on real in-process `kv serve` servers (issue 11 item 5): its
 * `_raftkit/http/<id>` record is deleted from the store however it was removed (DELETE
 * /cluster/{id} for the leader itself, the library's removeServer for a follower).
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
});
