/**
 * The KV service's HTTP contract against the REAL runtime: three in-process `kv serve` servers
 * (real Raft, LMDB, file snapshots, loopback TCP). test/cli/serve-command.test.ts runs the command itself.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RaftState, ServerSuffrage } from '../../src/core/types.js';
import { silentLogger } from '../../src/raft/logger.js';
import { startKvServer, type KvServer } from '../../src/cli/serve.js';
import { parseServeArgs } from '../../src/cli/serve-args.js';
import { FAST_CONFIG, freePorts, waitFor } from '../kit/helpers.js';
import { hasOpenssl, makeTestPki } from '../transport/certs.js';
import { rawRequest, type RawResponse } from '../support/raw-request.js';
import { kvRequest, ServiceUnreachable } from '../../src/cli/service-client.js';
import type { NetworkTransport } from '../../src/transport/net.js';

interface Spec {
  id: string;
  raft: string;
  http: string;
  dir: string;
}

const root = mkdtempSync(join(tmpdir(), 'raftkit-serve-'));
let specs: Spec[];
let servers: KvServer[];

function start(spec: Spec, extra: string[]): Promise<KvServer> {
  const args = parseServeArgs([
    ...['--id', spec.id, '--raft-addr', spec.raft, '--http-addr', spec.http, '--data-dir', spec.dir],
    ...extra,
  ]);
  return startKvServer(args, { logger: silentLogger, config: FAST_CONFIG });
}

/** The cluster's flags: its voters, and a short join timeout for the rollback test. */
const peersFlag = () => [
  ...['--peers', specs.map((spec) => `${spec.id}=${spec.raft}`).join(',')],
  ...['--join-timeout', '2000'],
];

async function startAll(): Promise<KvServer[]> {
  return Promise.all(specs.map((spec) => start(spec, peersFlag())));
}

function leaderOf(list: KvServer[]): KvServer | undefined {
  return list.find(
    (server) =>
      server.raft.state === RaftState.Leader && server.fsm.httpAddress(server.id) === server.httpUrl,
  );
}

/** The leader once it has published its HTTP address and every server knows it. */
async function settledLeader(list: KvServer[] = servers): Promise<KvServer> {
  const leader = await waitFor(() => leaderOf(list), 5000, 'a leader with its HTTP address published');
  await waitFor(
    () => list.every((server) => server.fsm.httpAddress(leader.id) === leader.httpUrl),
    5000,
    'every server to learn the leader HTTP address',
  );
  return leader;
}

const followerOf = (leader: KvServer) => servers.find((server) => server !== leader)!;
const call = (server: KvServer, method: string, path: string, body?: string | Buffer) =>
  rawRequest(server.httpUrl, method, path, { body });
/** A POST of JSON, as the cluster routes require. */
const post = (server: KvServer, path: string, body: string) =>
  rawRequest(server.httpUrl, 'POST', path, { body, headers: { 'Content-Type': 'application/json' } });

function expectJsonError(res: RawResponse, status: number, text?: string) {
  expect(res.status).toBe(status);
  expect(res.headers['content-type']).toBe('application/json');
  const { error } = res.json() as { error: string };
  expect(typeof error).toBe('string');
  if (text !== undefined) expect(error).toContain(text);
}

beforeAll(async () => {
  const ports = await freePorts(6);
  specs = ['n1', 'n2', 'n3'].map((id, i) => ({
    id,
    raft: `127.0.0.1:${ports[i]}`,
    http: `127.0.0.1:${ports[i + 3]}`,
    dir: join(root, id),
  }));
  servers = await startAll();
});

afterAll(async () => {
  await Promise.all(servers.map((server) => server.close()));
});

describe('kv serve: reads and writes', () => {
  it('/status names the same leader everywhere, with its HTTP address and the 3 voters', async () => {
    const leader = await settledLeader();
    for (const server of servers) {
      const res = await call(server, 'GET', '/status');
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toBe('application/json');
      const status = res.json() as Record<string, unknown>;
      expect(status.id).toBe(server.id);
      expect(status.state).toBe(server === leader ? 'Leader' : 'Follower');
      expect(status.leader).toEqual({
        id: leader.id,
        address: specs.find((spec) => spec.id === leader.id)!.raft,
        http: leader.httpUrl,
      });
      expect(status.configuration).toEqual(
        specs.map((spec) => ({ id: spec.id, address: spec.raft, suffrage: 'Voter' })),
      );
      for (const field of ['term', 'lastIndex', 'commitIndex', 'appliedIndex', 'lastSnapshotIndex']) {
        expect(typeof status[field]).toBe('number');
      }
    }
  });

  it('PUT on the leader commits and answers the index; GET reads it back linearizably', async () => {
    const leader = await settledLeader();
    const put = await call(leader, 'PUT', '/kv/greeting', 'hello');
    expect(put.status).toBe(200);
    expect(put.headers['content-type']).toBe('application/json');
    const { index } = put.json() as { index: number };
    expect(index).toBeGreaterThan(0);
    expect(leader.raft.appliedIndex()).toBeGreaterThanOrEqual(index);
    const get = await call(leader, 'GET', '/kv/greeting');
    expect(get.status).toBe(200);
    expect(get.text).toBe('hello');
  });

  it('a follower redirects writes and linearizable reads (307 to the leader) and serves ?stale', async () => {
    const leader = await settledLeader();
    await call(leader, 'PUT', '/kv/colour', 'blue');
    const follower = followerOf(leader);
    for (const [method, path] of [
      ['GET', '/kv/colour'],
      ['PUT', '/kv/colour'],
      ['DELETE', '/kv/colour'],
    ]) {
      const res = await call(follower, method, path, method === 'PUT' ? 'red' : undefined);
      expect(res.status).toBe(307);
      expect(res.headers.location).toBe(`${leader.httpUrl}${path}`);
    }
    await waitFor(() => follower.fsm.get('colour') !== undefined, 5000, 'replication to the follower');
    const stale = await call(follower, 'GET', '/kv/colour?stale');
    expect(stale.status).toBe(200);
    expect(stale.text).toBe('blue');
  });

  it('404 for an absent key and for an unknown route', async () => {
    const leader = await settledLeader();
    expectJsonError(await call(leader, 'GET', '/kv/never-written'), 404);
    expectJsonError(await call(leader, 'GET', '/nowhere'), 404);
  });

  it('compare-and-set: 412 when the value differs, 200 when it matches, ?prev= means absent', async () => {
    const leader = await settledLeader();
    expect((await call(leader, 'PUT', '/kv/counter?prev=', '1')).status).toBe(200);
    const conflict = await call(leader, 'PUT', '/kv/counter?prev=', 'again');
    expectJsonError(conflict, 412);
    expectJsonError(await call(leader, 'PUT', '/kv/counter?prev=7', '2'), 412);
    expect((await call(leader, 'PUT', '/kv/counter?prev=1', '2')).status).toBe(200);
    expect((await call(leader, 'GET', '/kv/counter')).text).toBe('2');
  });

  it('DELETE answers the index and the key is gone', async () => {
    const leader = await settledLeader();
    await call(leader, 'PUT', '/kv/doomed', 'x');
    const del = await call(leader, 'DELETE', '/kv/doomed');
    expect(del.status).toBe(200);
    expect((del.json() as { index: number }).index).toBeGreaterThan(0);
    expectJsonError(await call(leader, 'GET', '/kv/doomed'), 404);
  });

  it('malformed requests answer 400 or 413 and apply nothing', async () => {
    const leader = await settledLeader();
    const before = leader.raft.lastIndex();
    expectJsonError(await call(leader, 'PUT', '/kv/_raftkit/http/n1', 'http://evil:1'), 400, 'reserved');
    expectJsonError(await call(leader, 'PUT', '/kv/', 'x'), 400, 'key is empty');
    expectJsonError(await call(leader, 'PUT', '/kv/a%ZZ', 'x'), 400);
    expectJsonError(await post(leader, '/cluster/join', '{not json'), 400, 'not valid JSON');
    expectJsonError(await post(leader, '/cluster/join', '{"id":"n9","address":"nohost"}'), 400);
    expectJsonError(await post(leader, '/cluster/transfer', '{"id":42}'), 400);
    expectJsonError(await call(leader, 'PUT', '/kv/big', Buffer.alloc(1024 * 1024 + 1, 1)), 413);
    expect(leader.raft.lastIndex()).toBe(before);
    expect(leader.fsm.get('big')).toBeUndefined();
  });

  it('/metrics is Prometheus text with the Raft gauges', async () => {
    const leader = await settledLeader();
    const res = await call(leader, 'GET', '/metrics');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toContain('text/plain');
    expect(res.text).toMatch(/^raft_is_leader 1$/m);
    expect(res.text).toMatch(/^kv_http_requests_total\{/m);
    // The library's metrics (hashicorp's names) share the registry.
    expect(res.text).toMatch(/^raft_state_leader_total [1-9]/m);
    expect(res.text).toMatch(/^raft_apply_total \d+$/m);
    expect(res.text).toMatch(/^raft_fsm_apply_seconds_count \d+$/m);
  });
});

describe('kv serve: membership and leadership', () => {
  it('transfers leadership to a named server, and 404 for a server that is not a member', async () => {
    const leader = await settledLeader();
    const target = followerOf(leader);
    expectJsonError(await post(leader, '/cluster/transfer', '{"id":"nobody"}'), 404);
    const res = await post(leader, '/cluster/transfer', JSON.stringify({ id: target.id }));
    expect(res.status).toBe(200);
    const next = await settledLeader();
    expect(next).toBe(target);
  });

  it('a server started with --join is added as a voter; DELETE /cluster/{id} removes it', async () => {
    const leader = await settledLeader();
    const [raftPort, httpPort] = await freePorts(2);
    const spec = {
      id: 'n4',
      raft: `127.0.0.1:${raftPort}`,
      http: `127.0.0.1:${httpPort}`,
      dir: join(root, 'n4'),
    };
    // Through a follower: the join request follows the redirect to the leader.
    const joiner = await start(spec, ['--join', followerOf(leader).httpUrl]);
    try {
      await joiner.joined;
      const members = () => (leader.raft.getConfiguration().configuration.servers ?? []).map((s) => s.id);
      expect(members()).toEqual(['n1', 'n2', 'n3', 'n4']);
      await waitFor(() => joiner.fsm.get('greeting') !== undefined, 5000, 'the new server to catch up');
      expect(joiner.fsm.httpAddress('n4')).toBe(joiner.httpUrl);
      const removed = await call(leader, 'DELETE', '/cluster/n4');
      expect(removed.status, removed.text).toBe(200);
      expect(members()).toEqual(['n1', 'n2', 'n3']);
      expect(leader.fsm.httpAddress('n4')).toBeUndefined();
      expectJsonError(await call(leader, 'DELETE', '/cluster/n4'), 404);
    } finally {
      await joiner.close();
    }
  });
});

describe('kv serve: membership safety', () => {
  it('removes a joined server again that never catches up, leaving the configuration as it was', async () => {
    const leader = await settledLeader();
    const before = leader.raft.getConfiguration().configuration.servers.map((server) => server.id);
    const [nobody, nobodyHttp] = await freePorts(2);
    const body = { id: 'ghost', address: `127.0.0.1:${nobody}`, http: `127.0.0.1:${nobodyHttp}` };
    const res = await post(leader, '/cluster/join', JSON.stringify(body));
    expectJsonError(res, 504, 'did not catch up within 2000 ms');
    await waitFor(
      () => leader.raft.getConfiguration().configuration.servers.every((server) => server.id !== 'ghost'),
      5000,
      'the rollback to commit',
    );
    expect(leader.raft.getConfiguration().configuration.servers.map((server) => server.id)).toEqual(before);
    expect(leader.fsm.httpAddress('ghost')).toBeUndefined();
  });

  it("refuses a join that would move a member's redirects elsewhere (409) and changes nothing", async () => {
    const leader = await settledLeader();
    const follower = followerOf(leader);
    const spec = specs.find((candidate) => candidate.id === follower.id)!;
    const hijack = { id: follower.id, address: spec.raft, http: 'http://127.0.0.1:1' };
    expectJsonError(await post(leader, '/cluster/join', JSON.stringify(hijack)), 409, 'already a member');
    const retry = {
      id: leader.id,
      address: specs.find((c) => c.id === leader.id)!.raft,
      http: leader.httpUrl,
    };
    expect((await post(leader, '/cluster/join', JSON.stringify(retry))).json()).toEqual({
      ok: true,
      outcome: 'unchanged',
    });
    expect(leader.fsm.httpAddress(leader.id)).toBe(leader.httpUrl);
  });
});

describe('kv serve: no leader, restart', () => {
  it('answers 503 with a JSON error while no leader is known', async () => {
    const [raftPort, httpPort] = await freePorts(2);
    // No state, no --peers, no --join: it waits to be added and never learns of a leader.
    const lone = await start(
      { id: 'lone', raft: `127.0.0.1:${raftPort}`, http: `127.0.0.1:${httpPort}`, dir: join(root, 'lone') },
      [],
    );
    try {
      expectJsonError(await call(lone, 'GET', '/kv/x'), 503);
      expectJsonError(await call(lone, 'PUT', '/kv/x', 'v'), 503);
      expect(lone.raft.lastIndex()).toBe(0);
      expect((await call(lone, 'GET', '/kv/x?stale')).status).toBe(404);
    } finally {
      await lone.close();
    }
  });

  it('answers 504 when the outcome of a write is unknown (the leader lost its followers mid-write)', async () => {
    const leader = await settledLeader();
    const transport = leader.raft.transport as NetworkTransport;
    const peers = leader.raft.getConfiguration().configuration.servers.filter((s) => s.id !== leader.id);
    transport.blockPeers(peers.map((peer) => peer.address));
    try {
      // Appended on the leader, never acknowledged by a quorum: it steps down (check-quorum).
      const res = await call(leader, 'PUT', '/kv/orphan', 'maybe');
      expectJsonError(res, 504);
    } finally {
      transport.blockPeers(null);
    }
    await settledLeader();
  });

  it('a restarted cluster comes back from its data directories with its state', async () => {
    const leader = await settledLeader();
    await call(leader, 'PUT', '/kv/durable', 'still here');
    await leader.raft.snapshot();
    await call(leader, 'PUT', '/kv/after-snapshot', 'me too');
    await waitFor(
      () => servers.every((server) => server.fsm.get('after-snapshot') !== undefined),
      5000,
      'replication',
    );
    await Promise.all(servers.map((server) => server.close()));
    servers = await startAll();
    const next = await settledLeader();
    expect((await call(next, 'GET', '/kv/durable')).text).toBe('still here');
    expect((await call(next, 'GET', '/kv/after-snapshot')).text).toBe('me too');
    expect((await call(next, 'GET', '/kv/greeting')).text).toBe('hello');
  });
});

describe('kv serve: --tls-cert/--tls-key/--tls-ca', () => {
  // The certificates are made with the openssl command line (node:crypto cannot sign X.509).
  it.skipIf(!hasOpenssl())('replicates over mutual TLS', async () => {
    const pki = makeTestPki();
    const files = ['cert', 'key', 'ca'].map((name) => {
      const path = join(root, `tls-${name}.pem`);
      writeFileSync(path, pki.node[name as 'cert' | 'key' | 'ca']);
      return path;
    });
    const ports = await freePorts(6);
    const tlsSpecs = ['t1', 't2', 't3'].map((id, i) => ({
      id,
      raft: `127.0.0.1:${ports[i]}`,
      http: `127.0.0.1:${ports[i + 3]}`,
      dir: join(root, id),
    }));
    const peers = ['--peers', tlsSpecs.map((spec) => `${spec.id}=${spec.raft}`).join(',')];
    const tlsFlags = ['--tls-cert', files[0], '--tls-key', files[1], '--tls-ca', files[2]];
    const tlsServers = await Promise.all(tlsSpecs.map((spec) => start(spec, [...peers, ...tlsFlags])));
    try {
      const leader = await settledLeader(tlsServers);
      expect((await call(leader, 'PUT', '/kv/secret', 'sealed')).status).toBe(200);
      await waitFor(
        () => tlsServers.every((server) => server.fsm.get('secret') !== undefined),
        5000,
        'replication over TLS',
      );
    } finally {
      await Promise.all(tlsServers.map((server) => server.close()));
      pki.cleanup();
    }
  });
});

describe('kv serve: --http-tls-cert/--http-tls-key/--http-tls-ca with tokens', () => {
  it.skipIf(!hasOpenssl())(
    'serves HTTPS with client certificates, redirects to https:// and lets a server join over it',
    async () => {
      const pki = makeTestPki();
      const file = (name: string, content: string) => {
        const path = join(root, name);
        writeFileSync(path, content, { mode: 0o600 });
        return path;
      };
      const [cert, key, ca] = [
        file('https.crt', pki.node.cert),
        file('https.key', pki.node.key),
        file('ca.crt', pki.node.ca),
      ];
      const admin = 'admin-token-0123456789abcdef';
      const flags = [
        ...['--tls-cert', cert, '--tls-key', key, '--tls-ca', ca],
        ...['--http-tls-cert', cert, '--http-tls-key', key, '--http-tls-ca', ca],
        ...['--admin-token-file', file('admin-token', admin)],
      ];
      const ports = await freePorts(8);
      const httpsSpecs = ['h1', 'h2', 'h3', 'h4'].map((id, i) => ({
        id,
        raft: `127.0.0.1:${ports[i]}`,
        http: `127.0.0.1:${ports[i + 4]}`,
        dir: join(root, id),
      }));
      const voters = httpsSpecs.slice(0, 3);
      const peers = ['--peers', voters.map((spec) => `${spec.id}=${spec.raft}`).join(',')];
      const cluster = await Promise.all(voters.map((spec) => start(spec, [...peers, ...flags])));
      const credentials = { token: admin, ca: pki.node.ca, cert: pki.node.cert, key: pki.node.key };
      let joiner: KvServer | undefined;
      try {
        const leader = await settledLeader(cluster);
        expect(leader.httpUrl).toBe(`https://${voters.find((spec) => spec.id === leader.id)!.http}`);
        const follower = cluster.find((server) => server !== leader)!;
        const redirect = await kvRequest(follower.httpUrl, 'PUT', '/kv/sealed', {
          body: 'yes',
          credentials,
          maxRedirects: 0,
        });
        expect(redirect.status).toBe(307);
        const put = await kvRequest(follower.httpUrl, 'PUT', '/kv/sealed', { body: 'yes', credentials });
        expect(put.status).toBe(200);
        // Without a client certificate the TLS handshake fails; without the token, 401.
        await expect(
          kvRequest(leader.httpUrl, 'GET', '/kv/sealed', { credentials: { token: admin, ca: pki.node.ca } }),
        ).rejects.toThrow(ServiceUnreachable);
        const anonymous = await kvRequest(leader.httpUrl, 'GET', '/kv/sealed', {
          credentials: { ...credentials, token: null },
        });
        expect(anonymous.status).toBe(401);

        joiner = await start(httpsSpecs[3], [...flags, '--join', follower.httpUrl]);
        await joiner.joined;
        const members = leader.raft.getConfiguration().configuration.servers;
        expect(members.find((server) => server.id === 'h4')?.suffrage).toBe(ServerSuffrage.Voter);
        expect(leader.fsm.httpAddress('h4')).toBe(`https://${httpsSpecs[3].http}`);
        await waitFor(() => joiner!.fsm.get('sealed') !== undefined, 5000, 'the new server to catch up');
      } finally {
        await joiner?.close();
        await Promise.all(cluster.map((server) => server.close()));
        pki.cleanup();
      }
    },
  );
});
