/**
 * The lease, lock and transaction routes (src/kv/http/lease-routes.ts, lock-routes.ts,
 * txn-routes.ts) over the single-node double, on a manual clock where time matters, with hostile
 * bodies refused before anything is applied.
 */
import { request } from 'node:http';
import { describe, expect, it } from 'vitest';
import type { LeaseInfoBody, LockBody } from '../../../src/kv/contract.js';
import { rawRequest, type RawResponse } from '../../support/raw-request.js';
import { waitFor } from '../../support/wait.js';
import { ManualClock } from '../../transport/helpers.js';
import { expectJsonError, useKvApi } from './api-harness.js';

const api = useKvApi();
const req = api.req;
const post = (path: string, body: unknown) => req('POST', path, JSON.stringify(body));
const b64 = (text: string) => Buffer.from(text).toString('base64');

describe('leases', () => {
  it('grant, look at, keep alive, list and revoke', async () => {
    const clock = new ManualClock();
    await api.restart({ clock });
    const granted = await post('/leases', { ttl: 30 });
    expect(granted.json()).toEqual({ id: '1', ttl: 30 });
    await req('PUT', '/kv/a?lease=1', 'x');
    clock.advance(10_000);
    const info = (await req('GET', '/leases/1')).json() as LeaseInfoBody;
    expect(info).toEqual({ id: '1', ttl: 30, remaining: 20, keys: ['a'] });
    expect((await post('/leases/1/keepalive', {})).json()).toEqual({ id: '1', ttl: 30 });
    expect(((await req('GET', '/leases/1')).json() as LeaseInfoBody).remaining).toBe(30);
    expect((await req('GET', '/leases')).json()).toEqual({
      leases: [{ id: '1', ttl: 30, remaining: 30, keys: 1 }],
    });
    const revoked = await req('DELETE', '/leases/1');
    expect(revoked.json()).toEqual({ revision: 3 });
    expect((await req('GET', '/kv/a')).status).toBe(404);
    expectJsonError(await req('DELETE', '/leases/1'), 404);
    expectJsonError(await post('/leases/1/keepalive', {}), 404);
    expectJsonError(await req('GET', '/leases/1'), 404);
  });

  it('expires on the leader: the keys go once the TTL passes, and a keepalive then answers 404', async () => {
    const clock = new ManualClock();
    await api.restart({ clock, leaseCheckIntervalMs: 100 });
    await post('/leases', { ttl: 1 });
    await req('PUT', '/kv/session?lease=1', 'x');
    for (let t = 0; t < 1200; t += 100) {
      clock.advance(100);
      await new Promise((resolve) => setImmediate(resolve));
    }
    await waitFor(() => api.cluster.fsm.lease(1) === undefined, 5000, 'the expiry');
    expect((await req('GET', '/kv/session')).status).toBe(404);
    expectJsonError(await post('/leases/1/keepalive', {}), 404);
  });

  it('a follower redirects lease requests to the leader', async () => {
    api.cluster.seed('_raftkit/http/n2', 'http://127.0.0.1:8999');
    api.cluster.follow('n2');
    const res = await post('/leases', { ttl: 5 });
    expect(res.status).toBe(307);
    expect(res.headers.location).toBe('http://127.0.0.1:8999/leases');
  });

  it('answers 429 past maxLeases', async () => {
    await api.restart({ maxLeases: 2 });
    await post('/leases', { ttl: 5 });
    await post('/locks/l', { ttl: 5 });
    expectJsonError(await post('/leases', { ttl: 5 }), 429);
    expectJsonError(await post('/locks/m', { ttl: 5 }), 429);
    expect(api.cluster.fsm.leaseCount).toBe(2);
  });
});

describe('locks', () => {
  it('acquire, look at, release; the next acquisition has a greater token', async () => {
    const first = (await post('/locks/db', { ttl: 10 })).json() as LockBody;
    expect(first).toEqual({ token: 1, lease: '1' });
    expect((await req('GET', '/locks/db')).json()).toEqual({ name: 'db', token: 1, lease: '1', waiters: 0 });
    expectJsonError(await post('/locks/db', { ttl: 10 }), 409);
    const wrong = await req('DELETE', '/locks/db', JSON.stringify({ token: 99 }));
    expectJsonError(wrong, 409);
    expect(wrong.json()).toMatchObject({ token: 1 });
    expect((await req('DELETE', '/locks/db', JSON.stringify({ token: 1 }))).status).toBe(200);
    const second = (await post('/locks/db', { ttl: 10 })).json() as LockBody;
    expect(second.token).toBeGreaterThan(first.token);
    expect((await req('GET', '/locks')).json()).toEqual({
      locks: [{ name: 'db', token: second.token, lease: second.lease, waiters: 0 }],
    });
    expect((await req('GET', '/locks/free')).json()).toEqual({
      name: 'free',
      token: null,
      lease: null,
      waiters: 0,
    });
  });

  it('a waiter gets the lock when it is released, with the release index as its token', async () => {
    const clock = new ManualClock();
    await api.restart({ clock });
    const holder = (await post('/locks/db', { ttl: 60 })).json() as LockBody;
    const waiting = post('/locks/db', { ttl: 10, wait: 30 });
    await waitFor(() => api.cluster.fsm.lock('db')?.waiters.length === 1, 5000, 'the waiter to queue');
    // While it waits, its lease (10 s) does not expire however long it takes.
    for (let t = 0; t < 20_000; t += 250) {
      clock.advance(250);
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(api.cluster.fsm.lock('db')?.waiters.length).toBe(1);
    const release = await req('DELETE', '/locks/db', JSON.stringify({ token: holder.token }));
    const got = await waiting;
    expect(got.status).toBe(200);
    expect((got.json() as LockBody).token).toBe((release.json() as { revision: number }).revision);
  });

  it('a wait that runs out answers 409 and cancels through the log', async () => {
    const clock = new ManualClock();
    await api.restart({ clock });
    await post('/locks/db', { ttl: 10 });
    const waiting = post('/locks/db', { ttl: 10, wait: 5 });
    await waitFor(() => api.cluster.fsm.lock('db')?.waiters.length === 1, 5000, 'the waiter to queue');
    clock.advance(5000);
    const res = await waiting;
    expectJsonError(res, 409);
    expect(api.cluster.fsm.lock('db')?.waiters).toEqual([]);
    expect(api.cluster.fsm.leaseCount).toBe(1);
  });

  it('wait 0 tries once: a held lock answers 409 and leaves no waiter behind', async () => {
    await post('/locks/db', { ttl: 10 });
    expectJsonError(await post('/locks/db', { ttl: 10 }), 409);
    expect(api.cluster.fsm.lock('db')?.waiters).toEqual([]);
  });

  it('a waiter whose client goes away is cancelled', async () => {
    await post('/locks/db', { ttl: 10 });
    const url = new URL(api.base);
    const body = JSON.stringify({ ttl: 10, wait: 60 });
    const abandoned = request({
      host: url.hostname,
      port: url.port,
      method: 'POST',
      path: '/locks/db',
      headers: { 'Content-Length': Buffer.byteLength(body) },
    });
    abandoned.on('error', () => {});
    abandoned.end(body);
    await waitFor(() => api.cluster.fsm.lock('db')?.waiters.length === 1, 5000, 'the waiter to queue');
    abandoned.destroy();
    await waitFor(() => api.cluster.fsm.lock('db')?.waiters.length === 0, 5000, 'the cancel');
  });
});

describe('POST /txn', () => {
  it('answers which branch ran and the revision it ran at', async () => {
    await req('PUT', '/kv/a', '1');
    const ok = await post('/txn', {
      compare: [{ key: 'a', revision: 1 }],
      success: [{ op: 'put', key: 'b', value: b64('2') }],
      failure: [{ op: 'put', key: 'c', value: b64('3') }],
    });
    expect(ok.json()).toEqual({ succeeded: true, revision: 2 });
    const failed = await post('/txn', {
      compare: [{ key: 'a', value: b64('nope') }],
      success: [{ op: 'delete', key: 'a' }],
      failure: [{ op: 'put', key: 'c', value: b64('3') }],
    });
    expect(failed.json()).toEqual({ succeeded: false, revision: 3 });
    expect((await req('GET', '/kv/a')).text).toBe('1');
    expect((await req('GET', '/kv/c')).text).toBe('3');
  });

  it('404 for a missing lease, nothing applied', async () => {
    const res = await post('/txn', { success: [{ op: 'put', key: 'b', value: b64('2'), lease: '42' }] });
    expectJsonError(res, 404);
    expect((await req('GET', '/kv/b')).status).toBe(404);
  });
});

describe('hostile lease, lock and transaction requests answer 400 and apply nothing', () => {
  const cases: [string, string, string, string][] = [
    ['a TTL of 0', 'POST', '/leases', '{"ttl":0}'],
    ['a TTL over a day', 'POST', '/leases', '{"ttl":86401}'],
    ['a fractional TTL', 'POST', '/leases', '{"ttl":1.5}'],
    ['a string TTL', 'POST', '/leases', '{"ttl":"5"}'],
    ['a TTL past 2^53', 'POST', '/leases', '{"ttl":9007199254740993}'],
    ['no TTL', 'POST', '/leases', '{}'],
    ['a lease body that is not JSON', 'POST', '/leases', 'ttl=5'],
    ['a lease body that is an array', 'POST', '/leases', '[5]'],
    ['a lease ID with letters', 'POST', '/leases/abc/keepalive', '{}'],
    ['a lease ID of 0', 'DELETE', '/leases/0', ''],
    ['a lease ID past 2^53', 'GET', '/leases/99999999999999999', ''],
    ['a lock without TTL', 'POST', '/locks/x', '{"wait":1}'],
    ['a negative wait', 'POST', '/locks/x', '{"ttl":5,"wait":-1}'],
    ['a wait over 300 s', 'POST', '/locks/x', '{"ttl":5,"wait":301}'],
    ['a fractional wait', 'POST', '/locks/x', '{"ttl":5,"wait":0.5}'],
    ['an empty lock name', 'POST', '/locks/', '{"ttl":5}'],
    ['a lock name with a control character', 'POST', '/locks/a%07', '{"ttl":5}'],
    ['a lock name over 1024 bytes', 'POST', `/locks/${'n'.repeat(1025)}`, '{"ttl":5}'],
    ['a reserved lock name', 'POST', '/locks/_raftkit/x', '{"ttl":5}'],
    ['a release without token', 'DELETE', '/locks/x', '{}'],
    ['a release with token 0', 'DELETE', '/locks/x', '{"token":0}'],
    ['a release with a string token', 'DELETE', '/locks/x', '{"token":"1"}'],
    ['a txn that is not JSON', 'POST', '/txn', '{'],
    [
      'a txn with 129 compares',
      'POST',
      '/txn',
      JSON.stringify({ compare: Array.from({ length: 129 }, () => ({ key: 'a', exists: true })) }),
    ],
    [
      'a txn with 129 operations',
      'POST',
      '/txn',
      JSON.stringify({ success: Array.from({ length: 129 }, (_, i) => ({ op: 'delete', key: `k${i}` })) }),
    ],
    [
      'a txn with a key twice in a branch',
      'POST',
      '/txn',
      '{"success":[{"op":"delete","key":"a"},{"op":"delete","key":"a"}]}',
    ],
    [
      'a txn writing a reserved key',
      'POST',
      '/txn',
      '{"success":[{"op":"delete","key":"_raftkit/http/n1"}]}',
    ],
    ['a txn with an unknown operation', 'POST', '/txn', '{"success":[{"op":"incr","key":"a"}]}'],
    ['a txn with an unknown cmp', 'POST', '/txn', '{"compare":[{"key":"a","revision":1,"cmp":"~"}]}'],
    ['a txn compare with a bad key', 'POST', '/txn', '{"compare":[{"key":"","exists":true}]}'],
    [
      'a txn with a numeric lease',
      'POST',
      '/txn',
      '{"success":[{"op":"put","key":"a","value":"eA==","lease":7}]}',
    ],
  ];
  for (const [name, method, path, body] of cases) {
    it(name, async () => {
      api.cluster.seed('a', 'keep');
      const res: RawResponse = await rawRequest(api.base, method, path, body === '' ? {} : { body });
      expectJsonError(res, 400);
      expect(api.cluster.applyCalls).toBe(0);
      expect(Buffer.from(api.cluster.fsm.get('a')!).toString()).toBe('keep');
    });
  }
});
