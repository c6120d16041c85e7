/**
 * KV v2 on a real three-server cluster (in-process `kv serve` servers: real Raft, WAL, TCP): ETags
 * and conditional writes across members, range paging and stale reads, a watch across leader
 * changes compared with the applied history, transaction atomicity under concurrency, and lock
 * safety under partitions (fencing tokens).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LockBody, RangeBody } from '../../../src/kv/contract.js';
import { rawRequest } from '../../support/raw-request.js';
import { waitFor } from '../../support/wait.js';
import { InProcessCluster } from './in-process-cluster.js';
import { appliedHistory, lastChange, ResumingWatch, streamProblems } from './watch-client.js';

let cluster: InProcessCluster;
const b64 = (text: string) => Buffer.from(text).toString('base64');
const json = <T>(res: { body: Buffer }) => JSON.parse(res.body.toString()) as T;

beforeAll(async () => {
  cluster = await InProcessCluster.start();
});
afterAll(async () => {
  await cluster?.close();
});

describe('KV v2 on three servers', () => {
  it('ETags are the same revision on every member; If-Match guards a write across members', async () => {
    const put = await cluster.request('PUT', '/kv/etag', 'v1');
    const { revision } = json<{ revision: number }>(put);
    for (const server of cluster.list) {
      await waitFor(() => server.fsm.entry('etag') !== undefined, 5000, 'replication');
      expect((await cluster.call(server, 'GET', '/kv/etag?stale')).headers.etag).toBe(`"${revision}"`);
    }
    expect((await cluster.request('PUT', '/kv/etag', 'v2')).status).toBe(200);
    const leader = await cluster.leader();
    const refused = await rawRequest(leader.httpUrl, 'PUT', '/kv/etag', {
      body: 'v3',
      headers: { 'If-Match': `"${revision}"` },
    });
    expect(refused.status).toBe(412);
    expect((refused.json() as { revision: number }).revision).toBeGreaterThan(revision);
  });

  it('ranges page through the keys on the leader; followers answer ?stale from their own state', async () => {
    for (let i = 0; i < 30; i++) {
      const put = await cluster.request('PUT', `/kv/range/${String(i).padStart(2, '0')}`, String(i));
      expect(put.status).toBe(200);
    }
    const pages: string[] = [];
    let after = '';
    for (;;) {
      const res = await cluster.request('GET', `/kv?prefix=range/&limit=7${after}`);
      const body = json<RangeBody>(res);
      pages.push(...body.items.map((item) => item.key));
      if (!body.more) break;
      after = `&after=${encodeURIComponent(body.items.at(-1)!.key)}`;
    }
    expect(pages).toEqual(Array.from({ length: 30 }, (_, i) => `range/${String(i).padStart(2, '0')}`));
    const leader = await cluster.leader();
    const follower = cluster.followers(leader)[0];
    // Without ?stale a follower sends the reader to the leader (or says there is none right now).
    expect([307, 503]).toContain((await cluster.call(follower, 'GET', '/kv?prefix=range/')).status);
    await waitFor(() => follower.fsm.revision >= leader.fsm.revision, 5000, 'the follower to catch up');
    const stale = (
      await cluster.call(follower, 'GET', '/kv?prefix=range/&limit=100&stale')
    ).json() as RangeBody;
    expect(stale.items).toHaveLength(30);
  });

  it('a watch on a follower sees every change once, in order, across a leadership transfer and a killed leader', async () => {
    const leader = await cluster.leader();
    const watched = cluster.followers(leader)[0];
    const since = watched.fsm.revision;
    const watch = new ResumingWatch(() => [watched.httpUrl], 'w/', since);
    let writing = true;
    let written = 0;
    const writer = (async () => {
      while (writing) {
        const res = await cluster.request('PUT', `/kv/w/${written % 7}`, String(written)).catch(() => null);
        if (res?.status === 200) written++;
      }
    })();
    await waitFor(() => written >= 20, 20_000, 'writes before the transfer');
    await cluster.call(leader, 'POST', '/cluster/transfer', '{}');
    await waitFor(() => written >= 40, 20_000, 'writes after the transfer');
    const second = await cluster.leader();
    if (second !== watched) {
      await cluster.kill(second.id);
      await waitFor(() => written >= 60, 30_000, 'writes after the kill');
      await cluster.restart(second.id);
    }
    writing = false;
    await writer;
    // A write the writer saw fail (a killed leader, a 504) may still commit later, after the
    // watched follower's last change: a marker written now lands after every earlier entry in the
    // log, so once the follower has applied it, its history under w/ is final.
    const end = await cluster.request('PUT', '/kv/w-end', 'end');
    expect(end.status).toBe(200);
    const marker = json<{ revision: number }>(end).revision;
    await waitFor(() => watched.fsm.revision >= marker, 20_000, 'the watched follower to apply the marker');
    await waitFor(() => watch.lastRevision >= lastChange(watched.fsm, 'w/'), 20_000, 'the watch to catch up');
    await watch.stop();
    expect(streamProblems(watch)).toEqual([]);
    expect(watch.changes).toEqual(appliedHistory(watched.fsm, 'w/', since));
    expect(watch.changes.length).toBeGreaterThanOrEqual(written);
  });

  it('transactions are atomic under concurrency: transfers between accounts keep the sum', async () => {
    await cluster.leader();
    const accounts = ['acct/a', 'acct/b', 'acct/c', 'acct/d'];
    for (const key of accounts) expect((await cluster.request('PUT', `/kv/${key}`, '100')).status).toBe(200);
    let audits = 0;
    let auditing = true;
    const auditor = (async () => {
      while (auditing) {
        const res = await cluster.request('GET', '/kv?prefix=acct/');
        if (res.status !== 200) continue;
        const body = json<RangeBody>(res);
        const sum = body.items.reduce((total, item) => total + Number(Buffer.from(item.value, 'base64')), 0);
        expect(sum, `range at revision ${body.revision}`).toBe(400);
        audits++;
      }
    })();
    const transfer = async (worker: number) => {
      let done = 0;
      for (let attempt = 0; done < 8 && attempt < 200; attempt++) {
        const from = accounts[(worker + attempt) % 4];
        const to = accounts[(worker + attempt + 1 + (attempt % 3)) % 4];
        const res = await cluster.request('GET', '/kv?prefix=acct/');
        if (res.status !== 200) continue;
        const items = json<RangeBody>(res).items;
        const a = items.find((item) => item.key === from)!;
        const b = items.find((item) => item.key === to)!;
        const amount = 1 + ((worker + attempt) % 5);
        const txn = await cluster.request(
          'POST',
          '/txn',
          JSON.stringify({
            compare: [
              { key: from, revision: a.revision },
              { key: to, revision: b.revision },
            ],
            success: [
              { op: 'put', key: from, value: b64(String(Number(Buffer.from(a.value, 'base64')) - amount)) },
              { op: 'put', key: to, value: b64(String(Number(Buffer.from(b.value, 'base64')) + amount)) },
            ],
          }),
        );
        if (txn.status === 200 && json<{ succeeded: boolean }>(txn).succeeded) done++;
      }
      return done;
    };
    const done = await Promise.all([0, 1, 2, 3, 4, 5].map(transfer));
    auditing = false;
    await auditor;
    expect(done.reduce((a, b) => a + b)).toBe(48);
    expect(audits).toBeGreaterThan(0);
    const leader = await cluster.leader();
    for (const server of cluster.list) {
      await waitFor(() => server.fsm.revision >= leader.fsm.revision, 5000, 'replication');
      const sum = accounts.reduce((total, key) => total + Number(Buffer.from(server.fsm.get(key)!)), 0);
      expect(sum).toBe(400);
    }
  });

  it('a holder cut off past its lease loses the lock to a greater token; a fencing resource refuses it', async () => {
    const first = await cluster.leader();
    const a = (
      await cluster.call(first, 'POST', '/locks/printer', JSON.stringify({ ttl: 2 }))
    ).json() as LockBody;
    expect(a.token).toBeGreaterThan(0);
    // A resource that remembers the highest token it has seen and refuses smaller ones.
    let highest = 0;
    const resource = (token: number) => (token >= highest ? ((highest = token), true) : false);
    expect(resource(a.token)).toBe(true);

    await cluster.isolate(first.id);
    const others = cluster.followers(first);
    const second = await cluster.leader(20_000, others);
    // B waits on the new leader, which counts A's lease down from its election and expires it.
    const b = await cluster.call(second, 'POST', '/locks/printer', JSON.stringify({ ttl: 10, wait: 30 }));
    expect(b.status).toBe(200);
    const granted = b.json() as LockBody;
    expect(granted.token).toBeGreaterThan(a.token);
    expect(granted.lease).not.toBe(a.lease);
    // A's keepalive through its old leader cannot be confirmed.
    expect((await cluster.call(first, 'POST', `/leases/${a.lease}/keepalive`)).status).not.toBe(200);
    expect(resource(granted.token)).toBe(true);
    // A wakes up, unaware, and writes with its old token: refused.
    expect(resource(a.token)).toBe(false);

    await cluster.heal();
    await cluster.leader();
    expect((await cluster.request('POST', `/leases/${a.lease}/keepalive`)).status).toBe(404);
    const state = json<{ token: number; lease: string }>(await cluster.request('GET', '/locks/printer'));
    expect(state).toMatchObject({ token: granted.token, lease: granted.lease });
    expect(
      (await cluster.request('DELETE', '/locks/printer', JSON.stringify({ token: a.token }))).status,
    ).toBe(409);
    expect(
      (await cluster.request('DELETE', '/locks/printer', JSON.stringify({ token: granted.token }))).status,
    ).toBe(200);
  });

  it('contending clients under partitions never get the same token twice', async () => {
    await cluster.leader();
    const grants: { token: number; lease: string; client: number }[] = [];
    let running = true;
    const client = async (id: number) => {
      while (running) {
        const res = await cluster
          .request('POST', '/locks/shared', JSON.stringify({ ttl: 1, wait: 3 }))
          .catch(() => null);
        if (res?.status !== 200) continue;
        const lock = json<LockBody>(res);
        grants.push({ ...lock, client: id });
        await new Promise((resolve) => setTimeout(resolve, 50 + Math.random() * 200));
        await cluster
          .request('DELETE', '/locks/shared', JSON.stringify({ token: lock.token }))
          .catch(() => null);
      }
    };
    const clients = [0, 1, 2, 3].map(client);
    for (let round = 0; round < 2; round++) {
      const leader = await cluster.leader(20_000);
      await cluster.isolate(leader.id);
      await new Promise((resolve) => setTimeout(resolve, 2000));
      await cluster.heal();
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
    running = false;
    await Promise.all(clients);
    expect(grants.length).toBeGreaterThan(4);
    const tokens = grants.map((grant) => grant.token);
    expect(new Set(tokens).size).toBe(tokens.length);
    expect(new Set(grants.map((grant) => grant.lease)).size).toBe(grants.length);
    const current = json<{ token: number | null }>(await cluster.request('GET', '/locks/shared'));
    if (current.token !== null) expect(current.token).toBeGreaterThanOrEqual(Math.max(...tokens));
  });
});
